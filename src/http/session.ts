// /v1/session/*: Consul's session API. create, destroy and renew (PUT), info,
// list and node (GET, with consistency modes and blocking queries on the
// session index). Bodies and durations follow Consul: LockDelay as "15s" or a
// number (below 1000: seconds, else nanoseconds), TTL 10s..24h, Behavior
// release or delete, NodeChecks defaulting to serfHealth.

import type { ReadMeta } from '../agent/api.js';
import type { SessionRequest } from '../agent/sessions.js';
import { parseDuration } from '../duration.js';
import {
  MAX_LOCK_DELAY_MS, MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS, isSessionId, sessionJson, type SessionRecord,
} from '../state/index.js';
import { parseBlocking } from './blocking.js';
import { readBody } from './body.js';
import { parseConsistency, readHeaders } from './consistency.js';
import { badRequest, notFound } from './errors.js';
import { sendJson } from './respond.js';
import { aclBody, aclList, aclNeed } from './acl-check.js';
import type { AclRouteInput, RequestContext, RouteSpec } from './types.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) throw badRequest(`${field} must be a list of check IDs`);
  return v as string[];
}

/** Consul's lock-delay forms: a duration string, or a number (seconds below 1000, else nanoseconds). */
export function parseLockDelay(v: unknown): number {
  let ms: number | undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) ms = v < 1000 ? v * 1000 : v / 1e6;
  else if (typeof v === 'string') ms = parseDuration(v);
  if (ms === undefined || ms < 0) throw badRequest(`Request decode failed: LockDelay ${JSON.stringify(v)} is not a duration (examples: "15s", 15)`);
  if (ms > MAX_LOCK_DELAY_MS) throw badRequest(`LockDelay ${JSON.stringify(v)} is too long: at most ${MAX_LOCK_DELAY_MS / 1000}s`);
  return Math.round(ms);
}

/** The session create body (Consul's field names) as a request; a bad field is a 400 naming it. */
export function parseSessionBody(body: unknown): SessionRequest {
  if (body === undefined || body === null) return {};
  if (!isObject(body)) throw badRequest('Request decode failed: the body must be a JSON object');
  const out: SessionRequest = {};
  if (body.Name !== undefined) {
    if (typeof body.Name !== 'string') throw badRequest('Name must be a string');
    out.name = body.Name;
  }
  if (body.Node !== undefined && body.Node !== '') {
    if (typeof body.Node !== 'string') throw badRequest('Node must be a string');
    out.node = body.Node;
  }
  if (body.LockDelay !== undefined) out.lockDelayMs = parseLockDelay(body.LockDelay);
  if (body.Behavior !== undefined && body.Behavior !== '') {
    if (body.Behavior !== 'release' && body.Behavior !== 'delete') throw badRequest(`Invalid Behavior setting ${JSON.stringify(body.Behavior)}: release or delete`);
    out.behavior = body.Behavior;
  }
  if (body.TTL !== undefined && body.TTL !== '') {
    const ttlMs = typeof body.TTL === 'string' ? parseDuration(body.TTL) : undefined;
    if (ttlMs === undefined) throw badRequest(`Request decode failed: TTL ${JSON.stringify(body.TTL)} is not a duration (example: "30s")`);
    if (ttlMs !== 0 && (ttlMs < MIN_SESSION_TTL_MS || ttlMs > MAX_SESSION_TTL_MS)) {
      throw badRequest(`Invalid Session TTL '${String(body.TTL)}', must be between [10s=24h0m0s]`);
    }
    out.ttl = ttlMs === 0 ? '' : (body.TTL as string);
    out.ttlMs = Math.round(ttlMs);
  }
  // Checks (before Consul 1.7) and NodeChecks both name node checks; with neither, serfHealth.
  const checks = stringList(body.Checks, 'Checks');
  const nodeChecks = stringList(body.NodeChecks, 'NodeChecks');
  if (checks !== undefined || nodeChecks !== undefined) out.nodeChecks = [...new Set([...(checks ?? []), ...(nodeChecks ?? [])])];
  if (body.ServiceChecks !== undefined && body.ServiceChecks !== null) {
    if (!Array.isArray(body.ServiceChecks) || !body.ServiceChecks.every((c) => isObject(c) && typeof c.ID === 'string' && c.ID !== '')) {
      throw badRequest('ServiceChecks must be a list of {"ID": "..."} objects');
    }
    out.serviceChecks = (body.ServiceChecks as Array<Record<string, unknown>>).map((c) => ({
      id: c.ID as string, namespace: typeof c.Namespace === 'string' ? c.Namespace : '',
    }));
  }
  return out;
}

async function readJsonBody(ctx: RequestContext): Promise<unknown> {
  const raw = await readBody(ctx.req, ctx.res, {
    maxBytes: ctx.limits.maxBodyBytes,
    tooLarge: (max) => `Request body too large, max size: ${max} bytes`,
  });
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest('Request decode failed: the body is not JSON');
  }
}

function sessionId(ctx: RequestContext, what: string): string {
  const id = ctx.params.id ?? '';
  if (id === '') throw badRequest(`Missing session`);
  if (!isSessionId(id)) throw badRequest(`${what}: session id ${JSON.stringify(id)} is not a UUID`);
  return id;
}

async function createSession(ctx: RequestContext): Promise<void> {
  const request = parseSessionBody(ctx.body ?? await readJsonBody(ctx));
  const id = await ctx.agent.coord.createSession(request);
  sendJson(ctx.res, 200, { ID: id });
}

async function destroySession(ctx: RequestContext): Promise<void> {
  const id = sessionId(ctx, 'destroy');
  await ctx.agent.coord.destroySession(id);
  sendJson(ctx.res, 200, true);
}

async function renewSession(ctx: RequestContext): Promise<void> {
  const id = sessionId(ctx, 'renew');
  const session = await ctx.agent.coord.renewSession(id);
  if (!session) throw notFound(`Session id '${id}' not found`);
  sendJson(ctx.res, 200, [sessionJson(session)]);
}

/** A session read: consistency, blocking on the session index, the usual headers. */
async function readSessions(ctx: RequestContext, read: () => SessionRecord[]): Promise<void> {
  const consistency = parseConsistency(ctx.query);
  const blocking = parseBlocking(ctx.query, ctx.limits);
  let meta: ReadMeta = await ctx.agent.barrier(consistency);
  const state = ctx.agent.state;
  if (blocking) {
    await state.coord.waitSessions(blocking.index, blocking.waitMs, ctx.signal);
    if (ctx.signal.aborted) return;
    if (consistency !== 'stale') meta = await ctx.agent.barrier(consistency);
  }
  const headers = readHeaders(state.coord.sessionIndex(), meta, consistency);
  // Consul filters session reads by session:read on each session's node (never a 403).
  const readable = read().filter((x) => ctx.authz.allowed('session', x.node, 'read'));
  sendJson(ctx.res, 200, readable.map(sessionJson), headers);
}

function sessionInfo(ctx: RequestContext): Promise<void> {
  const id = ctx.params.id ?? '';
  if (id === '') throw badRequest('Missing session');
  return readSessions(ctx, () => {
    const s = ctx.agent.state.session(id);
    return s ? [s] : [];
  });
}

function sessionList(ctx: RequestContext): Promise<void> {
  return readSessions(ctx, () => ctx.agent.state.sessions());
}

function nodeSessions(ctx: RequestContext): Promise<void> {
  const node = ctx.params.node ?? '';
  if (node === '') throw badRequest('Missing node name');
  return readSessions(ctx, () => ctx.agent.state.sessions(node));
}

/** Consul's rule: session:write on the node the session is (or is to be) tied to. */
function sessionNode(input: AclRouteInput): string {
  return input.agent.state.session(input.params.id ?? '')?.node ?? input.agent.nodeId;
}

const SESSION_READ = aclList('session');

export const sessionRoutes: readonly RouteSpec[] = [
  {
    method: 'PUT', path: '/v1/session/create', handler: createSession, params: ['dc'], consulParams: ['dc', 'ns', 'partition'],
    acl: aclBody((i) => ({ resource: 'session', need: 'write', name: typeof i.body.Node === 'string' && i.body.Node !== '' ? i.body.Node : i.agent.nodeId }), { optional: true }),
  },
  { method: 'PUT', path: '/v1/session/destroy/:id', handler: destroySession, acl: aclNeed('session', 'write', sessionNode), params: ['dc'], consulParams: ['dc', 'ns', 'partition'] },
  { method: 'PUT', path: '/v1/session/renew/:id', handler: renewSession, acl: aclNeed('session', 'write', sessionNode), params: ['dc'], consulParams: ['dc', 'ns', 'partition'] },
  { method: 'GET', path: '/v1/session/info/:id', handler: sessionInfo, acl: SESSION_READ, params: ['dc', 'stale', 'consistent', 'index', 'wait'], consulParams: [...['dc', 'stale', 'consistent', 'index', 'wait'], 'cached', 'ns', 'partition'] },
  { method: 'GET', path: '/v1/session/list', handler: sessionList, acl: SESSION_READ, params: ['dc', 'stale', 'consistent', 'index', 'wait'], consulParams: [...['dc', 'stale', 'consistent', 'index', 'wait'], 'cached', 'ns', 'partition'] },
  { method: 'GET', path: '/v1/session/node/:node', handler: nodeSessions, acl: SESSION_READ, params: ['dc', 'stale', 'consistent', 'index', 'wait'], consulParams: [...['dc', 'stale', 'consistent', 'index', 'wait'], 'cached', 'ns', 'partition'] },
];
