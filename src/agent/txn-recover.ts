// ---- ops2: a transaction's per-operation results when this agent no longer
// holds them. The state machine keeps each applied transaction's outcome in
// memory (coordination.ts); an agent that received the entry inside a
// snapshot install (or after the outcomes it keeps moved on) never had it.
// The write happened (the leader said so), so answering "ok" with no results
// (as before) hid the index a fencing client needs. Rebuilt from the replica
// where that is exact: each key an operation reports is unchanged since the
// transaction (ModifyIndex at most its index; a write's exactly it). Otherwise
// the answer is a retryable 503 that names the index: applied, results unknown.

import { KonsulError } from '../errors.js';
import type { KvEntry, TxnOp, TxnOutcome } from '../state/index.js';

/** What each verb reports: a write's new entry, a check's or read's current one, or nothing. */
const REPORTS_ENTRY: Readonly<Record<string, 'write' | 'read' | 'value' | undefined>> = {
  set: 'write', cas: 'write', lock: 'write', unlock: 'write',
  get: 'value', 'check-index': 'read', 'check-session': 'read', 'check-fence': 'read',
};
/** Verbs that report nothing when they succeed. */
const REPORTS_NOTHING: ReadonlySet<string> = new Set(['delete', 'delete-tree', 'delete-cas', 'check-not-exists']);

export function recoverTxnOutcome(ops: readonly TxnOp[], index: number, kvGet: (key: string) => KvEntry | undefined): TxnOutcome {
  const results: TxnOutcome['results'] = [];
  for (const op of ops) {
    if (REPORTS_NOTHING.has(op.verb)) continue;
    const kind = REPORTS_ENTRY[op.verb];
    const e = kind === undefined ? undefined : kvGet(op.key);
    const exact = e !== undefined && (kind === 'write' ? e.modifyIndex === index : e.modifyIndex <= index);
    if (!exact) {
      throw new KonsulError('KONSUL_ERR_TXN_RESULTS_UNKNOWN',
        `the transaction was applied at index ${index}, but this agent no longer knows its results (it caught up by a snapshot); read the keys again`,
        'unavailable', { retryable: true });
    }
    results.push({ entry: { ...e! }, withValue: kind === 'value' });
  }
  return { ok: true, results, errors: [] };
}
