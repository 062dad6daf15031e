// Consul's /v1/agent endpoints: this agent's own services and checks (register,
// deregister, list, TTL updates, local health by service), /v1/agent/self and
// /v1/agent/members.

import { createHash } from 'node:crypto';
import { parseHostPort } from '../agent/config.js';
import {
  parseCheckRegistration, parseServiceRegistration, type CheckDefinition, type ServiceDefinition,
} from '../agent/local/definitions.js';
import { NODE_HEALTH_CHECK_ID, worstStatus, type HealthStatus } from '../state/index.js';
import { readJsonObject } from './body.js';
import { serviceExtrasJson } from './catalog.js';
import { CHECK_SCHEMA, MEMBER_SCHEMA, SERVICE_SCHEMA } from './filter/schemas.js';
import { applyFilter, filterParam } from './filtering.js';
import { ENTERPRISE_PARAMS } from './params.js';
import { durationParam } from './query.js';
import { badRequest, notFound } from './errors.js';
import { sendEmpty, sendJson, sendText } from './respond.js';
import { aclBody, aclList, aclNeed, aclParam } from './acl-check.js';
import type { AclRequirement, AclRouteInput, RequestContext, RouteSpec } from './types.js';

export function agentServiceJson(s: ServiceDefinition, datacenter: string): Record<string, unknown> {
  return {
    ID: s.id, Service: s.name, Tags: s.tags, Meta: s.meta, Port: s.port, Address: s.address,
    Weights: { Passing: s.weights.passing, Warning: s.weights.warning }, EnableTagOverride: s.enableTagOverride,
    ...serviceExtrasJson(s), Datacenter: datacenter,
  };
}

type LocalCheck = ReturnType<RequestContext['agent']['local']['listChecks']>[number];

function agentCheckJson(c: LocalCheck, node: string, service: ServiceDefinition | undefined): Record<string, unknown> {
  const d = c.definition;
  return {
    Node: node, CheckID: d.id, Name: d.name, Status: c.status, Notes: d.notes, Output: c.output, ServiceID: d.serviceId,
    ServiceName: service?.name ?? '', ServiceTags: service?.tags ?? [], Type: d.kind,
    Interval: d.intervalMs > 0 ? `${d.intervalMs}ms` : '', Timeout: d.timeoutMs > 0 ? `${d.timeoutMs}ms` : '',
  };
}

/** Script checks run any command on this host: only when the agent was started with --enable-script-checks. */
function allowChecks(ctx: RequestContext, checks: readonly CheckDefinition[]): void {
  if (checks.some((c) => c.kind === 'script') && !ctx.agent.self().scriptChecksEnabled) {
    throw badRequest("Scripts are disabled on this agent; to enable, start it with --enable-script-checks (or 'enable_script_checks': true)");
  }
}

// ------------------------------------------------------------ services

async function registerService(ctx: RequestContext): Promise<void> {
  const body = ctx.body ?? await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const { service, checks } = parseServiceRegistration(body);
  allowChecks(ctx, checks);
  await ctx.agent.local.registerService(service, checks);
  sendEmpty(ctx.res, 200);
}

async function deregisterService(ctx: RequestContext): Promise<void> {
  const id = ctx.params.id;
  if (!(await ctx.agent.local.deregisterService(id))) throw notFound(`Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
  sendEmpty(ctx.res, 200);
}

function listServices(ctx: RequestContext): void {
  const dc = ctx.agent.self().datacenter;
  const filter = filterParam(ctx, SERVICE_SCHEMA);
  const services = applyFilter(ctx.agent.local.listServices().filter((s) => ctx.authz.allowed('service', s.name, 'read')).map((s) => agentServiceJson(s, dc)), filter);
  sendJson(ctx.res, 200, Object.fromEntries(services.map((s) => [s.ID, s])));
}

/** The service's JSON with Consul's ContentHash: a hash of everything else, which changes when anything does. */
function serviceWithHash(ctx: RequestContext, id: string): { body: Record<string, unknown>; hash: string } | undefined {
  const s = ctx.agent.local.service(id);
  if (!s) return undefined;
  const body = agentServiceJson(s, ctx.agent.self().datacenter);
  const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { body: { ...body, ContentHash: hash }, hash };
}

/**
 * GET /v1/agent/service/:id, with Consul's hash-based blocking: `?hash=H`
 * holds the answer until the service's ContentHash is no longer H (or `?wait`
 * ends). A local registration change always reaches the catalog's record of
 * this node, so the wait is on that node's index.
 */
async function getService(ctx: RequestContext): Promise<void> {
  const id = ctx.params.id;
  const wanted = ctx.query.get('hash');
  const wait = durationParam(ctx.query, 'wait');
  if (wait !== undefined && wanted === null) throw badRequest('?wait on /v1/agent/service/:id blocks on ?hash; give the ContentHash of the last answer');
  let current = serviceWithHash(ctx, id);
  if (wanted !== null && wanted !== '' && current?.hash === wanted) {
    const limit = wait === undefined || wait <= 0 ? ctx.limits.defaultWaitMs : Math.min(wait, ctx.limits.maxWaitMs);
    const deadline = Date.now() + limit + Math.floor(Math.random() * (limit / 16));
    const catalog = ctx.agent.state.catalog;
    const node = ctx.agent.nodeId;
    while (current?.hash === wanted && !ctx.signal.aborted) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      await catalog.waitNode(node, catalog.nodeIndex(node), remaining, ctx.signal);
      current = serviceWithHash(ctx, id);
    }
    if (ctx.signal.aborted) return;
  }
  if (!current) throw notFound(`unknown service ID: ${id}`);
  sendJson(ctx.res, 200, current.body, { 'X-Consul-ContentHash': current.hash });
}

// ------------------------------------------------------------ checks

function listChecks(ctx: RequestContext): void {
  const { local } = ctx.agent;
  const node = ctx.agent.nodeId;
  const filter = filterParam(ctx, CHECK_SCHEMA);
  const checks = applyFilter(local.listChecks().filter((c) => {
    const service = c.definition.serviceId === '' ? undefined : local.service(c.definition.serviceId);
    return service ? ctx.authz.allowed('service', service.name, 'read') : ctx.authz.allowed('node', node, 'read');
  }).map((c) => agentCheckJson(c, node, local.service(c.definition.serviceId))), filter);
  sendJson(ctx.res, 200, Object.fromEntries(checks.map((c) => [c.CheckID, c])));
}

async function registerCheck(ctx: RequestContext): Promise<void> {
  const body = ctx.body ?? await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const check = parseCheckRegistration(body);
  allowChecks(ctx, [check]);
  await ctx.agent.local.registerCheck(check);
  sendEmpty(ctx.res, 200);
}

async function deregisterCheck(ctx: RequestContext): Promise<void> {
  const id = ctx.params.id;
  if (!(await ctx.agent.local.deregisterCheck(id))) throw notFound(`Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
  sendEmpty(ctx.res, 200);
}

const TTL_STATUS: Record<string, HealthStatus> = { pass: 'passing', warn: 'warning', fail: 'critical' };

async function ttlShortcut(ctx: RequestContext): Promise<void> {
  const status = TTL_STATUS[ctx.params.verb];
  if (!status) throw notFound(`no such endpoint: /v1/agent/check/${ctx.params.verb}`);
  await ctx.agent.local.updateTtl(ctx.params.id, status, ctx.query.get('note') ?? undefined);
  sendEmpty(ctx.res, 200);
}

async function ttlUpdate(ctx: RequestContext): Promise<void> {
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const status = body.Status ?? body.status;
  const output = body.Output ?? body.output;
  if (status !== 'passing' && status !== 'warning' && status !== 'critical') {
    throw badRequest('Status: must be "passing", "warning" or "critical"');
  }
  if (output !== undefined && typeof output !== 'string') throw badRequest('Output: must be a string');
  await ctx.agent.local.updateTtl(ctx.params.id, status, output);
  sendEmpty(ctx.res, 200);
}

// ------------------------------------------------------------ local health

const HEALTH_CODE: Record<HealthStatus, number> = { passing: 200, warning: 429, critical: 503 };

/** A service's own checks and this node's, as the local agent sees them. */
function localHealth(ctx: RequestContext, s: ServiceDefinition): { status: HealthStatus; body: Record<string, unknown> } {
  const { local } = ctx.agent;
  const node = ctx.agent.nodeId;
  const checks = local.listChecks().filter((c) => c.definition.serviceId === s.id || c.definition.serviceId === '');
  const status = worstStatus(checks.map((c) => c.status));
  return {
    status,
    body: {
      AggregatedStatus: status,
      Service: agentServiceJson(s, ctx.agent.self().datacenter),
      Checks: checks.map((c) => agentCheckJson(c, node, local.service(c.definition.serviceId))),
    },
  };
}

function healthByName(ctx: RequestContext): void {
  const name = ctx.params.name.toLowerCase();
  const services = ctx.agent.local.listServices().filter((s) => s.name.toLowerCase() === name);
  if (services.length === 0) throw notFound(`ServiceName ${ctx.params.name} Not Found`);
  const results = services.map((s) => localHealth(ctx, s));
  const status = worstStatus(results.map((r) => r.status));
  if (ctx.query.get('format') === 'text') return sendText(ctx.res, HEALTH_CODE[status], status);
  sendJson(ctx.res, HEALTH_CODE[status], results.map((r) => r.body));
}

function healthById(ctx: RequestContext): void {
  const s = ctx.agent.local.service(ctx.params.id);
  if (!s) throw notFound(`ServiceId ${ctx.params.id} not found`);
  const { status, body } = localHealth(ctx, s);
  if (ctx.query.get('format') === 'text') return sendText(ctx.res, HEALTH_CODE[status], status);
  sendJson(ctx.res, HEALTH_CODE[status], body);
}

// ------------------------------------------------------------ self and members

function self(ctx: RequestContext): void {
  const me = ctx.agent.self();
  const raft = parseHostPort(me.raftAddress, 0);
  sendJson(ctx.res, 200, {
    Config: {
      Datacenter: me.datacenter, NodeName: me.nodeId, NodeID: me.nodeUuid, Server: me.server, Version: me.version,
      Revision: '', Domain: me.domain, HTTPAddr: me.httpAddress, DNSAddr: me.dnsAddress, RaftAddr: me.raftAddress,
    },
    Member: {
      Name: me.nodeId, Addr: raft?.host ?? '', Port: raft?.port ?? 0,
      Tags: { role: me.server ? 'consul' : 'node', dc: me.datacenter, id: me.nodeUuid, vsn: String(me.protocolVersion) },
      Status: 1,
    },
    Meta: {},
  });
}

/** Consul's member statuses. */
const ALIVE = 1;
const FAILED = 4;

function members(ctx: RequestContext): void {
  const { agent } = ctx;
  const me = agent.self();
  const catalog = agent.state.catalog;
  const filter = filterParam(ctx, MEMBER_SCHEMA);
  const status = agent.status();
  // Without a leader (a quorum loss) nobody keeps the members' health: this agent's own links to
  // its peers (which it dials while it campaigns) say which of them it cannot reach.
  const unreachable = new Set<string>();
  if (status.leader === null) {
    const peers = (agent.stats().transport as { peers?: Array<{ nodeId: string; state: string; failures: number }> }).peers ?? [];
    for (const p of peers) if (p.state !== 'connected' && p.failures > 0) unreachable.add(p.nodeId);
  }
  const out = status.members.filter((m) => ctx.authz.allowed('node', m.id, 'read')).map((m) => {
    const record = agent.state.member(m.id);
    const server = record?.server ?? m.voter;
    const hp = parseHostPort(m.raftAddress, 0);
    const nodeCheck = catalog.nodeChecks(m.id).find((c) => c.checkId === NODE_HEALTH_CHECK_ID);
    return {
      Name: m.id, Addr: hp?.host ?? '', Port: hp?.port ?? 0,
      Tags: {
        role: server ? 'consul' : 'node', dc: me.datacenter, voter: String(m.voter), raft_addr: m.raftAddress,
        http_addr: m.httpAddress, vsn: String(me.protocolVersion),
      },
      Status: nodeCheck?.status === 'critical' || m.healthy === false || unreachable.has(m.id) ? FAILED : ALIVE,
      ProtocolMin: me.protocolVersion, ProtocolMax: me.protocolVersion, ProtocolCur: me.protocolVersion,
    };
  });
  // scale: client agents are member records outside the Raft configuration.
  const listed = new Set(status.members.map((m) => m.id));
  for (const record of agent.state.members()) {
    if (listed.has(record.id) || record.server || !ctx.authz.allowed('node', record.id, 'read')) continue;
    const hp = parseHostPort(record.raftAddress, 0);
    const nodeCheck = catalog.nodeChecks(record.id).find((c) => c.checkId === NODE_HEALTH_CHECK_ID);
    out.push({
      Name: record.id, Addr: hp?.host ?? '', Port: hp?.port ?? 0,
      Tags: {
        role: 'node', dc: me.datacenter, voter: 'false', raft_addr: record.raftAddress, http_addr: record.httpAddress,
        vsn: String(me.protocolVersion),
      },
      Status: nodeCheck?.status === 'critical' ? FAILED : ALIVE,
      ProtocolMin: me.protocolVersion, ProtocolMax: me.protocolVersion, ProtocolCur: me.protocolVersion,
    });
  }
  sendJson(ctx.res, 200, applyFilter(out, filter));
}

// ------------------------------------------------------------ ACL declarations

/** A local service's name by id (its id when unknown: the handler answers 404 after the check). */
function serviceName(agent: AclRouteInput['agent'], id: string): string {
  return agent.local.service(id)?.name ?? id;
}

/** Consul: a service's check needs service:write on the service, a node check node:write on the node. */
function checkRequirement(agent: AclRouteInput['agent'], serviceId: string): AclRequirement {
  return serviceId === ''
    ? { resource: 'node', need: 'write', name: agent.nodeId }
    : { resource: 'service', need: 'write', name: serviceName(agent, serviceId) };
}

function existingCheckRequirement(input: AclRouteInput): AclRequirement {
  const check = input.agent.local.listChecks().find((c) => c.definition.id === input.params.id);
  return checkRequirement(input.agent, check?.definition.serviceId ?? '');
}

const serviceById = (need: 'read' | 'write'): RouteSpec['acl'] => aclNeed('service', need, (i) => serviceName(i.agent, i.params.id ?? ''));
const SCOPES = ENTERPRISE_PARAMS;

export const agentRoutes: readonly RouteSpec[] = [
  {
    method: 'PUT', path: '/v1/agent/service/register', handler: registerService,
    acl: aclBody((i) => ({ resource: 'service', need: 'write', name: parseServiceRegistration(i.body).service.name })),
    params: [], consulParams: ['replace-existing-checks', ...SCOPES],
    note: 'Kind, Proxy, Connect, TaggedAddresses, SocketPath, Locality kept and returned as given (no service mesh)',
  },
  { method: 'PUT', path: '/v1/agent/service/deregister/:id', handler: deregisterService, acl: serviceById('write'), params: [], consulParams: [...SCOPES] },
  { method: 'GET', path: '/v1/agent/services', handler: listServices, acl: aclList('service'), params: ['filter'], consulParams: ['filter', ...SCOPES] },
  { method: 'GET', path: '/v1/agent/service/:id', handler: getService, acl: serviceById('read'), params: ['hash', 'wait'], consulParams: ['hash', 'wait', ...SCOPES] },
  { method: 'GET', path: '/v1/agent/checks', handler: listChecks, acl: aclList('service'), params: ['filter'], consulParams: ['filter', ...SCOPES] },
  { method: 'PUT', path: '/v1/agent/check/register', handler: registerCheck,
    acl: aclBody((i) => checkRequirement(i.agent, parseCheckRegistration(i.body).serviceId)),
    params: [], consulParams: [...SCOPES] },
  { method: 'PUT', path: '/v1/agent/check/deregister/:id', handler: deregisterCheck, acl: { kind: 'check', require: existingCheckRequirement }, params: [], consulParams: [...SCOPES] },
  { method: 'PUT', path: '/v1/agent/check/update/:id', handler: ttlUpdate, acl: { kind: 'check', require: existingCheckRequirement }, params: [], consulParams: [...SCOPES] },
  { method: 'PUT', path: '/v1/agent/check/:verb/:id', handler: ttlShortcut, acl: { kind: 'check', require: existingCheckRequirement }, params: ['note'], consulParams: ['note', ...SCOPES] },
  { method: 'GET', path: '/v1/agent/health/service/name/:name', handler: healthByName, acl: aclParam('service', 'read', 'name'), params: ['format'], consulParams: ['format', ...SCOPES] },
  { method: 'GET', path: '/v1/agent/health/service/id/:id', handler: healthById, acl: serviceById('read'), params: ['format'], consulParams: ['format', ...SCOPES] },
  { method: 'GET', path: '/v1/agent/self', handler: self, acl: aclNeed('agent', 'read', (i) => i.agent.nodeId), params: [], consulParams: [] },
  { method: 'GET', path: '/v1/agent/members', handler: members, acl: aclList('node'), params: ['filter'], consulParams: ['wan', 'segment', 'partition', 'filter'] },
];
