// The state machine's tables on real LMDB: reads and writes, prefix scans, the
// applied index moving atomically with the writes, and reopening.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LmdbStateStore, StorageClosedError, StorageUsageError, type StateReader } from '../../src/storage/index.js';
import { tempDir } from './helpers.js';

const tables = ['kv', 'services', 'sessions'];

function dump(reader: StateReader, table: string): [string, string][] {
  return [...reader.scan(table)].map(({ key, value }) => [key.toString(), value.toString()]);
}

test('puts, gets and deletes in named tables, with the applied index', async (t) => {
  const store = LmdbStateStore.open(tempDir(t), { tables });
  t.after(() => store.close());
  assert.equal(store.appliedIndex(), 0);
  assert.deepEqual(store.tables, ['kv', 'services', 'sessions']);

  const result = store.applyBatch(5, (txn) => {
    txn.put('kv', 'web/config', Buffer.from('a'));
    txn.put('kv', Buffer.from('web/port'), Buffer.from('80'));
    txn.put('services', 'web', Buffer.from('{"port":80}'));
    assert.equal(txn.get('kv', 'web/config')?.toString(), 'a', 'a write txn reads its own writes');
    return 'applied';
  });
  assert.equal(result, 'applied');
  assert.equal(store.appliedIndex(), 5);
  store.read((txn) => {
    assert.equal(txn.get('kv', 'web/port')?.toString(), '80');
    assert.equal(txn.get('kv', 'web'), undefined);
    assert.equal(txn.get('sessions', 'web'), undefined, 'tables are separate');
  });

  store.applyBatch(6, (txn) => {
    assert.equal(txn.delete('kv', 'web/config'), true);
    assert.equal(txn.delete('kv', 'web/config'), false);
  });
  store.read((txn) => assert.deepEqual(dump(txn, 'kv'), [['web/port', '80']]));
});

test('prefix and range scans visit keys in byte order and stop where told', async (t) => {
  const store = LmdbStateStore.open(tempDir(t), { tables });
  t.after(() => store.close());
  const keys = ['a', 'app/1', 'app/2', 'app/3', 'apq', 'b', 'web/1'];
  store.applyBatch(1, (txn) => {
    for (const k of [...keys].reverse()) txn.put('kv', k, Buffer.from(k.toUpperCase()));
  });
  store.read((txn) => {
    const scan = (range: Parameters<StateReader['scan']>[1]) => [...txn.scan('kv', range)].map((r) => r.key.toString());
    assert.deepEqual(scan({}), keys);
    assert.deepEqual(scan({ prefix: 'app/' }), ['app/1', 'app/2', 'app/3']);
    assert.deepEqual(scan({ prefix: 'app/', start: 'app/2' }), ['app/2', 'app/3']);
    assert.deepEqual(scan({ prefix: 'app/', limit: 2 }), ['app/1', 'app/2']);
    assert.deepEqual(scan({ start: 'apq', end: 'web' }), ['apq', 'b']);
    assert.deepEqual(scan({ prefix: 'zzz' }), []);
    assert.deepEqual(scan({ prefix: Buffer.from('b') }), ['b']);
    const first = txn.scan('kv', { prefix: 'app/' }).next();
    assert.equal(first.done, false);
    assert.equal(first.value?.value.toString(), 'APP/1');
  });
});

test('a batch that throws leaves the tables and the applied index untouched', async (t) => {
  const store = LmdbStateStore.open(tempDir(t), { tables });
  t.after(() => store.close());
  store.applyBatch(1, (txn) => txn.put('kv', 'x', Buffer.from('1')));
  assert.throws(() => store.applyBatch(2, (txn) => {
    txn.put('kv', 'x', Buffer.from('2'));
    txn.put('kv', 'y', Buffer.from('2'));
    throw new Error('apply failed half way');
  }), /half way/);
  assert.equal(store.appliedIndex(), 1);
  store.read((txn) => assert.deepEqual(dump(txn, 'kv'), [['x', '1']]));
  // The next batch still works.
  store.applyBatch(2, (txn) => txn.put('kv', 'y', Buffer.from('2')));
  store.read((txn) => assert.deepEqual(dump(txn, 'kv'), [['x', '1'], ['y', '2']]));
});

test('misuse is refused with a clear error', async (t) => {
  const store = LmdbStateStore.open(tempDir(t), { tables });
  t.after(() => store.close());
  store.applyBatch(3, () => undefined);
  assert.throws(() => store.applyBatch(3, () => undefined), /applied index 3 does not follow 3/);
  assert.throws(() => store.applyBatch(4, (txn) => txn.put('nope', 'k', Buffer.from('v'))), /no table "nope"/);
  assert.throws(() => store.applyBatch(4, (txn) => txn.put('kv', Buffer.alloc(512, 97), Buffer.from('v'))), /1 to 511 bytes, got 512/);
  assert.throws(() => store.applyBatch(4, (txn) => txn.put('kv', '', Buffer.from('v'))), /got 0/);
  assert.throws(() => store.read((txn) => (txn as unknown as { put: (t: string, k: string, v: Buffer) => void }).put('kv', 'k', Buffer.from('v'))), /read-only/);
  assert.equal(store.appliedIndex(), 3);
  const leaked = store.read((txn) => txn.scan('kv'));
  assert.throws(() => leaked.next(), /transaction has ended/);
  assert.throws(() => LmdbStateStore.open(tempDir(t), { tables: ['__meta'] }), StorageUsageError);
  assert.throws(() => LmdbStateStore.open(tempDir(t), { tables: ['a', 'a'] }), /repeat/);
});

test('a scan left unfinished in a write batch does not break the commit', async (t) => {
  const store = LmdbStateStore.open(tempDir(t), { tables });
  t.after(() => store.close());
  store.applyBatch(1, (txn) => {
    for (let i = 0; i < 10; i++) txn.put('kv', `k${i}`, Buffer.from('v'));
  });
  store.applyBatch(2, (txn) => {
    const it = txn.scan('kv');
    it.next(); // abandoned: the scope closes its cursor before commit
    for (const { key } of txn.scan('kv', { prefix: 'k1' })) txn.delete('kv', key);
    txn.put('kv', 'new', Buffer.from('v'));
  });
  store.read((txn) => assert.equal([...txn.scan('kv')].length, 10));
});

test('data and the applied index survive close and reopen; sync reports the durable index', async (t) => {
  const dir = tempDir(t);
  let store = LmdbStateStore.open(dir, { tables });
  for (let i = 1; i <= 50; i++) store.applyBatch(i, (txn) => txn.put('kv', `key-${String(i).padStart(3, '0')}`, Buffer.from(`v${i}`)));
  assert.equal(await store.sync(), 50);
  await store.close();
  assert.throws(() => store.appliedIndex(), StorageClosedError);

  // Declared in another order: table identity is by name.
  store = LmdbStateStore.open(dir, { tables: ['sessions', 'services', 'kv'] });
  t.after(() => store.close());
  assert.equal(store.appliedIndex(), 50);
  store.read((txn) => {
    assert.equal([...txn.scan('kv')].length, 50);
    assert.equal(txn.get('kv', 'key-050')?.toString(), 'v50');
  });
});

test('the map grows when the state outgrows it', async (t) => {
  const store = LmdbStateStore.open(tempDir(t), { tables, mapSize: 1024 * 1024 });
  t.after(() => store.close());
  const value = Buffer.alloc(8192, 1);
  let runs = 0;
  store.applyBatch(1, (txn) => {
    runs++;
    for (let i = 0; i < 500; i++) txn.put('kv', `big-${i}`, value); // ~4 MiB into a 1 MiB map
  });
  assert.ok(runs >= 2, 'the batch ran again after the map grew');
  store.read((txn) => assert.equal([...txn.scan('kv')].length, 500));
  // Later batches grow it ahead of need rather than failing first.
  for (let i = 2; i < 10; i++) store.applyBatch(i, (txn) => txn.put('kv', `more-${i}`, Buffer.alloc(200_000)));
  assert.equal(store.appliedIndex(), 9);
});
