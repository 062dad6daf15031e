// The public face of storage: the Raft log store, the state machine's store,
// their errors, and the data dir layout. Nothing here knows Raft's rules.

export type { LogStore, LoadedLog, PersistBatch, LmdbLogStoreOptions } from './log-store.js';
export { LmdbLogStore } from './log-store.js';
export type {
  StateStore, StateReader, StateWriter, StateRecord, StateKey, ScanRange, StateSnapshot, RestoredSnapshot,
  LmdbStateStoreOptions,
} from './state-store.js';
export { LmdbStateStore, DATA_FORMAT } from './state-store.js';
export type { DurabilityEvents, DurabilityStats } from './group-commit.js';
export { openStorage, raftDir, stateDir, backupDir, type NodeStorage, type StorageOptions } from './open.js';
export { MAX_KEY_BYTES } from './lmdb.js';
export {
  DataDirTooNewError, SnapshotCorruptionError, StorageBusyError, StorageClosedError, StorageCorruptionError, StorageFailedError,
  StorageFullError, StorageUsageError,
} from './errors.js';
