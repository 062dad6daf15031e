// Consul endpoints added for API fidelity (issue 18): the datacenter list, a
// node's services as a list, maintenance mode, and /v1/agent/metrics in
// Consul's JSON form. (Their own block, so other branches' routes merge cleanly.)

import { badRequest, notFound } from './errors.js';
import { readAt, send, serviceJson } from './catalog.js';
import { SERVICE_SCHEMA } from './filter/schemas.js';
import { applyFilter, filterParam } from './filtering.js';
import { metricsJson } from './metrics-json.js';
import { boolParam, ENTERPRISE_PARAMS, READ_PARAMS } from './params.js';
import { sendEmpty, sendJson } from './respond.js';
import type { RequestContext, RouteSpec } from './types.js';

/** konsul serves one datacenter: its own. */
function datacenters(ctx: RequestContext): void {
  sendJson(ctx.res, 200, [ctx.agent.self().datacenter]);
}

/** GET /v1/catalog/node-services/:node: the node and its services as a list (Consul 1.7+); unknown node: 200 null... */
async function nodeServices(ctx: RequestContext): Promise<void> {
  const catalog = ctx.agent.state.catalog;
  const name = ctx.params.node;
  const filter = filterParam(ctx, SERVICE_SCHEMA);
  const meta = await readAt(ctx, (after, ms, signal) => catalog.waitNode(name, after, ms, signal));
  if (!meta) return;
  const node = catalog.node(name);
  const body = node === undefined ? null : {
    Node: {
      ID: node.id, Node: node.node, Address: node.address, Datacenter: node.datacenter, TaggedAddresses: node.taggedAddresses,
      Meta: node.meta, CreateIndex: node.createIndex, ModifyIndex: node.modifyIndex,
    },
    Services: applyFilter(catalog.nodeServices(name).map(serviceJson), filter),
  };
  send(ctx, meta, catalog.nodeIndex(name), body);
}

/** ?enable is required and must be true or false, as Consul checks it. */
function enableParam(ctx: RequestContext): boolean {
  const text = ctx.query.get('enable');
  if (text === null || text === '') throw badRequest('Missing value for enable');
  try {
    return boolParam(ctx.query, 'enable');
  } catch {
    throw badRequest(`Invalid value for enable: "${text}"`);
  }
}

async function nodeMaintenance(ctx: RequestContext): Promise<void> {
  const enable = enableParam(ctx);
  await ctx.agent.local.setMaintenance('', enable, ctx.query.get('reason') ?? '');
  sendEmpty(ctx.res, 200);
}

async function serviceMaintenance(ctx: RequestContext): Promise<void> {
  const enable = enableParam(ctx);
  const id = ctx.params.id;
  if (!(await ctx.agent.local.setMaintenance(id, enable, ctx.query.get('reason') ?? ''))) {
    throw notFound(`Unknown service ID "${id}"`);
  }
  sendEmpty(ctx.res, 200);
}

/** Consul's JSON metrics (the default), or the Prometheus text with ?format=prometheus. */
async function agentMetrics(ctx: RequestContext): Promise<void> {
  const format = ctx.query.get('format');
  const text = await ctx.agent.metrics();
  if (format === 'prometheus') {
    ctx.res.writeHead(200, { 'Content-Type': ctx.agent.metricsContentType, 'Content-Length': String(Buffer.byteLength(text)) });
    ctx.res.end(text);
    return;
  }
  if (format !== null && format !== '') throw badRequest(`Invalid ?format "${format}": give prometheus, or leave it out for JSON`);
  sendJson(ctx.res, 200, metricsJson(text, new Date()));
}

export const apiRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/v1/catalog/datacenters', handler: datacenters, params: [], consulParams: [] },
  {
    method: 'GET', path: '/v1/catalog/node-services/:node', handler: nodeServices,
    params: ['dc', ...READ_PARAMS, 'filter'], consulParams: ['dc', ...READ_PARAMS, 'cached', 'filter', ...ENTERPRISE_PARAMS, 'peer', 'merge-central-config'],
  },
  { method: 'PUT', path: '/v1/agent/maintenance', handler: nodeMaintenance, params: ['enable', 'reason'], consulParams: ['enable', 'reason'] },
  {
    method: 'PUT', path: '/v1/agent/service/maintenance/:id', handler: serviceMaintenance,
    params: ['enable', 'reason'], consulParams: ['enable', 'reason', ...ENTERPRISE_PARAMS],
  },
  {
    method: 'GET', path: '/v1/agent/metrics', handler: agentMetrics, params: ['format'], consulParams: ['format'],
    note: 'JSON values are the Prometheus registry\'s running totals, not 10 s interval aggregates',
  },
];
