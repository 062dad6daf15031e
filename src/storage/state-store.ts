// The state machine's tables on LMDB: named tables written together with the
// applied index in one transaction, local reads, and snapshots streamed from a
// read transaction while writes go on.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { appliedIndexVersion, decodeAppliedIndex, encodeAppliedIndex } from './codec.js';
import {
  DataDirTooNewError, SnapshotCorruptionError, StorageBusyError, StorageCorruptionError, StorageClosedError, StorageFullError, StorageUsageError,
} from './errors.js';
import { SyncScheduler, type DurabilityEvents } from './group-commit.js';
import {
  MAX_KEY_BYTES, MDB_KEYEXIST, MDB_MAP_FULL, MDB_NOTFOUND, growMap, lmdbCode, openCursor, openEnv,
  type LmdbCursor, type LmdbDbi, type LmdbEnv, type LmdbTxn, type OpenedEnv,
} from './lmdb.js';
import { SnapshotDecoder, SnapshotEncoder } from './snapshot-format.js';

/** A key: bytes, or a string stored as UTF-8. LMDB orders keys bytewise. */
export type StateKey = Uint8Array | string;

export interface StateRecord {
  key: Buffer;
  value: Buffer;
}

/** Which records a scan visits, in key order. */
export interface ScanRange {
  /** Only keys that start with these bytes. */
  prefix?: StateKey;
  /** Keys >= start. */
  start?: StateKey;
  /** Keys < end. */
  end?: StateKey;
  limit?: number;
}

/** Reads inside one transaction; everything it returns is a copy that outlives it. */
export interface StateReader {
  get(table: string, key: StateKey): Buffer | undefined;
  /** Lazily iterates; use it up (or break out of the loop) before the transaction ends. */
  scan(table: string, range?: ScanRange): IterableIterator<StateRecord>;
}

export interface StateWriter extends StateReader {
  put(table: string, key: StateKey, value: Uint8Array): void;
  /** Whether the key existed. */
  delete(table: string, key: StateKey): boolean;
}

/** A consistent image of the store at `appliedIndex`, read as checksummed chunks. */
export interface StateSnapshot extends AsyncIterable<Buffer> {
  readonly appliedIndex: number;
  /** Ends the read transaction; safe to call twice. Iterating to the end (or breaking out) does it too. */
  close(): void;
}

export interface RestoredSnapshot {
  appliedIndex: number;
  records: number;
}

/**
 * The state machine's store. Kept small so the engine under it can change:
 * tables of byte keys and values, an applied index that moves with the writes.
 */
export interface StateStore {
  readonly tables: readonly string[];
  appliedIndex(): number;
  /**
   * Run `write` in one write transaction and commit it with `appliedIndex`
   * (which must grow). Commits at once, without fsync; see sync(). `write` runs
   * again after the map had to grow, so it must only touch the txn (no side effects).
   */
  applyBatch<T>(appliedIndex: number, write: (txn: StateWriter) => T): T;
  read<T>(fn: (txn: StateReader) => T): T;
  /** fsync everything committed so far (off the event loop); resolves to the applied index now durable. */
  sync(): Promise<number>;
  snapshot(options?: { chunkBytes?: number }): StateSnapshot;
  /** Replace every table's contents with a snapshot stream, atomically, and fsync it. */
  restoreSnapshot(stream: AsyncIterable<Uint8Array>): Promise<RestoredSnapshot>;
  close(): Promise<void>;
}

export interface LmdbStateStoreOptions {
  /** The state machine's tables; fixed at open. Names starting with "__" are reserved. */
  tables: readonly string[];
  /** Initial map size; sparse, so a large one costs address space, not disk. Default 16 GiB. */
  mapSize?: number;
  /** The map doubles toward this when the data passes half of it. Default 1 TiB. */
  maxMapSize?: number;
  events?: DurabilityEvents;
  /**
   * Bring an older data format up to DATA_FORMAT at open (default true). With
   * false, an older store opens untouched and says so in formatVersion, so the
   * caller can keep a copy first (see openStorage).
   */
  migrate?: boolean;
}

/**
 * The data dir format this konsul writes, recorded in the store's meta table
 * (key "format", u16). Format 1 is the first release's, which recorded none;
 * format 2 records it and seals the applied index with record version 2 (which
 * the first release refuses, so it cannot run on a migrated data dir).
 * Format 3 (api, issue 18): KV flags are 64 bits, the ones above 2^32 - 1 held
 * beside their record (state/kv-record.ts); every older record reads as it
 * did, so the migration only records the format, and a konsul that knows only
 * format 2 refuses the dir instead of reading such flags cut to 32 bits.
 */
export const DATA_FORMAT = 3;

const GiB = 1024 ** 3;
const META_TABLE = '__meta';
const APPLIED_KEY = Buffer.from('appliedIndex');
const FORMAT_KEY = Buffer.from('format');

export class LmdbStateStore implements StateStore {
  readonly tables: readonly string[];
  private readonly opened: OpenedEnv;
  private readonly env: LmdbEnv;
  private readonly dbis = new Map<string, LmdbDbi>();
  private readonly metaDbi: LmdbDbi;
  private readonly syncer: SyncScheduler;
  private readonly maxMapSize: number;
  private readonly snapshots = new Set<LmdbStateSnapshot>();
  private applied: number;
  private format = 0;
  private restoring: Promise<void> | undefined;
  private closed = false;

  static open(path: string, options: LmdbStateStoreOptions): LmdbStateStore {
    return new LmdbStateStore(path, options);
  }

  /** The data format of the store at `path` (see formatVersion), read without keeping it open; 0 when there is none. */
  static peekFormat(path: string): number {
    if (!existsSync(join(path, 'data.mdb'))) return 0;
    const opened = openEnv(path, 1024 * 1024, 1);
    try {
      const txn = opened.env.beginTxn({ readOnly: true });
      try {
        // The named table is only opened (create would need a write transaction).
        const dbi = opened.env.openDbi({ name: META_TABLE, create: false, keyIsBuffer: true, txn });
        return readFormat(txn, dbi);
      } catch (error) {
        if (lmdbCode(error) === MDB_NOTFOUND) return 0;
        throw error;
      } finally {
        txn.abort();
      }
    } finally {
      opened.release();
    }
  }

  private constructor(path: string, options: LmdbStateStoreOptions) {
    const names = [...new Set(options.tables)].sort();
    if (names.length !== options.tables.length) throw new StorageUsageError('table names repeat');
    for (const name of names) {
      if (name.length === 0 || name.startsWith('__') || Buffer.byteLength(name) > 255) {
        throw new StorageUsageError(`bad table name ${JSON.stringify(name)} (non-empty, at most 255 bytes, no "__" prefix)`);
      }
    }
    // Sorted so snapshots list tables in one order whatever order they were declared in.
    this.tables = names;
    const mapSize = options.mapSize ?? 16 * GiB;
    this.maxMapSize = Math.max(options.maxMapSize ?? 1024 * GiB, mapSize);
    this.opened = openEnv(path, mapSize, names.length + 1);
    this.env = this.opened.env;
    try {
      this.metaDbi = this.env.openDbi({ name: META_TABLE, create: true, keyIsBuffer: true });
      for (const name of names) this.dbis.set(name, this.env.openDbi({ name, create: true, keyIsBuffer: true }));
      const txn = this.env.beginTxn({ readOnly: true });
      try {
        this.format = readFormat(txn, this.metaDbi);
        if (this.format > DATA_FORMAT) throw new DataDirTooNewError(path, this.format, DATA_FORMAT);
        this.applied = readApplied(txn, this.metaDbi);
      } finally {
        txn.abort();
      }
      // A new store has nothing to keep a copy of: stamp it at once.
      if (this.format < DATA_FORMAT && (this.format === 0 || (options.migrate ?? true))) this.migrate();
    } catch (error) {
      this.opened.release();
      throw error;
    }
    this.syncer = new SyncScheduler((done) => this.env.sync(done), options.events);
  }

  appliedIndex(): number {
    this.checkOpen();
    return this.applied;
  }

  /** The data format the store is in: 0 for a new, empty store, 1 for the first release's, DATA_FORMAT once stamped. */
  get formatVersion(): number {
    return this.format;
  }

  /**
   * Format 1 -> 2, in one write transaction (all or nothing): record the
   * format, and seal the applied index again with its new record version.
   */
  private migrate(): void {
    const txn = this.env.beginTxn();
    try {
      const format = Buffer.allocUnsafe(2);
      format.writeUInt16BE(DATA_FORMAT, 0);
      txn.putBinary(this.metaDbi, FORMAT_KEY, format);
      const applied = txn.getBinary(this.metaDbi, APPLIED_KEY);
      if (applied) txn.putBinary(this.metaDbi, APPLIED_KEY, encodeAppliedIndex(decodeAppliedIndex(applied)));
      txn.commit();
    } catch (error) {
      try { txn.abort(); } catch { /* a failed commit already freed it */ }
      throw error;
    }
    this.format = DATA_FORMAT;
  }

  applyBatch<T>(appliedIndex: number, write: (txn: StateWriter) => T): T {
    this.checkOpen();
    if (this.restoring) throw new StorageBusyError('a snapshot restore is in progress');
    if (!Number.isSafeInteger(appliedIndex) || appliedIndex <= this.applied) {
      throw new StorageUsageError(`applied index ${appliedIndex} does not follow ${this.applied}`);
    }
    for (;;) {
      const txn = this.env.beginTxn();
      const scope = new TxnScope(this, txn, true);
      let result: T;
      try {
        result = write(scope);
        // A write that failed inside LMDB poisons the txn even if `write` caught it.
        if (scope.lmdbFailure) throw scope.lmdbFailure;
        scope.end();
        txn.putBinary(this.metaDbi, APPLIED_KEY, encodeAppliedIndex(appliedIndex));
        txn.commit();
      } catch (error) {
        scope.end();
        try { txn.abort(); } catch { /* a failed commit already freed it */ }
        if (lmdbCode(error) === MDB_MAP_FULL) {
          if (this.canResize() && growMap(this.env, this.maxMapSize, true)) continue;
          throw new StorageFullError(
            this.snapshots.size > 0
              ? 'state store: map is full and cannot grow while a snapshot is being read; retry after it ends'
              : `state store: map is full at its maximum of ${this.maxMapSize} bytes`,
          );
        }
        throw error;
      }
      this.applied = appliedIndex;
      if (this.canResize()) growMap(this.env, this.maxMapSize, false);
      return result;
    }
  }

  read<T>(fn: (txn: StateReader) => T): T {
    this.checkOpen();
    const txn = this.env.beginTxn({ readOnly: true });
    const scope = new TxnScope(this, txn, false);
    try {
      return fn(scope);
    } finally {
      scope.end();
      txn.abort();
    }
  }

  async sync(): Promise<number> {
    this.checkOpen();
    const applied = this.applied;
    await this.syncer.request();
    return applied;
  }

  snapshot(options: { chunkBytes?: number } = {}): StateSnapshot {
    this.checkOpen();
    const chunkBytes = options.chunkBytes ?? 1024 * 1024;
    if (!(chunkBytes > 0)) throw new StorageUsageError(`chunkBytes must be positive, got ${chunkBytes}`);
    const txn = this.env.beginTxn({ readOnly: true });
    let applied: number;
    try {
      applied = readApplied(txn, this.metaDbi);
    } catch (error) {
      txn.abort();
      throw error;
    }
    const snapshot = new LmdbStateSnapshot(this, txn, applied, chunkBytes);
    this.snapshots.add(snapshot);
    return snapshot;
  }

  async restoreSnapshot(stream: AsyncIterable<Uint8Array>): Promise<RestoredSnapshot> {
    this.checkOpen();
    if (this.restoring) throw new StorageBusyError('a snapshot restore is already in progress');
    let finished!: () => void;
    this.restoring = new Promise((resolve) => { finished = resolve; });
    try {
      return await this.restoreInTxn(stream);
    } finally {
      this.restoring = undefined;
      finished();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A restore notices `closed` at its next chunk and aborts; the env must outlive it and any fsync.
    await this.restoring;
    for (const snapshot of [...this.snapshots]) snapshot.close();
    await this.syncer.idle();
    this.opened.release();
  }

  // ---- for TxnScope and LmdbStateSnapshot ----

  /** @internal */
  dbi(table: string): LmdbDbi {
    const dbi = this.dbis.get(table);
    if (!dbi) throw new StorageUsageError(`no table ${JSON.stringify(table)} (tables: ${this.tables.join(', ')})`);
    return dbi;
  }

  /** @internal */
  snapshotEnded(snapshot: LmdbStateSnapshot): void {
    this.snapshots.delete(snapshot);
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageClosedError('state store');
  }

  /** env.resize() needs this process to hold no transaction on the env. */
  private canResize(): boolean {
    return this.snapshots.size === 0 && this.restoring === undefined;
  }

  private async restoreInTxn(stream: AsyncIterable<Uint8Array>): Promise<RestoredSnapshot> {
    // One write txn across the whole stream: LMDB commits it all or nothing, so
    // a stream that breaks off or fails its checksum leaves the old state intact.
    const txn = this.env.beginTxn();
    let commitAttempted = false;
    let result: RestoredSnapshot;
    try {
      for (const dbi of this.dbis.values()) dbi.drop({ txn, justFreePages: true });
      let current: LmdbDbi | undefined;
      let currentName = '';
      const decoder = new SnapshotDecoder({
        table: (name) => {
          current = this.dbis.get(name);
          currentName = name;
          if (!current) throw new SnapshotCorruptionError(`table ${JSON.stringify(name)} is not one of this store's tables`);
        },
        record: (key, value) => {
          // LMDB would refuse such a key with a bare MDB_BAD_VALSIZE; say what is wrong with the stream.
          if (key.length === 0 || key.length > MAX_KEY_BYTES) {
            throw new SnapshotCorruptionError(`a ${key.length}-byte key in table ${currentName} (keys are 1 to ${MAX_KEY_BYTES} bytes)`);
          }
          try {
            // The snapshot lists each table in key order, and the table was just emptied.
            txn.putBinary(current!, key, value, { append: true });
          } catch (error) {
            if (lmdbCode(error) === MDB_KEYEXIST) {
              throw new SnapshotCorruptionError(`keys out of order in table ${currentName}`);
            }
            throw error;
          }
        },
      });
      for await (const chunk of stream) {
        if (this.closed) throw new StorageClosedError('state store');
        decoder.push(chunk);
      }
      const decoded = decoder.end();
      txn.putBinary(this.metaDbi, APPLIED_KEY, encodeAppliedIndex(decoded.appliedIndex));
      // A failed commit frees the txn itself; abort() after it would throw.
      commitAttempted = true;
      txn.commit();
      this.applied = decoded.appliedIndex;
      result = { appliedIndex: decoded.appliedIndex, records: decoded.records };
    } catch (error) {
      if (!commitAttempted) txn.abort();
      if (lmdbCode(error) === MDB_MAP_FULL) {
        const grew = this.snapshots.size === 0 && growMap(this.env, this.maxMapSize, true);
        throw new StorageFullError(
          grew ? 'state store: map was full during restore; it has grown, retry the restore'
            : `state store: map is full during restore (maximum ${this.maxMapSize} bytes)`,
        );
      }
      throw error;
    }
    await this.syncer.request();
    return result;
  }
}

/** One transaction's reader/writer. It closes the cursors its scans left open before the txn ends. */
class TxnScope implements StateWriter {
  private readonly cursors = new Set<LmdbCursor>();
  private ended = false;
  lmdbFailure: Error | undefined;

  constructor(
    private readonly store: LmdbStateStore,
    private readonly txn: LmdbTxn,
    private readonly writable: boolean,
  ) {}

  get(table: string, key: StateKey): Buffer | undefined {
    this.checkLive();
    return this.txn.getBinary(this.store.dbi(table), keyBuffer(key)) ?? undefined;
  }

  *scan(table: string, range: ScanRange = {}): IterableIterator<StateRecord> {
    this.checkLive();
    const dbi = this.store.dbi(table);
    const prefix = range.prefix === undefined ? undefined : toBuffer(range.prefix);
    const end = range.end === undefined ? undefined : toBuffer(range.end);
    let start = range.start === undefined ? undefined : toBuffer(range.start);
    if (prefix && (!start || Buffer.compare(prefix, start) > 0)) start = prefix;
    const limit = range.limit ?? Infinity;
    if (limit <= 0) return;
    const cursor = openCursor(this.txn, dbi);
    this.cursors.add(cursor);
    try {
      let count = 0;
      for (let key = start && start.length > 0 ? cursor.goToRange(start) : cursor.goToFirst(); key !== null; key = cursor.goToNext()) {
        if (prefix && !startsWith(key, prefix)) return;
        if (end && Buffer.compare(key, end) >= 0) return;
        yield { key, value: cursor.getCurrentBinary()! };
        if (this.ended) throw new StorageUsageError('a scan was resumed after its transaction ended');
        if (++count >= limit) return;
      }
    } finally {
      if (this.cursors.delete(cursor)) cursor.close();
    }
  }

  put(table: string, key: StateKey, value: Uint8Array): void {
    this.checkWritable();
    const dbi = this.store.dbi(table);
    const k = keyBuffer(key);
    this.guard(() => this.txn.putBinary(dbi, k, toBuffer(value)));
  }

  delete(table: string, key: StateKey): boolean {
    this.checkWritable();
    const dbi = this.store.dbi(table);
    const k = keyBuffer(key);
    let existed = true;
    this.guard(() => {
      try {
        this.txn.del(dbi, k);
      } catch (error) {
        if (lmdbCode(error) !== MDB_NOTFOUND) throw error;
        existed = false;
      }
    });
    return existed;
  }

  end(): void {
    // In a write txn LMDB frees cursors at commit; closing one after that (as GC
    // of a forgotten cursor would) is a double free. Close them all now.
    for (const cursor of this.cursors) cursor.close();
    this.cursors.clear();
    this.ended = true;
  }

  private guard(op: () => void): void {
    try {
      op();
    } catch (error) {
      if (lmdbCode(error) !== undefined) this.lmdbFailure ??= error as Error;
      throw error;
    }
  }

  private checkLive(): void {
    if (this.ended) throw new StorageUsageError('the transaction has ended');
  }

  private checkWritable(): void {
    this.checkLive();
    if (!this.writable) throw new StorageUsageError('read() is read-only; write in applyBatch()');
  }
}

class LmdbStateSnapshot implements StateSnapshot {
  private txn: LmdbTxn | undefined;
  private cursor: LmdbCursor | undefined;
  private started = false;

  constructor(
    private readonly store: LmdbStateStore,
    txn: LmdbTxn,
    readonly appliedIndex: number,
    private readonly chunkBytes: number,
  ) {
    this.txn = txn;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.started) throw new StorageUsageError('a state snapshot can be read once');
    this.started = true;
    return this.chunks();
  }

  close(): void {
    if (!this.txn) return;
    this.cursor?.close();
    this.cursor = undefined;
    this.txn.abort();
    this.txn = undefined;
    this.store.snapshotEnded(this);
  }

  private async *chunks(): AsyncGenerator<Buffer> {
    try {
      // Empty tables are left out. A restore empties every table before it fills the ones the stream
      // names, so one left out comes back empty all the same; and a node of an older release, which
      // knows fewer tables and refuses a stream naming one it lacks, can install the snapshot of a
      // cluster that has not used the newer tables yet (a rolling upgrade, still at protocol 1).
      const tables = this.store.tables.filter((table) => {
        const cursor = openCursor(this.live(), this.store.dbi(table));
        try {
          return cursor.goToFirst() !== null;
        } finally {
          cursor.close();
        }
      });
      const encoder = new SnapshotEncoder(this.appliedIndex, tables.length, Math.min(this.chunkBytes * 2, 4 << 20));
      for (const table of tables) {
        encoder.table(table);
        const cursor = openCursor(this.live(), this.store.dbi(table));
        this.cursor = cursor;
        for (let key = cursor.goToFirst(); key !== null; key = cursor.goToNext()) {
          encoder.record(key, cursor.getCurrentBinary()!);
          if (encoder.buffered >= this.chunkBytes) {
            yield encoder.take();
            // Let the loop run (applies, I/O) before the next chunk; the read txn keeps our view fixed.
            await new Promise<void>((resolve) => setImmediate(resolve));
            this.live();
          }
        }
        this.cursor = undefined;
        cursor.close();
      }
      yield encoder.finish();
    } finally {
      this.close();
    }
  }

  private live(): LmdbTxn {
    if (!this.txn) {
      throw this.store.isClosed ? new StorageClosedError('state store') : new StorageUsageError('the snapshot was closed');
    }
    return this.txn;
  }
}

/** The recorded format; else 1 when the first release's applied index is there, 0 for an empty store. */
function readFormat(txn: LmdbTxn, metaDbi: LmdbDbi): number {
  const stored = txn.getBinary(metaDbi, FORMAT_KEY);
  if (stored) {
    if (stored.length !== 2) throw new StorageCorruptionError('format', `${stored.length} bytes, expected 2`);
    return stored.readUInt16BE(0);
  }
  const applied = txn.getBinary(metaDbi, APPLIED_KEY);
  if (!applied) return 0;
  const version = appliedIndexVersion(applied);
  // A newer konsul's applied index without a format record: not ours to read.
  return version <= 1 ? 1 : version;
}

function readApplied(txn: LmdbTxn, metaDbi: LmdbDbi): number {
  const buf = txn.getBinary(metaDbi, APPLIED_KEY);
  return buf ? decodeAppliedIndex(buf) : 0;
}

function toBuffer(bytes: StateKey): Buffer {
  if (typeof bytes === 'string') return Buffer.from(bytes, 'utf8');
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function keyBuffer(key: StateKey): Buffer {
  const buf = toBuffer(key);
  if (buf.length === 0 || buf.length > MAX_KEY_BYTES) {
    throw new StorageUsageError(`a key must be 1 to ${MAX_KEY_BYTES} bytes, got ${buf.length}`);
  }
  return buf;
}

function startsWith(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
