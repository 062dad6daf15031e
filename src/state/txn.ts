// Consul's /v1/txn KV operations, applied all-or-nothing inside one Raft
// entry. Operations run in order against an overlay on the state machine's
// transaction: each sees the writes of the ones before it; if any fails, the
// overlay is dropped and nothing is written, else it is written in one go.
// konsul adds one verb, check-fence: fail unless Key is locked and its
// fencing token (the index of the write that acquired the lock) equals Index.

import type { StateWriter } from '../storage/index.js';
import { KV_TABLE, decodeKv, deleteEntry, readEntry, withLock, writeEntry, type KvEntry } from './kv-record.js';
import { KV_LOCKS_TABLE, readSession } from './sessions.js';
import type { TxnOp } from './txn-ops.js';

export { MAX_TXN_OPS, TXN_VERBS, WRITE_VERBS, txnOpProblem, type TxnOp, type TxnVerb } from './txn-ops.js';

export interface TxnResultEntry {
  entry: KvEntry;
  /** get and get-tree return the value; other verbs null it, to save space (Consul). */
  withValue: boolean;
}

export interface TxnOutcome {
  ok: boolean;
  results: TxnResultEntry[];
  errors: Array<{ opIndex: number; what: string }>;
}

function bytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Reads through pending writes; writes go to the store only by flush(). */
class Overlay {
  /** key -> entry, or null when deleted in this transaction. */
  readonly pending = new Map<string, KvEntry | null>();
  /** Keys that had a lock record when first read (so a flush knows to delete it). */
  private readonly hadLock = new Set<string>();
  /** Prefixes deleted with delete-tree, for the watchers. */
  readonly deletedTrees: string[] = [];

  constructor(private readonly txn: StateWriter) {}

  get(key: string): KvEntry | undefined {
    const p = this.pending.get(key);
    if (p !== undefined) return p === null ? undefined : p;
    const e = readEntry(this.txn, key);
    if (e?.session !== undefined) this.hadLock.add(key);
    return e;
  }

  list(prefix: string): KvEntry[] {
    const out = new Map<string, KvEntry>();
    for (const rec of this.txn.scan(KV_TABLE, prefix === '' ? {} : { prefix })) {
      const key = rec.key.toString('utf8');
      if (this.pending.has(key)) continue;
      const e = withLock(this.txn, decodeKv(key, rec.value));
      if (e.session !== undefined) this.hadLock.add(key);
      out.set(key, e);
    }
    for (const [key, e] of this.pending) if (e !== null && key.startsWith(prefix)) out.set(key, e);
    return [...out.values()].sort((a, b) => bytewise(a.key, b.key));
  }

  put(e: KvEntry): void {
    this.pending.set(e.key, e);
  }

  delete(key: string): void {
    this.pending.set(key, null);
  }

  flush(): void {
    for (const [key, e] of this.pending) {
      if (e === null) deleteEntry(this.txn, key, this.hadLock.has(key) || this.txn.get(KV_LOCKS_TABLE, key) !== undefined);
      else writeEntry(this.txn, e, this.hadLock.has(key));
    }
  }
}

function copy(e: KvEntry): KvEntry {
  return { ...e };
}

/**
 * Applies the ops at `index` inside txn. On success the writes are made and
 * `changed` holds every key written or deleted (and deleted prefixes); on
 * failure nothing is written and the errors say which ops failed and why.
 */
export function applyTxn(
  txn: StateWriter, index: number, ops: readonly TxnOp[],
  changed: { keys: Array<{ key: string; deleted: boolean }>; trees: string[] },
): TxnOutcome {
  const view = new Overlay(txn);
  const results: TxnResultEntry[] = [];
  const errors: Array<{ opIndex: number; what: string }> = [];
  ops.forEach((op, opIndex) => {
    const what = applyOp(txn, view, index, op, results);
    if (what !== undefined) errors.push({ opIndex, what });
  });
  if (errors.length > 0) return { ok: false, results: [], errors };
  view.flush();
  for (const [key, e] of view.pending) changed.keys.push({ key, deleted: e === null });
  changed.trees.push(...view.deletedTrees);
  return { ok: true, results, errors: [] };
}

function applyOp(txn: StateWriter, view: Overlay, index: number, op: TxnOp, results: TxnResultEntry[]): string | undefined {
  const key = op.key;
  const q = JSON.stringify(key);
  const current = op.verb === 'get-tree' || op.verb === 'delete-tree' ? undefined : view.get(key);
  const set = (keepLock: boolean): KvEntry => {
    const e: KvEntry = {
      key, value: Buffer.isBuffer(op.value) ? op.value : Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength), flags: op.flags,
      createIndex: current?.createIndex ?? index, modifyIndex: index, lockIndex: current?.lockIndex ?? 0,
    };
    // A plain set keeps the key's lock, as Consul's does.
    if (keepLock && current?.session !== undefined) {
      e.session = current.session;
      e.lockToken = current.lockToken;
    }
    view.put(e);
    return e;
  };
  const result = (e: KvEntry, withValue: boolean): undefined => {
    results.push({ entry: copy(e), withValue });
    return undefined;
  };
  switch (op.verb) {
    case 'set':
      return result(set(true), false);
    case 'cas':
      if (op.index === 0 ? current !== undefined : current?.modifyIndex !== op.index) return `failed to set key ${q}, index is stale`;
      return result(set(true), false);
    case 'lock': {
      if (!readSession(txn, op.session)) return `invalid session ${JSON.stringify(op.session)}`;
      if (current?.session !== undefined && current.session !== op.session) return `failed to lock key ${q}, lock is already held`;
      const reacquire = current?.session === op.session;
      const e = set(false);
      e.session = op.session;
      if (reacquire) e.lockToken = current!.lockToken;
      else {
        e.lockIndex = (current?.lockIndex ?? 0) + 1;
        e.lockToken = index;
      }
      return result(e, false);
    }
    case 'unlock': {
      if (current === undefined || current.session !== op.session) {
        return `failed to unlock key ${q}, lock isn't held, or is held by another session`;
      }
      return result(set(false), false);
    }
    case 'get':
      if (!current) return `key ${q} doesn't exist`;
      return result(current, true);
    case 'get-or-empty':
      if (current) result(current, true);
      return undefined;
    case 'get-tree':
      for (const e of view.list(key)) result(e, true);
      return undefined;
    case 'check-index':
      if (!current) return `failed index check for key ${q}, key doesn't exist`;
      if (current.modifyIndex !== op.index) return `failed index check for key ${q}, current modify index ${current.modifyIndex} != ${op.index}`;
      return result(current, false);
    case 'check-session':
      if (!current) return `failed session check for key ${q}, key doesn't exist`;
      if (current.session !== op.session) return `failed session check for key ${q}, current session ${JSON.stringify(current.session ?? '')} != ${JSON.stringify(op.session)}`;
      return result(current, false);
    case 'check-not-exists':
      if (current) return `key ${q} exists`;
      return undefined;
    case 'check-fence':
      if (!current || current.session === undefined) return `fencing token ${op.index} for key ${q} is not current: the key is not locked`;
      if (current.lockToken !== op.index) return `fencing token ${op.index} for key ${q} is not current: the lock's token is ${current.lockToken}`;
      return result(current, false);
    case 'delete':
      if (current) view.delete(key);
      return undefined;
    case 'delete-cas':
      // As Consul's: an absent key counts as deleted.
      if (!current) return undefined;
      if (current.modifyIndex !== op.index) return `failed to delete key ${q}, index is stale`;
      view.delete(key);
      return undefined;
    case 'delete-tree': {
      const entries = view.list(key);
      for (const e of entries) view.delete(e.key);
      view.deletedTrees.push(key);
      return undefined;
    }
  }
}
