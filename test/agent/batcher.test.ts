// Same-turn batching of single KV writes (src/agent/batcher.ts) over a real
// state machine: writes proposed in one turn become one log entry and each
// keeps its own result; other commands, and everything when batching is off,
// go one entry each.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WriteBatcher, batchingEnabled } from '../../src/agent/batcher.js';
import type { ProposalResult } from '../../src/agent/driver.js';
import { encodeCommand, type StateMachine } from '../../src/state/index.js';
import { stateFixture } from '../state/helpers.js';

/** A one-node "Raft": each proposal is the next index, applied at once. The cluster runs protocol 2 (batches need it). */
function proposer(sm: StateMachine): { propose(bytes: Uint8Array): Promise<ProposalResult>; entries: Uint8Array[] } {
  let index = sm.appliedIndex();
  if (sm.clusterVersion() < 2) sm.apply([{ index: ++index, command: encodeCommand({ type: 'cluster-version', version: 2 }) }]);
  const entries: Uint8Array[] = [];
  return {
    entries,
    propose: async (bytes) => {
      entries.push(bytes);
      const at = ++index;
      const [result] = sm.apply([{ index: at, command: bytes }]);
      return { result, index: at };
    },
  };
}

const set = (key: string, value: string, cas?: number): Uint8Array => encodeCommand({ type: 'kv-set', key, value: Buffer.from(value), flags: 0, cas });

describe('same-turn write batching', () => {
  test('writes of one turn share an entry and keep their own results', async (t) => {
    const { sm } = stateFixture(t).open();
    const p = proposer(sm);
    const b = new WriteBatcher(p.propose, sm, true);
    const results = await Promise.all([b.propose(set('a', '1')), b.propose(set('b', '2')), b.propose(set('a', 'x', 999)), b.propose(set('c', '3', 0))]);
    assert.equal(p.entries.length, 1, 'one log entry');
    assert.deepEqual(results.map((r) => r.result), [true, true, false, true]);
    assert.equal(new Set(results.map((r) => r.index)).size, 1);
    assert.equal(sm.kvGet('a')!.value.toString(), '1');
    assert.deepEqual(b.counters, { entries: 1, writes: 4 });

    const next = await b.propose(set('d', '4'));
    assert.equal(next.result, true);
    assert.equal(p.entries.length, 2, 'a write alone in its turn is proposed as it is');
    assert.equal(p.entries[1]![0], 1, 'not wrapped in a batch');
  });

  test('other commands are never batched; with batching off nothing is', async (t) => {
    const { sm } = stateFixture(t).open();
    const p = proposer(sm);
    const b = new WriteBatcher(p.propose, sm, true);
    const member = encodeCommand({ type: 'member-delete', id: 'x' });
    await Promise.all([b.propose(member), b.propose(member)]);
    assert.equal(p.entries.length, 2);
    const q = proposer(sm);
    const off = new WriteBatcher(q.propose, sm, false);
    await Promise.all([off.propose(set('a', '1')), off.propose(set('b', '2'))]);
    assert.equal(q.entries.length, 2);
  });

  test('a failed proposal fails every write of its batch', async (t) => {
    const { sm } = stateFixture(t).open();
    const b = new WriteBatcher(() => Promise.reject(new Error('leadership changed')), sm, true);
    const outcomes = await Promise.allSettled([b.propose(set('a', '1')), b.propose(set('b', '2'))]);
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
  });

  test('KONSUL_WRITE_BATCHING=off (or 0, false, no) turns it off', () => {
    assert.equal(batchingEnabled({}), true);
    for (const v of ['off', '0', 'false', 'NO']) assert.equal(batchingEnabled({ KONSUL_WRITE_BATCHING: v }), false, v);
    assert.equal(batchingEnabled({ KONSUL_WRITE_BATCHING: 'on' }), true);
  });
});

describe('same-turn write batching during a rolling upgrade (ops)', () => {
  test('a cluster still at protocol 1 (the first release does not know batch) gets one entry per write', async (t) => {
    const { sm } = stateFixture(t).open();
    assert.equal(sm.clusterVersion(), 1);
    const entries: Uint8Array[] = [];
    let index = sm.appliedIndex();
    const b = new WriteBatcher(async (bytes) => {
      entries.push(bytes);
      const at = ++index;
      const [result] = sm.apply([{ index: at, command: bytes }]);
      return { result, index: at };
    }, sm, true);
    await Promise.all([b.propose(set('a', '1')), b.propose(set('b', '2'))]);
    assert.equal(entries.length, 2);
    assert.ok(entries.every((e) => e[0] === 1), 'bare kv-set commands, as the first release reads them');
  });
});
