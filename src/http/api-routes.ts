// Consul endpoints added for API fidelity (issue 18): the datacenter list, a
// node's services as a list, maintenance mode, and /v1/agent/metrics in
// Consul's JSON form. (Their own block, so other branches' routes merge cleanly.)

import { parseServiceRegistration } from '../agent/local/definitions.js';
import type { CheckInput, ServiceInput } from '../state/index.js';
import { readJsonObject } from './body.js';
import { badRequest, HttpError, notFound } from './errors.js';
import { readAt, send, serviceJson } from './catalog.js';
import { SERVICE_SCHEMA } from './filter/schemas.js';
import { applyFilter, filterParam } from './filtering.js';
import { metricsJson } from './metrics-json.js';
import { boolParam, ENTERPRISE_PARAMS, READ_PARAMS } from './params.js';
import { sendEmpty, sendJson } from './respond.js';
// sec: Consul's ACL requirements for these routes
import { ACL_PUBLIC, aclBody, aclNeed, aclParam } from './acl-check.js';
import type { AclRequirement, AclRouteInput, RequestContext, RouteSpec } from './types.js';

/** GET /v1/agent/version (Consul 1.14+): konsul's version where Consul puts its own. */
function version(ctx: RequestContext): void {
  const v = ctx.agent.self().version;
  sendJson(ctx.res, 200, { SHA: '', BuildDate: '', HumanVersion: v, FIPS: '' });
}

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
    Services: applyFilter(catalog.nodeServices(name).filter((s) => ctx.authz.allowed('service', s.service, 'read')).map(serviceJson), filter),
  };
  send(ctx, meta, catalog.nodeIndex(name), body);
}

// ------------------------------------------------------------ catalog register and deregister

const STATUSES = new Set(['passing', 'warning', 'critical']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field by Consul's name, matched without regard to case (Go's decoder). */
function field(body: Record<string, unknown>, name: string): unknown {
  const want = name.toLowerCase();
  let found: unknown;
  for (const [k, v] of Object.entries(body)) if (k.toLowerCase() === want && v !== null) found = v;
  return found;
}

function text(body: Record<string, unknown>, name: string, where: string): string {
  const v = field(body, name);
  if (v === undefined) return '';
  if (typeof v !== 'string') throw badRequest(`${where}${name}: expected a string`);
  return v;
}

function stringMap(body: Record<string, unknown>, name: string, where: string): Record<string, string> {
  const v = field(body, name);
  if (v === undefined) return {};
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw badRequest(`${where}${name}: expected an object of strings`);
  return v as Record<string, string>;
}

function catalogCheck(raw: unknown, where: string, defaultService: string): CheckInput {
  if (!isObject(raw)) throw badRequest(`${where}: expected an object`);
  const name = text(raw, 'Name', `${where}.`);
  const checkId = text(raw, 'CheckID', `${where}.`) || name;
  if (checkId === '') throw badRequest(`${where}.CheckID: required (or a Name)`);
  const status = text(raw, 'Status', `${where}.`) || 'critical';
  if (!STATUSES.has(status)) throw badRequest(`${where}.Status: "${status}" is not one of passing, warning, critical`);
  return {
    checkId, name: name || checkId, status: status as CheckInput['status'], notes: text(raw, 'Notes', `${where}.`),
    output: text(raw, 'Output', `${where}.`), serviceId: text(raw, 'ServiceID', `${where}.`) || defaultService,
    type: text(raw, 'Type', `${where}.`),
  };
}

/**
 * PUT /v1/catalog/register: a node (ID, Node, Address, Datacenter,
 * TaggedAddresses, NodeMeta), optionally a Service and Check/Checks, merged
 * into what the catalog holds for the node. As in Consul, an agent's
 * anti-entropy removes services registered this way on the agent's own node.
 */
async function catalogRegister(ctx: RequestContext): Promise<void> {
  const body = ctx.body ?? await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const node = text(body, 'Node', '');
  const address = text(body, 'Address', '');
  if (node === '') throw badRequest('Must provide node');
  if (address === '') throw badRequest('Must provide address');
  const dc = text(body, 'Datacenter', '');
  if (dc !== '' && dc.toLowerCase() !== ctx.agent.self().datacenter.toLowerCase()) throw new HttpError('KONSUL_ERR_NO_PATH', 'No path to datacenter', 'internal');
  const nodeMeta = stringMap(body, 'NodeMeta', '');
  let service: ServiceInput | undefined;
  const rawService = field(body, 'Service');
  if (rawService !== undefined) {
    if (!isObject(rawService)) throw badRequest('Service: expected an object');
    // The agent's parser checks every field; the catalog calls the name "Service".
    const { service: s } = parseServiceRegistration({ ...rawService, Name: field(rawService, 'Service') ?? field(rawService, 'Name') });
    const { name, ...rest } = s;
    service = { ...rest, service: name };
  }
  const checks: CheckInput[] = [];
  const single = field(body, 'Check');
  if (single !== undefined) checks.push(catalogCheck(single, 'Check', ''));
  const list = field(body, 'Checks');
  if (list !== undefined) {
    if (!Array.isArray(list)) throw badRequest('Checks: expected an array');
    list.forEach((c, i) => checks.push(catalogCheck(c, `Checks[${i}]`, '')));
  }
  for (const c of checks) {
    if (c.serviceId !== '' && c.serviceId !== service?.id && !ctx.agent.state.catalog.nodeServices(node).some((s) => s.id === c.serviceId)) {
      throw badRequest(`Check ${c.checkId}: ServiceID "${c.serviceId}" is not registered on node ${node}`);
    }
  }
  const skip = field(body, 'SkipNodeUpdate');
  if (skip !== undefined && typeof skip !== 'boolean') throw badRequest('SkipNodeUpdate: expected true or false');
  await ctx.agent.catalogWrite({
    op: 'register',
    node: {
      id: text(body, 'ID', ''), node, address, datacenter: ctx.agent.self().datacenter,
      taggedAddresses: stringMap(body, 'TaggedAddresses', ''), meta: nodeMeta,
    },
    skipNodeUpdate: skip === true, ...(service ? { service } : {}), checks,
  });
  sendJson(ctx.res, 200, true);
}

/** PUT /v1/catalog/deregister: {Node} removes the node, {Node, ServiceID} one service, {Node, CheckID} one check. */
async function catalogDeregister(ctx: RequestContext): Promise<void> {
  const body = ctx.body ?? await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const node = text(body, 'Node', '');
  if (node === '') throw badRequest('Must provide node');
  const dc = text(body, 'Datacenter', '');
  if (dc !== '' && dc.toLowerCase() !== ctx.agent.self().datacenter.toLowerCase()) throw new HttpError('KONSUL_ERR_NO_PATH', 'No path to datacenter', 'internal');
  const serviceId = text(body, 'ServiceID', '');
  const checkId = text(body, 'CheckID', '');
  if (serviceId !== '' && checkId !== '') throw badRequest('Give ServiceID or CheckID, not both');
  await ctx.agent.catalogWrite(serviceId !== '' ? { op: 'deregister', node, serviceId }
    : checkId !== '' ? { op: 'deregister', node, checkId } : { op: 'deregister-node', node });
  sendJson(ctx.res, 200, true);
}

// sec: Consul's ACL rules for catalog writes, read from the body before the handler checks it (a
// malformed field names nothing here and is the handler's 400). Stricter than Consul in one way:
// registering always needs node:write (Consul lets a service write re-post unchanged node fields).

/** A string field, or '' (not this function's place to refuse it). */
function loose(body: Record<string, unknown>, name: string): string {
  const v = field(body, name);
  return typeof v === 'string' ? v : '';
}

/** The name of service `serviceId` on `node` in the catalog (the id when it is not there). */
function catalogServiceName(input: AclRouteInput, node: string, serviceId: string): string {
  return input.agent.state.catalog.nodeServices(node).find((s) => s.id === serviceId)?.service ?? serviceId;
}

/** node:write on the node, service:write on the service, and on the service of each service check. */
function registerRequirements(input: AclRouteInput & { body: Record<string, unknown> }): AclRequirement[] {
  const node = loose(input.body, 'Node');
  const out: AclRequirement[] = [{ resource: 'node', need: 'write', name: node }];
  const service = field(input.body, 'Service');
  let serviceId = '';
  if (isObject(service)) {
    const name = loose(service, 'Service') || loose(service, 'Name');
    serviceId = loose(service, 'ID') || name;
    out.push({ resource: 'service', need: 'write', name });
  }
  const checks = [field(input.body, 'Check'), ...(Array.isArray(field(input.body, 'Checks')) ? field(input.body, 'Checks') as unknown[] : [])];
  for (const check of checks) {
    if (!isObject(check)) continue;
    const checkService = loose(check, 'ServiceID');
    if (checkService !== '' && checkService !== serviceId) {
      out.push({ resource: 'service', need: 'write', name: catalogServiceName(input, node, checkService) });
    }
  }
  return out;
}

/** A service: service:write on it; a check: on its service, or node:write for a node check; else node:write. */
function deregisterRequirement(input: AclRouteInput & { body: Record<string, unknown> }): AclRequirement {
  const node = loose(input.body, 'Node');
  const serviceId = loose(input.body, 'ServiceID');
  if (serviceId !== '') return { resource: 'service', need: 'write', name: catalogServiceName(input, node, serviceId) };
  const checkId = loose(input.body, 'CheckID');
  const check = checkId === '' ? undefined : input.agent.state.catalog.nodeChecks(node).find((c) => c.checkId === checkId);
  if (check && check.serviceId !== '') return { resource: 'service', need: 'write', name: check.serviceName || catalogServiceName(input, node, check.serviceId) };
  return { resource: 'node', need: 'write', name: node };
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
  {
    method: 'PUT', path: '/v1/catalog/register', handler: catalogRegister, acl: aclBody(registerRequirements), params: [], consulParams: [],
    note: 'checks are stored with the status given (nothing runs them, as in Consul); an agent\'s own node is its own (anti-entropy)',
  },
  { method: 'PUT', path: '/v1/catalog/deregister', handler: catalogDeregister, acl: aclBody(deregisterRequirement), params: [], consulParams: [] },
  { method: 'GET', path: '/v1/catalog/datacenters', handler: datacenters, acl: ACL_PUBLIC, params: [], consulParams: [] },
  { method: 'GET', path: '/v1/agent/version', handler: version, acl: ACL_PUBLIC, params: [], consulParams: [], note: 'HumanVersion is konsul\'s version' },
  {
    method: 'GET', path: '/v1/catalog/node-services/:node', handler: nodeServices, acl: aclParam('node', 'read', 'node'),
    params: ['dc', ...READ_PARAMS, 'filter'], consulParams: ['dc', ...READ_PARAMS, 'cached', 'filter', ...ENTERPRISE_PARAMS, 'peer', 'merge-central-config'],
  },
  { method: 'PUT', path: '/v1/agent/maintenance', handler: nodeMaintenance, acl: aclNeed('node', 'write', (i) => i.agent.nodeId), params: ['enable', 'reason'], consulParams: ['enable', 'reason'] },
  {
    method: 'PUT', path: '/v1/agent/service/maintenance/:id', handler: serviceMaintenance,
    acl: aclNeed('service', 'write', (i) => i.agent.local.service(i.params.id ?? '')?.name ?? i.params.id ?? ''),
    params: ['enable', 'reason'], consulParams: ['enable', 'reason', ...ENTERPRISE_PARAMS],
  },
  {
    method: 'GET', path: '/v1/agent/metrics', handler: agentMetrics, acl: aclNeed('agent', 'read', (i) => i.agent.nodeId), params: ['format'], consulParams: ['format'],
    note: 'JSON values are the Prometheus registry\'s running totals, not 10 s interval aggregates',
  },
];
