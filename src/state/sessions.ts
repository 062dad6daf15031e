// Consul sessions in the replicated state: the session records, the lock each
// KV key may carry (holder session and fencing token), and invalidation, which
// releases or deletes the keys a session holds. Applied inside the state
// machine's transaction; the lock-delay that follows an invalidation is kept
// in memory on every replica, as Consul does, and checked before a lock is proposed.

import type { StateReader, StateWriter } from '../storage/index.js';

export const SESSIONS_TABLE = 'sessions';
/** KV key -> the session holding its lock and the fencing token of that acquisition. */
export const KV_LOCKS_TABLE = 'kv-locks';
export const SESSION_INDEX_KEY = 'sessionIndex';

/** Consul's bounds: a TTL from 10 s to 24 h (or none); a lock-delay up to 60 s. */
export const MIN_SESSION_TTL_MS = 10_000;
export const MAX_SESSION_TTL_MS = 24 * 3600_000;
export const MAX_LOCK_DELAY_MS = 60_000;
export const DEFAULT_LOCK_DELAY_MS = 15_000;
/** Consul lets a TTL lapse for up to this many TTLs before the leader invalidates the session. */
export const SESSION_TTL_MULTIPLIER = 2;

export type SessionBehavior = 'release' | 'delete';

export interface ServiceCheckRef {
  id: string;
  namespace: string;
}

export interface SessionRecord {
  id: string;
  name: string;
  node: string;
  nodeChecks: string[];
  serviceChecks: ServiceCheckRef[];
  lockDelayMs: number;
  behavior: SessionBehavior;
  /** As given ("30s"), '' for none. */
  ttl: string;
  ttlMs: number;
  createIndex: number;
  modifyIndex: number;
}

export type SessionInput = Omit<SessionRecord, 'createIndex' | 'modifyIndex'>;

export interface KvLock {
  session: string;
  /** The Raft index of the write that acquired the lock: it only grows, cluster-wide. */
  token: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isSessionId(v: unknown): v is string {
  return typeof v === 'string' && UUID.test(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const shortString = (v: unknown, max = 1024): boolean => typeof v === 'string' && Buffer.byteLength(v, 'utf8') <= max;

/** Why a session record to create is not well formed, or undefined (proposer and every replica). */
export function sessionInputProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  if (!isSessionId(v.id)) return 'id must be a UUID';
  if (!shortString(v.name)) return 'name must be a string of at most 1024 bytes';
  if (typeof v.node !== 'string' || v.node === '' || !shortString(v.node, 128)) return 'node must be a non-empty string of at most 128 bytes';
  if (!Array.isArray(v.nodeChecks) || !v.nodeChecks.every((c) => typeof c === 'string' && c !== '' && shortString(c, 256))) return 'nodeChecks must be check ids';
  if (!Array.isArray(v.serviceChecks) || !v.serviceChecks.every((c) => isObject(c) && typeof c.id === 'string' && c.id !== '' && shortString(c.id, 256) && typeof c.namespace === 'string')) {
    return 'serviceChecks must be {id, namespace} objects';
  }
  if (!Number.isSafeInteger(v.lockDelayMs) || (v.lockDelayMs as number) < 0 || (v.lockDelayMs as number) > MAX_LOCK_DELAY_MS) return `lockDelayMs must be 0..${MAX_LOCK_DELAY_MS}`;
  if (v.behavior !== 'release' && v.behavior !== 'delete') return 'behavior must be release or delete';
  if (typeof v.ttl !== 'string' || !Number.isSafeInteger(v.ttlMs)) return 'ttl must be a string and ttlMs an integer';
  const ttlMs = v.ttlMs as number;
  if (ttlMs !== 0 && (ttlMs < MIN_SESSION_TTL_MS || ttlMs > MAX_SESSION_TTL_MS)) return 'ttlMs must be 0 or 10s..24h';
  return undefined;
}

// ------------------------------------------------------------ records

export function encodeSession(s: SessionRecord): Buffer {
  return Buffer.from(JSON.stringify(s), 'utf8');
}

export function decodeSession(b: Buffer): SessionRecord {
  return JSON.parse(b.toString('utf8')) as SessionRecord;
}

// A lock record: f64 token, then the session id's UTF-8 bytes.
export function encodeLock(lock: KvLock): Buffer {
  const id = Buffer.from(lock.session, 'utf8');
  const b = Buffer.allocUnsafe(8 + id.length);
  b.writeDoubleBE(lock.token, 0);
  id.copy(b, 8);
  return b;
}

export function decodeLock(b: Buffer): KvLock | undefined {
  if (b.length < 9) return undefined;
  return { token: b.readDoubleBE(0), session: b.toString('utf8', 8) };
}

export function readSession(txn: StateReader, id: string): SessionRecord | undefined {
  if (!isSessionId(id)) return undefined;
  const b = txn.get(SESSIONS_TABLE, id);
  return b ? decodeSession(b) : undefined;
}

export function readLock(txn: StateReader, key: string): KvLock | undefined {
  const b = txn.get(KV_LOCKS_TABLE, key);
  return b ? decodeLock(b) : undefined;
}

/** Every session, in id order. */
export function listSessions(txn: StateReader): SessionRecord[] {
  const out: SessionRecord[] = [];
  for (const rec of txn.scan(SESSIONS_TABLE)) out.push(decodeSession(rec.value));
  return out;
}

/** The keys a session holds locks on. */
export function keysHeldBy(txn: StateReader, session: string): string[] {
  const out: string[] = [];
  for (const rec of txn.scan(KV_LOCKS_TABLE)) {
    const lock = decodeLock(rec.value);
    if (lock?.session === session) out.push(rec.key.toString('utf8'));
  }
  return out;
}

/**
 * Why a session cannot be created now, or undefined (Consul's words): its
 * node must be in the catalog, and each of its checks registered and not critical.
 */
export function sessionCreateProblem(
  s: SessionInput,
  catalog: { node(name: string): unknown; nodeChecks(name: string): Array<{ checkId: string; status: string; serviceId: string }> },
): string | undefined {
  if (!catalog.node(s.node)) return `Missing node registration for "${s.node}"`;
  const checks = catalog.nodeChecks(s.node);
  for (const id of [...s.nodeChecks, ...s.serviceChecks.map((c) => c.id)]) {
    const check = checks.find((c) => c.checkId === id);
    if (!check) return `Missing check '${id}' registration`;
    if (check.status === 'critical') return `Check '${id}' is in critical state`;
  }
  return undefined;
}

/** Consul's JSON shape of a session (LockDelay in nanoseconds). */
export function sessionJson(s: SessionRecord): Record<string, unknown> {
  return {
    ID: s.id,
    Name: s.name,
    Node: s.node,
    LockDelay: s.lockDelayMs * 1_000_000,
    Behavior: s.behavior,
    TTL: s.ttl,
    Checks: [...s.nodeChecks, ...s.serviceChecks.map((c) => c.id)],
    NodeChecks: s.nodeChecks,
    ServiceChecks: s.serviceChecks.length === 0 ? null : s.serviceChecks.map((c) => ({ ID: c.id, Namespace: c.namespace })),
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  };
}

/** Does the session depend on this (node, check)? Node names compare case-insensitively, as the catalog does. */
export function sessionWatchesCheck(s: SessionRecord, node: string, checkId: string): boolean {
  if (s.node.toLowerCase() !== node.toLowerCase()) return false;
  return s.nodeChecks.includes(checkId) || s.serviceChecks.some((c) => c.id === checkId);
}

export type { StateWriter };
