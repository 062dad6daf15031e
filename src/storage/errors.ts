// The errors storage can raise. Corruption names what is corrupt (an index or a
// record) so an operator knows what was lost; usage errors are caller bugs.

import { KonsulError } from '../errors.js';

/** Bytes on disk do not match their checksum or shape. Never returned as data. */
export class StorageCorruptionError extends KonsulError {
  /** The Raft index of the corrupt log entry, when it is one. */
  readonly index: number | undefined;
  /** What is corrupt: 'entry', 'hardState', 'snapshotMeta', 'appliedIndex', ... */
  readonly record: string;

  constructor(record: string, detail: string, index?: number) {
    const where = index === undefined ? record : `${record} at index ${index}`;
    super('KONSUL_ERR_STORAGE_CORRUPT', `corrupt ${where}: ${detail}`, 'internal');
    this.name = 'StorageCorruptionError';
    this.record = record;
    this.index = index;
  }
}

/** A state snapshot stream is malformed or fails its checksum; nothing was restored. */
export class SnapshotCorruptionError extends KonsulError {
  constructor(detail: string) {
    super('KONSUL_ERR_SNAPSHOT_CORRUPT', `corrupt state snapshot: ${detail}`, 'invalid');
    this.name = 'SnapshotCorruptionError';
  }
}

/** The caller broke the storage contract (a gap in the log, a table that does not exist...). */
export class StorageUsageError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_STORAGE_USAGE', message, 'internal');
    this.name = 'StorageUsageError';
  }
}

/**
 * A write or fsync failed. After a failed fsync the page cache can no longer be
 * trusted to hold what we wrote, so the store refuses every later write: the
 * agent should stop and restart from what is on disk.
 */
export class StorageFailedError extends KonsulError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KONSUL_ERR_STORAGE_FAILED', message, 'internal');
    this.name = 'StorageFailedError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The data outgrew the memory map and it could not grow now (for example while a snapshot is read). */
export class StorageFullError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_STORAGE_FULL', message, 'storage-full');
    this.name = 'StorageFullError';
  }
}

/** The store cannot take this write now (a snapshot restore holds the writer); retry later. */
export class StorageBusyError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_STORAGE_BUSY', message, 'unavailable');
    this.name = 'StorageBusyError';
  }
}

export class StorageClosedError extends KonsulError {
  constructor(what: string) {
    super('KONSUL_ERR_STORAGE_CLOSED', `${what} is closed`, 'unavailable');
    this.name = 'StorageClosedError';
  }
}

/** A data dir written by a newer konsul (a newer format): this one must not run on it. */
export class DataDirTooNewError extends KonsulError {
  readonly format: number;
  constructor(path: string, format: number, newest: number) {
    super('KONSUL_ERR_DATA_DIR_TOO_NEW',
      `the data in ${path} is format ${format}, written by a newer konsul; this one reads formats up to ${newest}: run the newer konsul (a data dir cannot go back to an older one)`,
      'internal');
    this.name = 'DataDirTooNewError';
    this.format = format;
  }
}
