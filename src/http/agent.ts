// Consul's /v1/agent endpoints: this agent's own services and checks (register,
// deregister, list, TTL updates, local health by service), /v1/agent/self and
// /v1/agent/members.

import { parseHostPort } from '../agent/config.js';
import {
  parseCheckRegistration, parseServiceRegistration, type CheckDefinition, type ServiceDefinition,
} from '../agent/local/definitions.js';
import { NODE_HEALTH_CHECK_ID, worstStatus, type HealthStatus } from '../state/index.js';
import { readJsonObject } from './body.js';
import { badRequest, notFound } from './errors.js';
import { sendEmpty, sendJson, sendText } from './respond.js';
import type { RequestContext, RouteSpec } from './types.js';

function agentServiceJson(s: ServiceDefinition, datacenter: string): Record<string, unknown> {
  return {
    ID: s.id, Service: s.name, Tags: s.tags, Meta: s.meta, Port: s.port, Address: s.address,
    Weights: { Passing: s.weights.passing, Warning: s.weights.warning }, EnableTagOverride: s.enableTagOverride,
    Datacenter: datacenter,
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
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
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
  sendJson(ctx.res, 200, Object.fromEntries(ctx.agent.local.listServices().map((s) => [s.id, agentServiceJson(s, dc)])));
}

function getService(ctx: RequestContext): void {
  const s = ctx.agent.local.service(ctx.params.id);
  if (!s) throw notFound(`unknown service ID: ${ctx.params.id}`);
  sendJson(ctx.res, 200, agentServiceJson(s, ctx.agent.self().datacenter));
}

// ------------------------------------------------------------ checks

function listChecks(ctx: RequestContext): void {
  const { local } = ctx.agent;
  const node = ctx.agent.nodeId;
  sendJson(ctx.res, 200, Object.fromEntries(local.listChecks().map((c) => [c.definition.id, agentCheckJson(c, node, local.service(c.definition.serviceId))])));
}

async function registerCheck(ctx: RequestContext): Promise<void> {
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
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
  const out = agent.status().members.map((m) => {
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
      Status: nodeCheck?.status === 'critical' || m.healthy === false ? FAILED : ALIVE,
      ProtocolMin: me.protocolVersion, ProtocolMax: me.protocolVersion, ProtocolCur: me.protocolVersion,
    };
  });
  // scale: client agents are member records outside the Raft configuration.
  const listed = new Set(out.map((m) => m.Name));
  for (const record of agent.state.members()) {
    if (listed.has(record.id) || record.server) continue;
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
  sendJson(ctx.res, 200, out);
}

export const agentRoutes: readonly RouteSpec[] = [
  { method: 'PUT', path: '/v1/agent/service/register', handler: registerService },
  { method: 'PUT', path: '/v1/agent/service/deregister/:id', handler: deregisterService },
  { method: 'GET', path: '/v1/agent/services', handler: listServices },
  { method: 'GET', path: '/v1/agent/service/:id', handler: getService },
  { method: 'GET', path: '/v1/agent/checks', handler: listChecks },
  { method: 'PUT', path: '/v1/agent/check/register', handler: registerCheck },
  { method: 'PUT', path: '/v1/agent/check/deregister/:id', handler: deregisterCheck },
  { method: 'PUT', path: '/v1/agent/check/update/:id', handler: ttlUpdate },
  { method: 'PUT', path: '/v1/agent/check/:verb/:id', handler: ttlShortcut },
  { method: 'GET', path: '/v1/agent/health/service/name/:name', handler: healthByName },
  { method: 'GET', path: '/v1/agent/health/service/id/:id', handler: healthById },
  { method: 'GET', path: '/v1/agent/self', handler: self },
  { method: 'GET', path: '/v1/agent/members', handler: members },
];
