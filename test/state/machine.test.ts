// The replicated state machine on a real LMDB store: command encoding, Consul
// KV semantics, member records, restart, snapshot restore, and blocking waits.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { KonsulError } from '../../src/errors.js';
import { STATE_TABLES, StateMachine, decodeCommand, encodeCommand, type Command } from '../../src/state/index.js';
import { openStorage, type NodeStorage } from '../../src/storage/index.js';

const opened: Array<{ dir: string; storage: NodeStorage }> = [];

function open(dir = mkdtempSync(join(tmpdir(), 'konsul-state-'))): { dir: string; storage: NodeStorage; sm: StateMachine } {
  const storage = openStorage(dir, { state: { tables: STATE_TABLES } });
  opened.push({ dir, storage });
  return { dir, storage, sm: new StateMachine(storage.state) };
}

afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.storage.close();
    rmSync(o.dir, { recursive: true, force: true });
  }
});

class Applier {
  index = 1;
  constructor(readonly sm: StateMachine) {}
  run(cmd: Command): boolean | undefined {
    return this.sm.apply([{ index: ++this.index, command: encodeCommand(cmd) }])[0];
  }
  put(key: string, value: string, extra: { cas?: number; flags?: number } = {}): boolean | undefined {
    return this.run({ type: 'kv-set', key, value: Buffer.from(value), flags: extra.flags ?? 0, cas: extra.cas });
  }
  del(key: string, extra: { cas?: number; recurse?: boolean } = {}): boolean | undefined {
    return this.run({ type: 'kv-delete', key, ...extra });
  }
}

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    type: fc.constant('kv-set' as const),
    key: fc.string({ minLength: 1, maxLength: 40 }),
    value: fc.uint8Array({ maxLength: 64 }),
    flags: fc.nat({ max: 0xffff_ffff }),
    cas: fc.option(fc.nat({ max: 1_000_000 }), { nil: undefined }),
  }),
  fc.record({
    type: fc.constant('kv-delete' as const),
    key: fc.string({ minLength: 1, maxLength: 40 }),
    recurse: fc.boolean(),
    cas: fc.option(fc.nat({ max: 1_000_000 }), { nil: undefined }),
  }),
  fc.record({
    type: fc.constant('member-set' as const),
    id: fc.string(), raftAddress: fc.string(), httpAddress: fc.string(), server: fc.boolean(),
  }),
  fc.record({ type: fc.constant('member-delete' as const), id: fc.string() }),
);

function normalize(cmd: Command): unknown {
  const plain: Record<string, unknown> = { ...cmd };
  if (cmd.type === 'kv-set') plain.value = Buffer.from(cmd.value).toString('hex');
  return JSON.parse(JSON.stringify(plain));
}

describe('state machine commands', () => {
  it('encode then decode gives the same command back', () => {
    fc.assert(fc.property(commandArb, (cmd) => {
      const back = decodeCommand(encodeCommand(cmd));
      const want = normalize(cmd) as Record<string, unknown>;
      const got = normalize(back) as Record<string, unknown>;
      if (cmd.type === 'kv-delete') want.recurse = cmd.recurse === true;
      assert.deepEqual(got, want);
    }), { numRuns: 500 });
  });

  it('every truncation of a command is refused with a 400, never a crash', () => {
    const bytes = encodeCommand({ type: 'kv-set', key: 'a/b', value: Buffer.from('hello'), flags: 7, cas: 3 });
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => decodeCommand(bytes.subarray(0, cut)), (e: unknown) => e instanceof KonsulError && e.httpStatus === 400);
    }
    assert.throws(() => decodeCommand(Buffer.concat([bytes, Buffer.of(0)])), /trailing/);
    assert.throws(() => decodeCommand(Buffer.of(99, 0)), /unknown type/);
  });

  it('keys over 511 bytes and empty keys are refused when encoding', () => {
    assert.throws(() => encodeCommand({ type: 'kv-set', key: 'k'.repeat(512), value: Buffer.alloc(0), flags: 0 }), /KEY_TOO_LARGE|limit/);
    assert.throws(() => encodeCommand({ type: 'kv-set', key: '', value: Buffer.alloc(0), flags: 0 }), /empty/);
    assert.doesNotThrow(() => encodeCommand({ type: 'kv-set', key: 'k'.repeat(511), value: Buffer.alloc(0), flags: 0 }));
  });
});

describe('state machine KV semantics (Consul)', () => {
  it('cas=0 writes only an absent key; cas=N only at ModifyIndex N; CreateIndex stays', () => {
    const { sm } = open();
    const a = new Applier(sm);
    assert.equal(a.put('k', 'one', { cas: 0 }), true);
    const first = sm.kvGet('k')!;
    assert.equal(a.put('k', 'two', { cas: 0 }), false);
    assert.equal(a.put('k', 'two', { cas: first.modifyIndex + 100 }), false);
    assert.equal(a.put('k', 'two', { cas: first.modifyIndex, flags: 42 }), true);
    const second = sm.kvGet('k')!;
    assert.equal(second.value.toString(), 'two');
    assert.equal(second.flags, 42);
    assert.equal(second.createIndex, first.createIndex);
    assert.ok(second.modifyIndex > first.modifyIndex);
    assert.equal(second.lockIndex, 0);
  });

  it('a failed cas does not move the KV index; a write does', () => {
    const { sm } = open();
    const a = new Applier(sm);
    a.put('k', 'v');
    const before = sm.kvIndex();
    assert.equal(a.put('k', 'w', { cas: 999 }), false);
    assert.equal(sm.kvIndex(), before);
    a.put('other', 'v');
    assert.ok(sm.kvIndex() > before);
  });

  it('delete with cas, and recursive delete of a prefix only', () => {
    const { sm } = open();
    const a = new Applier(sm);
    for (const k of ['app/a', 'app/b/c', 'apple', 'web/x']) a.put(k, k);
    const idx = sm.kvGet('app/a')!.modifyIndex;
    assert.equal(a.del('app/a', { cas: idx + 1 }), false);
    assert.equal(a.del('app/a', { cas: idx }), true);
    assert.equal(sm.kvGet('app/a'), undefined);
    assert.equal(a.del('app/', { recurse: true }), true);
    assert.deepEqual(sm.kvList('').map((e) => e.key), ['apple', 'web/x']);
  });

  it('keys with a separator roll up one level, like Consul', () => {
    const { sm } = open();
    const a = new Applier(sm);
    for (const k of ['a/b', 'a/c/d', 'a/c/e', 'a/f/g/h', 'b']) a.put(k, '1');
    assert.deepEqual(sm.kvKeys('a/', '/'), ['a/b', 'a/c/', 'a/f/']);
    assert.deepEqual(sm.kvKeys('a/'), ['a/b', 'a/c/d', 'a/c/e', 'a/f/g/h']);
    assert.deepEqual(sm.kvKeys('', '/'), ['a/', 'b']);
  });

  it('a command that does not decode is a deterministic no-op that still moves the applied index', () => {
    const { sm } = open();
    const results = sm.apply([{ index: 2, command: Buffer.of(1, 2, 3) }, { index: 3 }]);
    assert.deepEqual(results, [false, undefined]);
    assert.equal(sm.appliedIndex(), 3);
  });
});

describe('state machine durability and restore', () => {
  it('a restart keeps data, the applied index and the KV index; entries at or below it are skipped', async () => {
    const first = open();
    const a = new Applier(first.sm);
    a.put('k', 'v1');
    a.put('k', 'v2');
    const applied = first.sm.appliedIndex();
    const kvIndex = first.sm.kvIndex();
    await first.storage.close();
    opened.splice(opened.findIndex((o) => o.dir === first.dir), 1);
    const again = open(first.dir);
    assert.equal(again.sm.appliedIndex(), applied);
    assert.equal(again.sm.kvIndex(), kvIndex);
    // Replaying an old entry (as after a crash before the log recorded the commit) changes nothing.
    const replay = again.sm.apply([{ index: applied, command: encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.from('old'), flags: 0 }) }]);
    assert.deepEqual(replay, [undefined]);
    assert.equal(again.sm.kvGet('k')!.value.toString(), 'v2');
  });

  it('a snapshot restored into another store gives the same reads, and wakes waiters', async () => {
    const src = open();
    const a = new Applier(src.sm);
    for (let i = 0; i < 50; i++) a.put(`k/${i}`, `v${i}`);
    a.run({ type: 'member-set', id: 'n1', raftAddress: '10.0.0.1:7000', httpAddress: '10.0.0.1:8500', server: true });
    const dst = open();
    const waiter = dst.sm.waitKv('k/', 0, 60_000);
    const waitAt1 = dst.sm.waitKv('k/', dst.sm.kvPrefixIndex('k/'), 60_000);
    await dst.storage.state.restoreSnapshot(src.storage.state.snapshot());
    dst.sm.reset();
    assert.ok((await waiter) >= 1);
    assert.ok((await waitAt1) > 1);
    assert.deepEqual(dst.sm.kvList(''), src.sm.kvList(''));
    assert.deepEqual(dst.sm.members(), src.sm.members());
    assert.equal(dst.sm.appliedIndex(), src.sm.appliedIndex());
    assert.equal(dst.sm.kvIndex(), src.sm.kvIndex());
  });
});

describe('state machine blocking waits', () => {
  it('a write under the prefix wakes the waiter; a write elsewhere does not', async () => {
    const { sm } = open();
    const a = new Applier(sm);
    a.put('svc/web', '1');
    const start = sm.kvPrefixIndex('svc/');
    let woke = false;
    const w = sm.waitKv('svc/', start, 60_000).then((i) => {
      woke = true;
      return i;
    });
    a.put('other/x', '1');
    await new Promise((r) => setImmediate(r));
    assert.equal(woke, false, 'an unrelated write does not wake it');
    assert.equal(sm.waiting, 1);
    a.put('svc/db', '2');
    const index = await w;
    assert.equal(index, sm.kvGet('svc/db')!.modifyIndex);
    assert.equal(sm.waiting, 0);
  });

  it('a recursive delete of a parent wakes a waiter on a child prefix, and its index moves', async () => {
    const { sm } = open();
    const a = new Applier(sm);
    a.put('svc/web/1', 'x');
    const start = sm.kvPrefixIndex('svc/web/');
    const w = sm.waitKv('svc/web/', start, 60_000);
    a.del('svc/', { recurse: true });
    assert.ok((await w) > start);
  });

  it('the timeout and an abort each resolve with the current index', async () => {
    const { sm } = open();
    const a = new Applier(sm);
    a.put('k', 'v');
    const now = sm.kvPrefixIndex('k');
    assert.equal(await sm.waitKv('k', now, 5), now);
    const ac = new AbortController();
    const w = sm.waitKv('k', now, 60_000, ac.signal);
    ac.abort();
    assert.equal(await w, now);
    assert.equal(sm.waiting, 0);
  });
});
