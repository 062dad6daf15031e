// Consul's HTTP API endpoints (from its public API documentation) set against
// konsul's route table: which are served, with which parameters, and which
// answer 404. The README's compatibility table is generated from this and the
// route table, and a test fails when the README drifts from it.

import { routeParams, unsupportedConsulParams } from './params.js';
import type { RouteSpec } from './types.js';

export interface ConsulEndpoint {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** `:name` for one path segment, `*name` for the rest. */
  path: string;
  group: string;
}

const E = (group: string, rows: ReadonlyArray<readonly [ConsulEndpoint['method'], string]>): ConsulEndpoint[] =>
  rows.map(([method, path]) => ({ method, path, group }));

export const CONSUL_ENDPOINTS: readonly ConsulEndpoint[] = [
  ...E('KV', [['GET', '/v1/kv/*key'], ['PUT', '/v1/kv/*key'], ['DELETE', '/v1/kv/*key']]),
  ...E('Catalog', [
    ['PUT', '/v1/catalog/register'], ['PUT', '/v1/catalog/deregister'], ['GET', '/v1/catalog/datacenters'],
    ['GET', '/v1/catalog/nodes'], ['GET', '/v1/catalog/services'], ['GET', '/v1/catalog/service/:service'],
    ['GET', '/v1/catalog/connect/:service'], ['GET', '/v1/catalog/node/:node'], ['GET', '/v1/catalog/node-services/:node'],
    ['GET', '/v1/catalog/gateway-services/:gateway'],
  ]),
  ...E('Health', [
    ['GET', '/v1/health/node/:node'], ['GET', '/v1/health/checks/:service'], ['GET', '/v1/health/service/:service'],
    ['GET', '/v1/health/connect/:service'], ['GET', '/v1/health/ingress/:service'], ['GET', '/v1/health/state/:state'],
  ]),
  ...E('Agent', [
    ['GET', '/v1/agent/members'], ['GET', '/v1/agent/self'], ['GET', '/v1/agent/host'], ['GET', '/v1/agent/version'],
    ['PUT', '/v1/agent/reload'], ['PUT', '/v1/agent/maintenance'], ['GET', '/v1/agent/metrics'], ['GET', '/v1/agent/metrics/stream'],
    ['GET', '/v1/agent/monitor'], ['PUT', '/v1/agent/join/:address'], ['PUT', '/v1/agent/leave'], ['PUT', '/v1/agent/force-leave/:node'],
    ['PUT', '/v1/agent/token/:type'],
    ['GET', '/v1/agent/checks'], ['PUT', '/v1/agent/check/register'], ['PUT', '/v1/agent/check/deregister/:id'],
    ['PUT', '/v1/agent/check/pass/:id'], ['PUT', '/v1/agent/check/warn/:id'], ['PUT', '/v1/agent/check/fail/:id'],
    ['PUT', '/v1/agent/check/update/:id'],
    ['GET', '/v1/agent/services'], ['GET', '/v1/agent/service/:id'], ['GET', '/v1/agent/health/service/name/:name'],
    ['GET', '/v1/agent/health/service/id/:id'], ['PUT', '/v1/agent/service/register'], ['PUT', '/v1/agent/service/deregister/:id'],
    ['PUT', '/v1/agent/service/maintenance/:id'],
    ['GET', '/v1/agent/connect/ca/roots'], ['GET', '/v1/agent/connect/ca/leaf/:service'], ['POST', '/v1/agent/connect/authorize'],
  ]),
  ...E('Events', [['PUT', '/v1/event/fire/:name'], ['GET', '/v1/event/list']]),
  ...E('Prepared queries', [
    ['POST', '/v1/query'], ['GET', '/v1/query'], ['GET', '/v1/query/:uuid'], ['PUT', '/v1/query/:uuid'], ['DELETE', '/v1/query/:uuid'],
    ['GET', '/v1/query/:uuid/execute'], ['GET', '/v1/query/:uuid/explain'],
  ]),
  ...E('Sessions', [
    ['PUT', '/v1/session/create'], ['PUT', '/v1/session/destroy/:uuid'], ['GET', '/v1/session/info/:uuid'],
    ['GET', '/v1/session/node/:node'], ['GET', '/v1/session/list'], ['PUT', '/v1/session/renew/:uuid'],
  ]),
  ...E('Transactions', [['PUT', '/v1/txn']]),
  ...E('Status', [['GET', '/v1/status/leader'], ['GET', '/v1/status/peers']]),
  ...E('Snapshots', [['GET', '/v1/snapshot'], ['PUT', '/v1/snapshot']]),
  ...E('Operator', [
    ['GET', '/v1/operator/raft/configuration'], ['DELETE', '/v1/operator/raft/peer'], ['POST', '/v1/operator/raft/transfer-leader'],
    ['GET', '/v1/operator/autopilot/configuration'], ['PUT', '/v1/operator/autopilot/configuration'],
    ['GET', '/v1/operator/autopilot/health'], ['GET', '/v1/operator/autopilot/state'], ['GET', '/v1/operator/keyring'],
    ['GET', '/v1/operator/usage'], ['GET', '/v1/operator/license'],
  ]),
  ...E('Coordinates', [
    ['GET', '/v1/coordinate/datacenters'], ['GET', '/v1/coordinate/nodes'], ['GET', '/v1/coordinate/node/:node'], ['PUT', '/v1/coordinate/update'],
  ]),
  ...E('ACL', [
    ['PUT', '/v1/acl/bootstrap'], ['GET', '/v1/acl/replication'], ['PUT', '/v1/acl/token'], ['GET', '/v1/acl/token/self'],
    ['GET', '/v1/acl/tokens'], ['PUT', '/v1/acl/policy'], ['GET', '/v1/acl/policies'], ['PUT', '/v1/acl/role'], ['GET', '/v1/acl/roles'],
    ['POST', '/v1/acl/login'], ['POST', '/v1/acl/logout'],
  ]),
  ...E('Config entries', [['PUT', '/v1/config'], ['GET', '/v1/config/:kind'], ['GET', '/v1/config/:kind/:name'], ['DELETE', '/v1/config/:kind/:name']]),
  ...E('Connect', [
    ['GET', '/v1/connect/ca/roots'], ['GET', '/v1/connect/ca/configuration'], ['GET', '/v1/connect/intentions'], ['POST', '/v1/connect/intentions'],
  ]),
  ...E('Service mesh and admin partitions', [
    ['GET', '/v1/discovery-chain/:service'], ['GET', '/v1/exported-services'], ['GET', '/v1/namespaces'], ['GET', '/v1/partitions'],
    ['GET', '/v1/peerings'], ['GET', '/v1/internal/ui/services'],
  ]),
];

/** The README's generated table sits between these two lines. */
export const README_COMPAT_BEGIN = '<!-- compat:begin (generated by npm run docs from src/http/compat.ts; do not edit) -->';
export const README_COMPAT_END = '<!-- compat:end -->';

/** A path with its parameter names dropped, so `/v1/catalog/node/:node` and `/v1/catalog/node/:name` compare equal. */
export function pathShape(path: string): string {
  return path.replace(/:[^/]+/g, ':').replace(/\*[^/]*$/, '*');
}

/** The route that serves a Consul endpoint (its verb routes `/v1/agent/check/:verb/:id` serve pass, warn and fail). */
export function routeFor(e: ConsulEndpoint, routes: readonly RouteSpec[]): RouteSpec | undefined {
  const exact = routes.find((r) => r.method === e.method && pathShape(r.path) === pathShape(e.path));
  if (exact) return exact;
  const m = /^\/v1\/agent\/check\/(pass|warn|fail)\/:id$/.exec(e.path);
  return m ? routes.find((r) => r.method === e.method && r.path === '/v1/agent/check/:verb/:id') : undefined;
}

/** Consul endpoints with no konsul route: each answers 404 (or 405 where konsul serves another method there). */
export function consulOnly(routes: readonly RouteSpec[]): ConsulEndpoint[] {
  return CONSUL_ENDPOINTS.filter((e) => routeFor(e, routes) === undefined);
}

const list = (names: readonly string[]): string => (names.length === 0 ? '—' : names.map((n) => `\`${n}\``).join(' '));

/** The README's table: every Consul endpoint, served or not, with the parameters konsul takes and those it refuses. */
export function compatibilityMarkdown(routes: readonly RouteSpec[]): string {
  const lines = [
    '| Endpoint | konsul | Parameters konsul takes | Consul parameters konsul refuses (400) | Notes |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const e of CONSUL_ENDPOINTS) {
    const r = routeFor(e, routes);
    const endpoint = `\`${e.method} ${e.path}\``;
    if (!r) {
      lines.push(`| ${endpoint} | no (404) | | | ${e.group} |`);
      continue;
    }
    lines.push(`| ${endpoint} | yes | ${list(routeParams(r))} | ${list(unsupportedConsulParams(r))} | ${r.note ?? ''} |`);
  }
  const own = routes.filter((r) => !CONSUL_ENDPOINTS.some((e) => routeFor(e, [r])));
  lines.push('', 'konsul\'s own endpoints (not in Consul):', '');
  for (const r of own) lines.push(`- \`${r.method} ${r.path}\`${routeParams(r).length > 0 ? ` (${list(routeParams(r))})` : ''}`);
  return lines.join('\n');
}
