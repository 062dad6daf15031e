// A KV entry as stored: the record in the kv table (flags, indexes, value) and,
// for a locked key, its lock in the kv-locks table (holder session, fencing
// token). Plain KV writes never touch the locks table, so unlocked keys cost
// what they did before sessions existed.
//
// Flags are Consul's uint64. The record holds 32 bits; a key whose flags do
// not fit holds 0xffffffff there and its full flags in the kv-flags table (8
// bytes, big-endian). A record of 0xffffffff without a kv-flags row means
// exactly that value, so records written before (data format 2 and older)
// read as they always did, and keys with small flags cost nothing more.

import { StorageCorruptionError, type StateReader, type StateWriter } from '../storage/index.js';
import { KV_LOCKS_TABLE, decodeLock, encodeLock } from './sessions.js';
import type { KvFlags } from './kv-flags.js';

export { MAX_KV_FLAGS, canonicalFlags, flagsProblem, type KvFlags } from './kv-flags.js';

export const KV_TABLE = 'kv';
/** api branch (issue 18): the full flags of keys whose flags are above 2^32 - 1. */
export const KV_FLAGS_TABLE = 'kv-flags';
/** In a record's 32-bit flags: look in kv-flags for the full value (absent there: this value itself). */
const FLAGS_ELSEWHERE = 0xffff_ffff;
export interface KvEntry {
  key: string;
  value: Buffer;
  flags: KvFlags;
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

export function encodeKv(flags: KvFlags, createIndex: number, modifyIndex: number, lockIndex: number, value: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(KV_HEADER + value.length);
  b.writeUInt32BE(typeof flags === 'bigint' ? FLAGS_ELSEWHERE : flags, 0);
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

/** An entry's full flags, when its record says they are in kv-flags. */
export function withFlags(txn: StateReader, entry: KvEntry): KvEntry {
  if (entry.flags === FLAGS_ELSEWHERE) {
    const b = txn.get(KV_FLAGS_TABLE, entry.key);
    if (b && b.length === 8) entry.flags = b.readBigUInt64BE(0);
  }
  return entry;
}

/**
 * After a record of `key` was written with `flags` (or deleted: undefined):
 * the kv-flags row holds the full value of 64-bit flags, and no row stays
 * behind for a key whose flags fit (`previous`: the record's 32-bit flags before).
 */
export function writeFlags(txn: StateWriter, key: string, flags: KvFlags | undefined, previous: number | undefined): void {
  if (typeof flags === 'bigint') {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(flags, 0);
    txn.put(KV_FLAGS_TABLE, key, b);
  } else if (previous === FLAGS_ELSEWHERE) txn.delete(KV_FLAGS_TABLE, key);
}

/** A stored record's 32-bit flags (undefined when there is no record). */
export function recordFlags(b: Buffer | undefined): number | undefined {
  return b && b.length >= 4 ? b.readUInt32BE(0) : undefined;
}

/** Adds the lock (if any) and the full flags to an entry read from the kv table. */
export function withLock(txn: StateReader, entry: KvEntry): KvEntry {
  withFlags(txn, entry);
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
  writeFlags(txn, e.key, e.flags, recordFlags(txn.get(KV_TABLE, e.key)));
  txn.put(KV_TABLE, e.key, encodeKv(e.flags, e.createIndex, e.modifyIndex, e.lockIndex, e.value));
  if (e.session !== undefined) txn.put(KV_LOCKS_TABLE, e.key, encodeLock({ session: e.session, token: e.lockToken ?? e.modifyIndex }));
  else if (hadLock) txn.delete(KV_LOCKS_TABLE, e.key);
}

export function deleteEntry(txn: StateWriter, key: string, hadLock: boolean): void {
  writeFlags(txn, key, undefined, recordFlags(txn.get(KV_TABLE, key)));
  txn.delete(KV_TABLE, key);
  if (hadLock) txn.delete(KV_LOCKS_TABLE, key);
}
