// A typed face for the parts of node-lmdb that konsul uses, plus the helpers both
// stores share (keys, error codes, opening an env, growing its map).

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { StorageUsageError } from './errors.js';
import { readUint64, writeUint64 } from './limits.js';

// node-lmdb is CommonJS and its bundled index.d.ts is an ambient declaration that
// lacks env.sync(); declaring the slice we use keeps `any` off this boundary.

export interface LmdbEnvOpenOptions {
  path: string;
  mapSize: number;
  maxDbs: number;
  maxReaders?: number;
  /** MDB_NOSYNC: commit() writes pages but never fsyncs; we call sync() ourselves. */
  noSync?: boolean;
}

export interface LmdbEnvInfo {
  mapSize: number;
  lastPageNumber: number;
  lastTxnId: number;
  maxReaders: number;
  numReaders: number;
}

export interface LmdbStat {
  pageSize: number;
  treeDepth: number;
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  entryCount: number;
  overflowPages: number;
}

export interface LmdbPutOptions {
  /** MDB_APPEND: the key sorts after every key in the table (faster, pages packed full). */
  append?: boolean;
  noOverwrite?: boolean;
}

export interface LmdbTxn {
  getBinary(dbi: LmdbDbi, key: Buffer): Buffer | null;
  putBinary(dbi: LmdbDbi, key: Buffer, value: Buffer, options?: LmdbPutOptions): void;
  /** Throws MDB_NOTFOUND when the key is absent. */
  del(dbi: LmdbDbi, key: Buffer): void;
  commit(): void;
  abort(): void;
}

export interface LmdbDbi {
  close(): void;
  drop(options: { txn?: LmdbTxn; justFreePages: boolean }): void;
  stat(txn: LmdbTxn): LmdbStat;
}

export interface LmdbCursor {
  goToFirst(): Buffer | null;
  goToLast(): Buffer | null;
  goToNext(): Buffer | null;
  goToPrev(): Buffer | null;
  goToKey(key: Buffer): Buffer | null;
  goToRange(key: Buffer): Buffer | null;
  getCurrentBinary(): Buffer | null;
  /** After del(), goToNext() lands on the entry that followed the deleted one. */
  del(): void;
  close(): void;
}

export interface LmdbEnv {
  open(options: LmdbEnvOpenOptions): void;
  openDbi(options: { name: string; create: boolean; keyIsBuffer: true; txn?: LmdbTxn }): LmdbDbi;
  beginTxn(options?: { readOnly: boolean }): LmdbTxn;
  /** mdb_env_sync(env, force=1) on the libuv thread pool. */
  sync(callback: (error: Error | null) => void): void;
  info(): LmdbEnvInfo;
  stat(): LmdbStat;
  resize(mapSize: number): void;
  close(): void;
}

interface LmdbBinding {
  Env: new () => LmdbEnv;
  Cursor: new (txn: LmdbTxn, dbi: LmdbDbi, keyType: { keyIsBuffer: true }) => LmdbCursor;
}

const lmdb = createRequire(import.meta.url)('node-lmdb') as LmdbBinding;

/** LMDB's return codes that we act on (lmdb.h). node-lmdb puts them on `error.code`. */
export const MDB_KEYEXIST = -30799;
export const MDB_NOTFOUND = -30798;
export const MDB_PAGE_NOTFOUND = -30797;
export const MDB_CORRUPTED = -30796;
export const MDB_MAP_FULL = -30792;
export const MDB_BAD_VALSIZE = -30781;

export { MAX_KEY_BYTES } from './limits.js';
export { readUint64, writeUint64 } from './limits.js';

export function lmdbCode(error: unknown): number | undefined {
  if (error instanceof Error && typeof (error as Error & { code?: unknown }).code === 'number') {
    return (error as Error & { code: number }).code;
  }
  return undefined;
}

export function openCursor(txn: LmdbTxn, dbi: LmdbDbi): LmdbCursor {
  return new lmdb.Cursor(txn, dbi, { keyIsBuffer: true });
}

/**
 * node-lmdb shares one MDB_env among every Env opened on the same path in a
 * process, so a second store on a directory would silently share transactions
 * and syncs with the first. We refuse it instead.
 */
const openPaths = new Set<string>();

export interface OpenedEnv {
  env: LmdbEnv;
  path: string;
  release(): void;
}

export function openEnv(path: string, mapSize: number, maxDbs: number): OpenedEnv {
  if (openPaths.has(path)) {
    throw new StorageUsageError(`${path} is already open in this process`);
  }
  mkdirSync(path, { recursive: true });
  const env = new lmdb.Env();
  env.open({ path, mapSize, maxDbs, noSync: true });
  openPaths.add(path);
  return {
    env,
    path,
    release: () => {
      env.close();
      openPaths.delete(path);
    },
  };
}

/**
 * Double the map when the data is past half of it, so MDB_MAP_FULL stays rare.
 * Only possible while this process holds no transaction on the env; returns
 * whether the map is now larger.
 */
export function growMap(env: LmdbEnv, maxMapSize: number, force: boolean): boolean {
  const info = env.info();
  const used = (info.lastPageNumber + 1) * env.stat().pageSize;
  if (!force && used * 2 < info.mapSize) return false;
  if (info.mapSize >= maxMapSize) return false;
  try {
    env.resize(Math.min(info.mapSize * 2, maxMapSize));
  } catch {
    // node-lmdb refuses while any txn of ours is open (say, applyBatch called
    // inside read()); growing can wait for the next commit.
    return false;
  }
  return true;
}

/** A Raft index as 8 bytes big-endian, so LMDB's byte order is index order. */
export function indexKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  writeUint64(key, 0, index);
  return key;
}

export function keyIndex(key: Buffer): number {
  return readUint64(key, 0);
}

