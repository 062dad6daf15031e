// The Raft log on real LMDB in temp dirs: append, overwrite and truncate,
// reload after close, compaction, snapshot install, corruption detection, and
// group commit with fsync acknowledgement.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type HardState, type SnapshotMeta } from '../../src/raft/types.js';
import {
  LmdbLogStore, StorageClosedError, StorageCorruptionError, StorageUsageError,
} from '../../src/storage/index.js';
import { indexKey } from '../../src/storage/lmdb.js';
import { entries, entry, plain, tamper, tempDir } from './helpers.js';

const conf = { members: [{ id: 'n1', address: '127.0.0.1:7000', voter: true }, { id: 'n2', address: '127.0.0.1:7001', voter: false }] };

function meta(index: number, term: number): SnapshotMeta {
  return { index, term, conf };
}

test('a fresh log loads as empty', async (t) => {
  const log = LmdbLogStore.open(tempDir(t));
  t.after(() => log.close());
  assert.deepEqual(log.load(), { hardState: undefined, snapshotMeta: undefined, entries: [] });
  assert.equal(log.firstIndex(), 1);
  assert.equal(log.lastIndex(), 0);
  assert.equal(log.term(0), 0);
  assert.equal(log.term(1), undefined);
});

test('entries, hard state and snapshot meta survive close and reopen', async (t) => {
  const dir = tempDir(t);
  const hs: HardState = { term: 3, vote: 'n2', commit: 4 };
  const withConf = { index: 6, term: 3, type: EntryType.ConfChange, data: Buffer.from([1, 2, 3]) };
  let log = LmdbLogStore.open(dir);
  await log.persist({ entries: [...entries(1, 5, 2), withConf], hardState: hs });
  await log.setSnapshotMeta(meta(2, 2));
  await log.close();

  log = LmdbLogStore.open(dir);
  t.after(() => log.close());
  const loaded = log.load();
  assert.deepEqual(loaded.hardState, hs);
  assert.deepEqual(loaded.snapshotMeta, meta(2, 2));
  assert.deepEqual(plain(loaded.entries), plain([...entries(3, 5, 2), withConf]), 'load returns the entries after the snapshot');
  assert.equal(log.firstIndex(), 1);
  assert.equal(log.lastIndex(), 6);
  assert.deepEqual(plain(log.entries(1, 7)), plain([...entries(1, 5, 2), withConf]));
});

test('appending over stored entries replaces them and drops the rest of the suffix', async (t) => {
  const log = LmdbLogStore.open(tempDir(t));
  t.after(() => log.close());
  await log.append(entries(1, 10, 1));
  await log.append([entry(4, 2, 'new-4'), entry(5, 2, 'new-5')]);
  assert.equal(log.lastIndex(), 5);
  assert.deepEqual(plain(log.entries(1, 6)), plain([...entries(1, 3, 1), entry(4, 2, 'new-4'), entry(5, 2, 'new-5')]));
  assert.equal(log.term(6), undefined, 'entry 6 was truncated');
  assert.deepEqual(plain(log.load().entries), plain(log.entries(1, 6)));

  // Overwriting from the very first entry empties the log first.
  await log.append([entry(1, 3, 'x')]);
  assert.deepEqual(plain(log.load().entries), plain([entry(1, 3, 'x')]));
});

test('several writes in one turn apply in order within one transaction', async (t) => {
  const log = LmdbLogStore.open(tempDir(t));
  t.after(() => log.close());
  await Promise.all([
    log.append(entries(1, 5, 1)),
    log.append([entry(3, 2, 'b3')]),
    log.append([entry(4, 2, 'b4')]),
    log.setHardState({ term: 2, vote: 'n1', commit: 2 }),
    log.setHardState({ term: 2, vote: 'n1', commit: 3 }),
  ]);
  assert.equal(log.stats().commits, 1);
  assert.deepEqual(plain(log.load().entries), plain([entry(1, 1), entry(2, 1), entry(3, 2, 'b3'), entry(4, 2, 'b4')]));
  assert.deepEqual(log.load().hardState, { term: 2, vote: 'n1', commit: 3 });
});

test('a caller may reuse its buffers as soon as persist() returns', async (t) => {
  const log = LmdbLogStore.open(tempDir(t));
  t.after(() => log.close());
  const data = Buffer.from('original');
  const written = log.append([{ index: 1, term: 1, type: EntryType.Normal, data }]);
  data.write('scribble'); // before the group commits at the end of the turn
  await written;
  assert.equal(Buffer.from(log.entries(1, 2)[0].data).toString(), 'original');
});

test('bad writes are refused at once and do not disturb the queue', async (t) => {
  const log = LmdbLogStore.open(tempDir(t));
  t.after(() => log.close());
  await log.append(entries(1, 4, 1));
  await assert.rejects(log.append([entry(6, 1)]), /a gap/);
  await assert.rejects(log.append([entry(5, 1), entry(7, 1)]), /not contiguous/);
  await assert.rejects(log.append([entry(5, 2), entry(6, 1)]), /below the previous/);
  await assert.rejects(log.setSnapshotMeta(meta(9, 1)), StorageUsageError);
  await assert.rejects(log.compact(2), /snapshot only covers up to 0/);
  await log.setSnapshotMeta(meta(3, 1));
  await assert.rejects(log.append([entry(3, 5)]), /the snapshot covers up to 3/);
  await log.append([entry(5, 1)]);
  assert.equal(log.lastIndex(), 5);
});

test('compaction deletes entries covered by the snapshot and keeps the rest readable', async (t) => {
  const dir = tempDir(t);
  let log = LmdbLogStore.open(dir);
  await log.append(entries(1, 100, 1));
  await log.setSnapshotMeta(meta(60, 1));
  await log.compact(50); // keep a tail before the snapshot for slow followers
  assert.equal(log.firstIndex(), 51);
  assert.equal(log.lastIndex(), 100);
  assert.equal(log.term(50), undefined);
  assert.equal(log.term(51), 1);
  assert.throws(() => log.entries(40, 60), StorageUsageError);
  assert.equal(log.entries(51, 101).length, 50);
  assert.equal(log.entries(51, 101, 100).length, 16, 'maxBytes caps the batch (6 data bytes per entry)');
  assert.equal(log.entries(51, 101, 1).length, 1, 'but always at least one entry');

  await log.compact(60);
  await log.close();
  log = LmdbLogStore.open(dir);
  t.after(() => log.close());
  assert.equal(log.firstIndex(), 61);
  assert.equal(log.term(60), 1, 'the snapshot answers for its own index');
  const loaded = log.load();
  assert.equal(loaded.entries[0].index, 61);
  assert.equal(loaded.entries.length, 40);
});

test('installing a snapshot from the leader replaces the whole log', async (t) => {
  const dir = tempDir(t);
  let log = LmdbLogStore.open(dir);
  await log.append(entries(1, 100, 1));
  await log.persist({
    snapshot: { meta: meta(500, 4) },
    entries: entries(501, 503, 4),
    hardState: { term: 4, vote: '', commit: 500 },
  });
  assert.equal(log.firstIndex(), 501);
  assert.equal(log.lastIndex(), 503);
  assert.equal(log.term(500), 4);
  assert.equal(log.term(50), undefined, 'the old log is gone');
  await log.close();

  log = LmdbLogStore.open(dir);
  t.after(() => log.close());
  const loaded = log.load();
  assert.deepEqual(loaded.snapshotMeta, meta(500, 4));
  assert.deepEqual(plain(loaded.entries), plain(entries(501, 503, 4)));

  // A snapshot with nothing after it: the log is empty and ends at the snapshot.
  await log.persist({ snapshot: { meta: meta(900, 5) } });
  assert.equal(log.firstIndex(), 901);
  assert.equal(log.lastIndex(), 900);
  assert.deepEqual(log.load().entries, []);
});

test('a flipped byte in a stored entry is reported with its index, never returned', async (t) => {
  const dir = tempDir(t);
  let log = LmdbLogStore.open(dir);
  await log.append(entries(1, 10, 1));
  await log.close();

  tamper(dir, 'entries', (txn, dbi) => {
    const value = txn.getBinary(dbi, indexKey(7))!;
    value[value.length - 1] ^= 0x01; // a data byte, like a torn or rotted page
    txn.putBinary(dbi, indexKey(7), value);
  });

  log = LmdbLogStore.open(dir);
  t.after(() => log.close());
  assert.throws(() => log.load(), (error: unknown) => {
    assert.ok(error instanceof StorageCorruptionError);
    assert.equal(error.index, 7);
    assert.equal(error.record, 'entry');
    assert.equal(error.code, 'KONSUL_ERR_STORAGE_CORRUPT');
    assert.match(error.message, /entry at index 7: checksum mismatch/);
    return true;
  });
  assert.throws(() => log.entries(5, 9), /index 7/);
  assert.throws(() => log.term(7), /index 7/);
  assert.equal(log.entries(1, 7).length, 6, 'the intact entries stay readable');
});

test('an entry stored under the wrong index, a missing entry and a bad hard state are each reported', async (t) => {
  const dir = tempDir(t);
  let log = LmdbLogStore.open(dir);
  await log.persist({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 'n1', commit: 3 } });
  await log.close();

  tamper(dir, 'entries', (txn, dbi) => {
    txn.putBinary(dbi, indexKey(4), txn.getBinary(dbi, indexKey(3))!);
  });
  log = LmdbLogStore.open(dir);
  assert.throws(() => log.load(), /entry at index 4: value holds index 3/);
  await log.close();

  tamper(dir, 'entries', (txn, dbi) => txn.del(dbi, indexKey(4)));
  log = LmdbLogStore.open(dir);
  assert.throws(() => log.load(), (error: unknown) => error instanceof StorageCorruptionError && error.index === 4);
  await log.close();

  tamper(dir, 'meta', (txn, dbi) => {
    const value = txn.getBinary(dbi, Buffer.from('hardState'))!;
    value[6] ^= 0xff;
    txn.putBinary(dbi, Buffer.from('hardState'), value);
  });
  log = LmdbLogStore.open(dir);
  t.after(() => log.close());
  assert.throws(() => log.load(), (error: unknown) => error instanceof StorageCorruptionError && error.record === 'hardState');
});

test('a burst of persists in one turn is one transaction and one fsync', async (t) => {
  const log = LmdbLogStore.open(tempDir(t));
  t.after(() => log.close());
  const writes = [];
  for (let i = 1; i <= 200; i++) writes.push(log.persist({ entries: [entry(i, 1)], hardState: { term: 1, vote: 'n1', commit: i } }));
  await Promise.all(writes);
  assert.deepEqual(log.stats(), { batches: 200, commits: 1, syncsStarted: 1, syncsFinished: 1 });
  assert.equal(log.lastIndex(), 200);
});

test('no persist resolves before an fsync that started after its commit has finished', async (t) => {
  // Record the order of commits and fsyncs as they happen, and check every
  // acknowledgement against it, whatever the disk's speed.
  const events: string[] = [];
  const log = LmdbLogStore.open(tempDir(t), {
    events: {
      committed: () => events.push('commit'),
      syncStarted: () => events.push('sync-start'),
      syncFinished: () => events.push('sync-end'),
    },
  });
  t.after(() => log.close());

  const checks: Promise<void>[] = [];
  let index = 0;
  for (let turn = 0; turn < 30; turn++) {
    const callAt = events.length;
    const batch = [entry(++index, 1), entry(++index, 1)];
    checks.push(log.append(batch).then(() => {
      const myCommit = events.indexOf('commit', callAt);
      assert.ok(myCommit >= 0, 'acknowledged before it was committed');
      const covering = events.indexOf('sync-start', myCommit);
      assert.ok(covering >= 0, 'acknowledged before an fsync covering it started');
      assert.ok(events.indexOf('sync-end', covering) >= 0, 'acknowledged before the covering fsync finished');
    }));
    // Spread the writes over turns so some commits land while an fsync runs.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(checks);

  let inFlight = 0;
  for (const e of events) {
    if (e === 'sync-start') assert.equal(++inFlight, 1, 'two fsyncs in flight at once');
    if (e === 'sync-end') inFlight--;
  }
  const stats = log.stats();
  assert.equal(stats.batches, 30);
  assert.ok(stats.commits <= 30 && stats.syncsFinished === stats.commits, 'one fsync per txn: writes wait, not commits');
  t.diagnostic(`30 turns: ${stats.commits} txns, ${stats.syncsFinished} fsyncs`);
});

test('the map grows when the log outgrows it', async (t) => {
  const log = LmdbLogStore.open(tempDir(t), { mapSize: 1024 * 1024 });
  t.after(() => log.close());
  const big = Buffer.alloc(4096, 7);
  const batch = [];
  for (let i = 1; i <= 1000; i++) batch.push({ index: i, term: 1, type: EntryType.Normal, data: big });
  await log.append(batch); // ~4 MiB into a 1 MiB map, in one transaction
  assert.equal(log.lastIndex(), 1000);
  assert.equal(Buffer.compare(Buffer.from(log.entries(999, 1000)[0].data), big), 0);
});

test('a directory can be open only once per process, and a closed store refuses calls', async (t) => {
  const dir = tempDir(t);
  const log = LmdbLogStore.open(dir);
  assert.throws(() => LmdbLogStore.open(dir), /already open/);
  await log.close();
  assert.throws(() => log.lastIndex(), StorageClosedError);
  await assert.rejects(log.append([entry(1, 1)]), StorageClosedError);
  const again = LmdbLogStore.open(dir);
  await again.close();
});
