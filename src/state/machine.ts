// The replicated state machine: applies committed commands to LMDB tables
// (through StateStore, the applied index in the same transaction), answers
// reads from the local replica, and wakes blocking queries whose prefix a
// write touched.

import { isUtf8 } from 'node:buffer';
import { KonsulError } from '../errors.js';
import { MAX_KEY_BYTES, StorageCorruptionError, type StateReader, type StateStore, type StateWriter } from '../storage/index.js';
import { SnapshotDecoder } from '../storage/snapshot-format.js';
import {
  Catalog, CatalogBatch, CATALOG_CHECKS_TABLE, CATALOG_INDEX_TABLE, CATALOG_NODES_TABLE, CATALOG_SERVICES_TABLE, CATALOG_TABLES,
} from './catalog.js';
import { COMMAND_VERSION, decodeCommand, UnsupportedCommandError, type Command } from './command.js';
import {
  KV_FLAGS_TABLE, KV_HEADER, KV_MODIFY_AT, KV_TABLE, checkKvRecord, decodeKv, encodeKv, recordFlags, withFlags, withLock, writeFlags, type KvEntry,
} from './kv-record.js';
import { COORD_TABLES, Coordination } from './coordination.js';
import { applyTxn, type TxnOp, type TxnOutcome } from './txn.js';
import { KV_LOCKS_TABLE, SESSIONS_TABLE, SESSION_INDEX_KEY, decodeLock, encodeSession, listSessions, readSession, sessionInputProblem, type KvLock, type SessionRecord } from './sessions.js';
import { EventBuffer, type AppliedEvent } from './events.js';
import { ACL_TABLE, AclState, aclRecordProblem } from './acl.js';
import { TopicWatchers } from './watchers.js';
import { PREPARED_QUERIES_TABLE, PreparedQueries, QUERY_INDEX_KEY, decodeQuery } from './prepared-queries.js';
import { decodeAutopilotRecord, encodeAutopilotRecord, type AutopilotConfigRecord } from './autopilot-config.js';
import { LEFT_MEMBERS_TABLE, applyMemberLeft, forgetLeftMember, listLeftMembers, type LeftMemberRecord } from './left-members.js';

export { KV_TABLE, type KvEntry } from './kv-record.js';
export const MEMBERS_TABLE = 'members';
/** The state machine's own bookkeeping, written in the same transactions as the data. */
export const META_TABLE = 'meta';
export const STATE_TABLES: readonly string[] = [
  KV_TABLE, MEMBERS_TABLE, META_TABLE, ...CATALOG_TABLES, ...COORD_TABLES, ACL_TABLE, PREPARED_QUERIES_TABLE, KV_FLAGS_TABLE, LEFT_MEMBERS_TABLE,
];

const KV_INDEX_KEY = 'kvIndex';
/** The protocol version the cluster runs at (u16); absent means 1, the first release's. */
const CLUSTER_VERSION_KEY = 'clusterVersion';
/** ops2: the replicated autopilot configuration (JSON; absent until one was set). */
const AUTOPILOT_CONFIG_KEY = 'autopilotConfig';

export interface MemberRecord {
  id: string;
  raftAddress: string;
  httpAddress: string;
  server: boolean;
  modifyIndex: number;
}

/** kv-set/kv-delete: false when a cas did not match (or the command did not decode). member-*: true. */
export type ApplyResult = boolean;

export interface ApplyItem {
  index: number;
  /** undefined: a no-op or membership entry (only the applied index moves). */
  command?: Uint8Array;
}

// ------------------------------------------------------------ record codecs

// A member record (keyed by id): u8 server, f64 modifyIndex, u32 length + raft address, u32 length + http address.
function encodeMember(m: Omit<MemberRecord, 'id'>): Buffer {
  const raftLen = Buffer.byteLength(m.raftAddress, 'utf8');
  const httpLen = Buffer.byteLength(m.httpAddress, 'utf8');
  const b = Buffer.allocUnsafe(1 + 8 + 4 + raftLen + 4 + httpLen);
  b[0] = m.server ? 1 : 0;
  b.writeDoubleBE(m.modifyIndex, 1);
  b.writeUInt32BE(raftLen, 9);
  b.write(m.raftAddress, 13, raftLen, 'utf8');
  b.writeUInt32BE(httpLen, 13 + raftLen);
  b.write(m.httpAddress, 17 + raftLen, httpLen, 'utf8');
  return b;
}

function decodeMember(id: string, b: Buffer): MemberRecord {
  const bad = (): never => {
    throw new StorageCorruptionError('member', `record ${JSON.stringify(id)} does not parse`);
  };
  if (b.length < 17) bad();
  const raftLen = b.readUInt32BE(9);
  if (13 + raftLen + 4 > b.length) bad();
  const httpLen = b.readUInt32BE(13 + raftLen);
  if (17 + raftLen + httpLen !== b.length) bad();
  return {
    id,
    raftAddress: b.toString('utf8', 13, 13 + raftLen),
    httpAddress: b.toString('utf8', 17 + raftLen, 17 + raftLen + httpLen),
    server: b[0] === 1,
    modifyIndex: b.readDoubleBE(1),
  };
}

function encodeIndex(index: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(index);
  return b;
}

// ------------------------------------------------------------ the machine

/**
 * A committed entry holds a command this konsul does not understand (a newer
 * konsul wrote it). Thrown out of apply, nothing of the batch applied: the
 * node must stop rather than skip it, and be upgraded.
 */
export class CommandTooNewError extends KonsulError {
  readonly index: number;
  constructor(index: number, detail: string) {
    super('KONSUL_ERR_COMMAND_TOO_NEW',
      `log entry ${index} holds a command this konsul cannot apply (${detail}); it was written by a newer konsul: upgrade this node (it understands command versions up to ${COMMAND_VERSION})`,
      'internal');
    this.name = 'CommandTooNewError';
    this.index = index;
  }
}

/** A KV change one apply made: a key written or deleted, or a prefix deleted (recurse). */
interface Touch {
  key: string;
  recurse: boolean;
  deleted: boolean;
  index: number;
}

/**
 * How many recent deletes to remember for prefix indexes. A blocking query on
 * a prefix whose keys were deleted must see its index move although no key
 * under it holds that index any more (Consul keeps tombstones for this).
 */
const RECENT_DELETES = 4096;

export class StateMachine {
  private readonly store: StateStore;
  /** The persisted KV index (0 before the first KV change). */
  private kvIndexValue = 0;
  /**
   * Deletes since start-up or the last restore, oldest first: 'k' + key for a
   * key, 'r' + prefix for a recursive delete -> the delete's index.
   */
  private readonly recentDeletes = new Map<string, number>();
  /**
   * Every prefix index is at least this: the KV index when the delete history
   * starts (start-up, restore), raised to each delete the bounded history forgets.
   */
  private floorIndex = 0;
  /** Blocking queries, by the prefix they watch. */
  private readonly kvWatchers = new TopicWatchers();
  /** The service catalog: its tables are written in the same transactions; reads come from memory. */
  readonly catalog = new Catalog();
  private readonly catalogBatch = new CatalogBatch();
  /** ACL tokens and policies (sec): written in the same transactions; reads come from memory. */
  readonly acl = new AclState();
  private aclChangedInBatch = false;
  /** User events, in memory only (api branch, issue 18). */
  readonly events = new EventBuffer();
  /** Events applied in the batch being applied: they join the buffer once it commits. */
  private readonly pendingEvents: AppliedEvent[] = [];
  /** A restore command was applied in the batch being applied: reload everything after it commits. */
  private restoredInBatch = false;
  private readonly restoreListeners: Array<(index: number) => void> = [];
  /** scale: called after every batch applied (relays wake their waiting subscribers). */
  private readonly appliedListeners: Array<(index: number) => void> = [];
  /** The replicated cluster protocol version (1 until a cluster-version command raised it). */
  private clusterVersionValue = 1;
  /** What the batch being applied raised it to (committed with the batch). */
  private batchClusterVersion = 0;
  /** Sessions, locks, transactions and batched writes (coord). */
  readonly coord = new Coordination(META_TABLE);
  /** Prepared queries (api branch, issue 18): written in the same transactions; reads come from memory. */
  readonly queries = new PreparedQueries(META_TABLE);

  constructor(store: StateStore) {
    const missing = STATE_TABLES.filter((t) => !store.tables.includes(t));
    if (missing.length > 0) {
      throw new TypeError(`the state store lacks the state machine's tables ${missing.join(', ')}; open it with STATE_TABLES`);
    }
    this.store = store;
    this.loadCaches();
  }

  /** Reads what the caches hold from the store and starts a new delete history. */
  private loadCaches(): void {
    const stored = this.store.read((txn) => txn.get(META_TABLE, KV_INDEX_KEY));
    this.kvIndexValue = stored && stored.length === 8 ? stored.readDoubleBE(0) : 0;
    const version = this.store.read((txn) => txn.get(META_TABLE, CLUSTER_VERSION_KEY));
    this.clusterVersionValue = version && version.length === 2 ? version.readUInt16BE(0) : 1;
    this.recentDeletes.clear();
    // Deletes before now are unknown: any prefix may have lost keys up to the current KV index.
    this.floorIndex = this.kvIndexValue;
    this.catalog.load((fn) => this.store.read(fn));
    this.store.read((txn) => this.coord.load(txn));
    this.acl.load((fn) => this.store.read(fn));
    this.store.read((txn) => this.queries.load(txn));
  }

  /** The applied index as stored (restart resumes after it). */
  appliedIndex(): number {
    return this.store.appliedIndex();
  }

  /**
   * Applies committed entries in one transaction whose applied index is the
   * last item's. Entries at or below appliedIndex() are skipped (a restart or
   * a snapshot already holds them). A command that does not decode is a no-op
   * with result false, the same on every replica. Then wakes the watchers
   * whose prefix a change touched.
   */
  apply(items: readonly ApplyItem[]): Array<ApplyResult | undefined> {
    const results = new Array<ApplyResult | undefined>(items.length).fill(undefined);
    const applied = this.store.appliedIndex();
    let first = 0;
    while (first < items.length && items[first]!.index <= applied) first++;
    if (first === items.length) return results;
    const last = items[items.length - 1]!.index;

    const touched: Touch[] = [];
    const kvIndex = this.store.applyBatch(last, (txn) => {
      // applyBatch runs this again after growing the map: start clean each time.
      touched.length = 0;
      this.pendingEvents.length = 0;
      this.catalogBatch.clear();
      this.coord.beginBatch();
      this.queries.beginBatch();
      this.restoredInBatch = false;
      this.aclChangedInBatch = false;
      this.batchClusterVersion = 0;
      let kvIndex = this.kvIndexValue;
      for (let i = first; i < items.length; i++) {
        const item = items[i]!;
        results[i] = undefined;
        if (item.command === undefined) continue;
        let cmd: Command;
        try {
          cmd = decodeCommand(item.command);
        } catch (error) {
          // Written by a newer konsul: skipping it would make this replica differ from the others. Stop.
          if (error instanceof UnsupportedCommandError) throw new CommandTooNewError(item.index, error.message);
          results[i] = false;
          continue;
        }
        const before = touched.length;
        results[i] = this.applyOne(txn, item.index, cmd, touched);
        if (touched.length > before) kvIndex = item.index;
      }
      if (kvIndex !== this.kvIndexValue) txn.put(META_TABLE, KV_INDEX_KEY, encodeIndex(kvIndex));
      return kvIndex;
    });

    this.kvIndexValue = kvIndex;
    if (this.batchClusterVersion > this.clusterVersionValue) this.clusterVersionValue = this.batchClusterVersion;
    if (this.restoredInBatch) {
      // The tables were replaced: the caches and every waiter start over from what is stored.
      this.restoredInBatch = false;
      this.catalogBatch.clear();
      this.reset();
      for (const listener of this.restoreListeners) listener(last);
      for (const listener of this.appliedListeners) listener(last);
      return results;
    }
    for (const event of this.pendingEvents.splice(0)) this.events.push(event);
    this.coord.commit();
    this.queries.commit((fn) => this.store.read(fn));
    if (this.catalogBatch.changes.length > 0) this.catalog.commit(this.catalogBatch);
    if (this.aclChangedInBatch) {
      this.aclChangedInBatch = false;
      this.acl.load((fn) => this.store.read(fn));
    }
    this.catalogBatch.clear();
    for (const t of touched) if (t.deleted) this.rememberDelete(t.recurse, t.key, t.index);
    if (touched.length > 0 && this.kvWatchers.size > 0) this.wake(touched);
    for (const listener of this.appliedListeners) listener(last);
    return results;
  }

  /** One command inside the batch's transaction; pushes a Touch for each KV change it makes. */
  private applyOne(txn: StateWriter, index: number, cmd: Command, touched: Touch[]): ApplyResult {
    switch (cmd.type) {
      case 'kv-set': {
        const existing = txn.get(KV_TABLE, cmd.key);
        const current = existing ? decodeKv(cmd.key, existing) : undefined;
        // Consul: cas=0 sets only an absent key; cas=N only a key whose ModifyIndex is N.
        if (cmd.cas !== undefined && (cmd.cas === 0 ? current !== undefined : current?.modifyIndex !== cmd.cas)) return false;
        const createIndex = current?.createIndex ?? index;
        // api: 64-bit flags live beside the record (kv-record.ts); current.flags is the record's 32 bits here.
        writeFlags(txn, cmd.key, cmd.flags, current?.flags as number | undefined);
        txn.put(KV_TABLE, cmd.key, encodeKv(cmd.flags, createIndex, index, current?.lockIndex ?? 0, cmd.value));
        touched.push({ key: cmd.key, recurse: false, deleted: false, index });
        return true;
      }
      case 'kv-delete': {
        if (cmd.recurse) {
          // Consul's delete-tree takes no cas (?recurse wins over ?cas); nor does it here.
          const keys: Buffer[] = [];
          for (const rec of txn.scan(KV_TABLE, cmd.key === '' ? {} : { prefix: cmd.key })) keys.push(rec.key);
          for (const k of keys) txn.delete(KV_TABLE, k);
          const locks: Buffer[] = [];
          for (const rec of txn.scan(KV_LOCKS_TABLE, cmd.key === '' ? {} : { prefix: cmd.key })) locks.push(rec.key);
          for (const k of locks) txn.delete(KV_LOCKS_TABLE, k);
          const wide: Buffer[] = [];
          for (const rec of txn.scan(KV_FLAGS_TABLE, cmd.key === '' ? {} : { prefix: cmd.key })) wide.push(rec.key);
          for (const k of wide) txn.delete(KV_FLAGS_TABLE, k);
          if (keys.length > 0) touched.push({ key: cmd.key, recurse: true, deleted: true, index });
          return true;
        }
        const existing = txn.get(KV_TABLE, cmd.key);
        // Consul's delete-cas: an absent key counts as deleted; a present one must be at ModifyIndex cas.
        if (!existing) return true;
        if (cmd.cas !== undefined && decodeKv(cmd.key, existing).modifyIndex !== cmd.cas) return false;
        writeFlags(txn, cmd.key, undefined, recordFlags(existing));
        txn.delete(KV_TABLE, cmd.key);
        txn.delete(KV_LOCKS_TABLE, cmd.key);
        touched.push({ key: cmd.key, recurse: false, deleted: true, index });
        return true;
      }
      case 'member-set':
        txn.put(MEMBERS_TABLE, cmd.id, encodeMember({
          raftAddress: cmd.raftAddress, httpAddress: cmd.httpAddress, server: cmd.server, modifyIndex: index,
        }));
        forgetLeftMember(txn, cmd.id); // cli: one that joins again has not left
        return true;
      case 'member-delete':
        txn.delete(MEMBERS_TABLE, cmd.id);
        return true;
      case 'catalog': {
        const before = this.catalogBatch.changes.length;
        const ok = this.catalog.apply(txn, index, cmd.op, this.catalogBatch);
        this.coord.afterCatalog(txn, index, this.catalogBatch.changes.slice(before), this.toucher(touched, index), {
          nodes: CATALOG_NODES_TABLE, checks: CATALOG_CHECKS_TABLE,
        });
        // api: a query bound to a session the catalog change invalidated goes with it.
        this.queries.dropOrphans(txn, index);
        return ok;
      }
      case 'event-fire':
        this.pendingEvents.push({ ...cmd.event, ltime: index });
        return true;
      case 'restore':
        if (!restoreTables(txn, index, cmd.state)) return false;
        // Every key may have changed or gone: the KV index moves to this entry, as for a delete of everything.
        touched.push({ key: '', recurse: true, deleted: true, index });
        this.restoredInBatch = true;
        return true;
      // ---- coord
      case 'txn':
        return this.coord.txn(txn, index, cmd.ops, this.toucher(touched, index));
      case 'session-create':
        return this.coord.sessionCreate(txn, index, cmd.session, this.catalog);
      case 'session-destroy': {
        const ok = this.coord.sessionDestroy(txn, index, cmd.id, this.toucher(touched, index));
        this.queries.dropOrphans(txn, index);
        return ok;
      }
      case 'batch': {
        const results: boolean[] = [];
        for (const bytes of cmd.commands) {
          let sub: Command;
          try {
            sub = decodeCommand(bytes);
          } catch {
            results.push(false);
            continue;
          }
          // Only single KV writes are batched; anything else in a batch is refused the same way everywhere.
          results.push(sub.type === 'kv-set' || sub.type === 'kv-delete' ? this.applyOne(txn, index, sub, touched) : false);
        }
        this.coord.batchResults(index, results);
        return true;
      }
      // ---- ops (versioning)
      case 'cluster-version': {
        // Only ever raised: once every member spoke a version, the cluster stays there.
        const current = Math.max(this.clusterVersionValue, this.batchClusterVersion);
        if (cmd.version <= current) return false;
        const b = Buffer.allocUnsafe(2);
        b.writeUInt16BE(cmd.version, 0);
        txn.put(META_TABLE, CLUSTER_VERSION_KEY, b);
        this.batchClusterVersion = cmd.version;
        return true;
      }
      // sec
      case 'acl': {
        const ok = this.acl.apply(txn, index, cmd.op);
        if (ok) this.aclChangedInBatch = true;
        return ok;
      }
      // api branch (issue 18)
      case 'prepared-query':
        return this.queries.apply(txn, index, cmd.op);
      // ---- ops2 (autopilot configuration)
      case 'autopilot-config': {
        const current = decodeAutopilotRecord(txn.get(META_TABLE, AUTOPILOT_CONFIG_KEY));
        if (cmd.cas !== undefined && cmd.cas !== (current?.modifyIndex ?? 0)) return false;
        txn.put(META_TABLE, AUTOPILOT_CONFIG_KEY, encodeAutopilotRecord({ ...cmd.config, createIndex: current?.createIndex ?? index, modifyIndex: index }));
        return true;
      }
      // cli (issue 15): left members
      case 'member-left': {
        const b = txn.get(MEMBERS_TABLE, cmd.id);
        return applyMemberLeft(txn, index, cmd.id, cmd.at, b ? decodeMember(cmd.id, b) : undefined, MEMBERS_TABLE);
      }
      case 'member-forget':
        return forgetLeftMember(txn, cmd.id);
    }
  }

  /** ops2: the replicated autopilot configuration, or undefined while none was set (the leader's settings apply). */
  autopilotConfig(): AutopilotConfigRecord | undefined {
    return decodeAutopilotRecord(this.store.read((txn) => txn.get(META_TABLE, AUTOPILOT_CONFIG_KEY)));
  }

  /** scale: called with the applied index after each applied batch (the caches may lag a restore until its listeners ran). */
  onApplied(listener: (index: number) => void): void {
    this.appliedListeners.push(listener);
  }

  /** cli: members that left or were removed, until the leader forgets them (the reconnect timeout). */
  leftMembers(): LeftMemberRecord[] {
    return this.store.read((txn) => listLeftMembers(txn));
  }

  /** The protocol version the cluster runs at, as this replica has applied it. */
  clusterVersion(): number {
    return this.clusterVersionValue;
  }

  private toucher(touched: Touch[], index: number): (key: string, recurse: boolean, deleted: boolean) => void {
    return (key, recurse, deleted) => touched.push({ key, recurse, deleted, index });
  }

  /** Called (after the caches were reloaded) each time a restore command was applied; index: the batch's last. */
  onRestore(listener: (index: number) => void): void {
    this.restoreListeners.push(listener);
  }

  private rememberDelete(recurse: boolean, key: string, index: number): void {
    const id = (recurse ? 'r' : 'k') + key;
    // Re-insert so the map stays in index order, oldest first.
    this.recentDeletes.delete(id);
    this.recentDeletes.set(id, index);
    if (this.recentDeletes.size > RECENT_DELETES) {
      const [oldest, oldestIndex] = this.recentDeletes.entries().next().value as [string, number];
      this.recentDeletes.delete(oldest);
      // Forgetting a delete must not move any prefix's index back: raise every prefix to it.
      this.floorIndex = Math.max(this.floorIndex, oldestIndex);
    }
  }

  // ------------------------------------------------------------ reads

  kvGet(key: string): KvEntry | undefined {
    if (key === '') return undefined;
    return this.store.read((txn) => {
      const b = txn.get(KV_TABLE, key);
      return b ? withLock(txn, decodeKv(key, b)) : undefined;
    });
  }

  /** Every entry under prefix, in key order (bytewise UTF-8). */
  kvList(prefix: string): KvEntry[] {
    return this.store.read((txn) => {
      const out: KvEntry[] = [];
      for (const rec of scanKv(txn, prefix)) out.push(withFlags(txn, decodeKv(rec.key.toString('utf8'), rec.value)));
      // Locks are few: look them up by prefix rather than one by one.
      let locked: Map<string, KvLock> | undefined;
      for (const rec of txn.scan(KV_LOCKS_TABLE, prefix === '' ? {} : { prefix })) {
        const lock = decodeLock(rec.value);
        if (lock) (locked ??= new Map()).set(rec.key.toString('utf8'), lock);
      }
      if (locked) {
        for (const e of out) {
          const lock = locked.get(e.key);
          if (lock) {
            e.session = lock.session;
            e.lockToken = lock.token;
          }
        }
      }
      return out;
    });
  }

  /**
   * Consul's ?keys: every key under prefix; with a separator, a key with the
   * separator after the prefix rolls up to the text up to and including its
   * first one ('a/c/d' under 'a/' with '/' gives 'a/c/'), listed once.
   */
  kvKeys(prefix: string, separator?: string): string[] {
    return this.store.read((txn) => {
      const out: string[] = [];
      let last: string | undefined;
      for (const rec of scanKv(txn, prefix)) {
        let key = rec.key.toString('utf8');
        if (separator) {
          const at = key.indexOf(separator, prefix.length);
          if (at >= 0) key = key.slice(0, at + separator.length);
        }
        // Keys under one rolled-up name are adjacent in key order, so comparing with the last is enough.
        if (key !== last) out.push(key);
        last = key;
      }
      return out;
    });
  }

  /** X-Consul-Index for KV: the highest index of any KV write or delete, persisted; at least 1. */
  kvIndex(): number {
    return Math.max(1, this.kvIndexValue);
  }

  /**
   * The index a blocking query on `prefix` compares with: the highest
   * ModifyIndex under it, or the index of a later delete that touched it. The
   * delete history starts at start-up (or a restore) with a floor of the KV
   * index then, since earlier deletes are not recorded (no tombstones): after
   * a restart every prefix reports at least the KV index of that moment. It
   * never goes back and is never 0; for the empty prefix it is kvIndex().
   */
  kvPrefixIndex(prefix: string): number {
    if (prefix === '') return this.kvIndex();
    let max = this.floorIndex;
    this.store.read((txn) => {
      for (const rec of scanKv(txn, prefix)) {
        checkKvRecord(rec.key.toString('utf8'), rec.value);
        const modifyIndex = rec.value.readDoubleBE(KV_MODIFY_AT);
        if (modifyIndex > max) max = modifyIndex;
      }
    });
    for (const [id, index] of this.recentDeletes) {
      if (index <= max) continue;
      const key = id.slice(1);
      // A deleted key touched the prefixes it starts with; a deleted prefix also every prefix under it.
      if (key.startsWith(prefix) || (id[0] === 'r' && prefix.startsWith(key))) max = index;
    }
    return Math.max(1, max);
  }

  // ---- coord reads
  /** A read-only transaction against this replica as it is now. */
  readTxn(ops: TxnOp[]): TxnOutcome {
    // Read-only ops write nothing, so a read transaction is all they need.
    return this.store.read((txn) => applyTxn(txn as unknown as StateWriter, 0, ops, { keys: [], trees: [] }));
  }

  session(id: string): SessionRecord | undefined {
    return this.store.read((txn) => readSession(txn, id));
  }

  /** Every session, or the sessions of one node (case-insensitive, as node names are). */
  sessions(node?: string): SessionRecord[] {
    const all = this.store.read((txn) => listSessions(txn));
    if (node === undefined) return all;
    const lower = node.toLowerCase();
    return all.filter((s) => s.node.toLowerCase() === lower);
  }

  members(): MemberRecord[] {
    return this.store.read((txn) => {
      const out: MemberRecord[] = [];
      for (const rec of txn.scan(MEMBERS_TABLE)) out.push(decodeMember(rec.key.toString('utf8'), rec.value));
      return out;
    });
  }

  member(id: string): MemberRecord | undefined {
    if (id === '' || Buffer.byteLength(id, 'utf8') > MAX_KEY_BYTES) return undefined;
    const b = this.store.read((txn) => txn.get(MEMBERS_TABLE, id));
    return b ? decodeMember(id, b) : undefined;
  }

  // ------------------------------------------------------------ blocking queries

  /**
   * Resolves with kvPrefixIndex(prefix) once it is above afterIndex, or when
   * timeoutMs passes or `signal` aborts (with the index then). Waiters are
   * kept by prefix, so an apply looks only at the prefixes its changes touched.
   */
  waitKv(prefix: string, afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.kvWatchers.wait(prefix, () => this.kvPrefixIndex(prefix), afterIndex, timeoutMs, signal);
  }

  /** How many blocking queries wait now (for stats and tests). */
  get waiting(): number {
    return this.kvWatchers.size;
  }

  private wake(touched: readonly Touch[]): void {
    // The highest touching index per watched prefix; then each prefix's index is read once.
    const hits = new Map<string, number>();
    const hit = (prefix: string, index: number): void => {
      if (index > (hits.get(prefix) ?? 0)) hits.set(prefix, index);
    };
    for (const t of touched) {
      if (t.recurse) {
        // A deleted prefix touches the prefixes above it and the ones under it.
        for (const prefix of this.kvWatchers.topics()) if (prefix.startsWith(t.key) || t.key.startsWith(prefix)) hit(prefix, t.index);
      } else if (this.kvWatchers.topicCount <= t.key.length + 1) {
        for (const prefix of this.kvWatchers.topics()) if (t.key.startsWith(prefix)) hit(prefix, t.index);
      } else {
        // Many distinct prefixes: look up each prefix of the key instead.
        for (let n = 0; n <= t.key.length; n++) {
          const prefix = t.key.slice(0, n);
          if (this.kvWatchers.has(prefix)) hit(prefix, t.index);
        }
      }
    }
    for (const [prefix, index] of hits) this.kvWatchers.notify(prefix, index, () => this.kvPrefixIndex(prefix));
  }

  /** After a snapshot restore replaced the store: reload the caches, start a new delete history, wake every watcher. */
  reset(): void {
    this.loadCaches();
    this.catalog.wakeAll();
    this.store.read((txn) => this.coord.reset(txn));
    this.store.read((txn) => this.queries.reset(txn));
    this.kvWatchers.finishAll((prefix) => this.kvPrefixIndex(prefix));
  }
}

// ------------------------------------------------------------ restore

/** The tables a restore replaces; members (this cluster's) and meta (this replica's bookkeeping) stay. */
export const RESTORED_TABLES: readonly string[] = [
  KV_TABLE, KV_LOCKS_TABLE, SESSIONS_TABLE, CATALOG_NODES_TABLE, CATALOG_SERVICES_TABLE, CATALOG_CHECKS_TABLE, CATALOG_INDEX_TABLE,
  PREPARED_QUERIES_TABLE, KV_FLAGS_TABLE,
];

/** Record fields a catalog record must have as strings, per table (what Catalog.load relies on). */
const CATALOG_RECORD_FIELDS: Readonly<Record<string, readonly string[]>> = {
  [CATALOG_NODES_TABLE]: ['node', 'id', 'address'],
  [CATALOG_SERVICES_TABLE]: ['node', 'id', 'service'],
  [CATALOG_CHECKS_TABLE]: ['node', 'checkId', 'status', 'serviceId', 'serviceName'],
};

/**
 * Why a state stream cannot be restored, or undefined: it must decode (CRC,
 * structure) and its KV and catalog records must be well formed. The proposer
 * asks first; every replica checks again as it applies, with the same answer.
 */
export function restoreProblem(state: Uint8Array): string | undefined {
  const r = decodeRestore(state, 0);
  return typeof r === 'string' ? r : undefined;
}

type Rows = Map<string, Array<[Buffer, Buffer]>>;

/** The rows to write, indexes rewritten to `index`; or the problem. */
function decodeRestore(state: Uint8Array, index: number): Rows | string {
  const rows: Rows = new Map([...RESTORED_TABLES, ACL_TABLE].map((t) => [t, []]));
  let current: Array<[Buffer, Buffer]> | undefined;
  const decoder = new SnapshotDecoder({
    table(name) {
      current = rows.get(name);
    },
    record(key, value) {
      current?.push([Buffer.from(key), Buffer.from(value)]);
    },
  });
  try {
    decoder.push(state);
    decoder.end();
  } catch (error) {
    return (error as Error).message;
  }
  for (const [key, value] of rows.get(KV_TABLE)!) {
    if (key.length === 0 || key.length > MAX_KEY_BYTES || !isUtf8(key)) return 'a KV key is empty, too long or not UTF-8';
    if (value.length < KV_HEADER) return `KV record ${JSON.stringify(key.toString('utf8'))} is ${value.length} bytes`;
    // Indexes from another cluster mean nothing here; the restore's own index keeps every index moving forward.
    value.writeDoubleBE(index, 4);
    value.writeDoubleBE(index, KV_MODIFY_AT);
  }
  const sessions = rows.get(SESSIONS_TABLE)!;
  for (let i = 0; i < sessions.length; i++) {
    const [key, value] = sessions[i]!;
    let session: SessionRecord;
    try {
      session = JSON.parse(value.toString('utf8')) as SessionRecord;
    } catch {
      return 'a session record is not JSON';
    }
    const problem = sessionInputProblem(session) ?? (session.id === key.toString('utf8') ? undefined : 'its key is not its id');
    if (problem) return `a session record is bad: ${problem}`;
    // Like every restored record: the restore's index, so indexes only move forward.
    session.createIndex = index;
    session.modifyIndex = index;
    sessions[i] = [key, encodeSession(session)];
  }
  // api: a key's 64-bit flags; a row for a key the snapshot lacks would never be read or removed.
  const kvKeys = new Set(rows.get(KV_TABLE)!.map(([key]) => key.toString('utf8')));
  for (const [key, value] of rows.get(KV_FLAGS_TABLE)!) {
    if (value.length !== 8 || value.readBigUInt64BE(0) <= 0xffff_ffffn || !kvKeys.has(key.toString('utf8'))) return 'a KV flags record is bad';
  }
  for (const [key, value] of rows.get(KV_LOCKS_TABLE)!) {
    if (!decodeLock(value) || !isUtf8(key)) return 'a KV lock record is bad';
  }
  for (const [table, fields] of Object.entries(CATALOG_RECORD_FIELDS)) {
    const list = rows.get(table)!;
    for (let i = 0; i < list.length; i++) {
      const [key, value] = list[i]!;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(value.toString('utf8')) as Record<string, unknown>;
      } catch {
        return `a ${table} record is not JSON`;
      }
      if (typeof record !== 'object' || record === null || fields.some((f) => typeof record[f] !== 'string')) {
        return `a ${table} record lacks ${fields.join(', ')}`;
      }
      record.createIndex = index;
      record.modifyIndex = index;
      list[i] = [key, Buffer.from(JSON.stringify(record), 'utf8')];
    }
  }
  for (const [, value] of rows.get(CATALOG_INDEX_TABLE)!) if (value.length !== 8) return 'a catalog index record is not 8 bytes';
  // sec: ACL records (restored as in Consul; see acl-restore.ts): tokens and policies take the restore's index.
  const acl = rows.get(ACL_TABLE)!;
  for (let i = 0; i < acl.length; i++) {
    const [key, value] = acl[i]!;
    const k = key.toString('utf8');
    if (!/^[tpmr]\//.test(k) || !isUtf8(key)) return 'an ACL record has an unknown key';
    let record: unknown;
    try {
      record = JSON.parse(value.toString('utf8'));
    } catch {
      return 'an ACL record is not JSON';
    }
    if (k.startsWith('m/')) continue;
    if (typeof record !== 'object' || record === null) return 'an ACL record is not an object';
    const problem = aclRecordProblem(k.startsWith('t/') ? 'token' : k.startsWith('p/') ? 'policy' : 'role', record);
    if (problem) return `an ACL record is bad: ${problem}`;
    acl[i] = [key, Buffer.from(JSON.stringify({ ...record, createIndex: index, modifyIndex: index }), 'utf8')];
  }
  // api: prepared queries, checked as a create would check them, at the restore's index.
  const queries = rows.get(PREPARED_QUERIES_TABLE)!;
  for (let i = 0; i < queries.length; i++) {
    const [key, value] = queries[i]!;
    const q = decodeQuery(value);
    if (!q || q.id !== key.toString('utf8')) return 'a prepared query record is bad';
    q.createIndex = index;
    q.modifyIndex = index;
    queries[i] = [key, Buffer.from(JSON.stringify(q), 'utf8')];
  }
  return rows;
}

/** Replaces the restored tables inside the apply's transaction; false (nothing written) for a bad stream. */
function restoreTables(txn: StateWriter, index: number, state: Uint8Array): boolean {
  const rows = decodeRestore(state, index);
  if (typeof rows === 'string') return false;
  // Every topic any query may watch (this cluster's and the snapshot's) moves to the restore's index.
  const topics = new Set<string>(['catalog']);
  for (const rec of txn.scan(CATALOG_INDEX_TABLE)) topics.add(rec.key.toString('utf8'));
  for (const [key] of rows.get(CATALOG_INDEX_TABLE)!) topics.add(key.toString('utf8'));
  for (const table of RESTORED_TABLES) {
    const keys: Buffer[] = [];
    for (const rec of txn.scan(table)) keys.push(Buffer.from(rec.key));
    for (const k of keys) txn.delete(table, k);
    if (table === CATALOG_INDEX_TABLE) continue;
    for (const [key, value] of rows.get(table)!) txn.put(table, key, value);
  }
  // sec: the snapshot's ACL tables replace the cluster's only when it holds any (else the cluster's stay).
  const acl = rows.get(ACL_TABLE)!;
  if (acl.length > 0) {
    const keys: Buffer[] = [];
    for (const rec of txn.scan(ACL_TABLE)) keys.push(Buffer.from(rec.key));
    for (const k of keys) txn.delete(ACL_TABLE, k);
    for (const [key, value] of acl) txn.put(ACL_TABLE, key, value);
  }
  const at = encodeIndex(index);
  for (const topic of topics) txn.put(CATALOG_INDEX_TABLE, topic, at);
  // Sessions were replaced too: their blocking queries must see the index move.
  txn.put(META_TABLE, SESSION_INDEX_KEY, at);
  // api: and prepared queries; one bound to a session the snapshot does not hold goes, as that session's would.
  txn.put(META_TABLE, QUERY_INDEX_KEY, at);
  const orphans: Buffer[] = [];
  for (const rec of txn.scan(PREPARED_QUERIES_TABLE)) {
    const q = decodeQuery(rec.value);
    if (q && q.session !== '' && !txn.get(SESSIONS_TABLE, q.session)) orphans.push(Buffer.from(rec.key));
  }
  for (const k of orphans) txn.delete(PREPARED_QUERIES_TABLE, k);
  return true;
}

function scanKv(txn: StateReader, prefix: string): IterableIterator<{ key: Buffer; value: Buffer }> {
  return txn.scan(KV_TABLE, prefix === '' ? {} : { prefix });
}
