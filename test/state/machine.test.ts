// The replicated state machine on a real LMDB store: Consul KV semantics (cas,
// flags, CreateIndex, recurse, keys with a separator), member records, the
// applied and KV indexes across restarts, and snapshot restore.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  STATE_TABLES, StateMachine, encodeCommand, type KvEntry,
} from '../../src/state/index.js';
import { LmdbStateStore } from '../../src/storage/index.js';
import { Applier, stateFixture } from './helpers.js';

function keysOf(entries: KvEntry[]): string[] {
  return entries.map((e) => e.key);
}

describe('state machine: KV writes (Consul semantics)', () => {
  it('a set stores value and flags; an update keeps CreateIndex and moves ModifyIndex; LockIndex stays 0', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    assert.equal(a.run({ type: 'kv-set', key: 'bin', value: Buffer.of(0, 255, 10), flags: 0xffff_ffff }), true);
    const first = sm.kvGet('bin')!;
    assert.deepEqual(
      { ...first, value: [...first.value] },
      { key: 'bin', value: [0, 255, 10], flags: 0xffff_ffff, createIndex: a.index, modifyIndex: a.index, lockIndex: 0 },
    );
    a.put('other', 'x');
    assert.equal(a.put('bin', 'two', { flags: 3 }), true);
    const second = sm.kvGet('bin')!;
    assert.equal(second.value.toString(), 'two');
    assert.equal(second.flags, 3);
    assert.equal(second.createIndex, first.createIndex);
    assert.equal(second.modifyIndex, a.index);
    assert.equal(second.lockIndex, 0);
    assert.equal(sm.kvGet('missing'), undefined);
    assert.equal(sm.kvGet(''), undefined);
  });

  it('cas=0 sets only an absent key; cas=N only a key at ModifyIndex N; a failed cas changes nothing', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    assert.equal(a.put('k', 'one', { cas: 5 }), false, 'cas=N on an absent key fails');
    assert.equal(sm.kvGet('k'), undefined);
    assert.equal(a.put('k', 'one', { cas: 0 }), true, 'cas=0 on an absent key sets it');
    const first = sm.kvGet('k')!;
    const kvIndex = sm.kvIndex();
    assert.equal(a.put('k', 'two', { cas: 0 }), false, 'cas=0 on a present key fails');
    assert.equal(a.put('k', 'two', { cas: first.modifyIndex + 1 }), false, 'a mismatched cas fails');
    assert.equal(sm.kvGet('k')!.value.toString(), 'one');
    assert.equal(sm.kvIndex(), kvIndex, 'a failed cas does not move the KV index');
    assert.equal(a.put('k', 'two', { cas: first.modifyIndex }), true, 'a matching cas sets');
    const second = sm.kvGet('k')!;
    assert.equal(second.value.toString(), 'two');
    assert.equal(second.createIndex, first.createIndex);
    assert.equal(sm.kvIndex(), second.modifyIndex);
  });

  it('delete: an absent key counts as deleted; cas must match a present key', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('k', 'v');
    const kvIndex = sm.kvIndex();
    assert.equal(a.del('absent'), true);
    assert.equal(a.del('absent', { cas: 7 }), true);
    assert.equal(sm.kvIndex(), kvIndex, 'deleting nothing does not move the KV index');
    const at = sm.kvGet('k')!.modifyIndex;
    assert.equal(a.del('k', { cas: 0 }), false);
    assert.equal(a.del('k', { cas: at + 1 }), false);
    assert.ok(sm.kvGet('k'), 'a failed cas delete keeps the key');
    assert.equal(a.del('k', { cas: at }), true);
    assert.equal(sm.kvGet('k'), undefined);
    assert.equal(sm.kvIndex(), a.index, 'a delete moves the KV index');
  });

  it('recursive delete removes the prefix only, ignores cas like Consul, and the empty prefix removes all', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    for (const k of ['app', 'app/a', 'app/b/c', 'apple', 'web/x']) a.put(k, k);
    const kvIndex = sm.kvIndex();
    assert.equal(a.del('nothing/', { recurse: true }), true);
    assert.equal(sm.kvIndex(), kvIndex, 'a recursive delete of nothing does not move the KV index');
    assert.equal(a.del('app/', { recurse: true, cas: 12345 }), true);
    assert.deepEqual(keysOf(sm.kvList('')), ['app', 'apple', 'web/x']);
    assert.equal(sm.kvIndex(), a.index);
    assert.equal(a.del('', { recurse: true }), true);
    assert.deepEqual(sm.kvList(''), []);
  });

  it('lists keys under a prefix in bytewise order', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    for (const k of ['é', 'b', 'a/b', 'a', 'a/a', 'Z']) a.put(k, k);
    assert.deepEqual(keysOf(sm.kvList('')), ['Z', 'a', 'a/a', 'a/b', 'b', 'é']);
    assert.deepEqual(keysOf(sm.kvList('a')), ['a', 'a/a', 'a/b']);
    assert.deepEqual(keysOf(sm.kvList('a/')), ['a/a', 'a/b']);
    assert.deepEqual(sm.kvList('c'), []);
  });

  it('keys with a separator roll up at the first separator after the prefix, like Consul', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    for (const k of ['a/', 'a/b', 'a/c/d', 'a/c/e', 'a/f/g/h', 'ab', 'b', 'x--y--z', 'x--w']) a.put(k, '1');
    assert.deepEqual(sm.kvKeys('a/', '/'), ['a/', 'a/b', 'a/c/', 'a/f/']);
    assert.deepEqual(sm.kvKeys('a/'), ['a/', 'a/b', 'a/c/d', 'a/c/e', 'a/f/g/h']);
    assert.deepEqual(sm.kvKeys('a/c', '/'), ['a/c/']);
    assert.deepEqual(sm.kvKeys('', '/'), ['a/', 'ab', 'b', 'x--w', 'x--y--z']);
    assert.deepEqual(sm.kvKeys('x', '--'), ['x--']);
    assert.deepEqual(sm.kvKeys('x--', '--'), ['x--w', 'x--y--']);
    assert.deepEqual(sm.kvKeys('nothing', '/'), []);
  });
});

describe('state machine: apply', () => {
  it('bytes that are not a command are a no-op with result false, and the applied index moves', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('k', 'v');
    const kvIndex = sm.kvIndex();
    // Well-framed but invalid fields too: an empty key, an empty member id (LMDB would refuse both).
    const emptyKey = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const emptyMember = Buffer.from([4, 0, 0, 0, 0, 0]);
    const results = sm.apply([
      { index: 10, command: Buffer.of(1, 2, 3) },
      { index: 11, command: emptyKey },
      { index: 12, command: emptyMember },
      { index: 13 },
      { index: 14, command: encodeCommand({ type: 'kv-set', key: 'after', value: Buffer.from('x'), flags: 0 }) },
    ]);
    assert.deepEqual(results, [false, false, false, undefined, true]);
    assert.equal(sm.appliedIndex(), 14);
    assert.equal(sm.kvGet('after')!.modifyIndex, 14);
    assert.ok(sm.kvIndex() > kvIndex);
  });

  it('skips entries at or below the applied index, in a batch that straddles it', (t) => {
    const { sm } = stateFixture(t).open();
    sm.apply([{ index: 5, command: encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.from('v5'), flags: 0 }) }]);
    const set = (v: string) => encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.from(v), flags: 0 });
    assert.deepEqual(sm.apply([{ index: 4, command: set('old') }, { index: 5, command: set('again') }]), [undefined, undefined]);
    assert.equal(sm.kvGet('k')!.value.toString(), 'v5');
    assert.equal(sm.appliedIndex(), 5);
    assert.deepEqual(sm.apply([{ index: 5, command: set('again') }, { index: 6, command: set('v6') }]), [undefined, true]);
    assert.equal(sm.kvGet('k')!.value.toString(), 'v6');
    assert.equal(sm.kvGet('k')!.createIndex, 5);
    assert.equal(sm.appliedIndex(), 6);
  });

  it('one batch sees its own earlier writes (cas against a key set in the same batch)', (t) => {
    const { sm } = stateFixture(t).open();
    const set = (cas?: number) => encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.from(String(cas)), flags: 0, cas });
    assert.deepEqual(sm.apply([{ index: 2, command: set(0) }, { index: 3, command: set(0) }, { index: 4, command: set(2) }]),
      [true, false, true]);
    assert.equal(sm.kvGet('k')!.value.toString(), '2');
    assert.equal(sm.kvIndex(), 4);
  });

  it('a batch that outgrows the map is applied once, completely, after the map grows', (t) => {
    // 1 MiB map, 4 MiB of values in one batch: LMDB runs out of room and the store reruns the batch.
    const { sm } = stateFixture(t).open(undefined, 1024 * 1024);
    const items = [];
    for (let i = 0; i < 64; i++) {
      items.push({ index: 10 + i, command: encodeCommand({ type: 'kv-set', key: `big/${i}`, value: Buffer.alloc(64 * 1024, i), flags: 0, cas: 0 }) });
    }
    const results = sm.apply(items);
    assert.deepEqual(results, items.map(() => true));
    assert.equal(sm.kvList('big/').length, 64);
    assert.equal(sm.kvGet('big/63')!.value[0], 63);
    assert.equal(sm.kvIndex(), 73);
    assert.equal(sm.appliedIndex(), 73);
  });

  it('member records: set upserts with the entry index, delete removes', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    const kvIndex = sm.kvIndex();
    assert.equal(a.run({ type: 'member-set', id: 'n2', raftAddress: '10.0.0.2:7000', httpAddress: '', server: false }), true);
    assert.equal(a.run({ type: 'member-set', id: 'n1', raftAddress: '10.0.0.1:7000', httpAddress: '10.0.0.1:8500', server: true }), true);
    const setAt = a.index;
    assert.deepEqual(sm.member('n1'), { id: 'n1', raftAddress: '10.0.0.1:7000', httpAddress: '10.0.0.1:8500', server: true, modifyIndex: setAt });
    assert.deepEqual(sm.members().map((m) => m.id), ['n1', 'n2']);
    a.run({ type: 'member-set', id: 'n2', raftAddress: '10.0.0.2:7001', httpAddress: 'ü:1', server: true });
    assert.deepEqual(sm.member('n2'), { id: 'n2', raftAddress: '10.0.0.2:7001', httpAddress: 'ü:1', server: true, modifyIndex: a.index });
    assert.equal(a.run({ type: 'member-delete', id: 'n1' }), true);
    assert.equal(sm.member('n1'), undefined);
    assert.equal(a.run({ type: 'member-delete', id: 'n1' }), true, 'deleting an absent member is fine');
    assert.deepEqual(sm.members().map((m) => m.id), ['n2']);
    assert.equal(sm.kvIndex(), kvIndex, 'member changes are not KV changes');
    assert.equal(sm.member(''), undefined);
  });

  it('member-left moves a member to the left members (stamped with the leader\'s time); forget and rejoining drop it', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.run({ type: 'member-set', id: 'n1', raftAddress: '10.0.0.1:7000', httpAddress: '10.0.0.1:8500', server: true });
    a.run({ type: 'member-set', id: 'n2', raftAddress: '10.0.0.2:7000', httpAddress: '', server: false });
    assert.equal(a.run({ type: 'member-left', id: 'n1', at: 1_700_000_000_000 }), true);
    assert.deepEqual(sm.members().map((m) => m.id), ['n2']);
    assert.deepEqual(sm.leftMembers(), [{ id: 'n1', raftAddress: '10.0.0.1:7000', httpAddress: '10.0.0.1:8500', server: true, leftAt: 1_700_000_000_000, modifyIndex: a.index }]);
    // A member with no record (never registered) is still remembered, without addresses.
    a.run({ type: 'member-left', id: 'ghost', at: 5 });
    assert.deepEqual(sm.leftMembers().map((m) => [m.id, m.raftAddress, m.server]), [['ghost', '', false], ['n1', '10.0.0.1:7000', true]]);
    assert.equal(a.run({ type: 'member-forget', id: 'ghost' }), true);
    assert.equal(a.run({ type: 'member-forget', id: 'ghost' }), false, 'forgetting one that is not there changes nothing');
    a.run({ type: 'member-set', id: 'n1', raftAddress: '10.0.0.1:7001', httpAddress: '', server: true });
    assert.deepEqual(sm.leftMembers(), [], 'joining again: no longer left');
    assert.deepEqual(sm.members().map((m) => m.id), ['n1', 'n2']);
  });

  it('refuses a store opened without the state machine tables', (t) => {
    const fx = stateFixture(t);
    const store = LmdbStateStore.open(fx.dir(), { tables: ['kv'], mapSize: 1024 * 1024 });
    t.after(() => store.close());
    assert.throws(() => new StateMachine(store), /STATE_TABLES/);
    assert.deepEqual([...STATE_TABLES].sort(), ['acl', 'catalog-checks', 'catalog-indexes', 'catalog-nodes', 'catalog-services', 'kv', 'kv-flags', 'kv-locks', 'members', 'members-left', 'meta', 'prepared-queries', 'sessions']);
  });
});

describe('state machine: indexes', () => {
  it('the KV index is 1 on an empty store and moves with KV writes and deletes only', (t) => {
    const { sm } = stateFixture(t).open();
    assert.equal(sm.kvIndex(), 1);
    assert.equal(sm.kvPrefixIndex('any/'), 1);
    assert.equal(sm.kvPrefixIndex(''), 1);
    const a = new Applier(sm);
    a.put('a', '1');
    assert.equal(sm.kvIndex(), a.index);
    a.run({ type: 'member-set', id: 'n1', raftAddress: 'r', httpAddress: 'h', server: true });
    sm.apply([{ index: ++a.index }]);
    assert.equal(sm.kvIndex(), a.index - 2);
    a.del('a');
    assert.equal(sm.kvIndex(), a.index);
  });

  it('a prefix index is the highest ModifyIndex under it, or a later delete that touched it', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('svc/web/1', 'x');
    const web1 = a.index;
    a.put('svc/db/1', 'x');
    const db1 = a.index;
    a.put('other', 'x');
    assert.equal(sm.kvPrefixIndex('svc/web/'), web1);
    assert.equal(sm.kvPrefixIndex('svc/'), db1);
    assert.equal(sm.kvPrefixIndex(''), sm.kvIndex());
    a.del('svc/web/1');
    const deleted = a.index;
    a.put('other', 'y');
    assert.equal(sm.kvPrefixIndex('svc/web/'), deleted, 'a delete under the prefix moves it');
    assert.equal(sm.kvPrefixIndex('svc/web/1'), deleted, 'and the deleted key\'s own index');
    assert.equal(sm.kvPrefixIndex('svc/'), deleted);
    assert.equal(sm.kvPrefixIndex('svc/db/'), db1, 'a sibling prefix does not move');
    a.put('svc/db/2', 'x');
    a.del('svc/', { recurse: true });
    const tree = a.index;
    assert.equal(sm.kvPrefixIndex('svc/db/'), tree, 'deleting a parent prefix moves the prefixes under it');
    assert.equal(sm.kvPrefixIndex('svc/web/2/'), tree, 'even ones that held no key');
    assert.equal(sm.kvPrefixIndex('s'), tree, 'and the prefixes above it');
    assert.equal(sm.kvPrefixIndex('web/'), 1, 'an untouched prefix does not move');
  });

  it('forgetting old deletes (the history is bounded) never moves a prefix index back', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('x/0', 'v');
    a.del('x/0');
    const deleted = a.index;
    assert.equal(sm.kvPrefixIndex('x/'), deleted);
    // 5000 more deletes push the one of x/0 out of the remembered history.
    const n = 5000;
    const put = (i: number) => ({ index: ++a.index, command: encodeCommand({ type: 'kv-set', key: `y/${i}`, value: Buffer.alloc(0), flags: 0 }) });
    const del = (i: number) => ({ index: ++a.index, command: encodeCommand({ type: 'kv-delete', key: `y/${i}` }) });
    sm.apply(Array.from({ length: n }, (_, i) => put(i)));
    sm.apply(Array.from({ length: n }, (_, i) => del(i)));
    assert.equal(sm.kvList('y/').length, 0);
    assert.ok(sm.kvPrefixIndex('x/') >= deleted);
    assert.ok(sm.kvPrefixIndex('x/') <= sm.kvIndex());
    assert.equal(sm.kvPrefixIndex('y/'), sm.kvIndex(), 'the latest delete is remembered');
  });

  it('a restart keeps data, the applied index and the KV index; prefix indexes start at the KV index', async (t) => {
    const fx = stateFixture(t);
    const first = fx.open();
    const a = new Applier(first.sm);
    a.put('k', 'v1');
    a.put('k', 'v2');
    a.put('gone/x', 'v');
    a.del('gone/x');
    a.run({ type: 'member-set', id: 'n1', raftAddress: 'r', httpAddress: 'h', server: true });
    const applied = first.sm.appliedIndex();
    const kvIndex = first.sm.kvIndex();
    assert.ok(applied > kvIndex);
    await first.close();

    const again = fx.open(first.dir);
    assert.equal(again.sm.appliedIndex(), applied);
    assert.equal(again.sm.kvIndex(), kvIndex);
    assert.equal(again.sm.kvGet('k')!.value.toString(), 'v2');
    assert.equal(again.sm.member('n1')!.modifyIndex, applied);
    // The delete of gone/x is not remembered across a restart: its prefix reports at least the KV index then.
    assert.equal(again.sm.kvPrefixIndex('gone/'), kvIndex);
    assert.equal(again.sm.kvPrefixIndex('k'), kvIndex);
    // Replaying an old entry (the log's commit index lagged the state's) changes nothing.
    const replay = again.sm.apply([{ index: applied, command: encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.from('old'), flags: 0 }) }]);
    assert.deepEqual(replay, [undefined]);
    assert.equal(again.sm.kvGet('k')!.value.toString(), 'v2');
  });

  it('a restored snapshot gives the same reads after reset(), replacing what the target held', async (t) => {
    const fx = stateFixture(t);
    const src = fx.open();
    const a = new Applier(src.sm);
    for (let i = 0; i < 300; i++) a.put(`k/${i % 7}/${i}`, `v${i}`, { flags: i });
    a.del('k/3/', { recurse: true });
    const treeDeleted = a.index;
    a.put('z', 'after the delete');
    a.run({ type: 'member-set', id: 'n1', raftAddress: '10.0.0.1:7000', httpAddress: '10.0.0.1:8500', server: true });
    a.run({ type: 'member-set', id: 'gone', raftAddress: '10.0.0.3:7000', httpAddress: '', server: false });
    a.run({ type: 'member-left', id: 'gone', at: 42 });

    const dst = fx.open();
    const b = new Applier(dst.sm);
    b.put('only-in-dst', 'x');
    b.run({ type: 'member-set', id: 'n9', raftAddress: 'r', httpAddress: 'h', server: false });
    await dst.storage.state.restoreSnapshot(src.storage.state.snapshot({ chunkBytes: 1024 }));
    dst.sm.reset();

    assert.deepEqual(dst.sm.kvList(''), src.sm.kvList(''));
    assert.deepEqual(dst.sm.kvKeys('k/', '/'), src.sm.kvKeys('k/', '/'));
    assert.deepEqual(dst.sm.members(), src.sm.members());
    assert.deepEqual(dst.sm.leftMembers().map((m) => [m.id, m.leftAt]), [['gone', 42]], 'left members travel in snapshots');
    assert.equal(dst.sm.kvGet('only-in-dst'), undefined);
    assert.equal(dst.sm.appliedIndex(), src.sm.appliedIndex());
    assert.equal(dst.sm.kvIndex(), src.sm.kvIndex());
    assert.ok(src.sm.kvPrefixIndex('k/1/') < src.sm.kvIndex());
    // Deletes before the restore are unknown there, so every prefix reports at least the restored KV index.
    assert.equal(dst.sm.kvPrefixIndex('k/1/'), src.sm.kvIndex());
    assert.equal(src.sm.kvPrefixIndex('k/3/'), treeDeleted);
    assert.equal(dst.sm.kvPrefixIndex('k/3/'), src.sm.kvIndex());
    assert.ok(src.sm.kvIndex() > treeDeleted);
    // Both go on applying the same way.
    const next = { index: a.index + 1, command: encodeCommand({ type: 'kv-set', key: 'k/1/1', value: Buffer.from('z'), flags: 0, cas: 0 }) };
    assert.deepEqual(dst.sm.apply([next]), [false]);
    assert.deepEqual(src.sm.apply([next]), [false]);
  });
});
