// Shrinks a non-linearizable key history to a small witness, the way delta
// debugging does, using only changes that can never make a history "more wrong".

import { relevantOperations, searchKey } from './search.js';
import type { Operation } from './types.js';

const KEEP = 0;
const RELAXED = 1; // treated as unacknowledged: may take effect late, or never
const DROPPED = 2;
const CUT = 3; // running when the history was cut: unacknowledged for good, never restored

/**
 * Returns a subset of `ops` (sorted by call) that is non-linearizable on its
 * own, or `ops` itself when nothing smaller is found before `deadline`.
 * `stuck` is the op the search could not get past, a hint of where to look.
 *
 * Removing operations in general can break linearizability (drop the write a
 * read saw, and the read becomes impossible), so the witness would accuse the
 * shrinker instead of the system. These changes are safe, because every
 * linearization of the history before the change yields one after it:
 * - drop a read (or a cas that only observed);
 * - relax an acknowledged write to unacknowledged;
 * - cut the history at a time T: drop every op called after T, and treat the
 *   ops still running at T as unacknowledged (reads among them dropped).
 * If the changed history still fails, so did the original. A relaxed write
 * nobody reads is then dropped by relevantOperations (also safe). A write
 * relaxed on its own that remains is reported as it really happened: the
 * witness is then the original with reads dropped, unread writes dropped and
 * the cut made, all safe. An op relaxed by the cut is NOT: its real return may
 * rest on ops called after T, which the cut dropped (a cas that swapped null
 * only because of a delete called after T), so restoring it could make a
 * witness that fails where the original passes. It stays in the witness as a
 * copy with `ret: Infinity`, what it was at the cut: its answer came later.
 */
export function shrinkViolation(
  ops: readonly Operation[],
  stuck: Operation | undefined,
  deadline: number,
  maxStates: number,
): Operation[] {
  const n = ops.length;
  const status = new Uint8Array(n);
  const observesOnly = (op: Operation): boolean => op.f === 'read' || (op.f === 'cas' && op.output === false);

  const relaxed = (): { history: Operation[]; original: Map<Operation, Operation> } => {
    const original = new Map<Operation, Operation>();
    const history: Operation[] = [];
    for (let i = 0; i < n; i++) {
      if (status[i] === DROPPED) continue;
      if ((status[i] === RELAXED || status[i] === CUT) && ops[i].ret !== Infinity) {
        const op = { ...ops[i], ret: Infinity };
        if (status[i] === RELAXED) original.set(op, ops[i]);
        history.push(op);
      } else history.push(ops[i]);
    }
    return { history, original };
  };
  const stillFails = (): boolean =>
    searchKey(relevantOperations(relaxed().history), { deadline, maxStates }).kind === 'violation';

  // First a time window around the stuck op: cut the history just after it
  // returns, and drop the reads called before a start that moves back until
  // the window fails on its own. Writes before the window stay: the value a
  // stale read saw may have been written long before. A long history then
  // shrinks in a few tries, and each later try is cheap.
  if (stuck !== undefined && stuck.ret !== Infinity) {
    const end = stuck.ret;
    const span = Math.max(stuck.ret - stuck.call, 1);
    for (let width = span; ; width *= 2) {
      if (performance.now() > deadline) break;
      const start = end - width;
      for (let i = 0; i < n; i++) {
        const op = ops[i];
        if (op.call > end) status[i] = DROPPED;
        else if (op.ret > end) status[i] = observesOnly(op) ? DROPPED : CUT;
        else if (op.call < start && observesOnly(op)) status[i] = DROPPED;
        else status[i] = KEEP;
      }
      // The ops running at the cut stay unacknowledged (CUT): giving them back
      // their real returns while the ops called after the cut stay dropped is
      // not a safe change (see above).
      if (stillFails()) break;
      status.fill(KEEP);
      if (start < ops[0].call) break;
    }
  }

  // Then contiguous chunks in call order: a violation is usually local in
  // time, so whole stretches go at once. Reads go before writes, because a
  // write nobody reads any more is dropped for free.
  const observers: number[] = [];
  const effects: number[] = [];
  for (let i = 0; i < n; i++) {
    if (status[i] !== KEEP || ops[i].ret === Infinity) continue;
    (observesOnly(ops[i]) ? observers : effects).push(i);
  }
  const reduce = (candidates: number[], change: number): void => {
    let chunk = Math.ceil(candidates.length / 2);
    while (chunk >= 1) {
      for (let start = 0; start < candidates.length; start += chunk) {
        if (performance.now() > deadline) return;
        const group = candidates.slice(start, start + chunk).filter((i) => status[i] === KEEP);
        if (group.length === 0) continue;
        for (const i of group) status[i] = change;
        if (!stillFails()) for (const i of group) status[i] = KEEP;
      }
      if (chunk === 1) break;
      chunk = Math.ceil(chunk / 2);
    }
  };
  reduce(observers, DROPPED);
  reduce(effects, RELAXED);
  reduce(observers, DROPPED);

  const { history, original } = relaxed();
  const witness = relevantOperations(history)
    .map((op) => original.get(op) ?? op)
    .sort((a, b) => a.call - b.call);
  if (witness.length === n) return ops.slice();
  // The witness, with its writes as they really happened, must fail by
  // itself; if a bug here ever made it pass, the full history is the honest answer.
  const recheck = searchKey(relevantOperations(witness), { deadline: Infinity, maxStates: 1_000_000 });
  return recheck.kind === 'violation' ? witness : ops.slice();
}
