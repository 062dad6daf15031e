// Consul's uint64 KV flags in the state machine: the kv-set command's 64-bit
// form (a protocol-2 command, one spelling per value), the kv-flags rows beside
// the records (written, replaced, deleted with their key, alone or by prefix,
// in transactions and by a session's release), and a restore that checks them.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { commandVersion, decodeCommand, encodeCommand, InvalidCommandError, CommandDecodeError } from '../../src/state/index.js';
import { restoreProblem } from '../../src/state/machine.js';
import { SnapshotEncoder } from '../../src/storage/snapshot-format.js';
import { ClusterVersionError, prepareProposal } from '../../src/agent/versions.js';
import { Applier, stateFixture } from './helpers.js';

const MAX = 18446744073709551615n;

describe('kv-set with 64-bit flags', () => {
  it('round-trips exactly, needs protocol 2, and has one spelling per value', () => {
    for (const flags of [4294967296n, 9007199254740993n, MAX]) {
      const bytes = encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.from('v'), flags, cas: 3 });
      assert.deepEqual(decodeCommand(bytes), { type: 'kv-set', key: 'k', value: Buffer.from('v'), flags, cas: 3 });
      assert.equal(commandVersion(bytes), 2, 'the first release would read its flags as 32 bits: only a protocol-2 cluster may apply it');
    }
    // Flags that fit 32 bits stay the first release's command, whichever way they were given.
    const small = encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.from('v'), flags: 4294967295n });
    assert.deepEqual(small, encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.from('v'), flags: 4294967295 }));
    assert.equal(commandVersion(small), 1);
    for (const bad of [-1n, MAX + 1n, -1, 1.5, 4294967296, Number.NaN]) {
      assert.throws(() => encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.alloc(0), flags: bad }), InvalidCommandError, String(bad));
    }
    // A cluster still at protocol 1 (a rolling upgrade from the first release) refuses it with a 409, never cuts it.
    const wide = encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.alloc(0), flags: MAX });
    assert.throws(() => prepareProposal(wide, 1), (e: Error) => e instanceof ClusterVersionError && /needs protocol version 2/.test(e.message));
    assert.deepEqual(decodeCommand(prepareProposal(wide, 2)), decodeCommand(wide));
    // The 64-bit form of a value that fits is not a command a proposer makes.
    const forged = Buffer.from(encodeCommand({ type: 'kv-set', key: 'k', value: Buffer.alloc(0), flags: 4294967296n }));
    forged.writeUInt32BE(0, 2 + 4 + 1); // high word 0: the value fits 32 bits
    assert.throws(() => decodeCommand(forged), CommandDecodeError);
  });
});

describe('64-bit flags in the state machine', () => {
  it('live beside their record: written, replaced, deleted alone or by prefix, kept across a restart', async (t) => {
    const fx = stateFixture(t);
    const opened = fx.open();
    const a = new Applier(opened.sm);
    const put = (key: string, flags: number | bigint): void => void a.run({ type: 'kv-set', key, value: Buffer.from('v'), flags });
    const flagsOf = (key: string): number | bigint | undefined => a.sm.kvGet(key)?.flags;
    put('a/1', MAX);
    put('a/2', 4294967296n);
    put('b', 4294967295);
    assert.deepEqual([flagsOf('a/1'), flagsOf('a/2'), flagsOf('b')], [MAX, 4294967296n, 4294967295]);
    assert.deepEqual(a.sm.kvList('a/').map((e) => e.flags), [MAX, 4294967296n]);
    // 4294967295 in a record means "look beside it": a row left behind would show through.
    put('a/1', 4294967295);
    assert.equal(flagsOf('a/1'), 4294967295);
    assert.equal(a.run({ type: 'kv-delete', key: 'a/2' }), true);
    put('a/2', 4294967295);
    assert.equal(flagsOf('a/2'), 4294967295);
    put('a/3', MAX);
    assert.equal(a.run({ type: 'kv-delete', key: 'a/', recurse: true }), true);
    put('a/3', 4294967295);
    assert.equal(flagsOf('a/3'), 4294967295);
    // A transaction's set with 32-bit flags replaces 64-bit ones; its reads see them exactly.
    put('t', MAX);
    assert.equal(a.sm.readTxn([{ verb: 'get', key: 't', value: Buffer.alloc(0), flags: 0, index: 0, session: '' }]).results[0]?.entry.flags, MAX);
    assert.equal(a.run({ type: 'txn', ops: [{ verb: 'set', key: 't', value: Buffer.from('w'), flags: 4294967295, index: 0, session: '' }] }), true);
    assert.equal(flagsOf('t'), 4294967295);
    put('kept', MAX);
    await opened.close();
    assert.equal(fx.open(opened.dir).sm.kvGet('kept')?.flags, MAX);
  });

  it('a lock released by its session keeps the key\'s 64-bit flags', (t) => {
    const a = new Applier(stateFixture(t).open().sm);
    assert.equal(a.run({ type: 'catalog', op: { op: 'sync', node: { id: 'x', node: 'n1', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} }, services: [], checks: [] } }), true);
    const id = randomUUID();
    assert.equal(a.run({ type: 'session-create', session: { id, name: '', node: 'n1', nodeChecks: [], serviceChecks: [], lockDelayMs: 0, behavior: 'release', ttl: '', ttlMs: 0 } }), true);
    a.run({ type: 'kv-set', key: 'lock', value: Buffer.from('v'), flags: MAX });
    assert.equal(a.run({ type: 'txn', ops: [{ verb: 'lock', key: 'lock', value: Buffer.from('held'), flags: 1, index: 0, session: id }] }), true);
    assert.equal(a.sm.kvGet('lock')?.flags, 1, 'the lock write set its own flags');
    a.run({ type: 'kv-set', key: 'lock', value: Buffer.from('v'), flags: MAX });
    assert.equal(a.run({ type: 'session-destroy', id }), true);
    assert.deepEqual([a.sm.kvGet('lock')?.session, a.sm.kvGet('lock')?.flags], [undefined, MAX]);
  });

  it('a restore takes kv-flags rows only for keys of the snapshot, 8 bytes, above 32 bits', () => {
    const stream = (rows: Array<[string, Buffer]>): Buffer => {
      const e = new SnapshotEncoder(1, 2);
      e.table('kv');
      const record = Buffer.alloc(28 + 1);
      record.writeUInt32BE(0xffff_ffff, 0);
      e.record(Buffer.from('k'), record);
      e.table('kv-flags');
      for (const [key, value] of rows) e.record(Buffer.from(key), value);
      return Buffer.concat([e.take(), e.finish()]);
    };
    const u64 = (n: bigint): Buffer => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(n);
      return b;
    };
    assert.equal(restoreProblem(stream([['k', u64(MAX)]])), undefined);
    assert.equal(restoreProblem(stream([['k', u64(7n)]])), 'a KV flags record is bad');
    assert.equal(restoreProblem(stream([['k', Buffer.alloc(4)]])), 'a KV flags record is bad');
    assert.equal(restoreProblem(stream([['other', u64(MAX)]])), 'a KV flags record is bad');
  });
});
