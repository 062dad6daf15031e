// The checks of a finished run's history: linearizability of everything but
// ?stale reads (test/lin), and ?stale reads on their own: they may be stale,
// but each must return null or a value some write or cas had been asked to
// write before the read returned.

import { formatOperation } from '../lin/checker.js';
import { checkHistory, operationsFromHistory, type HistoryEvent } from '../lin/history.js';
import type { JEvent } from './history.js';

export interface LinVerdict {
  valid: boolean | 'unknown';
  ops: number;
  /** What went wrong, in a few lines (empty when valid). */
  detail: string[];
}

/** The events the linearizability checker sees: client ops, without ?stale reads. */
export function linearizableEvents(events: readonly JEvent[]): JEvent[] {
  return events.filter((e) => typeof e.process === 'number' && e.mode !== 'stale');
}

export function checkLinearizable(events: readonly JEvent[], timeoutMs: number): LinVerdict {
  const lin = linearizableEvents(events) as unknown as HistoryEvent[];
  const ops = operationsFromHistory(lin).length;
  const r = checkHistory(lin, { timeoutMs });
  if (r.valid === true) return { valid: true, ops, detail: [] };
  if (r.valid === 'unknown') return { valid: 'unknown', ops, detail: [`key ${r.key}: search budget ran out (${timeoutMs} ms)`] };
  return {
    valid: false,
    ops,
    detail: [`key ${r.key}: ${r.reason}`, 'witness (sorted by call):', ...r.witness.map((o) => `  ${formatOperation(o)}`)],
  };
}

export interface StaleVerdict {
  reads: number;
  bad: string[];
}

/** Every ok ?stale read returned null or a value written (invoked) before the read returned. */
export function checkStaleReads(events: readonly JEvent[]): StaleVerdict {
  const firstWrite = new Map<string, number>();
  for (const e of events) {
    if (e.type !== 'invoke' || typeof e.process !== 'number') continue;
    const v = e.f === 'write' ? e.value : e.f === 'cas' ? (e.value as unknown[])[1] : undefined;
    if (typeof v !== 'string') continue;
    const k = `${e.key}\0${v}`;
    if (!firstWrite.has(k)) firstWrite.set(k, e.time);
  }
  let reads = 0;
  const bad: string[] = [];
  for (const e of events) {
    if (e.type !== 'ok' || e.f !== 'read' || e.mode !== 'stale') continue;
    reads++;
    if (e.value === null) continue;
    const at = firstWrite.get(`${e.key}\0${String(e.value)}`);
    if (at === undefined || at > e.time) {
      bad.push(`stale read of ${e.key} on ${e.node} at ${e.time} ns returned ${JSON.stringify(e.value)}, ${at === undefined ? 'never written' : `first written at ${at} ns, after the read returned`}`);
    }
  }
  return { reads, bad };
}

/** Each replica's KV entries (key -> value, base64 or null as the API gives them). */
export type ReplicaDump = Map<string, Map<string, string | null>>;

/** Where the replicas disagree, one line per key (empty when they all hold the same keys and values). */
export function replicaDifferences(dumps: ReplicaDump): string[] {
  const keys = new Set<string>();
  for (const d of dumps.values()) for (const k of d.keys()) keys.add(k);
  const out: string[] = [];
  for (const key of [...keys].sort()) {
    const seen = [...dumps].map(([id, d]) => [id, d.has(key) ? decode(d.get(key) ?? null) : '(missing)'] as const);
    if (new Set(seen.map(([, v]) => v)).size > 1) out.push(`${key}: ${seen.map(([id, v]) => `${id}=${v}`).join(' ')}`);
  }
  return out;
}

function decode(v: string | null): string {
  return v === null ? '""' : JSON.stringify(Buffer.from(v, 'base64').toString());
}
