// The rolling upgrade's own checks of a finished history (beside the fault
// suite's linearizability and replica checks):
//   - no request failed except during a node's own restart: every operation
//     that ended `fail` or `info` went through the node being restarted while
//     it was (stop to serving again), or ran during the leader's handoff when
//     the leader itself was being restarted;
//   - every acknowledged write is present: each `ok` write of a key written
//     once (the appender's keys) is on every replica with its value.

import type { ReplicaDump } from '../jepsen/checks.js';
import type { JEvent } from '../jepsen/history.js';

export interface RestartWindow {
  node: string;
  /** History times (ns): from the stop (or the leader's handoff) to serving again, caught up. */
  start: number;
  end: number;
  /** The leader's restart: failures through any node count while leadership moves. */
  leader: boolean;
}

export interface FailureVerdict {
  /** Failed or unknown operations, all told. */
  failed: number;
  /** Of those, inside their node's restart window (or the leader's handoff). */
  excused: number;
  /** Of the excused, those through another node while the leader was restarted (leadership moving). */
  duringHandoff: number;
  /** The others, one line each. */
  outside: string[];
}

const CAS_ANSWER = /^cas: (value is |key missing|index moved)/;

/** Pairs each completion with its invocation (per process) and judges the failures against the windows. */
export function failuresOutsideRestarts(events: readonly JEvent[], windows: readonly RestartWindow[]): FailureVerdict {
  const open = new Map<number, JEvent>();
  let failed = 0;
  let excused = 0;
  let duringHandoff = 0;
  const outside: string[] = [];
  for (const e of events) {
    if (typeof e.process !== 'number') continue;
    if (e.type === 'invoke') {
      open.set(e.process, e);
      continue;
    }
    const invoke = open.get(e.process);
    open.delete(e.process);
    if (e.type === 'ok') continue;
    // A cas whose expected value or index did not match was answered: the register said no, nothing failed.
    if (e.type === 'fail' && CAS_ANSWER.test(e.error ?? '')) continue;
    failed++;
    const from = invoke?.time ?? e.time;
    const to = e.time;
    const overlapping = windows.filter((w) => from <= w.end && to >= w.start);
    if (overlapping.some((w) => w.node === e.node)) excused++;
    else if (overlapping.some((w) => w.leader)) {
      excused++;
      duringHandoff++;
    }
    else outside.push(`${e.f} ${e.key} through ${e.node} (${(from / 1e6).toFixed(0)}-${(to / 1e6).toFixed(0)} ms): ${e.type} ${e.error ?? ''}`.trim());
  }
  // An operation still open at the end never completed: the harness stopped it, not a failure of the cluster.
  return { failed, excused, duringHandoff, outside };
}

/** Acknowledged writes of keys starting with `prefix` (each written once) missing or different on some replica. */
export function missingAckedWrites(events: readonly JEvent[], prefix: string, dumps: ReplicaDump): { acked: number; missing: string[] } {
  const missing: string[] = [];
  let acked = 0;
  for (const e of events) {
    if (e.type !== 'ok' || e.f !== 'write' || !e.key.startsWith(prefix)) continue;
    acked++;
    for (const [id, dump] of dumps) {
      const stored = dump.get(e.key);
      const value = stored === undefined || stored === null ? undefined : Buffer.from(stored, 'base64').toString();
      if (value !== e.value) missing.push(`${e.key}=${String(e.value)} acknowledged through ${e.node}, ${value === undefined ? 'missing' : `holds ${value}`} on ${id}`);
    }
  }
  return { acked, missing };
}
