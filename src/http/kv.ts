// /v1/kv/<key>: Consul's KV API. GET (one key, ?recurse, ?keys with
// ?separator, ?raw; consistency modes and blocking queries), PUT (?cas, ?flags)
// and DELETE (?recurse, ?cas).

import type { ReadMeta } from '../agent/api.js';
import { isSessionId, type KvEntry, type TxnOp } from '../state/index.js';
import { canonicalFlags, MAX_KV_FLAGS, type KvFlags } from '../state/kv-flags.js';
import { MAX_KEY_BYTES } from '../state/command.js';
import { parseBlocking, waitForKv } from './blocking.js';
import { readBody } from './body.js';
import { parseConsistency, readHeaders } from './consistency.js';
import { badRequest } from './errors.js';
import { ENTERPRISE_PARAMS, READ_PARAMS } from './params.js';
import { flag, uintParam } from './query.js';
import { sendBytes, sendEmpty, sendJson } from './respond.js';
import { aclParam } from './acl-check.js';
import type { RequestContext, RouteAcl, RouteSpec } from './types.js';

/**
 * ?flags: Consul's uint64, digit for digit (a bigint above 2^32 - 1); anything
 * else (negative, larger, not a decimal number) is a 400 naming it.
 */
function flagsParam(query: URLSearchParams): KvFlags | undefined {
  const text = query.get('flags');
  if (text === null) return undefined;
  if (!/^\d{1,20}$/.test(text) || BigInt(text) > MAX_KV_FLAGS) {
    throw badRequest(`invalid ?flags: "${text}" is not an integer from 0 to 18446744073709551615`);
  }
  return canonicalFlags(BigInt(text));
}

function checkKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw badRequest(`key too long: ${bytes} bytes, at most ${MAX_KEY_BYTES}`);
}

function requireKey(key: string): void {
  if (key === '') throw badRequest('Missing key name');
  checkKey(key);
}

/** Consul's JSON shape of an entry; an empty value is null; Session only while the key is locked. */
export function entryJson(e: KvEntry): Record<string, unknown> {
  const json: Record<string, unknown> = {
    LockIndex: e.lockIndex,
    Key: e.key,
    Flags: e.flags,
    Value: e.value.length === 0 ? null : e.value.toString('base64'),
    CreateIndex: e.createIndex,
    ModifyIndex: e.modifyIndex,
  };
  if (e.session !== undefined) json.Session = e.session;
  return json;
}

const EMPTY = Buffer.alloc(0);

/** The header that carries a lock's fencing token (the index of the write that acquired it). */
export const FENCING_TOKEN_HEADER = 'X-Konsul-Fencing-Token';

/**
 * ?fence=TOKEN (with ?fence-key=KEY, default the key written): the write
 * applies only while KEY is locked under that fencing token, so a holder whose
 * lock was lost (and maybe taken by another) cannot write any more.
 */
function fenceOp(ctx: RequestContext, key: string): TxnOp | undefined {
  const token = uintParam(ctx.query, 'fence');
  const fenceKey = ctx.query.get('fence-key');
  if (token === undefined) {
    if (fenceKey !== null) throw badRequest('?fence-key needs ?fence=<token>');
    return undefined;
  }
  const lockKey = fenceKey ?? key;
  requireKey(lockKey);
  return { verb: 'check-fence', key: lockKey, value: EMPTY, flags: 0, index: token, session: '' };
}

async function getKv(ctx: RequestContext): Promise<void> {
  const { agent, query, res } = ctx;
  const key = ctx.params.key;
  const keysMode = flag(query, 'keys');
  const recurse = flag(query, 'recurse');
  if (!keysMode && !recurse) requireKey(key);
  else checkKey(key);
  const consistency = parseConsistency(query);
  const blocking = parseBlocking(query, ctx.limits);
  // Consul still honours its historic misspelling.
  const separator = query.get('separator') ?? query.get('seperator') ?? undefined;

  let meta: ReadMeta = await agent.barrier(consistency);
  if (blocking) {
    await waitForKv(agent.state, key, blocking, ctx.signal);
    if (ctx.signal.aborted) return;
    // The wait may have been long: read at the asked consistency again.
    if (consistency !== 'stale') meta = await agent.barrier(consistency);
  }

  // Read the data and its index together, in one synchronous stretch.
  const state = agent.state;
  const headers = readHeaders(state.kvPrefixIndex(key), meta, consistency);
  if (keysMode) {
    const keys = state.kvKeys(key, separator === '' ? undefined : separator).filter((k) => ctx.authz.allowed('key', k, 'list'));
    // Consul answers the root with [] but any other empty prefix with 404.
    if (keys.length === 0 && key !== '') return sendEmpty(res, 404, headers);
    return sendJson(res, 200, keys, headers);
  }
  if (recurse) {
    const entries = state.kvList(key).filter((e) => ctx.authz.allowed('key', e.key, 'read'));
    if (entries.length === 0) return sendEmpty(res, 404, headers);
    return sendJson(res, 200, entries.map(entryJson), headers);
  }
  const entry = state.kvGet(key);
  if (!entry) return sendEmpty(res, 404, headers);
  if (entry.lockToken !== undefined) headers[FENCING_TOKEN_HEADER] = String(entry.lockToken);
  if (flag(query, 'raw')) {
    return sendBytes(res, 200, entry.value, 'application/octet-stream', { ...headers, 'X-Content-Type-Options': 'nosniff' });
  }
  return sendJson(res, 200, [entryJson(entry)], headers);
}

async function putKv(ctx: RequestContext): Promise<void> {
  const { query, req, res } = ctx;
  const key = ctx.params.key;
  requireKey(key);
  const acquire = query.get('acquire');
  const release = query.get('release');
  if (acquire !== null && release !== null) throw badRequest('Conflicting flags: ?acquire and ?release cannot be used together');
  for (const [name, id] of [['acquire', acquire], ['release', release]] as const) {
    if (id !== null && !isSessionId(id)) throw badRequest(`invalid ?${name}: ${JSON.stringify(id)} is not a session id`);
  }
  const fence = fenceOp(ctx, key);
  const flags = flagsParam(query);
  const cas = uintParam(query, 'cas');
  const value = await readBody(req, res, {
    maxBytes: ctx.limits.maxValueBytes,
    tooLarge: (max, got) => `Request body${got === undefined ? '' : `(${got} bytes)`} too large, max size: ${max} bytes (the KV value size limit)`,
  });
  if (acquire === null && release === null && fence === undefined) {
    const ok = await ctx.agent.kvPut(key, value, { flags, cas });
    sendJson(res, 200, ok);
    return;
  }
  // Locks and fenced writes are one-op (or two-op) transactions: the same rules as /v1/txn, one code path.
  // As in Consul, ?acquire and ?release win over ?cas.
  if (typeof flags === 'bigint') {
    throw badRequest('?flags above 4294967295 cannot go with ?acquire, ?release or ?fence: konsul\'s transactions carry 32-bit flags');
  }
  const write: TxnOp = {
    verb: acquire !== null ? 'lock' : release !== null ? 'unlock' : cas !== undefined ? 'cas' : 'set',
    key, value, flags: flags ?? 0, index: cas ?? 0, session: acquire ?? release ?? '',
  };
  const { outcome } = await ctx.agent.coord.txn(fence ? [fence, write] : [write], 'default');
  if (!outcome.ok && outcome.errors.some((e) => e.what.startsWith('invalid session'))) {
    throw badRequest(`invalid session ${JSON.stringify(acquire ?? release)}`);
  }
  const written = outcome.ok ? outcome.results[outcome.results.length - 1]?.entry : undefined;
  const headers = written?.lockToken !== undefined && acquire !== null ? { [FENCING_TOKEN_HEADER]: String(written.lockToken) } : {};
  sendJson(res, 200, outcome.ok, headers);
}

async function deleteKv(ctx: RequestContext): Promise<void> {
  const { query, res } = ctx;
  const key = ctx.params.key;
  const recurse = flag(query, 'recurse');
  const cas = uintParam(query, 'cas');
  if (recurse && cas !== undefined) throw badRequest('Conflicting flags: ?recurse and ?cas cannot be used together');
  if (recurse) checkKey(key);
  else requireKey(key);
  const fence = fenceOp(ctx, key);
  if (fence) {
    if (recurse) throw badRequest('Conflicting flags: ?fence applies to one key, not ?recurse');
    const del: TxnOp = { verb: cas === undefined ? 'delete' : 'delete-cas', key, value: EMPTY, flags: 0, index: cas ?? 0, session: '' };
    const { outcome } = await ctx.agent.coord.txn([fence, del], 'default');
    sendJson(res, 200, outcome.ok);
    return;
  }
  const ok = await ctx.agent.kvDelete(key, { recurse: recurse || undefined, cas });
  sendJson(res, 200, ok);
}

// A list (?recurse, ?keys) is filtered by key read, as Consul does; a recursive delete needs write on the whole subtree.
const kvRead: RouteAcl = {
  kind: 'check',
  require: (i) => (flag(i.query, 'recurse') || flag(i.query, 'keys') ? null : { resource: 'key', need: 'read', name: i.params.key ?? '' }),
};
const kvDelete: RouteAcl = {
  kind: 'check',
  require: (i) => ({ resource: 'key', need: 'write', name: i.params.key ?? '', subtree: flag(i.query, 'recurse') }),
};

export const kvRoutes: readonly RouteSpec[] = [
  {
    method: 'GET', path: '/v1/kv/*key', handler: getKv, acl: kvRead,
    // `seperator`: Consul still honours its historic misspelling.
    params: ['dc', ...READ_PARAMS, 'recurse', 'raw', 'keys', 'separator', 'seperator'],
    consulParams: ['dc', ...READ_PARAMS, 'recurse', 'raw', 'keys', 'separator', ...ENTERPRISE_PARAMS],
  },
  {
    method: 'PUT', path: '/v1/kv/*key', handler: putKv, acl: aclParam('key', 'write', 'key'),
    // ?fence and ?fence-key: konsul's fencing tokens (coord branch).
    params: ['dc', 'flags', 'cas', 'acquire', 'release', 'fence', 'fence-key'],
    consulParams: ['dc', 'flags', 'cas', 'acquire', 'release', ...ENTERPRISE_PARAMS],
  },
  {
    method: 'DELETE', path: '/v1/kv/*key', handler: deleteKv, acl: kvDelete,
    params: ['dc', 'recurse', 'cas', 'fence', 'fence-key'], consulParams: ['dc', 'recurse', 'cas', ...ENTERPRISE_PARAMS],
  },
];
