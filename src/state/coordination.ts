// The state machine's coordination part: applies session, transaction and
// batch commands inside the batch's transaction, invalidates sessions whose
// node or checks failed (in the same transaction as the catalog change), and
// after the commit records lock-delays, the outcomes proposers wait for, and
// wakes the session blocking queries and the leader's TTL timers.

import type { StateReader, StateWriter } from '../storage/index.js';
import { type CatalogReader, NODE_HEALTH_CHECK_ID } from './catalog-types.js';
import { deleteEntry, readEntry, writeEntry } from './kv-record.js';
import {
  KV_LOCKS_TABLE, SESSIONS_TABLE, SESSION_INDEX_KEY, decodeSession, encodeSession, keysHeldBy, listSessions, readSession,
  sessionCreateProblem, sessionWatchesCheck, type SessionInput, type SessionRecord,
} from './sessions.js';
import { applyTxn, type TxnOp, type TxnOutcome } from './txn.js';
import { TopicWatchers } from './watchers.js';

export const COORD_TABLES: readonly string[] = [SESSIONS_TABLE, KV_LOCKS_TABLE];

export type TouchFn = (key: string, recurse: boolean, deleted: boolean) => void;

export type SessionEvent = { kind: 'created'; session: SessionRecord } | { kind: 'destroyed'; id: string } | { kind: 'reset' };

/** A catalog record change, as the catalog's batch lists them (key: lower node [+ NUL + check id]). */
export interface CatalogChange {
  table: string;
  key: string;
  record: unknown;
}

/** Outcomes kept for proposers that wait for them (a follower waits to apply the entry itself). */
const OUTCOMES_KEPT = 8192;

const SEP = '\u0000';

export class Coordination {
  private readonly sessionWatchers = new TopicWatchers();
  private sessionIndexValue = 0;
  /** key -> wall-clock ms until which the key may not be locked (Consul keeps this in memory too). */
  private readonly lockDelays = new Map<string, number>();
  private readonly outcomes = new Map<number, unknown>();
  private readonly listeners: Array<(e: SessionEvent) => void> = [];

  // What the batch being applied did, made visible only after it commits.
  private pendingDelays: Array<[string, number]> = [];
  private pendingOutcomes: Array<[number, unknown]> = [];
  private pendingEvents: SessionEvent[] = [];
  private pendingSessionIndex = 0;

  constructor(private readonly metaTable: string) {}

  load(txn: StateReader): void {
    const b = txn.get(this.metaTable, SESSION_INDEX_KEY);
    this.sessionIndexValue = b && b.length === 8 ? b.readDoubleBE(0) : 0;
  }

  /** applyBatch may run its function again: start clean each time. */
  beginBatch(): void {
    this.pendingDelays = [];
    this.pendingOutcomes = [];
    this.pendingEvents = [];
    this.pendingSessionIndex = 0;
  }

  // ------------------------------------------------------------ apply (inside the transaction)

  sessionCreate(txn: StateWriter, index: number, s: SessionInput, catalog: CatalogReader): boolean {
    const problem = txn.get(SESSIONS_TABLE, s.id) ? `session ${s.id} exists` : sessionCreateProblem(s, catalog);
    if (problem) {
      this.pendingOutcomes.push([index, problem]);
      return false;
    }
    const record: SessionRecord = { ...s, createIndex: index, modifyIndex: index };
    txn.put(SESSIONS_TABLE, s.id, encodeSession(record));
    this.bumpSessions(txn, index);
    this.pendingEvents.push({ kind: 'created', session: record });
    return true;
  }

  /** Deletes the session; releases its locks (or deletes its keys); their lock-delay starts after commit. */
  sessionDestroy(txn: StateWriter, index: number, id: string, touch: TouchFn): boolean {
    const b = txn.get(SESSIONS_TABLE, id);
    if (!b) return true;
    const s = decodeSession(b);
    for (const key of keysHeldBy(txn, id)) {
      const e = readEntry(txn, key);
      if (!e) {
        txn.delete(KV_LOCKS_TABLE, key);
        continue;
      }
      if (s.behavior === 'delete') deleteEntry(txn, key, true);
      else {
        delete e.session;
        delete e.lockToken;
        e.modifyIndex = index;
        writeEntry(txn, e, true);
      }
      touch(key, false, s.behavior === 'delete');
      if (s.lockDelayMs > 0) this.pendingDelays.push([key, s.lockDelayMs]);
    }
    txn.delete(SESSIONS_TABLE, id);
    this.bumpSessions(txn, index);
    this.pendingEvents.push({ kind: 'destroyed', id });
    return true;
  }

  txn(txn: StateWriter, index: number, ops: TxnOp[], touch: TouchFn): boolean {
    const changed = { keys: [] as Array<{ key: string; deleted: boolean }>, trees: [] as string[] };
    const outcome = applyTxn(txn, index, ops, changed);
    for (const c of changed.keys) touch(c.key, false, c.deleted);
    for (const t of changed.trees) touch(t, true, true);
    this.pendingOutcomes.push([index, outcome]);
    return outcome.ok;
  }

  batchResults(index: number, results: boolean[]): void {
    this.pendingOutcomes.push([index, results]);
  }

  /**
   * After a catalog operation: a session whose node left the catalog, or one
   * of whose checks went critical or was removed, is invalidated (Consul does
   * this in the same transaction as the catalog change).
   */
  afterCatalog(txn: StateWriter, index: number, changes: readonly CatalogChange[], touch: TouchFn, tables: { nodes: string; checks: string }): void {
    if (changes.length === 0 || !hasAny(txn)) return;
    const goneNodes = new Set<string>();
    const failed: Array<{ node: string; checkId: string }> = [];
    for (const c of changes) {
      if (c.table === tables.nodes && c.record === undefined) goneNodes.add(c.key);
      else if (c.table === tables.checks) {
        const at = c.key.indexOf(SEP);
        if (at < 0) continue;
        const record = c.record as { status?: string } | undefined;
        if (record === undefined || record.status === 'critical') failed.push({ node: c.key.slice(0, at), checkId: c.key.slice(at + 1) });
      }
    }
    if (goneNodes.size === 0 && failed.length === 0) return;
    for (const s of listSessions(txn)) {
      const node = s.node.toLowerCase();
      if (goneNodes.has(node) || failed.some((f) => sessionWatchesCheck(s, f.node, f.checkId))) this.sessionDestroy(txn, index, s.id, touch);
    }
  }

  private bumpSessions(txn: StateWriter, index: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleBE(index);
    txn.put(this.metaTable, SESSION_INDEX_KEY, b);
    this.pendingSessionIndex = index;
  }

  // ------------------------------------------------------------ after commit

  commit(): void {
    const now = Date.now();
    for (const [key, ms] of this.pendingDelays) this.lockDelays.set(key, now + ms);
    for (const [index, outcome] of this.pendingOutcomes) this.outcomes.set(index, outcome);
    while (this.outcomes.size > OUTCOMES_KEPT) this.outcomes.delete(this.outcomes.keys().next().value as number);
    if (this.pendingSessionIndex > 0) {
      this.sessionIndexValue = this.pendingSessionIndex;
      this.sessionWatchers.notify('sessions', this.pendingSessionIndex);
    }
    const events = this.pendingEvents;
    this.beginBatch();
    for (const e of events) for (const l of this.listeners) l(e);
  }

  /** After a snapshot restore or install: everything may have changed. */
  reset(txn: StateReader): void {
    this.load(txn);
    this.sessionWatchers.finishAll(() => this.sessionIndex());
    for (const l of this.listeners) l({ kind: 'reset' });
  }

  // ------------------------------------------------------------ reads

  onSessionEvent(listener: (e: SessionEvent) => void): void {
    this.listeners.push(listener);
  }

  sessionIndex(): number {
    return Math.max(1, this.sessionIndexValue);
  }

  waitSessions(afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.sessionWatchers.wait('sessions', () => this.sessionIndex(), afterIndex, timeoutMs, signal);
  }

  /** Milliseconds left of the key's lock-delay (0: it may be locked now). */
  lockDelayRemaining(key: string, now = Date.now()): number {
    const until = this.lockDelays.get(key);
    if (until === undefined) return 0;
    if (until <= now) {
      this.lockDelays.delete(key);
      return 0;
    }
    return until - now;
  }

  /** What the entry at `index` produced: a TxnOutcome, a batch's results, or why a session create failed. */
  outcome(index: number): unknown {
    return this.outcomes.get(index);
  }

  txnOutcome(index: number): TxnOutcome | undefined {
    const o = this.outcomes.get(index);
    return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as TxnOutcome) : undefined;
  }

  readSession(txn: StateReader, id: string): SessionRecord | undefined {
    return readSession(txn, id);
  }
}

function hasAny(txn: StateReader): boolean {
  for (const _ of txn.scan(SESSIONS_TABLE)) return true;
  return false;
}

export { NODE_HEALTH_CHECK_ID };
