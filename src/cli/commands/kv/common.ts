// What the kv commands share: the agent's KV entry shape (Consul's), query
// strings, integer flags checked before anything is sent, and stdin.

import { UsageError } from '../../clipanion.js';
import type { Readable } from 'node:stream';
import { keyPath } from '../../client.js';

/** One entry of GET /v1/kv/<key> (Consul's JSON; Value is base64, null for an empty value). */
export interface KvEntry {
  Key: string;
  Value: string | null;
  /** Consul's uint64: a bigint past 2^53 (the client reads it exactly). */
  Flags: number | bigint;
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  /** The session holding the key's lock (only while it is locked). */
  Session?: string;
}

/** `--json` form of an entry: the value decoded (utf8, or base64 with --base64), indexes kept. */
export interface KvEntryJson {
  key: string;
  value: string;
  flags: number | bigint;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
  session?: string;
}

const U64_MAX = 2n ** 64n - 1n;

/** A flag that must be an unsigned 64-bit integer; returned as its decimal text so large values stay exact. */
export function u64Flag(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,20}$/.test(value) || BigInt(value) > U64_MAX) {
    throw new UsageError(`${flag}: "${value}" is not an unsigned integer`);
  }
  return BigInt(value).toString();
}

/** `/v1/kv/<key>` with the given query parameters (a null value is a bare `?recurse`-style flag). */
export function kvUrl(key: string, params: Record<string, string | null | undefined>): string {
  const q: string[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    q.push(value === null ? name : `${name}=${encodeURIComponent(value)}`);
  }
  return `/v1/kv/${keyPath(key)}${q.length > 0 ? `?${q.join('&')}` : ''}`;
}

/** `stale` or `consistent` as a query parameter (none for the default mode); both at once is a usage error. */
export function consistencyParams(stale: boolean, consistent: boolean): Record<string, null> {
  if (stale && consistent) throw new UsageError('--stale and --consistent cannot be used together');
  return stale ? { stale: null } : consistent ? { consistent: null } : {};
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts);
}
