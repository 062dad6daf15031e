// Consul's prepared queries: /v1/query (create, list), /v1/query/:uuid (read,
// update, delete), /v1/query/:uuid/execute and /explain, in Consul's JSON
// shapes and words. Queries are replicated state (a Raft command); execute
// and explain read this agent's replica, as DNS does for NAME.query.<domain>.
//
// konsul serves one datacenter: Failover is kept and returned, but an execute
// never leaves the datacenter (Failovers is always 0). It keeps no network
// coordinates: Near (and ?near) moves the named node to the front of shuffled
// results, as Consul does when it has no coordinates for them.

import { randomUUID } from 'node:crypto';
import type { Authorizer } from '../acl/authorizer.js';
import {
  executeQuery, REDACTED_TOKEN, TEMPLATE_TYPE,
  type PreparedQuery, type PreparedQueryInput, type PreparedQueryOp, type ServiceInstance, type ServiceQuery,
} from '../state/index.js';
import { aclList, aclNotFound, permissionDenied } from './acl-check.js';
import { checkJson, nodeJson, readAt, send, serviceJson } from './catalog.js';
import { badRequest, HttpError } from './errors.js';
import { sendEmpty, sendJson } from './respond.js';
import type { AclRequirement, AclRouteInput, RequestContext, RouteSpec } from './types.js';

// ------------------------------------------------------------ the request body

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A JSON object's fields by Consul's names, matched without regard to case
 * (Go's decoder). A field this endpoint does not know is a 400 naming it;
 * `ignored` are fields a client may send back from a read (indexes), and
 * `unsupported` fields that may only hold their empty value here.
 */
class Fields {
  private readonly byName = new Map<string, unknown>();
  constructor(body: Record<string, unknown>, readonly where: string, known: readonly string[], ignored: readonly string[] = []) {
    const lower = new Map(known.map((k) => [k.toLowerCase(), k]));
    const skip = new Set(ignored.map((k) => k.toLowerCase()));
    for (const [k, v] of Object.entries(body)) {
      const name = lower.get(k.toLowerCase());
      if (name === undefined) {
        if (skip.has(k.toLowerCase())) continue;
        throw badRequest(`Request decode failed: unknown field ${JSON.stringify(`${where}${k}`)} (fields: ${known.join(', ')})`);
      }
      if (v !== null) this.byName.set(name, v);
    }
  }

  text(name: string): string {
    const v = this.byName.get(name);
    if (v === undefined) return '';
    if (typeof v !== 'string') throw badRequest(`Request decode failed: ${this.where}${name} must be a string`);
    return v;
  }

  bool(name: string): boolean {
    const v = this.byName.get(name);
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw badRequest(`Request decode failed: ${this.where}${name} must be true or false`);
    return v;
  }

  int(name: string): number {
    const v = this.byName.get(name);
    if (v === undefined) return 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badRequest(`Request decode failed: ${this.where}${name} must be a whole number`);
    return v;
  }

  list(name: string): string[] {
    const v = this.byName.get(name);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(`Request decode failed: ${this.where}${name} must be a list of strings`);
    return v as string[];
  }

  map(name: string): Record<string, string> {
    const v = this.byName.get(name);
    if (v === undefined) return {};
    if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw badRequest(`Request decode failed: ${this.where}${name} must be an object of strings`);
    return v as Record<string, string>;
  }

  object(name: string, known: readonly string[]): Fields {
    const v = this.byName.get(name);
    if (v !== undefined && !isObject(v)) throw badRequest(`Request decode failed: ${this.where}${name} must be an object`);
    return new Fields(v ?? {}, `${this.where}${name}.`, known);
  }

  /** A field konsul cannot honour: only its empty value (or one of `allowed`) is accepted. */
  unsupported(name: string, why: string, allowed: readonly unknown[] = []): void {
    const v = this.byName.get(name);
    if (v === undefined || v === '' || v === false || (Array.isArray(v) && v.length === 0) || allowed.includes(v)) return;
    throw badRequest(`${this.where}${name} is not supported: ${why}`);
  }
}

const QUERY_FIELDS = ['ID', 'Name', 'Session', 'Token', 'Template', 'Service', 'DNS'];
const READ_ONLY_FIELDS = ['CreateIndex', 'ModifyIndex', 'RaftIndex'];
const SERVICE_FIELDS = [
  'Service', 'Failover', 'OnlyPassing', 'IgnoreCheckIDs', 'Near', 'Tags', 'NodeMeta', 'ServiceMeta',
  'Connect', 'Peer', 'SamenessGroup', 'Namespace', 'Partition',
];
const NO_MESH = 'konsul has no service mesh';
const ONE_DC = 'konsul serves one datacenter and has no cluster peering';

/** The query a create or update body defines (Consul's field names, any case). */
function parseQuery(body: Record<string, unknown>, id: string): PreparedQueryInput {
  const f = new Fields(body, '', QUERY_FIELDS, READ_ONLY_FIELDS);
  const template = f.object('Template', ['Type', 'Regexp', 'RemoveEmptyTags']);
  const s = f.object('Service', SERVICE_FIELDS);
  const failover = s.object('Failover', ['NearestN', 'Datacenters', 'Targets']);
  failover.unsupported('Targets', ONE_DC);
  s.unsupported('Connect', NO_MESH);
  s.unsupported('Peer', ONE_DC);
  s.unsupported('SamenessGroup', 'a Consul Enterprise feature');
  s.unsupported('Namespace', 'a Consul Enterprise feature', ['default']);
  s.unsupported('Partition', 'a Consul Enterprise feature', ['default']);
  const service: ServiceQuery = {
    service: s.text('Service'),
    failover: { nearestN: failover.int('NearestN'), datacenters: failover.list('Datacenters') },
    onlyPassing: s.bool('OnlyPassing'),
    ignoreCheckIds: s.list('IgnoreCheckIDs'),
    near: s.text('Near'),
    tags: s.list('Tags'),
    nodeMeta: s.map('NodeMeta'),
    serviceMeta: s.map('ServiceMeta'),
  };
  return {
    id,
    name: f.text('Name'),
    session: f.text('Session'),
    token: f.text('Token'),
    template: { type: template.text('Type'), regexp: template.text('Regexp'), removeEmptyTags: template.bool('RemoveEmptyTags') },
    service,
    dns: { ttl: f.object('DNS', ['TTL']).text('TTL') },
  };
}

// ------------------------------------------------------------ Consul's JSON

const listOrNull = (l: readonly string[]): string[] | null => (l.length === 0 ? null : [...l]);
const mapOrNull = (m: Record<string, string>): Record<string, string> | null => (Object.keys(m).length === 0 ? null : m);

function queryJson(q: PreparedQuery, showToken: boolean): Record<string, unknown> {
  const s = q.service;
  return {
    ID: q.id, Name: q.name, Session: q.session, Token: showToken || q.token === '' ? q.token : REDACTED_TOKEN,
    Template: { Type: q.template.type, Regexp: q.template.regexp, RemoveEmptyTags: q.template.removeEmptyTags },
    Service: {
      Service: s.service,
      Failover: { NearestN: s.failover.nearestN, Datacenters: listOrNull(s.failover.datacenters), Targets: null },
      OnlyPassing: s.onlyPassing, IgnoreCheckIDs: listOrNull(s.ignoreCheckIds), Near: s.near, Tags: listOrNull(s.tags),
      NodeMeta: mapOrNull(s.nodeMeta), ServiceMeta: mapOrNull(s.serviceMeta), Peer: '', Connect: false,
    },
    DNS: { TTL: q.dns.ttl },
    CreateIndex: q.createIndex, ModifyIndex: q.modifyIndex,
  };
}

// ------------------------------------------------------------ ACLs (Consul's query rules)

/** The name query rules apply to: the name, for a named query or a template; none for an unnamed one (its ID is its secret). */
function aclPrefix(q: Pick<PreparedQueryInput, 'name' | 'template'>): string | undefined {
  return q.name !== '' || q.template.type !== '' ? q.name : undefined;
}

function queryNeed(q: Pick<PreparedQueryInput, 'name' | 'template'> | undefined, need: 'read' | 'write'): AclRequirement | null {
  const prefix = q && aclPrefix(q);
  return prefix === undefined ? null : { resource: 'query', need, name: prefix };
}

/** Tokens are shown only to a token that may write ACLs (Consul's management check). */
function maySeeTokens(authz: Authorizer): boolean {
  return authz.allowed('acl', '', 'write');
}

function requireOn(ctx: RequestContext, q: PreparedQuery, need: 'read' | 'write'): void {
  const requirement = queryNeed(q, need);
  if (requirement && !ctx.authz.allowed('query', requirement.name, need)) throw permissionDenied(ctx.token, requirement);
}

/** A create or update body's name and template, as far as the ACL check needs them (the handler checks the rest). */
function bodyNeed(input: AclRouteInput): AclRequirement | null {
  const body = input.body ?? {};
  let name = '';
  let type = '';
  for (const [k, v] of Object.entries(body)) {
    if (k.toLowerCase() === 'name' && typeof v === 'string') name = v;
    if (k.toLowerCase() === 'template' && isObject(v)) for (const [tk, tv] of Object.entries(v)) if (tk.toLowerCase() === 'type' && typeof tv === 'string') type = tv;
  }
  return queryNeed({ name, template: { type, regexp: '', removeEmptyTags: false } }, 'write');
}

// ------------------------------------------------------------ handlers

function queryNotFound(): HttpError {
  return new HttpError('KONSUL_ERR_NOT_FOUND', 'Query not found', 'not-found');
}

function existing(ctx: RequestContext): PreparedQuery {
  const q = ctx.agent.state.queries.get(ctx.params.uuid);
  if (!q) throw queryNotFound();
  return q;
}

async function create(ctx: RequestContext): Promise<void> {
  const body = ctx.body ?? {};
  const idField = Object.entries(body).find(([k]) => k.toLowerCase() === 'id')?.[1];
  if (idField !== undefined && idField !== null && idField !== '') throw badRequest('ID must be empty when creating a new prepared query');
  const input = parseQuery(body, randomUUID());
  await apply(ctx, { op: 'set', query: input, create: true });
  sendJson(ctx.res, 200, { ID: input.id });
}

async function update(ctx: RequestContext): Promise<void> {
  const current = existing(ctx);
  // The new definition's name was checked before the handler; the one it replaces must be writable too.
  requireOn(ctx, current, 'write');
  // The path names the query; an ID in the body is the same query read back, or ignored as Consul does.
  const input = parseQuery(ctx.body ?? {}, current.id);
  await apply(ctx, { op: 'set', query: input, create: false });
  sendEmpty(ctx.res, 200);
}

async function remove(ctx: RequestContext): Promise<void> {
  const current = existing(ctx);
  requireOn(ctx, current, 'write');
  await apply(ctx, { op: 'delete', id: current.id });
  sendEmpty(ctx.res, 200);
}

/** Checks the definition here for a clear 400 first; every replica checks again as it applies. */
async function apply(ctx: RequestContext, op: PreparedQueryOp): Promise<void> {
  try {
    await ctx.agent.preparedQueryApply(op);
  } catch (error) {
    // The definition's own faults read as Consul words them; the state store's refusals (a taken name) as they are.
    const message = (error as Error).message;
    if ((error as { kind?: string }).kind === 'invalid' && message.startsWith('prepared query: ')) {
      throw badRequest(`Invalid prepared query: ${message.slice('prepared query: '.length)}`);
    }
    throw error;
  }
}

async function list(ctx: RequestContext): Promise<void> {
  const queries = ctx.agent.state.queries;
  const meta = await readAt(ctx, async () => queries.index());
  if (!meta) return;
  const manage = maySeeTokens(ctx.authz);
  // Consul lists a query to a token that may read its name; unnamed ones only to a management token.
  const visible = queries.list().filter((q) => {
    if (manage) return true;
    const prefix = aclPrefix(q);
    return prefix !== undefined && ctx.authz.allowed('query', prefix, 'read');
  });
  send(ctx, meta, queries.index(), visible.map((q) => queryJson(q, manage)));
}

async function read(ctx: RequestContext): Promise<void> {
  const queries = ctx.agent.state.queries;
  const meta = await readAt(ctx, async () => queries.index());
  if (!meta) return;
  const q = existing(ctx);
  requireOn(ctx, q, 'read');
  send(ctx, meta, queries.index(), [queryJson(q, maySeeTokens(ctx.authz))]);
}

function resolved(ctx: RequestContext): PreparedQuery {
  const q = ctx.agent.state.queries.resolve(ctx.params.uuid);
  if (!q) throw queryNotFound();
  return q;
}

async function explain(ctx: RequestContext): Promise<void> {
  const queries = ctx.agent.state.queries;
  const meta = await readAt(ctx, async () => queries.index());
  if (!meta) return;
  const q = resolved(ctx);
  requireOn(ctx, q, 'read');
  send(ctx, meta, queries.index(), { Query: queryJson(q, maySeeTokens(ctx.authz)) });
}

function limitParam(ctx: RequestContext): number {
  const text = ctx.query.get('limit');
  if (text === null || text === '') return 0;
  if (!/^\d{1,9}$/.test(text)) throw badRequest(`Invalid ?limit: "${text}" is not a whole number`);
  return Number(text);
}

/** The node whose address the request came from (?near=_ip): X-Forwarded-For first, as Consul reads it. */
function sourceNode(ctx: RequestContext): string | undefined {
  const forwarded = ctx.req.headers['x-forwarded-for'];
  const first = typeof forwarded === 'string' ? forwarded.split(',')[0]!.trim() : undefined;
  const ip = (first || ctx.req.socket.remoteAddress || '').replace(/^::ffff:/, '');
  return ctx.agent.state.catalog.nodes().find((n) => n.address === ip)?.node;
}

async function execute(ctx: RequestContext): Promise<void> {
  const queries = ctx.agent.state.queries;
  const limit = limitParam(ctx);
  const meta = await readAt(ctx, async () => queries.index());
  if (!meta) return;
  const q = resolved(ctx);
  // The query's own token, when it has one, decides what the results may show (Consul's rule); else the caller's.
  let authz = ctx.authz;
  if (q.token !== '') {
    const bound = ctx.acl.resolve(q.token);
    if (!bound) throw aclNotFound();
    authz = bound.authorizer;
  }
  const near = ctx.query.get('near') ?? '';
  const all = executeQuery(ctx.agent.state.catalog, q, {
    near, agentNode: ctx.agent.nodeId, limit: 0, ipNode: near === '_ip' || q.service.near === '_ip' ? sourceNode(ctx) : undefined,
  });
  const visible = all.filter((i: ServiceInstance) => authz.allowed('node', i.node.node, 'read') && authz.allowed('service', i.service.service, 'read'));
  const nodes = limit > 0 ? visible.slice(0, limit) : visible;
  if (visible.length < all.length) ctx.res.setHeader('X-Consul-Results-Filtered-By-ACLs', 'true');
  send(ctx, meta, Math.max(queries.index(), ctx.agent.state.catalog.serviceIndex(q.service.service)), {
    Service: q.service.service,
    Nodes: nodes.map((i) => ({ Node: nodeJson(i.node), Service: serviceJson(i.service), Checks: i.checks.map(checkJson) })),
    DNS: { TTL: q.dns.ttl },
    Datacenter: ctx.agent.self().datacenter,
    Failovers: 0,
  });
}

// ------------------------------------------------------------ routes

const READS = ['dc', 'stale', 'consistent'] as const;
const ONE_DC_NOTE = 'Failover is kept and returned; an execute never leaves konsul\'s one datacenter';

export const preparedQueryRoutes: readonly RouteSpec[] = [
  {
    method: 'POST', path: '/v1/query', handler: create, params: ['dc'], consulParams: ['dc'],
    acl: { kind: 'check', body: true, require: bodyNeed },
    note: `Template type ${TEMPLATE_TYPE}; Connect, Peer and Failover.Targets are refused (no mesh, one datacenter)`,
  },
  { method: 'GET', path: '/v1/query', handler: list, params: [...READS], consulParams: [...READS], acl: aclList('query') },
  {
    method: 'GET', path: '/v1/query/:uuid', handler: read, params: [...READS], consulParams: [...READS],
    acl: { kind: 'check', require: (input) => queryNeed(input.agent.state.queries.get(input.params.uuid ?? ''), 'read') },
  },
  {
    method: 'PUT', path: '/v1/query/:uuid', handler: update, params: ['dc'], consulParams: ['dc'],
    acl: { kind: 'check', body: true, require: bodyNeed },
  },
  {
    method: 'DELETE', path: '/v1/query/:uuid', handler: remove, params: ['dc'], consulParams: ['dc'],
    acl: { kind: 'check', require: (input) => queryNeed(input.agent.state.queries.get(input.params.uuid ?? ''), 'write') },
  },
  {
    method: 'GET', path: '/v1/query/:uuid/execute', handler: execute, params: [...READS, 'near', 'limit'],
    consulParams: [...READS, 'near', 'limit', 'connect', 'cached'],
    // Consul: the query's token (or the caller's) filters the results by service and node read; no query right is needed.
    acl: aclList('service'),
    note: `${ONE_DC_NOTE}; no network coordinates, so near only moves that node to the front of shuffled results`,
  },
  {
    method: 'GET', path: '/v1/query/:uuid/explain', handler: explain, params: [...READS], consulParams: [...READS],
    acl: { kind: 'check', require: (input) => queryNeed(input.agent.state.queries.resolve(input.params.uuid ?? ''), 'read') },
  },
];
