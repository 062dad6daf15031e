// Sessions, locks and transactions in the state machine, on a real LMDB store:
// Consul's acquire/release rules (LockIndex, Session, a held lock refused to
// another session), fencing tokens that only grow, invalidation by destroy, by
// a critical or removed check and by the node leaving (release or delete, and
// the lock-delay that follows), all-or-nothing transactions, batched writes,
// and the command encoding of all of them.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CommandDecodeError, InvalidCommandError, decodeCommand, encodeCommand,
  type CatalogOp, type SessionInput, type TxnOp, type TxnOutcome,
} from '../../src/state/index.js';
import { parseArchive, writeArchive } from '../../src/state/archive.js';
import { Applier, stateFixture } from './helpers.js';

function registerNode(a: Applier, name: string, checks: Array<{ id: string; status: 'passing' | 'critical' }> = []): void {
  const op: CatalogOp = {
    op: 'sync',
    node: { id: `id-${name}`, node: name, address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
    services: [],
    checks: checks.map((c) => ({ checkId: c.id, name: c.id, status: c.status, notes: '', output: '', serviceId: '', type: 'ttl' })),
  };
  assert.equal(a.run({ type: 'catalog', op }), true);
  assert.equal(a.run({ type: 'catalog', op: { op: 'node-health', node: name, status: 'passing', output: 'ok' } }), true);
}

function session(extra: Partial<SessionInput> = {}): SessionInput {
  return {
    id: randomUUID(), name: 'test', node: 'n1', nodeChecks: ['serfHealth'], serviceChecks: [], lockDelayMs: 15_000,
    behavior: 'release', ttl: '', ttlMs: 0, ...extra,
  };
}

function op(verb: TxnOp['verb'], key: string, extra: Partial<TxnOp> = {}): TxnOp {
  return { verb, key, value: Buffer.alloc(0), flags: 0, index: 0, session: '', ...extra };
}

const b64 = (s: string): Buffer => Buffer.from(s);

function txn(a: Applier, ops: TxnOp[]): TxnOutcome {
  a.run({ type: 'txn', ops });
  return a.sm.coord.txnOutcome(a.index)!;
}

function acquire(a: Applier, key: string, sessionId: string, value = 'v'): TxnOutcome {
  return txn(a, [op('lock', key, { session: sessionId, value: b64(value) })]);
}

describe('sessions: create', () => {
  it('needs its node in the catalog and its checks registered and not critical (Consul\'s rules)', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    const orphan = session({ node: 'nowhere' });
    assert.equal(a.run({ type: 'session-create', session: orphan }), false);
    assert.match(String(sm.coord.outcome(a.index)), /Missing node registration/);
    registerNode(a, 'n1', [{ id: 'disk', status: 'critical' }]);
    assert.equal(a.run({ type: 'session-create', session: session({ nodeChecks: ['serfHealth', 'nope'] }) }), false);
    assert.match(String(sm.coord.outcome(a.index)), /Missing check 'nope'/);
    assert.equal(a.run({ type: 'session-create', session: session({ nodeChecks: ['disk'] }) }), false);
    assert.match(String(sm.coord.outcome(a.index)), /critical/);
    const ok = session();
    assert.equal(a.run({ type: 'session-create', session: ok }), true);
    const stored = sm.session(ok.id)!;
    assert.equal(stored.createIndex, a.index);
    assert.equal(sm.coord.sessionIndex(), a.index, 'the session index moves with a create');
    assert.deepEqual(sm.sessions('N1').map((s) => s.id), [ok.id], 'sessions by node, case-insensitive');
    assert.deepEqual(sm.sessions('other'), []);
    assert.equal(a.run({ type: 'session-create', session: { ...ok } }), false, 'an id is never reused');
  });
});

describe('locks: acquire and release', () => {
  it('acquire sets Session and bumps LockIndex; another session is refused; release clears it', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    registerNode(a, 'n1');
    const s1 = session();
    const s2 = session();
    a.run({ type: 'session-create', session: s1 });
    a.run({ type: 'session-create', session: s2 });

    assert.equal(acquire(a, 'lock', s1.id, 'one').ok, true);
    const held = sm.kvGet('lock')!;
    assert.equal(held.session, s1.id);
    assert.equal(held.lockIndex, 1);
    assert.equal(held.lockToken, a.index, 'the fencing token is the index of the acquiring write');
    const token1 = held.lockToken!;

    const refused = acquire(a, 'lock', s2.id);
    assert.equal(refused.ok, false);
    assert.match(refused.errors[0]!.what, /lock is already held/);
    assert.equal(sm.kvGet('lock')!.value.toString(), 'one', 'a refused acquire writes nothing');

    assert.equal(acquire(a, 'lock', s1.id, 'again').ok, true, 'the holder may acquire again');
    assert.equal(sm.kvGet('lock')!.lockIndex, 1, 're-acquiring does not bump LockIndex');
    assert.equal(sm.kvGet('lock')!.lockToken, token1, 're-acquiring keeps the token');

    a.put('lock', 'plain write');
    assert.equal(sm.kvGet('lock')!.session, s1.id, 'a plain write keeps the lock, as in Consul');

    assert.equal(txn(a, [op('unlock', 'lock', { session: s2.id })]).ok, false, 'only the holder releases');
    assert.equal(txn(a, [op('unlock', 'lock', { session: s1.id, value: b64('released') })]).ok, true);
    const free = sm.kvGet('lock')!;
    assert.equal(free.session, undefined);
    assert.equal(free.value.toString(), 'released');
    assert.equal(free.lockIndex, 1);

    assert.equal(acquire(a, 'lock', s2.id).ok, true);
    assert.equal(sm.kvGet('lock')!.lockIndex, 2);
    assert.ok(sm.kvGet('lock')!.lockToken! > token1, 'a later acquisition has a larger token');

    const unknown = acquire(a, 'other', randomUUID());
    assert.match(unknown.errors[0]!.what, /invalid session/);
  });

  it('tokens only grow even when the lock key is deleted and created again (LockIndex starts over, the token does not)', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    registerNode(a, 'n1');
    const s = session();
    a.run({ type: 'session-create', session: s });
    const tokens: number[] = [];
    for (let i = 0; i < 3; i++) {
      acquire(a, 'k', s.id);
      tokens.push(sm.kvGet('k')!.lockToken!);
      assert.equal(sm.kvGet('k')!.lockIndex, 1);
      a.del('k');
      assert.equal(sm.kvGet('k'), undefined);
    }
    assert.deepEqual([...tokens].sort((x, y) => x - y), tokens);
    assert.equal(new Set(tokens).size, 3);
  });

  it('check-fence passes only for the current token', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    registerNode(a, 'n1');
    const s1 = session({ lockDelayMs: 0 });
    const s2 = session();
    a.run({ type: 'session-create', session: s1 });
    a.run({ type: 'session-create', session: s2 });
    acquire(a, 'lock', s1.id);
    const old = sm.kvGet('lock')!.lockToken!;
    assert.equal(txn(a, [op('check-fence', 'lock', { index: old }), op('set', 'data', { value: b64('1') })]).ok, true);
    a.run({ type: 'session-destroy', id: s1.id });
    acquire(a, 'lock', s2.id);
    const stale = txn(a, [op('check-fence', 'lock', { index: old }), op('set', 'data', { value: b64('stale') })]);
    assert.equal(stale.ok, false);
    assert.match(stale.errors[0]!.what, /not current/);
    assert.equal(sm.kvGet('data')!.value.toString(), '1', 'the stale holder wrote nothing');
  });
});

describe('sessions: invalidation', () => {
  it('destroy releases held locks (behavior release), moves ModifyIndex and starts the lock-delay', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    registerNode(a, 'n1');
    const s = session({ lockDelayMs: 5000 });
    a.run({ type: 'session-create', session: s });
    acquire(a, 'a', s.id);
    acquire(a, 'b', s.id);
    a.put('free', 'x');
    assert.equal(a.run({ type: 'session-destroy', id: s.id }), true);
    assert.equal(sm.session(s.id), undefined);
    for (const key of ['a', 'b']) {
      const e = sm.kvGet(key)!;
      assert.equal(e.session, undefined, `${key} released`);
      assert.equal(e.modifyIndex, a.index);
      assert.ok(sm.coord.lockDelayRemaining(key) > 4000, `${key} is in its lock-delay`);
    }
    assert.equal(sm.coord.lockDelayRemaining('free'), 0, 'a key the session did not hold has no delay');
    assert.equal(sm.kvIndex(), a.index);
  });

  it('behavior delete deletes the held keys', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    registerNode(a, 'n1');
    const s = session({ behavior: 'delete', lockDelayMs: 0 });
    a.run({ type: 'session-create', session: s });
    acquire(a, 'gone', s.id);
    a.run({ type: 'session-destroy', id: s.id });
    assert.equal(sm.kvGet('gone'), undefined);
    assert.equal(sm.coord.lockDelayRemaining('gone'), 0, 'lock-delay 0: none');
  });

  it('the node check turning critical invalidates the node\'s sessions that watch it; one without checks survives', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    registerNode(a, 'n1');
    const watched = session();
    const unchecked = session({ nodeChecks: [] });
    a.run({ type: 'session-create', session: watched });
    a.run({ type: 'session-create', session: unchecked });
    acquire(a, 'leader', watched.id);
    a.run({ type: 'catalog', op: { op: 'node-health', node: 'n1', status: 'critical', output: 'gone' } });
    assert.equal(sm.session(watched.id), undefined);
    assert.equal(sm.kvGet('leader')!.session, undefined, 'its lock was released in the same entry');
    assert.ok(sm.session(unchecked.id), 'a session with no checks stays');
  });

  it('an associated check that goes critical or is deregistered invalidates; the node leaving invalidates all', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    registerNode(a, 'n1', [{ id: 'disk', status: 'passing' }, { id: 'mem', status: 'passing' }]);
    const onDisk = session({ nodeChecks: ['disk'] });
    const onMem = session({ nodeChecks: ['mem'] });
    const plain = session({ nodeChecks: [] });
    for (const s of [onDisk, onMem, plain]) assert.equal(a.run({ type: 'session-create', session: s }), true);
    registerNode(a, 'n1', [{ id: 'disk', status: 'critical' }, { id: 'mem', status: 'passing' }]);
    assert.equal(sm.session(onDisk.id), undefined, 'critical check');
    assert.ok(sm.session(onMem.id));
    registerNode(a, 'n1', []);
    assert.equal(sm.session(onMem.id), undefined, 'check removed');
    assert.ok(sm.session(plain.id));
    a.run({ type: 'catalog', op: { op: 'deregister-node', node: 'N1' } });
    assert.equal(sm.session(plain.id), undefined, 'node left');
  });

  it('sessions and locks survive a restart', async (t) => {
    const fixture = stateFixture(t);
    const first = fixture.open();
    const a = new Applier(first.sm);
    registerNode(a, 'n1');
    const s = session();
    a.run({ type: 'session-create', session: s });
    acquire(a, 'k', s.id);
    const index = first.sm.coord.sessionIndex();
    await first.close();
    const again = fixture.open(first.dir);
    assert.equal(again.sm.session(s.id)?.id, s.id);
    assert.equal(again.sm.kvGet('k')!.session, s.id);
    assert.equal(again.sm.kvList('').find((e) => e.key === 'k')!.session, s.id, 'list shows the lock too');
    assert.equal(again.sm.coord.sessionIndex(), index);
  });
});

describe('sessions: snapshot restore', () => {
  it('a restored archive brings its sessions and locks, at the restore\'s index, and wakes the session index', async (t) => {
    const fixture = stateFixture(t);
    const src = fixture.open();
    const a = new Applier(src.sm);
    registerNode(a, 'n1');
    const s = session({ ttl: '30s', ttlMs: 30_000 });
    a.run({ type: 'session-create', session: s });
    acquire(a, 'held', s.id);
    const image = src.storage.state.snapshot({ chunkBytes: 512 });
    const parts: Buffer[] = [];
    for await (const chunk of writeArchive({ index: image.appliedIndex, term: 1, createdAt: new Date(0).toISOString(), nodeId: 'n1', datacenter: 'dc1' }, image)) parts.push(chunk);
    const body = parseArchive(Buffer.concat(parts), { keepBody: true }).body!;

    const dst = fixture.open();
    const b = new Applier(dst.sm);
    b.index = 100;
    const events: string[] = [];
    dst.sm.coord.onSessionEvent((e) => events.push(e.kind));
    assert.equal(b.run({ type: 'restore', state: body }), true);
    const restored = dst.sm.session(s.id)!;
    assert.deepEqual([restored.createIndex, restored.modifyIndex, restored.ttlMs], [101, 101, 30_000]);
    assert.equal(dst.sm.kvGet('held')!.session, s.id);
    assert.equal(dst.sm.coord.sessionIndex(), 101, 'the session index moves to the restore');
    assert.deepEqual(events, ['reset'], 'the leader\'s TTL timers start over on a restore');
  });
});

describe('transactions', () => {
  it('a failing op leaves nothing behind, and every failing op is reported', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('exists', 'x');
    const before = sm.kvIndex();
    const out = txn(a, [
      op('set', 'new1', { value: b64('1') }),
      op('delete', 'exists'),
      op('check-not-exists', 'exists'),
      op('set', 'new2', { value: b64('2') }),
      op('cas', 'exists', { index: 999 }),
    ]);
    assert.equal(out.ok, false);
    assert.deepEqual(out.errors.map((e) => e.opIndex), [4], 'the delete before it made check-not-exists pass; the cas fails');
    assert.equal(sm.kvGet('new1'), undefined);
    assert.equal(sm.kvGet('new2'), undefined);
    assert.equal(sm.kvGet('exists')!.value.toString(), 'x', 'the delete was rolled back');
    assert.equal(sm.kvIndex(), before, 'a failed transaction does not move the KV index');
  });

  it('ops see earlier ops\' writes; results null the value except for get and get-tree; deletes give no result', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('t/z', 'old');
    const out = txn(a, [
      op('set', 't/a', { value: b64('A'), flags: 7 }),
      op('get', 't/a'),
      op('delete', 't/z'),
      op('get-tree', 't/'),
      op('check-index', 't/a', { index: a.index + 1 }),
      op('get-or-empty', 't/none'),
    ]);
    assert.equal(out.ok, true, JSON.stringify(out.errors));
    assert.deepEqual(out.results.map((r) => [r.entry.key, r.withValue, r.withValue ? r.entry.value.toString() : null]), [
      ['t/a', false, null], ['t/a', true, 'A'], ['t/a', true, 'A'], ['t/a', false, null],
    ]);
    assert.equal(sm.kvGet('t/a')!.flags, 7);
    assert.equal(sm.kvGet('t/z'), undefined);
  });

  it('delete-tree, delete-cas, check-session and cas=0', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    registerNode(a, 'n1');
    const s = session();
    a.run({ type: 'session-create', session: s });
    a.put('d/1', '1');
    a.put('d/2', '2');
    acquire(a, 'held', s.id);
    const idx = sm.kvGet('d/1')!.modifyIndex;
    assert.equal(txn(a, [op('check-session', 'held', { session: s.id }), op('delete-tree', 'd/'), op('cas', 'fresh', { index: 0 })]).ok, true);
    assert.deepEqual(sm.kvList('d/'), []);
    assert.ok(sm.kvGet('fresh'));
    assert.equal(txn(a, [op('delete-cas', 'fresh', { index: idx })]).ok, false);
    assert.equal(txn(a, [op('delete-cas', 'fresh', { index: sm.kvGet('fresh')!.modifyIndex })]).ok, true);
    assert.equal(txn(a, [op('check-session', 'held', { session: randomUUID() })]).ok, false);
  });

  it('a read-only transaction reads the replica and writes nothing', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('r', 'x');
    const applied = sm.appliedIndex();
    const out = sm.readTxn([op('get', 'r'), op('get', 'missing')]);
    assert.equal(out.ok, false);
    assert.match(out.errors[0]!.what, /doesn't exist/);
    assert.equal(sm.readTxn([op('get', 'r')]).results[0]!.entry.value.toString(), 'x');
    assert.equal(sm.appliedIndex(), applied);
  });
});

describe('batched writes', () => {
  it('a batch applies its writes in order, each with its own result, at one index', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    const set = (key: string, value: string, cas?: number): Uint8Array => encodeCommand({ type: 'kv-set', key, value: Buffer.from(value), flags: 0, cas });
    a.put('c', 'x');
    const stale = sm.kvGet('c')!.modifyIndex + 100;
    assert.equal(a.run({ type: 'batch', commands: [set('a', '1'), set('b', '2'), set('c', 'y', stale), encodeCommand({ type: 'kv-delete', key: 'a' })] }), true);
    assert.deepEqual(sm.coord.outcome(a.index), [true, true, false, true]);
    assert.equal(sm.kvGet('a'), undefined);
    assert.equal(sm.kvGet('b')!.modifyIndex, a.index);
    assert.equal(sm.kvGet('c')!.value.toString(), 'x');
    const member = encodeCommand({ type: 'member-delete', id: 'x' });
    a.run({ type: 'batch', commands: [member, Buffer.from('junk')] });
    assert.deepEqual(sm.coord.outcome(a.index), [false, false], 'only KV writes may be batched');
  });
});

describe('coord commands: encoding', () => {
  it('round-trips txn, session and batch commands', () => {
    const s = session({ ttl: '30s', ttlMs: 30_000, serviceChecks: [{ id: 'svc', namespace: '' }] });
    const cmds = [
      { type: 'txn' as const, ops: [op('set', 'k', { value: b64('v'), flags: 3 }), op('get-tree', '')] },
      { type: 'session-create' as const, session: s },
      { type: 'session-destroy' as const, id: s.id },
      { type: 'batch' as const, commands: [encodeCommand({ type: 'kv-delete', key: 'x' })] },
    ];
    for (const cmd of cmds) {
      const back = decodeCommand(encodeCommand(cmd));
      assert.deepEqual(JSON.parse(JSON.stringify(back, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))),
        JSON.parse(JSON.stringify(cmd, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))));
    }
  });

  it('refuses bad fields on encode and garbage on decode', () => {
    assert.throws(() => encodeCommand({ type: 'txn', ops: [] }), InvalidCommandError);
    assert.throws(() => encodeCommand({ type: 'txn', ops: Array.from({ length: 65 }, (_, i) => op('set', `k${i}`)) }), InvalidCommandError);
    assert.throws(() => encodeCommand({ type: 'txn', ops: [op('lock', 'k')] }), /needs a Session/);
    assert.throws(() => encodeCommand({ type: 'txn', ops: [op('set', 'k', { value: 'text' as never })] }), /bytes/);
    assert.throws(() => encodeCommand({ type: 'session-create', session: session({ ttlMs: 5000, ttl: '5s' }) }), /10s\.\.24h/);
    assert.throws(() => encodeCommand({ type: 'session-create', session: session({ lockDelayMs: 61_000 }) }), /lockDelayMs/);
    assert.throws(() => encodeCommand({ type: 'session-destroy', id: 'not-a-uuid' }), InvalidCommandError);
    const txnBytes = Buffer.from(encodeCommand({ type: 'txn', ops: [op('set', 'k')] }));
    assert.throws(() => decodeCommand(txnBytes.subarray(0, txnBytes.length - 3)), CommandDecodeError);
    const bad = Buffer.concat([Buffer.of(10, 0), Buffer.from([0, 0, 0, 4]), Buffer.from('[{}]')]);
    assert.throws(() => decodeCommand(bad), CommandDecodeError);
  });
});
