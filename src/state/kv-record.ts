// A KV entry as stored: the record in the kv table (flags, indexes, value) and,
// for a locked key, its lock in the kv-locks table (holder session, fencing
// token). Plain KV writes never touch the locks table, so unlocked keys cost
// what they did before sessions existed.

import { StorageCorruptionError, type StateReader, type StateWriter } from '../storage/index.js';
import { KV_LOCKS_TABLE, decodeLock, encodeLock } from './sessions.js';

export const KV_TABLE = 'kv';

export interface KvEntry {
  key: string;
  value: Buffer;
  flags: number;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
  /** The session holding the key's lock; absent when it is not locked. */
  session?: string;
  /** The fencing token of the current lock (the index of the acquiring write); absent when not locked. */
  lockToken?: number;
}

// A KV record: flags u32, createIndex f64, modifyIndex f64, lockIndex f64, then the value bytes.
export const KV_HEADER = 4 + 8 * 3;
export const KV_MODIFY_AT = 12;

export function encodeKv(flags: number, createIndex: number, modifyIndex: number, lockIndex: number, value: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(KV_HEADER + value.length);
  b.writeUInt32BE(flags, 0);
  b.writeDoubleBE(createIndex, 4);
  b.writeDoubleBE(modifyIndex, KV_MODIFY_AT);
  b.writeDoubleBE(lockIndex, 20);
  b.set(value, KV_HEADER);
  return b;
}

export function checkKvRecord(key: string, b: Buffer): void {
  if (b.length < KV_HEADER) throw new StorageCorruptionError('kv', `record ${JSON.stringify(key)} is ${b.length} bytes`);
}

export function decodeKv(key: string, b: Buffer): KvEntry {
  checkKvRecord(key, b);
  return {
    key,
    flags: b.readUInt32BE(0),
    createIndex: b.readDoubleBE(4),
    modifyIndex: b.readDoubleBE(KV_MODIFY_AT),
    lockIndex: b.readDoubleBE(20),
    value: b.subarray(KV_HEADER),
  };
}

/** Adds the lock (if any) to an entry read from the kv table. */
export function withLock(txn: StateReader, entry: KvEntry): KvEntry {
  const b = txn.get(KV_LOCKS_TABLE, entry.key);
  const lock = b ? decodeLock(b) : undefined;
  if (lock) {
    entry.session = lock.session;
    entry.lockToken = lock.token;
  }
  return entry;
}

export function readEntry(txn: StateReader, key: string): KvEntry | undefined {
  const b = txn.get(KV_TABLE, key);
  return b ? withLock(txn, decodeKv(key, b)) : undefined;
}

/** Writes the record and the lock (or its absence). `hadLock`: whether a lock record may exist to delete. */
export function writeEntry(txn: StateWriter, e: KvEntry, hadLock: boolean): void {
  txn.put(KV_TABLE, e.key, encodeKv(e.flags, e.createIndex, e.modifyIndex, e.lockIndex, e.value));
  if (e.session !== undefined) txn.put(KV_LOCKS_TABLE, e.key, encodeLock({ session: e.session, token: e.lockToken ?? e.modifyIndex }));
  else if (hadLock) txn.delete(KV_LOCKS_TABLE, e.key);
}

export function deleteEntry(txn: StateWriter, key: string, hadLock: boolean): void {
  txn.delete(KV_TABLE, key);
  if (hadLock) txn.delete(KV_LOCKS_TABLE, key);
}
