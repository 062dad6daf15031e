// The two HTTP APIs `konsul bench` can drive with the same load: konsul's
// (Consul's /v1/kv) and etcd's v3 HTTP/JSON gateway (/v3/kv/put, /v3/kv/range),
// so the same tool measures both side by side. Also how each one names its
// leader and members, for `bench failover`.

import type { Pool } from 'undici';
import { keyPath } from '../../client.js';
import { errorKind, type AnswerCheck, type HttpOp } from './http-load.js';

export type ApiName = 'konsul' | 'etcd';
export type Consistency = 'default' | 'consistent' | 'stale';

export interface Workload {
  next: (n: number) => HttpOp;
  check: AnswerCheck;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

function statusCheck(expectBody?: (body: string) => boolean, missing = 'empty answer'): AnswerCheck {
  return (status, body) => {
    if (status < 200 || status > 299) return `HTTP ${status}`;
    if (expectBody && !expectBody(body)) return missing;
    return true;
  };
}

/** The value written: `size` bytes of printable text. */
export function benchValue(size: number): Buffer {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = alphabet.charCodeAt(i % alphabet.length);
  return out;
}

/** The ACL token header for konsul's API (none without a token). */
function tokenHeaders(token: string | undefined): Record<string, string> | undefined {
  return token === undefined ? undefined : { 'x-consul-token': token };
}

/** Writes of `value` to prefix0 .. prefix(keys-1), round-robin; konsul's API sends `token` as X-Consul-Token. */
export function writeWorkload(api: ApiName, prefix: string, keys: number, value: Buffer, token?: string): Workload {
  if (api === 'konsul') {
    const paths = Array.from({ length: keys }, (_, i) => `/v1/kv/${keyPath(`${prefix}${i}`)}`);
    const headers = tokenHeaders(token);
    return {
      next: (n) => ({ method: 'PUT', path: paths[n % keys], body: value, headers }),
      // Consul's PUT answers "true", or "false" when a cas failed.
      check: statusCheck((body) => body.trim() === 'true', 'answer not "true"'),
    };
  }
  const v = value.toString('base64');
  const bodies = Array.from({ length: keys }, (_, i) => JSON.stringify({ key: b64(`${prefix}${i}`), value: v }));
  const headers = { 'content-type': 'application/json' };
  return {
    next: (n) => ({ method: 'POST', path: '/v3/kv/put', body: bodies[n % keys], headers }),
    check: statusCheck((body) => body.includes('"header"'), 'no header in answer'),
  };
}

/** Reads of prefix0 .. prefix(keys-1), round-robin; a missing key is an error. etcd: default and consistent are linearizable, stale is serializable. */
export function readWorkload(api: ApiName, prefix: string, keys: number, consistency: Consistency, token?: string): Workload {
  if (api === 'konsul') {
    const query = consistency === 'default' ? '' : `?${consistency}`;
    const paths = Array.from({ length: keys }, (_, i) => `/v1/kv/${keyPath(`${prefix}${i}`)}${query}`);
    const headers = tokenHeaders(token);
    return {
      next: (n) => ({ method: 'GET', path: paths[n % keys], headers }),
      check: (status) => (status === 200 ? true : status === 404 ? 'missing key (HTTP 404)' : `HTTP ${status}`),
    };
  }
  const serializable = consistency === 'stale';
  const bodies = Array.from({ length: keys }, (_, i) => JSON.stringify({ key: b64(`${prefix}${i}`), serializable }));
  const headers = { 'content-type': 'application/json' };
  return {
    next: (n) => ({ method: 'POST', path: '/v3/kv/range', body: bodies[n % keys], headers }),
    check: statusCheck((body) => body.includes('"kvs"'), 'missing key'),
  };
}

export interface ClusterView {
  /** The leader's id, as the API names members. */
  leaderId: string;
  /** Every member with the origin (http://host:port) its API answers on. */
  members: Array<{ id: string; origin: string }>;
}

async function ask(pool: Pool, method: 'GET' | 'POST', path: string, body?: string): Promise<unknown> {
  const res = await pool.request({ method, path, body, headersTimeout: 3000, bodyTimeout: 3000 });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${text.trim().split('\n')[0]}`);
  return JSON.parse(text) as unknown;
}

function origin(address: string): string {
  return /^[a-z]+:\/\//i.test(address) ? new URL(address).origin : `http://${address}`;
}

/** Who leads and who the members are, as the member at `pool` sees it; undefined when it knows no leader. */
export async function clusterView(api: ApiName, pool: Pool): Promise<ClusterView | undefined> {
  if (api === 'konsul') {
    const st = await ask(pool, 'GET', '/cluster/status') as {
      leader: { id: string } | null; members: Array<{ id: string; httpAddress: string }>;
    };
    if (!st.leader) return undefined;
    return { leaderId: st.leader.id, members: st.members.filter((m) => m.httpAddress).map((m) => ({ id: m.id, origin: origin(m.httpAddress) })) };
  }
  const status = await ask(pool, 'POST', '/v3/maintenance/status', '{}') as { leader?: string };
  if (!status.leader || status.leader === '0') return undefined;
  const list = await ask(pool, 'POST', '/v3/cluster/member/list', '{}') as { members?: Array<{ ID: string; clientURLs?: string[] }> };
  return {
    leaderId: status.leader,
    members: (list.members ?? []).filter((m) => (m.clientURLs ?? []).length > 0).map((m) => ({ id: m.ID, origin: origin(m.clientURLs![0]) })),
  };
}

/** One write to probe whether the cluster accepts writes again: true, or the kind of error. */
export async function probeWrite(api: ApiName, pool: Pool, key: string, value: string, timeoutMs: number): Promise<true | string> {
  const op: HttpOp = api === 'konsul'
    ? { method: 'PUT', path: `/v1/kv/${keyPath(key)}`, body: value }
    : { method: 'POST', path: '/v3/kv/put', body: JSON.stringify({ key: b64(key), value: b64(value) }), headers: { 'content-type': 'application/json' } };
  try {
    const res = await pool.request({ ...op, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const text = await res.body.text();
    if (res.statusCode !== 200) return `HTTP ${res.statusCode}`;
    return api === 'konsul' && text.trim() !== 'true' ? 'answer not "true"' : true;
  } catch (error) {
    return errorKind(error);
  }
}
