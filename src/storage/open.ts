// Opens a node's storage under its data dir: <dataDir>/raft/ for the Raft log
// and <dataDir>/state/ for the state machine, two LMDB environments.

import { closeSync, cpSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LmdbLogStore, type LmdbLogStoreOptions } from './log-store.js';
import { DataDirTooNewError } from './errors.js';
import { DATA_FORMAT, LmdbStateStore, type LmdbStateStoreOptions } from './state-store.js';

// Two environments, not one: a snapshot's long read transaction on the state
// would pin every page the log frees meanwhile (LMDB reuses a page only once no
// reader can see it), so the log's file would grow during each snapshot; each
// env also has its own writer lock and its own fsync, and the log can move to
// another engine (a segmented file) without touching the state.

export interface StorageOptions {
  log?: LmdbLogStoreOptions;
  state: LmdbStateStoreOptions;
}

export interface NodeStorage {
  log: LmdbLogStore;
  state: LmdbStateStore;
  /** Set when this open migrated an older data dir: from which format, and where the copy of it is kept. */
  migrated?: { from: number; to: number; backup: string };
  close(): Promise<void>;
}

export function raftDir(dataDir: string): string {
  return join(dataDir, 'raft');
}

export function stateDir(dataDir: string): string {
  return join(dataDir, 'state');
}

/** Where the copy of a data dir of format `from` goes before it is migrated. */
export function backupDir(dataDir: string, from: number): string {
  return join(dataDir, `backup-format-${from}`);
}

/**
 * Opens both stores. A data dir of an older format (the first release's) is
 * copied whole first (raft/ and state/ into backup-format-N/, fsynced, moved
 * into place by one rename), then migrated in one transaction; a data dir of a
 * newer format is refused (DataDirTooNewError) before anything is written.
 */
export function openStorage(dataDir: string, options: StorageOptions): NodeStorage {
  let migrated: NodeStorage['migrated'];
  const format = LmdbStateStore.peekFormat(stateDir(dataDir));
  if (format > DATA_FORMAT) throw new DataDirTooNewError(dataDir, format, DATA_FORMAT);
  if (format > 0 && format < DATA_FORMAT) {
    migrated = { from: format, to: DATA_FORMAT, backup: keepCopy(dataDir, format) };
  }
  const log = LmdbLogStore.open(raftDir(dataDir), options.log);
  let state: LmdbStateStore;
  try {
    state = LmdbStateStore.open(stateDir(dataDir), options.state);
  } catch (error) {
    void log.close();
    throw error;
  }
  return {
    log,
    state,
    ...(migrated ? { migrated } : {}),
    close: async () => {
      await Promise.all([log.close(), state.close()]);
    },
  };
}

/** Copies raft/ and state/ into backup-format-N/ (complete or absent: built aside, fsynced, renamed). */
function keepCopy(dataDir: string, from: number): string {
  const target = backupDir(dataDir, from);
  if (existsSync(target)) return target; // an earlier start copied it and stopped before migrating
  const partial = `${target}.partial`;
  rmSync(partial, { recursive: true, force: true });
  for (const dir of ['raft', 'state']) {
    const source = join(dataDir, dir);
    if (!existsSync(source)) continue;
    // lock.mdb is LMDB's reader table, not data; a copy must not share it.
    cpSync(source, join(partial, dir), { recursive: true, filter: (src) => !src.endsWith('lock.mdb') });
    fsyncTree(join(partial, dir));
  }
  fsyncTree(partial);
  renameSync(partial, target);
  fsyncPath(dataDir);
  return target;
}

function fsyncTree(path: string): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) fsyncTree(join(path, name));
  fsyncPath(path);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
