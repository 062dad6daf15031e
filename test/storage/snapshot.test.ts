// State snapshots: a read transaction streamed in checksummed chunks while
// writes go on, restored atomically into another store; broken streams restore nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LmdbStateStore, SnapshotCorruptionError, StorageBusyError, type StateStore,
} from '../../src/storage/index.js';
import { tempDir } from './helpers.js';

const tables = ['catalog', 'kv', 'sessions'];

function contents(store: StateStore): Record<string, [string, string][]> {
  return store.read((txn) => Object.fromEntries(store.tables.map((table) => [
    table, [...txn.scan(table)].map(({ key, value }) => [key.toString('hex'), value.toString('hex')] as [string, string]),
  ])));
}

function fill(store: StateStore, records: number): void {
  let index = store.appliedIndex();
  for (let start = 0; start < records; start += 1000) {
    store.applyBatch(++index, (txn) => {
      for (let i = start; i < Math.min(records, start + 1000); i++) {
        txn.put(tables[i % 3], `key/${String(i).padStart(6, '0')}`, Buffer.from(`value-${i}-`.repeat(1 + (i % 7))));
      }
    });
  }
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return chunks;
}

async function* replay(chunks: readonly Buffer[]): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield chunk;
}

test('a snapshot taken while writes go on restores exactly the state it was taken at', async (t) => {
  const source = LmdbStateStore.open(tempDir(t, 'src'), { tables });
  const target = LmdbStateStore.open(tempDir(t, 'dst'), { tables });
  t.after(async () => { await source.close(); await target.close(); });
  fill(source, 20_000);
  const expected = contents(source);
  const expectedIndex = source.appliedIndex();

  const snapshot = source.snapshot({ chunkBytes: 32 * 1024 });
  assert.equal(snapshot.appliedIndex, expectedIndex);

  // Writes between chunks: updates, deletes and new keys, each in its own batch.
  let writes = 0;
  let chunksSeen = 0;
  async function* writingBetweenChunks(): AsyncGenerator<Buffer> {
    for await (const chunk of snapshot) {
      chunksSeen++;
      source.applyBatch(source.appliedIndex() + 1, (txn) => {
        txn.put('kv', `key/${String(writes * 3 + 1).padStart(6, '0')}`, Buffer.from('changed'));
        txn.delete('catalog', `key/${String(writes * 3).padStart(6, '0')}`);
        txn.put('sessions', `new/${writes}`, Buffer.from('added'));
      });
      writes++;
      yield chunk;
    }
  }
  const restored = await target.restoreSnapshot(writingBetweenChunks());

  assert.ok(chunksSeen > 10, `expected many chunks, got ${chunksSeen}`);
  assert.equal(restored.appliedIndex, expectedIndex);
  assert.equal(restored.records, 20_000);
  assert.equal(target.appliedIndex(), expectedIndex);
  assert.deepEqual(contents(target), expected, 'the restored store differs from the snapshot point');
  assert.notDeepEqual(contents(source), expected, 'the writes during the snapshot did land in the source');
  assert.equal(source.appliedIndex(), expectedIndex + writes);
});

test('the snapshot yields to the event loop between chunks', async (t) => {
  const store = LmdbStateStore.open(tempDir(t), { tables });
  t.after(() => store.close());
  fill(store, 5000);
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  let chunks = 0;
  const ticksAt: number[] = [];
  for await (const chunk of store.snapshot({ chunkBytes: 16 * 1024 })) {
    assert.ok(chunk.length > 0);
    ticksAt.push(ticks);
    chunks++;
  }
  clearInterval(timer);
  assert.ok(chunks > 5);
  assert.ok(ticksAt[ticksAt.length - 1] > ticksAt[0], 'timers never ran while the snapshot was read');
});

test('a restore replaces what the store held, in any chunking', async (t) => {
  const source = LmdbStateStore.open(tempDir(t, 'src'), { tables });
  const target = LmdbStateStore.open(tempDir(t, 'dst'), { tables });
  t.after(async () => { await source.close(); await target.close(); });
  fill(source, 300);
  const whole = Buffer.concat(await collect(source.snapshot()));

  target.applyBatch(7, (txn) => {
    txn.put('kv', 'stale', Buffer.from('gone after restore'));
    txn.put('catalog', 'key/000000', Buffer.from('overwritten'));
  });
  // Pieces of 1, 7 and 5000 bytes: items split at every possible place.
  for (const size of [1, 7, 5000]) {
    const pieces: Buffer[] = [];
    for (let at = 0; at < whole.length; at += size) pieces.push(whole.subarray(at, at + size));
    await target.restoreSnapshot(replay(pieces));
    assert.deepEqual(contents(target), contents(source), `chunks of ${size} bytes`);
  }
  assert.equal(target.appliedIndex(), source.appliedIndex());
});

test('a corrupt or truncated stream restores nothing and says why', async (t) => {
  const source = LmdbStateStore.open(tempDir(t, 'src'), { tables });
  const target = LmdbStateStore.open(tempDir(t, 'dst'), { tables });
  t.after(async () => { await source.close(); await target.close(); });
  fill(source, 2000);
  const chunks = await collect(source.snapshot({ chunkBytes: 8 * 1024 }));
  target.applyBatch(3, (txn) => txn.put('kv', 'mine', Buffer.from('keep me')));
  const before = contents(target);

  const flipped = chunks.map((c) => Buffer.from(c));
  flipped[2][100] ^= 0x20; // a value byte, which only the checksum can catch
  await assert.rejects(target.restoreSnapshot(replay(flipped)), (error: unknown) => {
    assert.ok(error instanceof SnapshotCorruptionError);
    assert.match(error.message, /checksum mismatch/);
    return true;
  });
  assert.deepEqual(contents(target), before, 'a failed restore changed the store');
  assert.equal(target.appliedIndex(), 3);

  await assert.rejects(target.restoreSnapshot(replay(chunks.slice(0, -1))), /ended before its trailer/);
  await assert.rejects(target.restoreSnapshot(replay([Buffer.from('not a snapshot at all')])), /bad magic/);
  await assert.rejects(target.restoreSnapshot(replay([...chunks, Buffer.from([0])])), /after the trailer/);
  const other = LmdbStateStore.open(tempDir(t, 'other'), { tables: ['kv'] });
  t.after(() => other.close());
  await assert.rejects(other.restoreSnapshot(replay(chunks)), /table "catalog" is not one of this store's tables/);
  assert.deepEqual(contents(target), before);
});

test('writes wait while a restore holds the writer; reads see the old state until it commits', async (t) => {
  const source = LmdbStateStore.open(tempDir(t, 'src'), { tables });
  const target = LmdbStateStore.open(tempDir(t, 'dst'), { tables });
  t.after(async () => { await source.close(); await target.close(); });
  fill(source, 100);
  const chunks = await collect(source.snapshot({ chunkBytes: 256 }));
  target.applyBatch(1, (txn) => txn.put('kv', 'old', Buffer.from('1')));

  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  async function* slow(): AsyncGenerator<Buffer> {
    yield chunks[0];
    await gate;
    yield* chunks.slice(1);
  }
  const restoring = target.restoreSnapshot(slow());
  await new Promise((resolve) => setImmediate(resolve));
  assert.throws(() => target.applyBatch(2, () => undefined), StorageBusyError);
  assert.equal(target.read((txn) => txn.get('kv', 'old')?.toString()), '1');
  release();
  await restoring;
  assert.equal(target.read((txn) => txn.get('kv', 'old')), undefined);
  target.applyBatch(target.appliedIndex() + 1, (txn) => txn.put('kv', 'after', Buffer.from('ok')));
});

test('breaking out of a snapshot, or closing the store under one, releases its transaction', async (t) => {
  const store = LmdbStateStore.open(tempDir(t), { tables, mapSize: 1024 * 1024 });
  fill(store, 2000);
  for await (const chunk of store.snapshot({ chunkBytes: 1024 })) {
    assert.ok(chunk.length > 0);
    break;
  }
  // With no reader left the map can grow again, which a 1 MiB map soon needs.
  fill(store, 20_000);

  const open = store.snapshot({ chunkBytes: 1024 });
  const iterator = open[Symbol.asyncIterator]();
  await iterator.next();
  await store.close();
  await assert.rejects(iterator.next(), /closed/);
  t.after(() => undefined);
});
