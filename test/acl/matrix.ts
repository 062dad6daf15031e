// The ACL matrix: every route of the HTTP route table, called with the anonymous,
// read-only, prefix-limited and management tokens, against the rights this file
// states on its own (not read from the route table), so a route that forgets or
// misdeclares its check shows up as a failure.

import { ROUTES } from '../../src/http/index.js';
import type { RouteSpec } from '../../src/http/types.js';
import { http } from '../cluster/harness.js';

export type TokenName = 'anonymous' | 'readonly' | 'prefix' | 'management';
export const TOKEN_NAMES: readonly TokenName[] = ['anonymous', 'readonly', 'prefix', 'management'];

type Resource = 'key' | 'service' | 'node' | 'agent' | 'operator' | 'acl' | 'event' | 'session' | 'query';
type Need = 'read' | 'write';

export const READONLY_RULES = `
key_prefix "" { policy = "read" }
service_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }
agent_prefix "" { policy = "read" }
session_prefix "" { policy = "read" }
event_prefix "" { policy = "read" }
query_prefix "" { policy = "read" }
operator = "read"
acl = "read"
`;

export const PREFIX_RULES = `
key_prefix "app/" { policy = "write" }
service_prefix "web" { policy = "write" }
node_prefix "" { policy = "read" }
node_prefix "ext-" { policy = "write" }
event_prefix "deploy-" { policy = "write" }
session_prefix "" { policy = "write" }
query_prefix "web" { policy = "write" }
`;

/** What each token may do, written out by hand (default policy deny). */
export function oracle(token: TokenName, resource: Resource, need: Need, name: string): boolean {
  switch (token) {
    case 'management': return true;
    case 'anonymous': return false;
    case 'readonly': return need === 'read';
    case 'prefix':
      if (resource === 'key') return name.startsWith('app/');
      if (resource === 'service' || resource === 'query') return name.startsWith('web');
      if (resource === 'node') return need === 'read' || name.startsWith('ext-');
      if (resource === 'event') return name.startsWith('deploy-');
      if (resource === 'session') return true;
      return false;
  }
}

/** One request and what it needs: a right, nothing (public), or a list filtered by `resource` read. */
export interface Sample {
  method: RouteSpec['method'];
  /** The route pattern it exercises, as in the route table. */
  route: string;
  path: string;
  body?: string;
  expect:
    | { kind: 'public' }
    | { kind: 'right'; resource: Resource; need: Need; name: string }
    | { kind: 'rights'; all: Array<{ resource: Resource; need: Need; name: string }> }
    | { kind: 'list'; resource: Resource; items: (body: unknown) => string[]; mayBeEmpty?: boolean };
}

const right = (resource: Resource, need: Need, name: string): Sample['expect'] => ({ kind: 'right', resource, need, name });
/** Several rights at once: the request passes only with all of them. */
const rights = (...all: Array<[Resource, Need, string]>): Sample['expect'] => ({ kind: 'rights', all: all.map(([resource, need, name]) => ({ resource, need, name })) });
const list = (resource: Resource, items: (body: unknown) => string[]): Sample['expect'] => ({ kind: 'list', resource, items });
const PUBLIC: Sample['expect'] = { kind: 'public' };
const keysOf = (b: unknown): string[] => Object.keys(b as object);
const field = (f: string) => (b: unknown): string[] => (b as Array<Record<string, string>>).map((x) => x[f]!);

/** The prepared queries the matrix's samples use (api): name -> ID, as ensureQueries found or made them. */
const queryIds = new Map<string, string>();
// The node-level TTL check the matrix registers starts critical; db-q ignores it (IgnoreCheckIDs) so its execute lists db.
const QUERY_BODIES: Readonly<Record<string, string>> = {
  'web-q': '{"Name":"web-q","Service":{"Service":"web"}}',
  'db-q': '{"Name":"db-q","Service":{"Service":"db","IgnoreCheckIDs":["matrix-check"]}}',
};

/** Prepared queries web-q (service web) and db-q (service db), made with the management token when missing. */
export async function ensureQueries(url: string, management: string): Promise<void> {
  const headers = { 'x-consul-token': management };
  for (const [name, body] of Object.entries(QUERY_BODIES)) {
    const listed = JSON.parse((await http('GET', `${url}/v1/query`, undefined, 15_000, headers)).body) as Array<{ ID: string; Name: string }>;
    let id = listed.find((q) => q.Name === name)?.ID;
    if (id === undefined) {
      const r = await http('POST', `${url}/v1/query`, body, 15_000, headers);
      if (r.status !== 200) throw new Error(`creating the prepared query ${name}: ${r.status} ${r.body}`);
      id = (JSON.parse(r.body) as { ID: string }).ID;
    }
    queryIds.set(name, id);
  }
}

/** The samples for one agent named `node`; its local services web-m (web) and db-m (db) exist. */
export function samples(node: string): Sample[] {
  const webQ = queryIds.get('web-q') ?? 'matrix-unknown';
  const dbQ = queryIds.get('db-q') ?? 'matrix-unknown';
  const nodesOf = (b: unknown): string[] => (b as { Nodes: Array<{ Service: { Service: string } }> }).Nodes.map((n) => n.Service.Service);
  const s = (method: Sample['method'], route: string, path: string, expect: Sample['expect'], body?: string): Sample => ({ method, route, path, expect, body });
  return [
    s('PUT', '/v1/acl/bootstrap', '/v1/acl/bootstrap', PUBLIC),
    s('GET', '/v1/acl/token/self', '/v1/acl/token/self', PUBLIC),
    s('PUT', '/v1/acl/token', '/v1/acl/token', right('acl', 'write', ''), '{"Policies":[{"Name":"no-such-policy"}]}'),
    s('GET', '/v1/acl/token/:id', '/v1/acl/token/00000000-0000-0000-0000-000000000002', right('acl', 'read', '')),
    s('PUT', '/v1/acl/token/:id', '/v1/acl/token/no-such-token', right('acl', 'write', ''), '{}'),
    s('DELETE', '/v1/acl/token/:id', '/v1/acl/token/no-such-token', right('acl', 'write', '')),
    s('GET', '/v1/acl/tokens', '/v1/acl/tokens', right('acl', 'read', '')),
    s('PUT', '/v1/acl/policy', '/v1/acl/policy', right('acl', 'write', ''), '{"Name":"bad name!"}'),
    s('GET', '/v1/acl/policy/name/:name', '/v1/acl/policy/name/global-management', right('acl', 'read', '')),
    s('GET', '/v1/acl/policy/:id', '/v1/acl/policy/00000000-0000-0000-0000-000000000001', right('acl', 'read', '')),
    s('PUT', '/v1/acl/policy/:id', '/v1/acl/policy/no-such-policy', right('acl', 'write', ''), '{}'),
    s('DELETE', '/v1/acl/policy/:id', '/v1/acl/policy/no-such-policy', right('acl', 'write', '')),
    s('GET', '/v1/acl/policies', '/v1/acl/policies', right('acl', 'read', '')),
    // roles: the set-up made matrix-role; {role} is its id, looked up when the matrix runs
    s('PUT', '/v1/acl/role', '/v1/acl/role', right('acl', 'write', ''), '{"Name":"bad name!"}'),
    s('GET', '/v1/acl/role/name/:name', '/v1/acl/role/name/matrix-role', right('acl', 'read', '')),
    s('GET', '/v1/acl/role/:id', '/v1/acl/role/{role}', right('acl', 'read', '')),
    s('PUT', '/v1/acl/role/:id', '/v1/acl/role/no-such-role', right('acl', 'write', ''), '{}'),
    s('DELETE', '/v1/acl/role/:id', '/v1/acl/role/no-such-role', right('acl', 'write', '')),
    s('GET', '/v1/acl/roles', '/v1/acl/roles', right('acl', 'read', '')),

    s('GET', '/v1/kv/*key', '/v1/kv/app/a', right('key', 'read', 'app/a')),
    s('GET', '/v1/kv/*key', '/v1/kv/other/b', right('key', 'read', 'other/b')),
    s('GET', '/v1/kv/*key', '/v1/kv/?recurse', list('key', field('Key'))),
    s('GET', '/v1/kv/*key', '/v1/kv/?keys', list('key', (b) => b as string[])),
    s('PUT', '/v1/kv/*key', '/v1/kv/app/matrix', right('key', 'write', 'app/matrix'), 'v'),
    s('PUT', '/v1/kv/*key', '/v1/kv/other/matrix', right('key', 'write', 'other/matrix'), 'v'),
    s('DELETE', '/v1/kv/*key', '/v1/kv/app/none', right('key', 'write', 'app/none')),
    s('DELETE', '/v1/kv/*key', '/v1/kv/app/tmp/?recurse', right('key', 'write', 'app/tmp/')),
    s('DELETE', '/v1/kv/*key', '/v1/kv/other/tmp/?recurse', right('key', 'write', 'other/tmp/')),

    s('GET', '/v1/catalog/services', '/v1/catalog/services', list('service', keysOf)),
    s('GET', '/v1/catalog/service/:service', '/v1/catalog/service/web', right('service', 'read', 'web')),
    s('GET', '/v1/catalog/service/:service', '/v1/catalog/service/db', right('service', 'read', 'db')),
    s('GET', '/v1/catalog/nodes', '/v1/catalog/nodes', list('node', field('Node'))),
    s('GET', '/v1/catalog/node/:node', `/v1/catalog/node/${node}`, right('node', 'read', node)),
    s('GET', '/v1/health/service/:service', '/v1/health/service/web', right('service', 'read', 'web')),
    s('GET', '/v1/health/node/:node', `/v1/health/node/${node}`, right('node', 'read', node)),
    s('GET', '/v1/health/checks/:service', '/v1/health/checks/db', right('service', 'read', 'db')),
    s('GET', '/v1/health/state/:state', '/v1/health/state/any', list('node', field('Node'))),

    s('PUT', '/v1/agent/service/register', '/v1/agent/service/register', right('service', 'write', 'web'), '{"Name":"web","ID":"web-m","Port":80}'),
    s('PUT', '/v1/agent/service/register', '/v1/agent/service/register', right('service', 'write', 'db'), '{"Name":"db","ID":"db-m","Port":81}'),
    s('PUT', '/v1/agent/service/deregister/:id', '/v1/agent/service/deregister/no-such-service', right('service', 'write', 'no-such-service')),
    s('GET', '/v1/agent/services', '/v1/agent/services', list('service', (b) => Object.values(b as Record<string, { Service: string }>).map((x) => x.Service))),
    s('GET', '/v1/agent/service/:id', '/v1/agent/service/web-m', right('service', 'read', 'web')),
    s('GET', '/v1/agent/service/:id', '/v1/agent/service/db-m', right('service', 'read', 'db')),
    s('GET', '/v1/agent/checks', '/v1/agent/checks', { ...list('service', (b) => Object.values(b as Record<string, { ServiceName: string }>).map((x) => x.ServiceName).filter((n) => n !== '')), mayBeEmpty: true } as Sample['expect']),
    s('PUT', '/v1/agent/check/register', '/v1/agent/check/register', right('node', 'write', node), '{"Name":"matrix","ID":"matrix-check","TTL":"30s"}'),
    s('PUT', '/v1/agent/check/deregister/:id', '/v1/agent/check/deregister/no-such-check', right('node', 'write', node)),
    s('PUT', '/v1/agent/check/update/:id', '/v1/agent/check/update/no-such-check', right('node', 'write', node), '{"Status":"passing"}'),
    s('PUT', '/v1/agent/check/:verb/:id', '/v1/agent/check/pass/no-such-check', right('node', 'write', node)),
    s('GET', '/v1/agent/health/service/name/:name', '/v1/agent/health/service/name/web', right('service', 'read', 'web')),
    s('GET', '/v1/agent/health/service/id/:id', '/v1/agent/health/service/id/db-m', right('service', 'read', 'db')),
    s('GET', '/v1/agent/self', '/v1/agent/self', right('agent', 'read', node)),
    s('GET', '/v1/agent/members', '/v1/agent/members', list('node', field('Name'))),

    s('GET', '/v1/status/leader', '/v1/status/leader', PUBLIC),
    s('GET', '/v1/status/peers', '/v1/status/peers', PUBLIC),
    s('GET', '/v1/operator/raft/configuration', '/v1/operator/raft/configuration', right('operator', 'read', '')),
    s('DELETE', '/v1/operator/raft/peer', '/v1/operator/raft/peer?id=no-such-node', right('operator', 'write', '')),
    s('POST', '/v1/operator/raft/transfer-leader', '/v1/operator/raft/transfer-leader?id=no-such-node', right('operator', 'write', '')),

    s('GET', '/cluster/status', '/cluster/status', right('operator', 'read', '')),
    s('GET', '/cluster/leader', '/cluster/leader', right('operator', 'read', '')),
    s('POST', '/cluster/join', '/cluster/join', right('operator', 'write', ''), '{}'),
    s('DELETE', '/cluster/leave/:id', '/cluster/leave/no-such-node', right('operator', 'write', '')),
    s('GET', '/cluster/peers', '/cluster/peers', right('operator', 'read', '')),
    s('GET', '/cluster/config', '/cluster/config', right('operator', 'read', '')),
    s('POST', '/cluster/snapshot', '/cluster/snapshot', right('operator', 'write', '')),
    s('GET', '/cluster/stats', '/cluster/stats', right('operator', 'read', '')),
    s('POST', '/cluster/transfer-leader', '/cluster/transfer-leader?id=no-such-node', right('operator', 'write', '')),

    s('GET', '/metrics', '/metrics', right('agent', 'read', node)),
    s('GET', '/v1/agent/metrics', '/v1/agent/metrics?format=prometheus', right('agent', 'read', node)),
    // routes from api, cli and ops: Consul's ACL requirements for them
    s('GET', '/v1/catalog/datacenters', '/v1/catalog/datacenters', PUBLIC),
    s('GET', '/v1/agent/version', '/v1/agent/version', PUBLIC),
    s('GET', '/v1/catalog/node-services/:node', `/v1/catalog/node-services/${node}`, right('node', 'read', node)),
    s('PUT', '/v1/agent/maintenance', '/v1/agent/maintenance?enable=false', right('node', 'write', node)),
    s('PUT', '/v1/agent/service/maintenance/:id', '/v1/agent/service/maintenance/web-m?enable=false', right('service', 'write', 'web')),
    s('PUT', '/v1/agent/service/maintenance/:id', '/v1/agent/service/maintenance/db-m?enable=false', right('service', 'write', 'db')),
    s('PUT', '/v1/agent/reload', '/v1/agent/reload', right('agent', 'write', node)),
    // a bad ?loglevel answers 400 once the check passed, so the matrix never holds a log stream open
    s('GET', '/v1/agent/monitor', '/v1/agent/monitor?loglevel=matrix', right('agent', 'read', node)),
    s('GET', '/v1/operator/autopilot/health', '/v1/operator/autopilot/health', right('operator', 'read', '')),
    s('GET', '/v1/operator/autopilot/state', '/v1/operator/autopilot/state', right('operator', 'read', '')),
    // ---- ops2: the replicated autopilot configuration
    s('GET', '/v1/operator/autopilot/configuration', '/v1/operator/autopilot/configuration', right('operator', 'read', '')),
    s('PUT', '/v1/operator/autopilot/configuration', '/v1/operator/autopilot/configuration', right('operator', 'write', ''), '{}'),
    s('GET', '/v1/snapshot', '/v1/snapshot', right('acl', 'write', '')),
    s('PUT', '/v1/snapshot', '/v1/snapshot', right('acl', 'write', ''), ''),
    // catalog writes: node:write on the node and service:write on the service (Consul's rules)
    s('PUT', '/v1/catalog/register', '/v1/catalog/register', rights(['node', 'write', 'ext-web'], ['service', 'write', 'web']), '{"Node":"ext-web","Address":"10.0.0.1","Service":{"Service":"web","Port":80}}'),
    s('PUT', '/v1/catalog/register', '/v1/catalog/register', rights(['node', 'write', 'ext-db'], ['service', 'write', 'db']), '{"Node":"ext-db","Address":"10.0.0.2","Service":{"Service":"db","Port":81}}'),
    s('PUT', '/v1/catalog/register', '/v1/catalog/register', rights(['node', 'write', 'host-web'], ['service', 'write', 'web']), '{"Node":"host-web","Address":"10.0.0.3","Service":{"Service":"web","Port":82}}'),
    s('PUT', '/v1/catalog/register', '/v1/catalog/register', right('node', 'write', 'ext-bare'), '{"Node":"ext-bare","Address":"10.0.0.4"}'),
    s('PUT', '/v1/catalog/deregister', '/v1/catalog/deregister', right('service', 'write', 'no-such-service'), '{"Node":"ext-none","ServiceID":"no-such-service"}'),
    s('PUT', '/v1/catalog/deregister', '/v1/catalog/deregister', right('node', 'write', 'ext-none'), '{"Node":"ext-none"}'),
    s('PUT', '/v1/catalog/deregister', '/v1/catalog/deregister', right('node', 'write', 'other-none'), '{"Node":"other-none","CheckID":"no-such-check"}'),
    // events: event:write on the name to fire; the list keeps what event:read allows
    s('PUT', '/v1/event/fire/:name', '/v1/event/fire/deploy-matrix', right('event', 'write', 'deploy-matrix'), ''),
    s('PUT', '/v1/event/fire/:name', '/v1/event/fire/other-matrix', right('event', 'write', 'other-matrix'), ''),
    s('GET', '/v1/event/list', '/v1/event/list', list('event', field('Name'))),
    // sessions: session:write on the node to create, renew or destroy; reads filtered by session:read
    s('PUT', '/v1/session/create', '/v1/session/create', right('session', 'write', node), ''),
    s('PUT', '/v1/session/create', '/v1/session/create', right('session', 'write', node), `{"Node":"${node}","Name":"matrix","NodeChecks":[]}`),
    s('PUT', '/v1/session/renew/:id', '/v1/session/renew/00000000-0000-4000-8000-00000000abcd', right('session', 'write', node)),
    s('PUT', '/v1/session/destroy/:id', '/v1/session/destroy/00000000-0000-4000-8000-00000000abcd', right('session', 'write', node)),
    s('GET', '/v1/session/list', '/v1/session/list', list('session', field('Node'))),
    s('GET', '/v1/session/node/:node', `/v1/session/node/${node}`, list('session', field('Node'))),
    s('GET', '/v1/session/info/:id', '/v1/session/info/00000000-0000-4000-8000-00000000abcd', { ...list('session', field('Node')), mayBeEmpty: true } as Sample['expect']),
    // a transaction: each operation's right (write verbs key:write, checks key:read); reads filtered
    s('PUT', '/v1/txn', '/v1/txn', right('key', 'write', 'app/txn'), '[{"KV":{"Verb":"set","Key":"app/txn","Value":"dg=="}}]'),
    s('PUT', '/v1/txn', '/v1/txn', rights(['key', 'write', 'app/txn2'], ['key', 'write', 'other/txn']), '[{"KV":{"Verb":"set","Key":"app/txn2","Value":"dg=="}},{"KV":{"Verb":"set","Key":"other/txn","Value":"dg=="}}]'),
    s('PUT', '/v1/txn', '/v1/txn', right('key', 'read', 'other/b'), '[{"KV":{"Verb":"check-not-exists","Key":"other/b"}}]'),
    s('PUT', '/v1/txn', '/v1/txn', right('key', 'write', 'other/none/'), '[{"KV":{"Verb":"delete-tree","Key":"other/none/"}}]'),
    s('PUT', '/v1/txn', '/v1/txn', list('key', (b) => ((b as { Results: Array<{ KV: { Key: string } }> }).Results ?? []).map((r) => r.KV.Key)), '[{"KV":{"Verb":"get-tree","Key":""}}]'),
    // api: prepared queries (Consul's query rules on the query's name; execute filters by service and node read)
    s('POST', '/v1/query', '/v1/query', right('query', 'write', 'web-new'), '{"Name":"web-new","Service":{"Service":"web"}}'),
    s('POST', '/v1/query', '/v1/query', right('query', 'write', 'other-new'), '{"Name":"other-new","Service":{"Service":"db"}}'),
    s('GET', '/v1/query', '/v1/query', list('query', field('Name'))),
    s('GET', '/v1/query/:uuid', `/v1/query/${webQ}`, right('query', 'read', 'web-q')),
    s('GET', '/v1/query/:uuid', `/v1/query/${dbQ}`, right('query', 'read', 'db-q')),
    s('PUT', '/v1/query/:uuid', `/v1/query/${webQ}`, right('query', 'write', 'web-q'), QUERY_BODIES['web-q']),
    s('PUT', '/v1/query/:uuid', `/v1/query/${dbQ}`, right('query', 'write', 'db-q'), QUERY_BODIES['db-q']),
    s('GET', '/v1/query/:uuid/explain', '/v1/query/web-q/explain', right('query', 'read', 'web-q')),
    s('GET', '/v1/query/:uuid/explain', '/v1/query/db-q/explain', right('query', 'read', 'db-q')),
    s('GET', '/v1/query/:uuid/execute', '/v1/query/db-q/execute', list('service', nodesOf)),
    // last: the management token deletes db-q (runMatrix makes it again for the next run)
    s('DELETE', '/v1/query/:uuid', `/v1/query/${dbQ}`, right('query', 'write', 'db-q')),
  ];
}

/**
 * Samples for routes this file does not know (added later by someone else): they must need
 * operator:write, the route table's default for a route that declares nothing.
 */
export function undeclaredSamples(known: readonly Sample[], routes: readonly RouteSpec[] = ROUTES): Sample[] {
  const seen = new Set(known.map((k) => `${k.method} ${k.route}`));
  return routes.filter((r) => !seen.has(`${r.method} ${r.path}`)).map((r) => ({
    method: r.method,
    route: r.path,
    path: r.path.replace(/:[A-Za-z]+|\*[A-Za-z]+/g, 'matrix-unknown'),
    body: r.method === 'GET' ? undefined : '{}',
    expect: right('operator', 'write', ''),
  }));
}

const DENIED = /Permission denied|ACL not found/;

export interface MatrixResult { calls: number; failures: string[] }

/** Runs every sample with every token against `url`; a failure names the route, the token and what came back. */
export async function runMatrix(url: string, tokens: Record<TokenName, string | undefined>, node: string, routes: readonly RouteSpec[] = ROUTES): Promise<MatrixResult> {
  await ensureQueries(url, tokens.management!);
  const known = samples(node);
  const all = [...known, ...undeclaredSamples(known, routes)];
  const role = await http('GET', `${url}/v1/acl/role/name/matrix-role`, undefined, 15_000, { 'x-consul-token': tokens.management! });
  const roleId = role.status === 200 ? (JSON.parse(role.body) as { ID: string }).ID : 'no-matrix-role';
  const failures: string[] = [];
  let calls = 0;
  for (const sample of all) {
    for (const token of TOKEN_NAMES) {
      const secret = tokens[token];
      const headers: Record<string, string> = secret === undefined ? {} : { 'x-consul-token': secret };
      const r = await http(sample.method, `${url}${sample.path.replace('{role}', roleId)}`, sample.body, 15_000, headers);
      calls++;
      const denied = r.status === 403 && DENIED.test(r.body) && !/bootstrap no longer allowed/.test(r.body);
      const where = `${sample.method} ${sample.path} (route ${sample.route}) as ${token} on ${node}`;
      const e = sample.expect;
      if (e.kind === 'public') {
        if (denied) failures.push(`${where}: public, but refused: ${r.status} ${r.body.slice(0, 160)}`);
      } else if (e.kind === 'right' || e.kind === 'rights') {
        const all = e.kind === 'right' ? [e] : e.all;
        const allowed = all.every((x) => oracle(token, x.resource, x.need, x.name));
        const needs = all.map((x) => `${x.resource}:${x.need} on "${x.name}"`).join(' and ');
        if (allowed && denied) failures.push(`${where}: needs ${needs}, which the token has, but got ${r.status} ${r.body.slice(0, 160)}`);
        if (!allowed && !denied) failures.push(`${where}: needs ${needs}, which the token lacks, but got ${r.status} ${r.body.slice(0, 160)}`);
      } else {
        if (r.status !== 200 && r.status !== 404) {
          failures.push(`${where}: a list answers 200 (filtered), got ${r.status} ${r.body.slice(0, 160)}`);
          continue;
        }
        const items = r.status === 404 ? [] : e.items(JSON.parse(r.body));
        // Lists must hold something for management, or a missing filter would go unseen.
        if (token === 'management' && items.length === 0 && !e.mayBeEmpty) failures.push(`${where}: the list is empty even for management`);
        const hidden = items.filter((i) => !oracle(token, e.resource, 'read', i));
        if (hidden.length > 0) failures.push(`${where}: lists ${e.resource} ${JSON.stringify(hidden)} the token may not read`);
      }
    }
  }
  return { calls, failures };
}
