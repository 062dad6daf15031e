// The replicated state machine: applies committed commands to LMDB tables
// (through StateStore, the applied index in the same transaction), answers
// reads from the local replica, and wakes blocking queries whose prefix a
// write touched.

import type { StateReader, StateStore, StateWriter } from '../storage/index.js';
import { decodeCommand, type Command } from './command.js';

export const KV_TABLE = 'kv';
export const MEMBERS_TABLE = 'members';
export const META_TABLE = 'meta';
export const STATE_TABLES: readonly string[] = [KV_TABLE, MEMBERS_TABLE, META_TABLE];

const KV_INDEX_KEY = 'kvIndex';

export interface KvEntry {
  key: string;
  value: Buffer;
  flags: number;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
}

export interface MemberRecord {
  id: string;
  raftAddress: string;
  httpAddress: string;
  server: boolean;
  modifyIndex: number;
}

/** kv-set/kv-delete: false when a cas did not match. */
export type ApplyResult = boolean;

export interface ApplyItem {
  index: number;
  /** undefined: a no-op or membership entry (only the applied index moves). */
  command?: Uint8Array;
}

// A KV record: flags u32, createIndex f64, modifyIndex f64, lockIndex f64, then the value.
const KV_HEADER = 4 + 8 * 3;

function encodeKv(flags: number, createIndex: number, modifyIndex: number, lockIndex: number, value: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(KV_HEADER + value.length);
  b.writeUInt32BE(flags, 0);
  b.writeDoubleBE(createIndex, 4);
  b.writeDoubleBE(modifyIndex, 12);
  b.writeDoubleBE(lockIndex, 20);
  b.set(value, KV_HEADER);
  return b;
}

function decodeKv(key: string, b: Buffer): KvEntry {
  return {
    key,
    flags: b.readUInt32BE(0),
    createIndex: b.readDoubleBE(4),
    modifyIndex: b.readDoubleBE(12),
    lockIndex: b.readDoubleBE(20),
    value: b.subarray(KV_HEADER),
  };
}

function encodeMember(m: MemberRecord): Buffer {
  return Buffer.from(JSON.stringify(m));
}

function decodeMember(b: Buffer): MemberRecord {
  return JSON.parse(b.toString('utf8')) as MemberRecord;
}

interface Watcher {
  prefix: string;
  after: number;
  resolve(index: number): void;
  timer: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** How many recent deletes to remember for prefix indexes (a blocking query on a deleted prefix must move). */
const RECENT_DELETES = 4096;

export class StateMachine {
  private readonly store: StateStore;
  private kvIndexCache = 0;
  /** prefix (deleted key or recursive prefix) -> index of the delete. */
  private recentDeletes = new Map<string, number>();
  private floorIndex = 0;
  private watchers = new Set<Watcher>();

  constructor(store: StateStore) {
    this.store = store;
    this.loadCaches();
  }

  private loadCaches(): void {
    const stored = this.store.read((txn) => txn.get(META_TABLE, KV_INDEX_KEY));
    this.kvIndexCache = stored ? stored.readDoubleBE(0) : 0;
    this.recentDeletes.clear();
    // Deletes before this point are unknown: any prefix index is at least the KV index at start.
    this.floorIndex = this.kvIndexCache;
  }

  appliedIndex(): number {
    return this.store.appliedIndex();
  }

  /**
   * Apply committed entries in one transaction. Entries at or below the
   * applied index are skipped (a restart or a snapshot already holds them).
   * A command that does not decode is a deterministic no-op on every replica.
   */
  apply(items: readonly ApplyItem[]): Array<ApplyResult | undefined> {
    const results: Array<ApplyResult | undefined> = new Array(items.length).fill(undefined);
    const applied = this.store.appliedIndex();
    const todo = items.filter((it) => it.index > applied);
    if (todo.length === 0) return results;
    const last = todo[todo.length - 1].index;
    const touched: Array<{ key: string; recurse: boolean; index: number; deleted: boolean }> = [];
    const out = this.store.applyBatch(last, (txn) => {
      // applyBatch may run this again after growing the map: start clean each time.
      touched.length = 0;
      const res = new Map<number, ApplyResult>();
      let kvIndex = this.kvIndexCache;
      for (const it of todo) {
        if (!it.command) continue;
        let cmd: Command;
        try {
          cmd = decodeCommand(it.command);
        } catch {
          res.set(it.index, false);
          continue;
        }
        const r = this.applyOne(txn, it.index, cmd, touched);
        if (r !== undefined) res.set(it.index, r);
        if (cmd.type === 'kv-set' || cmd.type === 'kv-delete') {
          if (r) kvIndex = it.index;
        }
      }
      if (kvIndex !== this.kvIndexCache) {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(kvIndex);
        txn.put(META_TABLE, KV_INDEX_KEY, b);
      }
      return { res, kvIndex };
    });
    this.kvIndexCache = out.kvIndex;
    for (let i = 0; i < items.length; i++) {
      const r = out.res.get(items[i].index);
      if (r !== undefined) results[i] = r;
    }
    for (const t of touched) {
      if (t.deleted) this.rememberDelete(t.key, t.index);
    }
    if (touched.length > 0) this.wake(touched);
    return results;
  }

  private applyOne(
    txn: StateWriter, index: number, cmd: Command,
    touched: Array<{ key: string; recurse: boolean; index: number; deleted: boolean }>,
  ): ApplyResult | undefined {
    switch (cmd.type) {
      case 'kv-set': {
        const existing = txn.get(KV_TABLE, cmd.key);
        const current = existing ? decodeKv(cmd.key, existing) : undefined;
        if (cmd.cas !== undefined) {
          if (cmd.cas === 0 ? current !== undefined : current?.modifyIndex !== cmd.cas) return false;
        }
        txn.put(KV_TABLE, cmd.key, encodeKv(cmd.flags, current?.createIndex ?? index, index, current?.lockIndex ?? 0, cmd.value));
        touched.push({ key: cmd.key, recurse: false, index, deleted: false });
        return true;
      }
      case 'kv-delete': {
        if (cmd.recurse) {
          if (cmd.cas !== undefined) {
            const existing = cmd.key === '' ? undefined : txn.get(KV_TABLE, cmd.key);
            if (cmd.cas !== 0 && (!existing || decodeKv(cmd.key, existing).modifyIndex !== cmd.cas)) return false;
          }
          const keys: Buffer[] = [];
          for (const rec of txn.scan(KV_TABLE, cmd.key === '' ? {} : { prefix: cmd.key })) keys.push(rec.key);
          for (const k of keys) txn.delete(KV_TABLE, k);
          touched.push({ key: cmd.key, recurse: true, index, deleted: true });
          return true;
        }
        const existing = txn.get(KV_TABLE, cmd.key);
        if (cmd.cas !== undefined && cmd.cas !== 0) {
          if (!existing || decodeKv(cmd.key, existing).modifyIndex !== cmd.cas) return false;
        }
        if (existing) txn.delete(KV_TABLE, cmd.key);
        touched.push({ key: cmd.key, recurse: false, index, deleted: true });
        return true;
      }
      case 'member-set':
        txn.put(MEMBERS_TABLE, cmd.id, encodeMember({
          id: cmd.id, raftAddress: cmd.raftAddress, httpAddress: cmd.httpAddress, server: cmd.server, modifyIndex: index,
        }));
        return true;
      case 'member-delete':
        return txn.delete(MEMBERS_TABLE, cmd.id);
      default:
        return undefined;
    }
  }

  private rememberDelete(key: string, index: number): void {
    this.recentDeletes.delete(key);
    this.recentDeletes.set(key, index);
    if (this.recentDeletes.size > RECENT_DELETES) {
      // Forget the oldest; raise the floor so prefix indexes never go backwards.
      const [oldestKey, oldestIndex] = this.recentDeletes.entries().next().value as [string, number];
      this.recentDeletes.delete(oldestKey);
      this.floorIndex = Math.max(this.floorIndex, oldestIndex);
    }
  }

  // ------------------------------------------------------------ reads

  private reader<T>(fn: (txn: StateReader) => T): T {
    return this.store.read(fn);
  }

  kvGet(key: string): KvEntry | undefined {
    if (key === '') return undefined;
    const b = this.reader((txn) => txn.get(KV_TABLE, key));
    return b ? decodeKv(key, b) : undefined;
  }

  /** Every entry under prefix, in key order. */
  kvList(prefix: string): KvEntry[] {
    return this.reader((txn) => {
      const out: KvEntry[] = [];
      for (const rec of txn.scan(KV_TABLE, prefix === '' ? {} : { prefix })) out.push(decodeKv(rec.key.toString('utf8'), rec.value));
      return out;
    });
  }

  /** Consul's ?keys: with a separator, keys below the next separator after prefix roll up to "prefix...sep". */
  kvKeys(prefix: string, separator?: string): string[] {
    return this.reader((txn) => {
      const out: string[] = [];
      let last = '';
      for (const rec of txn.scan(KV_TABLE, prefix === '' ? {} : { prefix })) {
        let key = rec.key.toString('utf8');
        if (separator) {
          const at = key.indexOf(separator, prefix.length);
          if (at >= 0) key = key.slice(0, at + separator.length);
        }
        if (key !== last) {
          out.push(key);
          last = key;
        }
      }
      return out;
    });
  }

  /** The highest index of any KV write or delete (at least 1). */
  kvIndex(): number {
    return Math.max(1, this.kvIndexCache);
  }

  /**
   * The index a blocking query on `prefix` compares with: the highest
   * ModifyIndex under it, or a later delete that touched it (remembered since
   * start-up; older deletes are covered by a floor, so it never goes back).
   */
  kvPrefixIndex(prefix: string): number {
    let max = this.floorIndex;
    for (const e of this.kvList(prefix)) if (e.modifyIndex > max) max = e.modifyIndex;
    for (const [k, idx] of this.recentDeletes) {
      if (idx > max && (k.startsWith(prefix) || prefix.startsWith(k))) max = idx;
    }
    return Math.max(1, Math.min(max, this.kvIndex()));
  }

  members(): MemberRecord[] {
    return this.reader((txn) => {
      const out: MemberRecord[] = [];
      for (const rec of txn.scan(MEMBERS_TABLE)) out.push(decodeMember(rec.value));
      return out;
    });
  }

  member(id: string): MemberRecord | undefined {
    if (id === '') return undefined;
    const b = this.reader((txn) => txn.get(MEMBERS_TABLE, id));
    return b ? decodeMember(b) : undefined;
  }

  // ------------------------------------------------------------ blocking queries

  /** Resolves with the prefix's index once it passes afterIndex, or at the timeout or abort with the index then. */
  waitKv(prefix: string, afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const now = this.kvPrefixIndex(prefix);
    if (now > afterIndex || signal?.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const w: Watcher = {
        prefix, after: afterIndex, signal,
        resolve: (index) => {
          if (!this.watchers.delete(w)) return;
          clearTimeout(w.timer);
          if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
          resolve(index);
        },
        timer: setTimeout(() => w.resolve(this.kvPrefixIndex(prefix)), Math.max(0, timeoutMs)),
      };
      if (signal) {
        w.onAbort = () => w.resolve(this.kvPrefixIndex(prefix));
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.watchers.add(w);
    });
  }

  /** How many blocking queries wait now (for stats and tests). */
  get waiting(): number {
    return this.watchers.size;
  }

  private wake(touched: Array<{ key: string; recurse: boolean; index: number }>): void {
    if (this.watchers.size === 0) return;
    for (const w of [...this.watchers]) {
      let hit = 0;
      for (const t of touched) {
        const overlaps = t.key.startsWith(w.prefix) || (t.recurse && w.prefix.startsWith(t.key));
        if (overlaps && t.index > hit) hit = t.index;
      }
      if (hit > w.after) w.resolve(this.kvPrefixIndex(w.prefix));
    }
  }

  /** After a snapshot restore replaced the store: reload caches and wake every watcher. */
  reset(): void {
    this.loadCaches();
    // A restore may have removed anything: treat every prefix as changed up to the restored KV index.
    this.floorIndex = Math.max(this.floorIndex, this.kvIndexCache);
    for (const w of [...this.watchers]) w.resolve(this.kvPrefixIndex(w.prefix));
  }
}
