// Consul's catalog and health endpoints, read from this agent's replica:
// /v1/catalog/services|service/<name>|nodes|node/<node> and
// /v1/health/service/<name>|node/<node>|checks/<service>|state/<state>. Every
// one takes the consistency modes and blocking queries of the KV API; a
// blocking query on a service wakes only when that service's answer changed,
// one on a node only when that node changed.

import type { ReadMeta } from '../agent/api.js';
import type { CatalogCheck, CatalogNode, CatalogService, HealthStatus, ServiceInstance } from '../state/index.js';
import { parseBlocking } from './blocking.js';
import { parseConsistency, readHeaders } from './consistency.js';
import { HttpError, badRequest } from './errors.js';
import { flag } from './query.js';
import { sendJson } from './respond.js';
import { aclList, aclParam } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

// ------------------------------------------------------------ Consul's JSON shapes

export function nodeJson(n: CatalogNode): Record<string, unknown> {
  return {
    ID: n.id, Node: n.node, Address: n.address, Datacenter: n.datacenter, TaggedAddresses: n.taggedAddresses,
    Meta: n.meta, CreateIndex: n.createIndex, ModifyIndex: n.modifyIndex,
  };
}

export function serviceJson(s: CatalogService): Record<string, unknown> {
  return {
    ID: s.id, Service: s.service, Tags: s.tags, Address: s.address, Meta: s.meta, Port: s.port,
    Weights: { Passing: s.weights.passing, Warning: s.weights.warning }, EnableTagOverride: s.enableTagOverride,
    CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

export function checkJson(c: CatalogCheck): Record<string, unknown> {
  return {
    Node: c.node, CheckID: c.checkId, Name: c.name, Status: c.status, Notes: c.notes, Output: c.output,
    ServiceID: c.serviceId, ServiceName: c.serviceName, ServiceTags: c.serviceTags, Type: c.type,
    CreateIndex: c.createIndex, ModifyIndex: c.modifyIndex,
  };
}

/** /v1/catalog/service's flat shape: the node's fields, then the service's prefixed with "Service". */
function catalogServiceJson(i: ServiceInstance): Record<string, unknown> {
  const n = i.node;
  const s = i.service;
  return {
    ID: n.id, Node: n.node, Address: n.address, Datacenter: n.datacenter, TaggedAddresses: n.taggedAddresses,
    NodeMeta: n.meta, ServiceID: s.id, ServiceName: s.service, ServiceTags: s.tags, ServiceAddress: s.address,
    ServiceWeights: { Passing: s.weights.passing, Warning: s.weights.warning }, ServiceMeta: s.meta, ServicePort: s.port,
    ServiceEnableTagOverride: s.enableTagOverride, CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

// ------------------------------------------------------------ reads

const STATES: ReadonlySet<string> = new Set(['any', 'passing', 'warning', 'critical']);

/** Consul answers a query for another datacenter with 500 "No path to datacenter"; so does konsul, which knows one. */
function checkDatacenter(ctx: RequestContext): void {
  const dc = ctx.query.get('dc');
  if (dc !== null && dc !== '' && dc.toLowerCase() !== ctx.agent.self().datacenter) {
    throw new HttpError('KONSUL_ERR_NO_PATH', 'No path to datacenter', 'internal');
  }
}

/**
 * The read barrier and, for a blocking query, the wait: `index` reads the
 * watched index, `wait` waits for it to pass the client's. Returns the meta
 * for the response headers; the caller reads the data right after.
 */
async function readAt(
  ctx: RequestContext, wait: (after: number, timeoutMs: number, signal: AbortSignal) => Promise<number>,
): Promise<ReadMeta | undefined> {
  checkDatacenter(ctx);
  const consistency = parseConsistency(ctx.query);
  const blocking = parseBlocking(ctx.query, ctx.limits);
  let meta = await ctx.agent.barrier(consistency);
  if (blocking) {
    await wait(blocking.index, blocking.waitMs, ctx.signal);
    if (ctx.signal.aborted) return undefined;
    if (consistency !== 'stale') meta = await ctx.agent.barrier(consistency);
  }
  return meta;
}

function send(ctx: RequestContext, meta: ReadMeta, index: number, body: unknown): void {
  sendJson(ctx.res, 200, body, readHeaders(index, meta, parseConsistency(ctx.query)));
}

/** Instances of the service named in the path, filtered by every ?tag (all must match, case-insensitively). */
function instancesFor(ctx: RequestContext): ServiceInstance[] {
  const tags = ctx.query.getAll('tag').map((t) => t.toLowerCase());
  // Consul leaves out instances on nodes the token may not read.
  const all = ctx.agent.state.catalog.instances(ctx.params.service, tags[0]).filter((i) => ctx.authz.allowed('node', i.node.node, 'read'));
  if (tags.length <= 1) return all;
  return all.filter((i) => tags.every((t) => i.service.tags.some((x) => x.toLowerCase() === t)));
}

/** A check is listed when the token may read its node and, for a service's check, the service. */
function checkVisible(ctx: RequestContext, c: CatalogCheck): boolean {
  return ctx.authz.allowed('node', c.node, 'read') && (c.serviceName === '' || ctx.authz.allowed('service', c.serviceName, 'read'));
}

async function catalogServices(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitCatalog(after, ms, signal));
  if (!meta) return;
  const names = [...catalog.serviceNames()].filter(([name]) => ctx.authz.allowed('service', name, 'read'));
  send(ctx, meta, catalog.catalogIndex(), Object.fromEntries(names));
}

async function catalogService(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.service;
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitService(name, after, ms, signal));
  if (!meta) return;
  send(ctx, meta, catalog.serviceIndex(name), instancesFor(ctx).map(catalogServiceJson));
}

async function catalogNodes(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitCatalog(after, ms, signal));
  if (!meta) return;
  send(ctx, meta, catalog.catalogIndex(), catalog.nodes().filter((n) => ctx.authz.allowed('node', n.node, 'read')).map(nodeJson));
}

async function catalogNode(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.node;
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitNode(name, after, ms, signal));
  if (!meta) return;
  const node = catalog.node(name);
  // Consul answers an unknown node with 200 and null.
  const body = node === undefined ? null : {
    Node: nodeJson(node),
    Services: Object.fromEntries(catalog.nodeServices(name).filter((s) => ctx.authz.allowed('service', s.service, 'read')).map((s) => [s.id, serviceJson(s)])),
  };
  send(ctx, meta, catalog.nodeIndex(name), body);
}

async function healthService(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.service;
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitService(name, after, ms, signal));
  if (!meta) return;
  let instances = instancesFor(ctx);
  if (flag(ctx.query, 'passing')) instances = instances.filter((i) => i.checks.every((c) => c.status === 'passing'));
  send(ctx, meta, catalog.serviceIndex(name), instances.map((i) => ({
    Node: nodeJson(i.node), Service: serviceJson(i.service), Checks: i.checks.map(checkJson),
  })));
}

async function healthNode(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.node;
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitNode(name, after, ms, signal));
  if (!meta) return;
  send(ctx, meta, catalog.nodeIndex(name), catalog.nodeChecks(name).filter((c) => checkVisible(ctx, c)).map(checkJson));
}

async function healthChecks(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.service;
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitService(name, after, ms, signal));
  if (!meta) return;
  const checks = instancesFor(ctx).flatMap((i) => i.checks.filter((c) => c.serviceId === i.service.id));
  send(ctx, meta, catalog.serviceIndex(name), checks.map(checkJson));
}

async function healthState(ctx: RequestContext): Promise<void> {
  const state = ctx.params.state;
  if (!STATES.has(state)) throw badRequest(`Invalid check state "${state}": use any, passing, warning or critical`);
  const catalog = ctx.agent.state.catalog;
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitCatalog(after, ms, signal));
  if (!meta) return;
  send(ctx, meta, catalog.catalogIndex(), catalog.checksInState(state as HealthStatus | 'any').filter((c) => checkVisible(ctx, c)).map(checkJson));
}

export const catalogRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/v1/catalog/services', handler: catalogServices, acl: aclList('service') },
  { method: 'GET', path: '/v1/catalog/service/:service', handler: catalogService, acl: aclParam('service', 'read', 'service') },
  { method: 'GET', path: '/v1/catalog/nodes', handler: catalogNodes, acl: aclList('node') },
  { method: 'GET', path: '/v1/catalog/node/:node', handler: catalogNode, acl: aclParam('node', 'read', 'node') },
  { method: 'GET', path: '/v1/health/service/:service', handler: healthService, acl: aclParam('service', 'read', 'service') },
  { method: 'GET', path: '/v1/health/node/:node', handler: healthNode, acl: aclParam('node', 'read', 'node') },
  { method: 'GET', path: '/v1/health/checks/:service', handler: healthChecks, acl: aclParam('service', 'read', 'service') },
  { method: 'GET', path: '/v1/health/state/:state', handler: healthState, acl: aclList('node') },
];
