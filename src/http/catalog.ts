// Consul's catalog and health endpoints, read from this agent's replica:
// /v1/catalog/services|service/<name>|nodes|node/<node> and
// /v1/health/service/<name>|node/<node>|checks/<service>|state/<state>. Every
// one takes the consistency modes and blocking queries of the KV API; a
// blocking query on a service wakes only when that service's answer changed,
// one on a node only when that node changed.

import type { ReadMeta } from '../agent/api.js';
import type { CatalogCheck, CatalogNode, CatalogService, HealthStatus, ServiceExtras, ServiceInstance } from '../state/index.js';
import { parseBlocking } from './blocking.js';
import { parseConsistency, readHeaders } from './consistency.js';
import { badRequest } from './errors.js';
import { CATALOG_SERVICE_SCHEMA, CHECK_SCHEMA, HEALTH_SERVICE_SCHEMA, NODE_SCHEMA, SERVICE_SCHEMA } from './filter/schemas.js';
import { applyFilter, filterParam, nodeMetaMatches, nodeMetaParam } from './filtering.js';
import { boolParam, ENTERPRISE_PARAMS, READ_PARAMS } from './params.js';
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

/** The registration fields kept as given, under Consul's names (prefixed for the flat catalog shape). */
export function serviceExtrasJson(s: ServiceExtras, prefix = ''): Record<string, unknown> {
  // Consul: the flat catalog shape always has ServiceKind; the others leave an empty Kind out.
  const out: Record<string, unknown> = prefix !== '' || s.kind !== undefined ? { [`${prefix}Kind`]: s.kind ?? '' } : {};
  if (s.proxy !== undefined) out[`${prefix}Proxy`] = s.proxy;
  if (s.connect !== undefined) out[`${prefix}Connect`] = s.connect;
  if (s.taggedAddresses !== undefined) out[`${prefix}TaggedAddresses`] = s.taggedAddresses;
  if (s.socketPath !== undefined) out[`${prefix}SocketPath`] = s.socketPath;
  if (s.locality !== undefined) out[`${prefix}Locality`] = s.locality;
  return out;
}

export function serviceJson(s: CatalogService): Record<string, unknown> {
  return {
    ID: s.id, Service: s.service, Tags: s.tags, Address: s.address, Meta: s.meta, Port: s.port,
    Weights: { Passing: s.weights.passing, Warning: s.weights.warning }, EnableTagOverride: s.enableTagOverride,
    ...serviceExtrasJson(s), CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
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
export function catalogServiceJson(i: ServiceInstance): Record<string, unknown> {
  const n = i.node;
  const s = i.service;
  return {
    ID: n.id, Node: n.node, Address: n.address, Datacenter: n.datacenter, TaggedAddresses: n.taggedAddresses,
    NodeMeta: n.meta, ServiceID: s.id, ServiceName: s.service, ServiceTags: s.tags, ServiceAddress: s.address,
    ServiceWeights: { Passing: s.weights.passing, Warning: s.weights.warning }, ServiceMeta: s.meta, ServicePort: s.port,
    ServiceEnableTagOverride: s.enableTagOverride, ...serviceExtrasJson(s, 'Service'),
    CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

// ------------------------------------------------------------ reads

const STATES: ReadonlySet<string> = new Set(['any', 'passing', 'warning', 'critical']);

/**
 * The read barrier and, for a blocking query, the wait: `index` reads the
 * watched index, `wait` waits for it to pass the client's. Returns the meta
 * for the response headers; the caller reads the data right after.
 */
export async function readAt(
  ctx: RequestContext, wait: (after: number, timeoutMs: number, signal: AbortSignal) => Promise<number>,
): Promise<ReadMeta | undefined> {
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

export function send(ctx: RequestContext, meta: ReadMeta, index: number, body: unknown): void {
  sendJson(ctx.res, 200, body, readHeaders(index, meta, parseConsistency(ctx.query)));
}

/**
 * Instances of the service named in the path, narrowed by every ?tag (all must
 * match, case-insensitively) and every ?node-meta pair.
 */
function instancesFor(ctx: RequestContext): ServiceInstance[] {
  const tags = ctx.query.getAll('tag').map((t) => t.toLowerCase());
  const nodeMeta = nodeMetaParam(ctx);
  // Consul leaves out instances on nodes the token may not read.
  let all = ctx.agent.state.catalog.instances(ctx.params.service, tags[0]).filter((i) => ctx.authz.allowed('node', i.node.node, 'read'));
  if (tags.length > 1) all = all.filter((i) => tags.every((t) => i.service.tags.some((x) => x.toLowerCase() === t)));
  if (nodeMeta.length > 0) all = all.filter((i) => nodeMetaMatches(i.node, nodeMeta));
  return all;
}

/** A check is listed when the token may read its node and, for a service's check, the service. */
function checkVisible(ctx: RequestContext, c: CatalogCheck): boolean {
  return ctx.authz.allowed('node', c.node, 'read') && (c.serviceName === '' || ctx.authz.allowed('service', c.serviceName, 'read'));
}

async function catalogServices(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  // Consul filters /v1/catalog/services over its instances (the flat /v1/catalog/service shape).
  const filter = filterParam(ctx, CATALOG_SERVICE_SCHEMA);
  const nodeMeta = nodeMetaParam(ctx);
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitCatalog(after, ms, signal));
  if (!meta) return;
  if (!filter && nodeMeta.length === 0) {
    const names = [...catalog.serviceNames()].filter(([name]) => ctx.authz.allowed('service', name, 'read'));
    return send(ctx, meta, catalog.catalogIndex(), Object.fromEntries(names));
  }
  const out = new Map<string, Set<string>>();
  for (const name of catalog.serviceNames().keys()) {
    if (!ctx.authz.allowed('service', name, 'read')) continue;
    for (const i of catalog.instances(name)) {
      if (!nodeMetaMatches(i.node, nodeMeta) || (filter && !filter.matches(catalogServiceJson(i)))) continue;
      let tags = out.get(name);
      if (!tags) out.set(name, (tags = new Set()));
      for (const t of i.service.tags) tags.add(t);
    }
  }
  send(ctx, meta, catalog.catalogIndex(), Object.fromEntries([...out].map(([name, tags]) => [name, [...tags].sort()])));
}

async function catalogService(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.service;
  const filter = filterParam(ctx, CATALOG_SERVICE_SCHEMA);
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitService(name, after, ms, signal));
  if (!meta) return;
  send(ctx, meta, catalog.serviceIndex(name), applyFilter(instancesFor(ctx).map(catalogServiceJson), filter));
}

async function catalogNodes(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const filter = filterParam(ctx, NODE_SCHEMA);
  const nodeMeta = nodeMetaParam(ctx);
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitCatalog(after, ms, signal));
  if (!meta) return;
  const nodes = catalog.nodes().filter((n) => ctx.authz.allowed('node', n.node, 'read') && nodeMetaMatches(n, nodeMeta));
  send(ctx, meta, catalog.catalogIndex(), applyFilter(nodes.map(nodeJson), filter));
}

async function catalogNode(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.node;
  const filter = filterParam(ctx, SERVICE_SCHEMA);
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitNode(name, after, ms, signal));
  if (!meta) return;
  const node = catalog.node(name);
  // Consul answers an unknown node with 200 and null; ?filter narrows the node's services.
  const body = node === undefined ? null : {
    Node: nodeJson(node),
    Services: Object.fromEntries(applyFilter(catalog.nodeServices(name).filter((s) => ctx.authz.allowed('service', s.service, 'read')).map(serviceJson), filter).map((s) => [s.ID, s])),
  };
  send(ctx, meta, catalog.nodeIndex(name), body);
}

async function healthService(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.service;
  const filter = filterParam(ctx, HEALTH_SERVICE_SCHEMA);
  const passing = boolParam(ctx.query, 'passing');
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitService(name, after, ms, signal));
  if (!meta) return;
  let instances = instancesFor(ctx);
  if (passing) instances = instances.filter((i) => i.checks.every((c) => c.status === 'passing'));
  send(ctx, meta, catalog.serviceIndex(name), applyFilter(instances.map((i) => ({
    Node: nodeJson(i.node), Service: serviceJson(i.service), Checks: i.checks.map(checkJson),
  })), filter));
}

async function healthNode(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.node;
  const filter = filterParam(ctx, CHECK_SCHEMA);
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitNode(name, after, ms, signal));
  if (!meta) return;
  send(ctx, meta, catalog.nodeIndex(name), applyFilter(catalog.nodeChecks(name).filter((c) => checkVisible(ctx, c)).map(checkJson), filter));
}

async function healthChecks(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.service;
  const filter = filterParam(ctx, CHECK_SCHEMA);
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitService(name, after, ms, signal));
  if (!meta) return;
  const checks = instancesFor(ctx).flatMap((i) => i.checks.filter((c) => c.serviceId === i.service.id));
  send(ctx, meta, catalog.serviceIndex(name), applyFilter(checks.map(checkJson), filter));
}

async function healthState(ctx: RequestContext): Promise<void> {
  const state = ctx.params.state;
  if (!STATES.has(state)) throw badRequest(`Invalid check state "${state}": use any, passing, warning or critical`);
  const catalog = ctx.agent.state.catalog;
  const filter = filterParam(ctx, CHECK_SCHEMA);
  const nodeMeta = nodeMetaParam(ctx);
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitCatalog(after, ms, signal));
  if (!meta) return;
  let checks = catalog.checksInState(state as HealthStatus | 'any').filter((c) => checkVisible(ctx, c));
  if (nodeMeta.length > 0) checks = checks.filter((c) => { const n = catalog.node(c.node); return n !== undefined && nodeMetaMatches(n, nodeMeta); });
  send(ctx, meta, catalog.catalogIndex(), applyFilter(checks.map(checkJson), filter));
}

/** Consistency modes, blocking, and the datacenter: what every catalog and health read takes. */
const READ = ['dc', ...READ_PARAMS] as const;
/** What Consul documents on its catalog and health reads beyond konsul's (agent cache, Enterprise scopes, peering). */
const CONSUL_READ = ['dc', ...READ_PARAMS, 'cached', ...ENTERPRISE_PARAMS, 'peer'] as const;

export const catalogRoutes: readonly RouteSpec[] = [
  {
    method: 'GET', path: '/v1/catalog/services', handler: catalogServices, acl: aclList('service'),
    params: [...READ, 'node-meta', 'filter'], consulParams: [...CONSUL_READ, 'node-meta', 'filter'],
  },
  {
    method: 'GET', path: '/v1/catalog/service/:service', handler: catalogService, acl: aclParam('service', 'read', 'service'),
    params: [...READ, 'tag', 'node-meta', 'filter'], consulParams: [...CONSUL_READ, 'tag', 'near', 'node-meta', 'filter', 'merge-central-config'],
  },
  {
    method: 'GET', path: '/v1/catalog/nodes', handler: catalogNodes, acl: aclList('node'),
    params: [...READ, 'node-meta', 'filter'], consulParams: [...CONSUL_READ, 'near', 'node-meta', 'filter'],
  },
  {
    method: 'GET', path: '/v1/catalog/node/:node', handler: catalogNode, acl: aclParam('node', 'read', 'node'),
    params: [...READ, 'filter'], consulParams: [...CONSUL_READ, 'filter'],
  },
  {
    method: 'GET', path: '/v1/health/service/:service', handler: healthService, acl: aclParam('service', 'read', 'service'),
    params: [...READ, 'tag', 'node-meta', 'passing', 'filter'],
    consulParams: [...CONSUL_READ, 'near', 'tag', 'node-meta', 'passing', 'filter', 'sg', 'merge-central-config'],
  },
  {
    method: 'GET', path: '/v1/health/node/:node', handler: healthNode, acl: aclParam('node', 'read', 'node'),
    params: [...READ, 'filter'], consulParams: [...CONSUL_READ, 'filter'],
  },
  {
    method: 'GET', path: '/v1/health/checks/:service', handler: healthChecks, acl: aclParam('service', 'read', 'service'),
    params: [...READ, 'node-meta', 'filter'], consulParams: [...CONSUL_READ, 'near', 'node-meta', 'filter'],
  },
  {
    method: 'GET', path: '/v1/health/state/:state', handler: healthState, acl: aclList('node'),
    params: [...READ, 'node-meta', 'filter'], consulParams: [...CONSUL_READ, 'near', 'node-meta', 'filter'],
  },
];
