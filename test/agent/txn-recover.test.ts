// ---- ops2: a transaction's results rebuilt when the answering agent never
// held its outcome (the entry came inside a snapshot install): exact where
// every reported key is unchanged since, a retryable 503 naming the index
// otherwise. The fault suite's lock checker found the old answer ("ok" with no
// results, so no index for a fencing client) under member-remove,
// snapshot-install and kill-random.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recoverTxnOutcome } from '../../src/agent/txn-recover.js';
import { KonsulError } from '../../src/errors.js';
import type { KvEntry, TxnOp } from '../../src/state/index.js';

const op = (verb: TxnOp['verb'], key: string, index = 0): TxnOp => ({ verb, key, value: Buffer.alloc(0), flags: 0, index, session: '' });
const entry = (key: string, modifyIndex: number): KvEntry => ({ key, value: Buffer.from('v'), flags: 0, createIndex: 1, modifyIndex, lockIndex: 1 });

describe('rebuilding a transaction\'s results', () => {
  it('a fenced write: the check\'s entry and the write\'s, with the write\'s index', () => {
    const kv = new Map([['lock', entry('lock', 40)], ['reg', entry('reg', 57)]]);
    const out = recoverTxnOutcome([op('check-fence', 'lock', 40), op('set', 'reg')], 57, (k) => kv.get(k));
    assert.equal(out.ok, true);
    assert.deepEqual(out.results.map((r) => [r.entry.key, r.entry.modifyIndex, r.withValue]), [['lock', 40, false], ['reg', 57, false]]);
    assert.deepEqual(recoverTxnOutcome([op('delete', 'gone'), op('get', 'lock')], 57, (k) => kv.get(k)).results.map((r) => r.withValue), [true]);
  });

  it('a key changed since (or gone): unknown, a retryable 503 naming the index', () => {
    const kv = new Map([['reg', entry('reg', 60)]]);
    for (const ops of [[op('set', 'reg')], [op('get', 'reg')], [op('set', 'missing')], [op('get-tree', 'r')]]) {
      assert.throws(() => recoverTxnOutcome(ops, 57, (k) => kv.get(k)),
        (e) => e instanceof KonsulError && e.kind === 'unavailable' && /applied at index 57/.test(e.message));
    }
  });
});
