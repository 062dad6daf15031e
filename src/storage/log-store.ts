// The durable Raft log on LMDB: entries keyed by big-endian index, the hard
// state and the last snapshot's meta, all written through group commit.

import type { Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.js';
import {
  decodeEntry, decodeHardState, decodeSnapshotMeta, encodeEntry, encodeHardState, encodeSnapshotMeta,
} from './codec.js';
import { StorageClosedError, StorageCorruptionError, StorageFullError, StorageUsageError } from './errors.js';
import { GroupCommitter, type DurabilityEvents, type DurabilityStats } from './group-commit.js';
import {
  MDB_MAP_FULL, growMap, indexKey, keyIndex, lmdbCode, openCursor, openEnv,
  type LmdbCursor, type LmdbDbi, type LmdbEnv, type LmdbTxn, type OpenedEnv,
} from './lmdb.js';

/**
 * TEST ONLY (ops2): KONSUL_UNSAFE_FOR_TESTS=ack-before-fsync (src/agent/unsafe.ts, which checks the value)
 * makes every log write resolve before its fsync has finished (the fsync still follows at once): the broken
 * variant "acknowledges before durable" that the fault suite's power-loss fault must catch. Never in production.
 */
const ACK_BEFORE_FSYNC = process.env.KONSUL_UNSAFE_FOR_TESTS === 'ack-before-fsync';

/** One Ready's worth of writes, in the order the core asks for them. */
export interface PersistBatch {
  /** A snapshot received from the leader: it replaces the whole stored log. Only its meta is kept here. */
  snapshot?: Pick<Snapshot, 'meta'>;
  /** Appended; they replace any stored entries at or after entries[0].index. */
  entries?: readonly Entry[];
  hardState?: HardState;
}

/** What a restarting node needs to rebuild its Raft core. */
export interface LoadedLog {
  /** undefined on a fresh data dir. */
  hardState: HardState | undefined;
  /** undefined until a snapshot was taken or installed. */
  snapshotMeta: SnapshotMeta | undefined;
  /** Every entry after the snapshot, contiguous from snapshotMeta.index + 1, checksums verified. */
  entries: Entry[];
}

/**
 * The Raft log store. Writes resolve only once fsynced; writes issued in one
 * event-loop turn share one transaction and one fsync. Reads see writes once
 * their group has committed (before the fsync).
 */
export interface LogStore {
  /**
   * Resolves once the batch is durable. With `{ sync: false }`, once committed:
   * the next durable write's fsync (or close()) covers it; for a batch that
   * only moves the commit index, which nothing waits on.
   */
  persist(batch: PersistBatch, options?: { sync?: boolean }): Promise<void>;
  append(entries: readonly Entry[]): Promise<void>;
  setHardState(hardState: HardState): Promise<void>;
  /** Record a snapshot this node took; entries stay until compact(). */
  setSnapshotMeta(meta: SnapshotMeta): Promise<void>;
  /** Delete stored entries with index <= upToIndex, which must be covered by the snapshot. */
  compact(upToIndex: number): Promise<void>;
  load(): LoadedLog;
  /** The first stored entry's index; snapshot index + 1 when none is stored. */
  firstIndex(): number;
  /** The last stored entry's index; the snapshot's index when none is stored after it. */
  lastIndex(): number;
  /** Entries with lo <= index < hi, checksums verified. */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** The term at `index`: a stored entry's or the snapshot's; undefined if neither. */
  term(index: number): number | undefined;
  stats(): DurabilityStats;
  close(): Promise<void>;
}

export interface LmdbLogStoreOptions {
  /** Initial map size; LMDB maps sparsely, so a large one costs address space, not disk. Default 4 GiB. */
  mapSize?: number;
  /** The map doubles toward this when the data passes half of it. Default 256 GiB. */
  maxMapSize?: number;
  events?: DurabilityEvents;
}

const GiB = 1024 ** 3;
const META_HARD_STATE = Buffer.from('hardState');
const META_SNAPSHOT = Buffer.from('snapshotMeta');

// Writes are encoded when persist() is called, not when the group commits, so
// the caller may reuse its buffers as soon as the call returns.
type LogWrite =
  | { kind: 'install'; meta: SnapshotMeta; value: Buffer }
  | { kind: 'entries'; from: number; to: number; values: Buffer[] }
  | { kind: 'hardState'; value: Buffer }
  | { kind: 'snapshotMeta'; meta: SnapshotMeta; value: Buffer }
  | { kind: 'compact'; upTo: number };

/** Where the log stands; the committed view and the projection after queued writes share this shape. */
interface LogBounds {
  /** First and last stored entry, or 0/0 when none. */
  first: number;
  last: number;
  snapshot: SnapshotMeta | undefined;
}

export class LmdbLogStore implements LogStore {
  private readonly opened: OpenedEnv;
  private readonly env: LmdbEnv;
  private readonly entriesDbi: LmdbDbi;
  private readonly metaDbi: LmdbDbi;
  private readonly committer: GroupCommitter<LogWrite[]>;
  private readonly maxMapSize: number;
  /** What LMDB holds (committed). */
  private bounds: LogBounds;
  /** What LMDB will hold once every queued write commits: persist() validates against this. */
  private projected: LogBounds;
  private closed = false;

  static open(path: string, options: LmdbLogStoreOptions = {}): LmdbLogStore {
    return new LmdbLogStore(path, options);
  }

  private constructor(path: string, options: LmdbLogStoreOptions) {
    const mapSize = options.mapSize ?? 4 * GiB;
    this.maxMapSize = Math.max(options.maxMapSize ?? 256 * GiB, mapSize);
    this.opened = openEnv(path, mapSize, 4);
    this.env = this.opened.env;
    try {
      this.entriesDbi = this.env.openDbi({ name: 'entries', create: true, keyIsBuffer: true });
      this.metaDbi = this.env.openDbi({ name: 'meta', create: true, keyIsBuffer: true });
      this.bounds = this.readBounds();
    } catch (error) {
      this.opened.release();
      throw error;
    }
    this.projected = { ...this.bounds };
    this.committer = new GroupCommitter<LogWrite[]>({
      name: `raft log ${path}`,
      commit: (groups) => this.commitGroup(groups.flat()),
      sync: (done) => this.env.sync(done),
      events: options.events,
    });
  }

  persist(batch: PersistBatch, options: { sync?: boolean } = {}): Promise<void> {
    if (ACK_BEFORE_FSYNC && options.sync !== false) {
      // The broken variant: the write and its fsync go on as usual, but the caller hears "done" at once
      // (after this turn's group commit, before the fsync). Its errors are not reported: it is broken.
      this.persistDurable(batch).catch(() => undefined);
      return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    }
    return this.persistDurable(batch, options);
  }

  private persistDurable(batch: PersistBatch, options: { sync?: boolean } = {}): Promise<void> {
    return this.queue(options.sync === false, (next) => {
      const writes: LogWrite[] = [];
      if (batch.snapshot) {
        const meta = copyMeta(batch.snapshot.meta);
        validateInstall(next, meta);
        writes.push({ kind: 'install', meta, value: encodeSnapshotMeta(meta) });
      }
      if (batch.entries && batch.entries.length > 0) {
        validateEntries(next, batch.entries);
        const from = batch.entries[0].index;
        writes.push({ kind: 'entries', from, to: from + batch.entries.length - 1, values: batch.entries.map(encodeEntry) });
      }
      if (batch.hardState) {
        validateHardState(batch.hardState);
        writes.push({ kind: 'hardState', value: encodeHardState(batch.hardState) });
      }
      return writes;
    });
  }

  append(entries: readonly Entry[]): Promise<void> {
    return this.persist({ entries });
  }

  setHardState(hardState: HardState): Promise<void> {
    return this.persist({ hardState });
  }

  setSnapshotMeta(meta: SnapshotMeta): Promise<void> {
    return this.queue(false, (next) => {
      const copy = copyMeta(meta);
      validateSnapshotMeta(next, copy);
      return [{ kind: 'snapshotMeta', meta: copy, value: encodeSnapshotMeta(copy) }];
    });
  }

  compact(upToIndex: number): Promise<void> {
    return this.queue(false, (next) => {
      validateCompact(next, upToIndex);
      return [{ kind: 'compact', upTo: upToIndex }];
    });
  }

  load(): LoadedLog {
    this.checkOpen();
    const txn = this.env.beginTxn({ readOnly: true });
    let cursor: LmdbCursor | undefined;
    try {
      const hsBuf = txn.getBinary(this.metaDbi, META_HARD_STATE);
      const snapBuf = txn.getBinary(this.metaDbi, META_SNAPSHOT);
      const hardState = hsBuf ? decodeHardState(hsBuf) : undefined;
      const snapshotMeta = snapBuf ? decodeSnapshotMeta(snapBuf) : undefined;
      const after = snapshotMeta?.index ?? 0;
      const entries: Entry[] = [];
      cursor = openCursor(txn, this.entriesDbi);
      let expected = after + 1;
      for (let key = cursor.goToRange(indexKey(expected)); key !== null; key = cursor.goToNext()) {
        const index = keyIndex(key);
        if (index !== expected) {
          throw new StorageCorruptionError('entry', `missing (the next stored entry is ${index})`, expected);
        }
        entries.push(decodeEntry(index, cursor.getCurrentBinary()!));
        expected++;
      }
      if (entries.length === 0 && this.bounds.last > after) {
        throw new StorageCorruptionError('entry', 'missing after the snapshot', after + 1);
      }
      return { hardState, snapshotMeta, entries };
    } finally {
      cursor?.close();
      txn.abort();
    }
  }

  firstIndex(): number {
    this.checkOpen();
    return this.bounds.last > 0 ? this.bounds.first : (this.bounds.snapshot?.index ?? 0) + 1;
  }

  lastIndex(): number {
    this.checkOpen();
    return Math.max(this.bounds.last, this.bounds.snapshot?.index ?? 0);
  }

  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    this.checkOpen();
    if (lo >= hi) return [];
    if (this.bounds.last === 0 || lo < this.bounds.first || hi > this.bounds.last + 1) {
      throw new StorageUsageError(
        `entries [${lo}, ${hi}) are outside the stored range [${this.firstIndex()}, ${this.lastIndex()}]`,
      );
    }
    const txn = this.env.beginTxn({ readOnly: true });
    const cursor = openCursor(txn, this.entriesDbi);
    try {
      const out: Entry[] = [];
      let bytes = 0;
      let expected = lo;
      for (let key = cursor.goToKey(indexKey(lo)); key !== null && expected < hi; key = cursor.goToNext()) {
        const index = keyIndex(key);
        if (index !== expected) break;
        const entry = decodeEntry(index, cursor.getCurrentBinary()!);
        bytes += entry.data.byteLength;
        // Like etcd: always at least one entry, so one big entry cannot stall replication.
        if (out.length > 0 && bytes > maxBytes) return out;
        out.push(entry);
        expected++;
      }
      if (expected < hi) throw new StorageCorruptionError('entry', 'missing', expected);
      return out;
    } finally {
      cursor.close();
      txn.abort();
    }
  }

  term(index: number): number | undefined {
    this.checkOpen();
    const snapshot = this.bounds.snapshot;
    if (snapshot && index === snapshot.index) return snapshot.term;
    if (index === 0) return 0;
    if (this.bounds.last === 0 || index < this.bounds.first || index > this.bounds.last) return undefined;
    const txn = this.env.beginTxn({ readOnly: true });
    try {
      const value = txn.getBinary(this.entriesDbi, indexKey(index));
      if (!value) throw new StorageCorruptionError('entry', 'missing', index);
      return decodeEntry(index, value).term;
    } finally {
      txn.abort();
    }
  }

  stats(): DurabilityStats {
    return this.committer.stats();
  }

  /** Commit what is queued, wait for its fsync, and close the env. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The env must outlive any fsync on the thread pool: closing under it is a use-after-free.
    await this.committer.close();
    this.opened.release();
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageClosedError('raft log');
  }

  /**
   * Check and encode a call's writes against the projection (so a bad write
   * fails its own caller at once, not its whole group later), then queue them.
   * A call is all or nothing: the projection moves only if every write passed.
   */
  private queue(lazy: boolean, build: (next: LogBounds) => LogWrite[]): Promise<void> {
    const refusal = this.committer.refusal();
    if (refusal) return Promise.reject(refusal);
    const next: LogBounds = { ...this.projected };
    let writes: LogWrite[];
    try {
      writes = build(next);
    } catch (error) {
      return Promise.reject(error);
    }
    this.projected = next;
    return this.committer.submit(writes, lazy);
  }

  private commitGroup(writes: LogWrite[]): void {
    // MDB_MAP_FULL aborts the transaction; the group is plain data, so grow the
    // map and write it again. Nothing else holds a txn on this env between turns.
    for (;;) {
      const txn = this.env.beginTxn();
      const view: LogBounds = { ...this.bounds };
      try {
        for (const w of writes) {
          this.write(txn, view, w);
        }
        txn.commit();
      } catch (error) {
        // commit() frees the txn even when it fails; abort() would then throw.
        try { txn.abort(); } catch { /* already closed by a failed commit */ }
        if (lmdbCode(error) === MDB_MAP_FULL) {
          if (growMap(this.env, this.maxMapSize, true)) continue;
          throw new StorageFullError(`raft log: map is full at its maximum of ${this.maxMapSize} bytes`);
        }
        throw error;
      }
      this.bounds = view;
      growMap(this.env, this.maxMapSize, false);
      return;
    }
  }

  private write(txn: LmdbTxn, view: LogBounds, w: LogWrite): void {
    switch (w.kind) {
      case 'install': {
        // The core's restore() replaces the whole log with the snapshot.
        this.entriesDbi.drop({ txn, justFreePages: true });
        view.first = 0;
        view.last = 0;
        view.snapshot = w.meta;
        txn.putBinary(this.metaDbi, META_SNAPSHOT, w.value);
        return;
      }
      case 'entries': {
        if (view.last !== 0 && w.from <= view.last) {
          deleteRange(txn, this.entriesDbi, w.from, view.last);
          view.last = w.from - 1;
          if (view.last < view.first) view.first = view.last = 0;
        }
        for (let i = 0; i < w.values.length; i++) {
          // MDB_APPEND: after the truncation every new key sorts last.
          txn.putBinary(this.entriesDbi, indexKey(w.from + i), w.values[i], { append: true });
        }
        if (view.last === 0) view.first = w.from;
        view.last = w.to;
        return;
      }
      case 'hardState':
        txn.putBinary(this.metaDbi, META_HARD_STATE, w.value);
        return;
      case 'snapshotMeta':
        txn.putBinary(this.metaDbi, META_SNAPSHOT, w.value);
        view.snapshot = w.meta;
        return;
      case 'compact': {
        if (view.last === 0 || w.upTo < view.first) return;
        const upTo = Math.min(w.upTo, view.last);
        deleteRange(txn, this.entriesDbi, view.first, upTo);
        if (upTo === view.last) view.first = view.last = 0;
        else view.first = upTo + 1;
        return;
      }
    }
  }

  private readBounds(): LogBounds {
    const txn = this.env.beginTxn({ readOnly: true });
    const cursor = openCursor(txn, this.entriesDbi);
    try {
      const firstKey = cursor.goToFirst();
      const lastKey = cursor.goToLast();
      const snapBuf = txn.getBinary(this.metaDbi, META_SNAPSHOT);
      return {
        first: firstKey ? keyIndex(firstKey) : 0,
        last: lastKey ? keyIndex(lastKey) : 0,
        snapshot: snapBuf ? decodeSnapshotMeta(snapBuf) : undefined,
      };
    } finally {
      cursor.close();
      txn.abort();
    }
  }
}

// Each check looks at where the log will stand after every queued write, and
// moves that projection past the write it accepts.

function validateInstall(view: LogBounds, meta: SnapshotMeta): void {
  checkMeta(meta);
  const snapIndex = view.snapshot?.index ?? 0;
  if (meta.index < snapIndex) {
    throw new StorageUsageError(`snapshot at ${meta.index} is older than the stored one at ${snapIndex}`);
  }
  view.first = view.last = 0;
  view.snapshot = meta;
}

function validateEntries(view: LogBounds, entries: readonly Entry[]): void {
  const snapIndex = view.snapshot?.index ?? 0;
  const from = entries[0].index;
  const lastIndex = Math.max(view.last, snapIndex);
  if (!Number.isSafeInteger(from) || from <= snapIndex) {
    throw new StorageUsageError(`cannot write entry ${from}: the snapshot covers up to ${snapIndex}`);
  }
  if (from > lastIndex + 1) {
    throw new StorageUsageError(`cannot write entry ${from}: the log ends at ${lastIndex} (a gap)`);
  }
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.index !== from + i) {
      throw new StorageUsageError(`entries are not contiguous: ${e.index} follows ${from + i - 1}`);
    }
    if (!Number.isSafeInteger(e.term) || e.term < 0) throw new StorageUsageError(`entry ${e.index} has term ${e.term}`);
    if (i > 0 && e.term < entries[i - 1].term) {
      throw new StorageUsageError(`entry ${e.index} has term ${e.term}, below the previous ${entries[i - 1].term}`);
    }
  }
  if (view.last !== 0 && from <= view.last) {
    view.last = from - 1;
    if (view.last < view.first) view.first = view.last = 0;
  }
  if (view.last === 0) view.first = from;
  view.last = entries[entries.length - 1].index;
}

function validateHardState(hs: HardState): void {
  if (!Number.isSafeInteger(hs.term) || hs.term < 0 || !Number.isSafeInteger(hs.commit) || hs.commit < 0
    || typeof hs.vote !== 'string') {
    throw new StorageUsageError(`bad hard state term=${hs.term} vote=${hs.vote} commit=${hs.commit}`);
  }
}

function validateSnapshotMeta(view: LogBounds, meta: SnapshotMeta): void {
  checkMeta(meta);
  const snapIndex = view.snapshot?.index ?? 0;
  const lastIndex = Math.max(view.last, snapIndex);
  if (meta.index < snapIndex || meta.index > lastIndex) {
    throw new StorageUsageError(
      `snapshot at ${meta.index} must be between the stored snapshot (${snapIndex}) and the last entry (${lastIndex})`,
    );
  }
  view.snapshot = meta;
}

function validateCompact(view: LogBounds, upTo: number): void {
  const snapIndex = view.snapshot?.index ?? 0;
  if (!Number.isSafeInteger(upTo)) throw new StorageUsageError(`cannot compact to ${upTo}`);
  if (upTo > snapIndex) {
    throw new StorageUsageError(`cannot compact to ${upTo}: the snapshot only covers up to ${snapIndex}`);
  }
  if (view.last === 0 || upTo < view.first) return;
  if (upTo >= view.last) view.first = view.last = 0;
  else view.first = upTo + 1;
}

/** Our own copy, so a caller changing its object later cannot change what we hold. */
function copyMeta(meta: SnapshotMeta): SnapshotMeta {
  return { index: meta.index, term: meta.term, conf: { members: meta.conf.members.map((m) => ({ ...m })) } };
}

function checkMeta(meta: SnapshotMeta): void {
  if (!Number.isSafeInteger(meta.index) || meta.index < 0 || !Number.isSafeInteger(meta.term) || meta.term < 0) {
    throw new StorageUsageError(`bad snapshot meta index=${meta.index} term=${meta.term}`);
  }
}

/** Delete the stored entries with lo <= index <= hi. */
function deleteRange(txn: LmdbTxn, dbi: LmdbDbi, lo: number, hi: number): void {
  const cursor = openCursor(txn, dbi);
  try {
    for (let key = cursor.goToRange(indexKey(lo)); key !== null && keyIndex(key) <= hi; key = cursor.goToNext()) {
      cursor.del();
    }
  } finally {
    // A write txn's cursor must be closed before the txn ends, or GC frees it later (a crash).
    cursor.close();
  }
}
