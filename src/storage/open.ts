// Opens a node's storage under its data dir: <dataDir>/raft/ for the Raft log
// and <dataDir>/state/ for the state machine, two LMDB environments.

import { join } from 'node:path';
import { LmdbLogStore, type LmdbLogStoreOptions } from './log-store.js';
import { LmdbStateStore, type LmdbStateStoreOptions } from './state-store.js';

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
  close(): Promise<void>;
}

export function raftDir(dataDir: string): string {
  return join(dataDir, 'raft');
}

export function stateDir(dataDir: string): string {
  return join(dataDir, 'state');
}

export function openStorage(dataDir: string, options: StorageOptions): NodeStorage {
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
    close: async () => {
      await Promise.all([log.close(), state.close()]);
    },
  };
}
