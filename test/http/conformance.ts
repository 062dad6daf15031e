// The conformance suite, driven by the route table and Consul's documented
// parameters: for every parameter a route takes, a case that shows it changes
// the answer as Consul documents (so a route that ignores it fails); for every
// parameter Consul documents that konsul does not serve, a 400 naming it; for
// every Consul endpoint konsul does not serve, a 404. The runner returns the
// failures, so a test can also run it against a deliberately broken route.

import assert from 'node:assert/strict';
import type { TestServer } from './helpers.js';
import { allRoutes } from '../../src/http/index.js';
import { routeParams, unsupportedConsulParams } from '../../src/http/params.js';
import { consulOnly } from '../../src/http/compat.js';
import type { RouteSpec } from '../../src/http/types.js';
import type { CatalogOp } from '../../src/state/index.js';

type Sync = Extract<CatalogOp, { op: 'sync' }>;

/** A concrete path for each route pattern (the seeded data has these). */
const SAMPLE: Readonly<Record<string, string>> = {
  ':key': 'app/config', ':service': 'web', ':node': 'n2', ':state': 'any', ':id': 'web1', ':name': 'web', ':verb': 'pass',
  ':uuid': '8f246b77-f3e1-4f88-9b48-8ec93abf3e05',
};

/** The prepared query the seed defines (api): service web, by this ID and the name web-q. */
export const QUERY_ID = SAMPLE[':uuid']!;

export function samplePath(spec: RouteSpec): string {
  let path = spec.path.replace(/\*key$/, 'app/');
  if (spec.path === '/v1/agent/check/:verb/:id') return '/v1/agent/check/pass/ttl1';
  if (spec.path === '/v1/agent/check/update/:id' || spec.path === '/v1/agent/check/deregister/:id') return spec.path.replace(':id', 'ttl1');
  if (spec.path === '/cluster/leave/:id') return '/cluster/leave/c1';
  if (spec.path.startsWith('/v1/session/') && spec.path.endsWith('/:id')) return spec.path.replace(':id', '00000000-0000-4000-8000-000000000000');
  for (const [k, v] of Object.entries(SAMPLE)) path = path.replace(k, v);
  return path;
}

function node(name: string, meta: Record<string, string>): Sync['node'] {
  return { id: '', node: name, address: `10.0.0.${name.slice(1)}`, datacenter: 'dc1', taggedAddresses: {}, meta };
}

function service(id: string, name: string, tags: string[], meta: Record<string, string> = {}): Sync['services'][number] {
  return { id, service: name, tags, address: '', port: 80, meta, weights: { passing: 1, warning: 1 }, enableTagOverride: false };
}

/** n1 (the agent: web1 with a TTL check), n2 (rack r2: web2 critical, db), n3 (rack r1: web3 passing). */
export async function seed(s: TestServer, bump = 0): Promise<void> {
  s.agent.apply({ type: 'catalog', op: {
    op: 'sync', node: node('n2', { rack: 'r2', env: 'staging', bump: String(bump) }),
    services: [service('web2', 'web', ['v2']), service('db', 'db', ['primary'])],
    checks: [{ checkId: 'web2-up', name: 'up', status: 'critical', notes: '', output: 'down', serviceId: 'web2', type: 'http' }],
  } });
  if (bump > 0) return;
  s.agent.apply({ type: 'catalog', op: {
    op: 'sync', node: node('n3', { rack: 'r1', env: 'prod' }), services: [service('web3', 'web', ['v1', 'canary'], { version: '3' })],
    checks: [{ checkId: 'web3-up', name: 'up', status: 'passing', notes: '', output: 'ok', serviceId: 'web3', type: 'http' }],
  } });
  const r = await s.call('PUT', '/v1/agent/service/register', { body: JSON.stringify({
    ID: 'web1', Name: 'web', Tags: ['v1'], Port: 8080, Meta: { version: '1' }, Check: { CheckID: 'ttl1', TTL: '30s', Status: 'passing' },
  }) });
  assert.equal(r.status, 200, r.text);
  for (const [key, value] of [['app/config', 'one'], ['app/sub/x', 'two'], ['app/sub/y', 'three'], ['other', 'four']]) {
    assert.equal((await s.call('PUT', `/v1/kv/${key}`, { body: value })).status, 200);
  }
  s.agent.apply({ type: 'prepared-query', op: { op: 'set', create: true, query: {
    id: QUERY_ID, name: 'web-q', session: '', token: '', template: { type: '', regexp: '', removeEmptyTags: false }, dns: { ttl: '' },
    service: { service: 'web', failover: { nearestN: 0, datacenters: [] }, onlyPassing: false, ignoreCheckIds: [], near: '', tags: [], nodeMeta: {}, serviceMeta: {} },
  } } });
}

/** A session on n3 (the seed's node with a passing check and no serfHealth): for the lock and session cases. */
async function session(s: TestServer): Promise<string> {
  const r = await s.call('PUT', '/v1/session/create', { body: JSON.stringify({ Node: 'n3', NodeChecks: [] }) });
  assert.equal(r.status, 200, r.text);
  return (JSON.parse(r.text) as { ID: string }).ID;
}

/** A blocking session read wakes when a session is created, and reports the new session index. */
async function sessionIndexCase(s: TestServer, path: string): Promise<void> {
  const index = Number((await s.call('GET', path)).header('x-consul-index'));
  const pending = s.call('GET', withParam(path, `index=${index}&wait=20s`), { signal: AbortSignal.timeout(15_000) });
  await new Promise((r) => setTimeout(r, 50));
  const started = performance.now();
  await session(s);
  const r = await pending;
  assert.ok(Number(r.header('x-consul-index')) > index, `?index on ${path}: the answer did not move with the new session`);
  assert.ok(performance.now() - started < 14_000, `?index on ${path}: woke only at the timeout`);
}

/** GET /v1/agent/monitor with `query`, while the agent logs one line at each level; what arrived (the request is then cut). */
async function monitorLines(s: TestServer, query: string): Promise<{ contentType: string; text: string }> {
  const control = s.control!;
  const controller = new AbortController();
  const { request } = await import('undici');
  const res = await request(`${s.url}/v1/agent/monitor${query}`, { signal: controller.signal });
  const chunks: Buffer[] = [];
  const reading = (async () => {
    try {
      for await (const chunk of res.body) chunks.push(Buffer.from(chunk as Buffer));
    } catch { /* cut below */ }
  })();
  await waitUntil(() => control.listeners.size > 0);
  for (const [level, msg] of [[20, 'a debug line'], [30, 'an info line'], [40, 'a warn line']] as const) {
    control.emit(JSON.stringify({ level, time: Date.now(), msg }));
  }
  await waitUntil(() => Buffer.concat(chunks).toString('utf8').includes('a warn line'));
  controller.abort();
  await reading;
  return { contentType: String(res.headers['content-type']), text: Buffer.concat(chunks).toString('utf8') };
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Count what an answer lists, whatever its shape (array, object of entries, node with services). */
function count(body: Json): number {
  if (Array.isArray(body)) return body.length;
  if (body && typeof body === 'object' && 'Services' in body) return Array.isArray(body.Services) ? body.Services.length : Object.keys(body.Services).length;
  return Object.keys(body ?? {}).length;
}

async function json(s: TestServer, method: string, path: string, expectStatus = 200): Promise<Json> {
  const r = await s.call(method, path);
  assert.equal(r.status, expectStatus, `${method} ${path} -> ${r.status} ${r.text}`);
  return r.text === '' ? undefined : JSON.parse(r.text);
}

const withParam = (path: string, q: string): string => `${path}${path.includes('?') ? '&' : '?'}${q}`;

/** A case for one parameter on one route: throws when the route does not honour it. */
type Case = (s: TestServer, spec: RouteSpec, path: string) => Promise<void>;

/** Cases that apply to every route that takes the parameter. */
const GENERIC: Readonly<Record<string, Case>> = {
  async dc(s, spec, path) {
    const other = await s.call(spec.method, withParam(path, 'dc=dc9'));
    assert.equal(other.status, 500, `?dc=dc9 on ${spec.method} ${path}: ${other.status}`);
    assert.equal(other.text, 'No path to datacenter');
    if (spec.method === 'GET') assert.equal((await s.call('GET', withParam(path, 'dc=DC1'))).status < 500, true);
  },
  async token(s, spec, path) {
    if (spec.method !== 'GET') return;
    const plain = await s.call('GET', path);
    const token = await s.call('GET', withParam(path, 'token=anything'));
    assert.equal(token.status, plain.status, '?token changes nothing (ACLs are not enforced)');
  },
  async pretty(s, spec, path) {
    if (spec.method !== 'GET') return;
    const plain = await s.call('GET', path);
    if (!String(plain.header('content-type')).includes('json') || plain.status !== 200) return;
    const pretty = await s.call('GET', withParam(path, 'pretty'));
    if (/^[[{]./.test(plain.text) && plain.text.length > 2) assert.ok(pretty.text.includes('\n    '), `?pretty did not indent ${path}`);
    // The same content, laid out differently (the metrics' Timestamp moves with the clock).
    const content = (text: string): unknown => JSON.parse(text, (k, v: unknown) => (k === 'Timestamp' ? undefined : v));
    assert.deepEqual(content(pretty.text), content(plain.text));
  },
  async stale(s, _spec, path) {
    const r = await s.call('GET', withParam(path, 'stale'));
    assert.equal(r.header('x-consul-effective-consistency'), 'stale', `?stale on ${path}`);
  },
  async consistent(s, _spec, path) {
    const r = await s.call('GET', withParam(path, 'consistent'));
    assert.equal(r.header('x-consul-effective-consistency'), 'consistent', `?consistent on ${path}`);
  },
  async wait(s, spec, path) {
    if (spec.path === '/v1/agent/service/:id') return; // hash-based: see its own case
    const first = await s.call('GET', path);
    const index = first.header('x-consul-index');
    const started = performance.now();
    const r = await s.call('GET', withParam(path, `index=${index}&wait=150ms`), { signal: AbortSignal.timeout(10_000) });
    // Behaviour, not speed: with nothing changing, the answer waits out the given wait (not the default 5 minutes).
    assert.ok(performance.now() - started >= 140, `?wait=150ms on ${path} answered before the wait`);
    assert.equal(r.header('x-consul-index'), index);
  },
  async index(s, spec, path) {
    if (spec.path === '/v1/agent/service/:id') return;
    const first = await s.call('GET', path);
    const index = Number(first.header('x-consul-index'));
    const pending = s.call('GET', withParam(path, `index=${index}&wait=20s`), { signal: AbortSignal.timeout(15_000) });
    // Change what the route watches once the request is blocked.
    await waitUntil(() => s.agent.state.catalog.waiting > 0 || s.agent.waits.length > 0);
    if (spec.path.startsWith('/v1/kv/')) await s.call('PUT', '/v1/kv/app/config', { body: `v${index}` });
    else await seed(s, index);
    const r = await pending;
    assert.ok(Number(r.header('x-consul-index')) > index, `?index on ${path}: the answer did not wait for a change`);
  },
};

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
}

/** Cases for one route's own parameter, keyed `METHOD path param`. */
const SPECIFIC: Readonly<Record<string, Case>> = {
  // ------------------------------------------------------------ KV
  async 'GET /v1/kv/*key recurse'(s) {
    assert.equal(count(await json(s, 'GET', '/v1/kv/app/?recurse')), 3);
    assert.equal((await s.call('GET', '/v1/kv/app/')).status, 404);
  },
  async 'GET /v1/kv/*key raw'(s) {
    assert.equal((await s.call('GET', '/v1/kv/other?raw')).text, 'four');
  },
  async 'GET /v1/kv/*key keys'(s) {
    assert.deepEqual(await json(s, 'GET', '/v1/kv/app/?keys'), ['app/config', 'app/sub/x', 'app/sub/y']);
  },
  async 'GET /v1/kv/*key separator'(s) {
    assert.deepEqual(await json(s, 'GET', '/v1/kv/app/?keys&separator=/'), ['app/config', 'app/sub/']);
  },
  async 'GET /v1/kv/*key seperator'(s) {
    assert.deepEqual(await json(s, 'GET', '/v1/kv/app/?keys&seperator=/'), ['app/config', 'app/sub/']);
  },
  async 'PUT /v1/kv/*key flags'(s) {
    await s.call('PUT', '/v1/kv/flagged?flags=42', { body: 'x' });
    assert.equal((await json(s, 'GET', '/v1/kv/flagged'))[0].Flags, 42);
    // Consul's flags are a uint64: the largest one comes back digit for digit.
    await s.call('PUT', '/v1/kv/flagged?flags=18446744073709551615', { body: 'x' });
    assert.match((await s.call('GET', '/v1/kv/flagged')).text, /"Flags":18446744073709551615,/);
    assert.equal((await s.call('PUT', '/v1/kv/flagged?flags=18446744073709551616', { body: 'x' })).status, 400);
  },
  async 'PUT /v1/kv/*key cas'(s) {
    assert.equal((await s.call('PUT', '/v1/kv/other?cas=1', { body: 'x' })).text, 'false');
  },
  async 'DELETE /v1/kv/*key recurse'(s) {
    await s.call('PUT', '/v1/kv/gone/a', { body: 'x' });
    await s.call('PUT', '/v1/kv/gone/b', { body: 'x' });
    await s.call('DELETE', '/v1/kv/gone/?recurse');
    assert.equal((await s.call('GET', '/v1/kv/gone/?recurse')).status, 404);
  },
  async 'DELETE /v1/kv/*key cas'(s) {
    assert.equal((await s.call('DELETE', '/v1/kv/other?cas=1')).text, 'false');
    assert.equal((await s.call('GET', '/v1/kv/other')).status, 200);
  },
  // ------------------------------------------------------------ catalog and health
  async 'GET /v1/catalog/services node-meta'(s) {
    assert.deepEqual(Object.keys(await json(s, 'GET', '/v1/catalog/services?node-meta=rack:r2')).sort(), ['db', 'web']);
    assert.deepEqual(Object.keys(await json(s, 'GET', '/v1/catalog/services?node-meta=rack:r1')), ['web']);
  },
  async 'GET /v1/catalog/services filter'(s) {
    assert.deepEqual(await json(s, 'GET', `/v1/catalog/services?filter=${encodeURIComponent('ServiceTags contains canary')}`), { web: ['canary', 'v1'] });
  },
  async 'GET /v1/catalog/service/:service tag'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/catalog/service/web?tag=v1')).map((e: Json) => e.ServiceID), ['web1', 'web3']);
    assert.deepEqual((await json(s, 'GET', '/v1/catalog/service/web?tag=v1&tag=canary')).map((e: Json) => e.ServiceID), ['web3']);
  },
  async 'GET /v1/catalog/service/:service node-meta'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/catalog/service/web?node-meta=rack:r2')).map((e: Json) => e.ServiceID), ['web2']);
  },
  async 'GET /v1/catalog/service/:service filter'(s) {
    const q = encodeURIComponent('ServiceMeta.version == "3" or NodeMeta.rack == r2');
    assert.deepEqual((await json(s, 'GET', `/v1/catalog/service/web?filter=${q}`)).map((e: Json) => e.ServiceID), ['web2', 'web3']);
  },
  async 'GET /v1/catalog/nodes node-meta'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/catalog/nodes?node-meta=env:prod')).map((n: Json) => n.Node), ['n3']);
  },
  async 'GET /v1/catalog/nodes filter'(s) {
    assert.deepEqual((await json(s, 'GET', `/v1/catalog/nodes?filter=${encodeURIComponent('Meta.rack matches "^r"')}`)).map((n: Json) => n.Node), ['n2', 'n3']);
  },
  async 'GET /v1/catalog/node/:node filter'(s) {
    assert.deepEqual(Object.keys((await json(s, 'GET', `/v1/catalog/node/n2?filter=${encodeURIComponent('Service == db')}`)).Services), ['db']);
  },
  async 'GET /v1/catalog/node-services/:node filter'(s) {
    assert.deepEqual((await json(s, 'GET', `/v1/catalog/node-services/n2?filter=${encodeURIComponent('"v2" in Tags')}`)).Services.map((x: Json) => x.ID), ['web2']);
  },
  async 'GET /v1/health/service/:service tag'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/health/service/web?tag=v2')).map((e: Json) => e.Service.ID), ['web2']);
  },
  async 'GET /v1/health/service/:service node-meta'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/health/service/web?node-meta=rack:r1&node-meta=env:prod')).map((e: Json) => e.Service.ID), ['web3']);
  },
  async 'GET /v1/health/service/:service passing'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/health/service/web?passing')).map((e: Json) => e.Service.ID), ['web1', 'web3']);
    assert.deepEqual((await json(s, 'GET', '/v1/health/service/web?passing=false')).map((e: Json) => e.Service.ID), ['web1', 'web2', 'web3']);
    assert.equal((await s.call('GET', '/v1/health/service/web?passing=maybe')).status, 400);
  },
  async 'GET /v1/health/service/:service filter'(s) {
    const q = encodeURIComponent('Checks.Status == critical and Node.Meta.rack == r2');
    assert.deepEqual((await json(s, 'GET', `/v1/health/service/web?filter=${q}`)).map((e: Json) => e.Service.ID), ['web2']);
    assert.equal((await s.call('GET', '/v1/health/service/web?filter=Nope%20%3D%3D%201')).status, 400);
  },
  async 'GET /v1/health/node/:node filter'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/health/node/n2?filter=Status%20%3D%3D%20critical')).map((c: Json) => c.CheckID), ['web2-up']);
  },
  async 'GET /v1/health/checks/:service node-meta'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/health/checks/web?node-meta=rack:r1')).map((c: Json) => c.CheckID), ['web3-up']);
  },
  async 'GET /v1/health/checks/:service filter'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/health/checks/web?filter=Status%20!%3D%20passing')).map((c: Json) => c.CheckID), ['web2-up']);
  },
  async 'GET /v1/health/state/:state node-meta'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/health/state/any?node-meta=rack:r1')).map((c: Json) => c.CheckID), ['web3-up']);
  },
  async 'GET /v1/health/state/:state filter'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/health/state/any?filter=ServiceName%20%3D%3D%20web%20and%20Node%20%3D%3D%20n3')).map((c: Json) => c.CheckID), ['web3-up']);
  },
  // ------------------------------------------------------------ agent
  async 'GET /v1/agent/services filter'(s) {
    assert.equal(count(await json(s, 'GET', '/v1/agent/services?filter=Service%20%3D%3D%20web')), 1);
    assert.equal(count(await json(s, 'GET', '/v1/agent/services?filter=Service%20%3D%3D%20db')), 0);
  },
  async 'GET /v1/agent/checks filter'(s) {
    assert.equal(count(await json(s, 'GET', '/v1/agent/checks?filter=Status%20%3D%3D%20passing')), 1);
    assert.equal(count(await json(s, 'GET', '/v1/agent/checks?filter=Status%20%3D%3D%20critical')), 0);
  },
  async 'GET /v1/agent/members filter'(s) {
    assert.deepEqual((await json(s, 'GET', '/v1/agent/members?filter=Tags.role%20%3D%3D%20node')).map((m: Json) => m.Name), ['c1']);
  },
  async 'GET /v1/agent/service/:id hash'(s) {
    const first = await s.call('GET', '/v1/agent/service/web1');
    const hash = first.header('x-consul-contenthash')!;
    assert.equal(JSON.parse(first.text).ContentHash, hash);
    const pending = s.call('GET', `/v1/agent/service/web1?hash=${hash}&wait=20s`, { signal: AbortSignal.timeout(15_000) });
    await waitUntil(() => s.agent.state.catalog.waiting > 0);
    await s.call('PUT', '/v1/agent/service/register', { body: JSON.stringify({ ID: 'web1', Name: 'web', Tags: ['v1', 'moved'], Port: 8081 }) });
    const r = await pending;
    assert.notEqual(r.header('x-consul-contenthash'), hash, '?hash on /v1/agent/service/:id did not wait for a change');
    assert.equal(JSON.parse(r.text).Port, 8081);
  },
  async 'GET /v1/agent/service/:id wait'(s) {
    const hash = (await s.call('GET', '/v1/agent/service/web1')).header('x-consul-contenthash');
    const started = performance.now();
    const r = await s.call('GET', `/v1/agent/service/web1?hash=${hash}&wait=150ms`, { signal: AbortSignal.timeout(10_000) });
    assert.ok(performance.now() - started >= 140 && r.status === 200);
  },
  async 'PUT /v1/agent/check/:verb/:id note'(s) {
    await s.call('PUT', '/v1/agent/check/warn/ttl1?note=slow%20disk');
    assert.equal((await json(s, 'GET', '/v1/agent/checks')).ttl1.Output, 'slow disk');
    await s.call('PUT', '/v1/agent/check/pass/ttl1');
  },
  async 'GET /v1/agent/health/service/name/:name format'(s) {
    const r = await s.call('GET', '/v1/agent/health/service/name/web?format=text');
    assert.equal(r.text, 'passing');
  },
  async 'GET /v1/agent/health/service/id/:id format'(s) {
    assert.equal((await s.call('GET', '/v1/agent/health/service/id/web1?format=text')).text, 'passing');
  },
  async 'PUT /v1/agent/maintenance enable'(s) {
    await s.call('PUT', '/v1/agent/maintenance?enable=true');
    assert.equal((await json(s, 'GET', '/v1/agent/checks'))._node_maintenance.Status, 'critical');
    assert.deepEqual((await json(s, 'GET', '/v1/health/service/web?passing')).map((e: Json) => e.Service.ID), ['web3']);
    await s.call('PUT', '/v1/agent/maintenance?enable=false');
    assert.equal((await json(s, 'GET', '/v1/agent/checks'))._node_maintenance, undefined);
    assert.equal((await s.call('PUT', '/v1/agent/maintenance')).status, 400);
  },
  async 'PUT /v1/agent/maintenance reason'(s) {
    await s.call('PUT', '/v1/agent/maintenance?enable=true&reason=kernel%20upgrade');
    assert.equal((await json(s, 'GET', '/v1/agent/checks'))._node_maintenance.Notes, 'kernel upgrade');
    await s.call('PUT', '/v1/agent/maintenance?enable=false');
  },
  async 'PUT /v1/agent/service/maintenance/:id enable'(s) {
    await s.call('PUT', '/v1/agent/service/maintenance/web1?enable=true');
    assert.deepEqual((await json(s, 'GET', '/v1/health/service/web?passing')).map((e: Json) => e.Service.ID), ['web3']);
    await s.call('PUT', '/v1/agent/service/maintenance/web1?enable=false');
    assert.deepEqual((await json(s, 'GET', '/v1/health/service/web?passing')).map((e: Json) => e.Service.ID), ['web1', 'web3']);
    assert.equal((await s.call('PUT', '/v1/agent/service/maintenance/nope?enable=true')).status, 404);
  },
  async 'PUT /v1/agent/service/maintenance/:id reason'(s) {
    await s.call('PUT', '/v1/agent/service/maintenance/web1?enable=true&reason=deploy');
    assert.equal((await json(s, 'GET', '/v1/agent/checks'))['_service_maintenance:web1'].Notes, 'deploy');
    await s.call('PUT', '/v1/agent/service/maintenance/web1?enable=false');
  },
  async 'GET /v1/agent/metrics format'(s) {
    assert.match((await s.call('GET', '/v1/agent/metrics?format=prometheus')).text, /^# HELP/);
    assert.ok(Array.isArray((await json(s, 'GET', '/v1/agent/metrics')).Counters));
  },
  // ------------------------------------------------------------ events
  async 'PUT /v1/event/fire/:name node'(s) {
    await s.call('PUT', '/v1/event/fire/mine?node=^n1$');
    await s.call('PUT', '/v1/event/fire/theirs?node=^n2$');
    assert.deepEqual((await json(s, 'GET', '/v1/event/list')).map((e: Json) => e.Name), ['mine']);
  },
  async 'PUT /v1/event/fire/:name service'(s) {
    await s.call('PUT', '/v1/event/fire/web-deploy?service=web');
    await s.call('PUT', '/v1/event/fire/db-deploy?service=db');
    assert.deepEqual((await json(s, 'GET', '/v1/event/list')).map((e: Json) => e.Name), ['web-deploy']);
  },
  async 'PUT /v1/event/fire/:name tag'(s) {
    await s.call('PUT', '/v1/event/fire/v1-only?service=web&tag=^v1$');
    await s.call('PUT', '/v1/event/fire/v9-only?service=web&tag=^v9$');
    assert.deepEqual((await json(s, 'GET', '/v1/event/list')).map((e: Json) => e.Name), ['v1-only']);
  },
  async 'GET /v1/event/list name'(s) {
    await s.call('PUT', '/v1/event/fire/a', { body: 'x' });
    await s.call('PUT', '/v1/event/fire/b');
    const listed = await json(s, 'GET', '/v1/event/list?name=a');
    assert.deepEqual(listed.map((e: Json) => [e.Name, e.Payload]), [['a', Buffer.from('x').toString('base64')]]);
  },
  async 'GET /v1/event/list node'(s) {
    await s.call('PUT', '/v1/event/fire/any');
    await s.call('PUT', '/v1/event/fire/n1-only?node=^n1$');
    assert.deepEqual((await json(s, 'GET', '/v1/event/list?node=n7')).map((e: Json) => e.Name), ['any']);
  },
  async 'GET /v1/event/list service'(s) {
    await s.call('PUT', '/v1/event/fire/any');
    await s.call('PUT', '/v1/event/fire/web-only?service=^web$');
    assert.deepEqual((await json(s, 'GET', '/v1/event/list?service=api')).map((e: Json) => e.Name), ['any']);
  },
  async 'GET /v1/event/list tag'(s) {
    await s.call('PUT', '/v1/event/fire/any');
    await s.call('PUT', '/v1/event/fire/v1-only?service=web&tag=^v1$');
    assert.deepEqual((await json(s, 'GET', '/v1/event/list?tag=v2')).map((e: Json) => e.Name), ['any']);
  },
  async 'GET /v1/event/list index'(s) {
    await s.call('PUT', '/v1/event/fire/first');
    const index = Number((await s.call('GET', '/v1/event/list')).header('x-consul-index'));
    const pending = s.call('GET', `/v1/event/list?index=${index}&wait=20s`, { signal: AbortSignal.timeout(15_000) });
    await new Promise((r) => setTimeout(r, 50));
    await s.call('PUT', '/v1/event/fire/second');
    const r = await pending;
    assert.ok(Number(r.header('x-consul-index')) > index);
    assert.deepEqual(JSON.parse(r.text).map((e: Json) => e.Name), ['first', 'second']);
  },
  // ------------------------------------------------------------ operator and cluster
  async 'GET /v1/operator/raft/configuration stale'(s) {
    assert.equal((await json(s, 'GET', '/v1/operator/raft/configuration?stale')).Servers.length, 3);
  },
  async 'DELETE /v1/operator/raft/peer id'(s) {
    await s.call('DELETE', '/v1/operator/raft/peer?id=c1');
    assert.deepEqual(s.agent.removed.slice(-1), ['c1']);
  },
  async 'DELETE /v1/operator/raft/peer address'(s) {
    await s.call('DELETE', '/v1/operator/raft/peer?address=127.0.0.1:7002');
    assert.deepEqual(s.agent.removed.slice(-1), ['n2']);
  },
  async 'POST /v1/operator/raft/transfer-leader id'(s) {
    await s.call('POST', '/v1/operator/raft/transfer-leader?id=n2');
    assert.equal(s.agent.status().leader?.id, 'n2');
  },
  async 'POST /cluster/transfer-leader id'(s) {
    const r = await json(s, 'POST', '/cluster/transfer-leader?id=n1');
    assert.equal(r.leader, 'n1');
  },
  // ------------------------------------------------------------ coord: locks, fencing, sessions, txn
  async 'PUT /v1/kv/*key acquire'(s) {
    const id = await session(s);
    assert.equal((await s.call('PUT', `/v1/kv/lock?acquire=${id}`, { body: 'me' })).text, 'true');
    const entry = (await json(s, 'GET', '/v1/kv/lock'))[0];
    assert.deepEqual([entry.Session, entry.LockIndex], [id, 1]);
    // A second session cannot take a held lock.
    assert.equal((await s.call('PUT', `/v1/kv/lock?acquire=${await session(s)}`, { body: 'you' })).text, 'false');
  },
  async 'PUT /v1/kv/*key release'(s) {
    const id = await session(s);
    await s.call('PUT', `/v1/kv/lock?acquire=${id}`, { body: 'me' });
    assert.equal((await s.call('PUT', `/v1/kv/lock?release=${id}`, { body: 'done' })).text, 'true');
    const entry = (await json(s, 'GET', '/v1/kv/lock'))[0];
    assert.equal(entry.Session, undefined);
    assert.equal(Buffer.from(entry.Value, 'base64').toString(), 'done');
  },
  async 'PUT /v1/kv/*key fence'(s) {
    const id = await session(s);
    const token = (await s.call('PUT', `/v1/kv/lock?acquire=${id}`, { body: 'me' })).header('x-konsul-fencing-token')!;
    assert.equal((await s.call('PUT', `/v1/kv/lock?fence=${token}`, { body: 'fenced' })).text, 'true');
    assert.equal((await s.call('PUT', `/v1/kv/lock?fence=${Number(token) + 1}`, { body: 'stale holder' })).text, 'false');
    assert.equal((await s.call('GET', '/v1/kv/lock?raw')).text, 'fenced');
  },
  async 'PUT /v1/kv/*key fence-key'(s) {
    const id = await session(s);
    const token = (await s.call('PUT', `/v1/kv/lock?acquire=${id}`, { body: 'me' })).header('x-konsul-fencing-token')!;
    assert.equal((await s.call('PUT', `/v1/kv/other?fence=${token}&fence-key=lock`, { body: 'guarded' })).text, 'true');
    assert.equal((await s.call('PUT', `/v1/kv/other?fence=${token}&fence-key=app/config`, { body: 'unguarded' })).text, 'false');
    assert.equal((await s.call('GET', '/v1/kv/other?raw')).text, 'guarded');
    assert.equal((await s.call('PUT', '/v1/kv/other?fence-key=lock', { body: 'x' })).status, 400);
  },
  async 'DELETE /v1/kv/*key fence'(s) {
    const id = await session(s);
    const token = (await s.call('PUT', `/v1/kv/lock?acquire=${id}`, { body: 'me' })).header('x-konsul-fencing-token')!;
    assert.equal((await s.call('DELETE', `/v1/kv/lock?fence=${Number(token) + 1}`)).text, 'false');
    assert.equal((await s.call('GET', '/v1/kv/lock')).status, 200);
    assert.equal((await s.call('DELETE', `/v1/kv/lock?fence=${token}`)).text, 'true');
    assert.equal((await s.call('GET', '/v1/kv/lock')).status, 404);
  },
  async 'DELETE /v1/kv/*key fence-key'(s) {
    const id = await session(s);
    const token = (await s.call('PUT', `/v1/kv/lock?acquire=${id}`, { body: 'me' })).header('x-konsul-fencing-token')!;
    assert.equal((await s.call('DELETE', `/v1/kv/other?fence=${token}&fence-key=app/config`)).text, 'false');
    assert.equal((await s.call('DELETE', `/v1/kv/other?fence=${token}&fence-key=lock`)).text, 'true');
    assert.equal((await s.call('GET', '/v1/kv/other')).status, 404);
  },
  async 'PUT /v1/txn stale'(s) {
    const body = JSON.stringify([{ KV: { Verb: 'get', Key: 'app/config' } }]);
    const r = await s.call('PUT', '/v1/txn?stale', { body });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.header('x-consul-effective-consistency'), 'stale');
    assert.equal(s.agent.barrierCalls.at(-1), 'stale');
  },
  async 'PUT /v1/txn consistent'(s) {
    const body = JSON.stringify([{ KV: { Verb: 'get', Key: 'app/config' } }]);
    const r = await s.call('PUT', '/v1/txn?consistent', { body });
    assert.equal(r.header('x-consul-effective-consistency'), 'consistent');
    assert.equal(s.agent.barrierCalls.at(-1), 'consistent');
  },
  async 'GET /v1/session/info/:id index'(s, _spec, path) {
    await sessionIndexCase(s, path);
  },
  async 'GET /v1/session/list index'(s, _spec, path) {
    await sessionIndexCase(s, path);
  },
  async 'GET /v1/session/node/:node index'(s) {
    await sessionIndexCase(s, '/v1/session/node/n3');
  },
  // ------------------------------------------------------------ cli: the agent's log stream
  async 'GET /v1/agent/monitor loglevel'(s) {
    const warn = await monitorLines(s, '?loglevel=warn');
    assert.ok(warn.text.includes('a warn line') && !warn.text.includes('an info line'), `?loglevel=warn streamed: ${warn.text}`);
    const debug = await monitorLines(s, '?loglevel=debug');
    assert.ok(debug.text.includes('a debug line') && debug.text.includes('an info line'), `?loglevel=debug streamed: ${debug.text}`);
    assert.equal((await s.call('GET', '/v1/agent/monitor?loglevel=loud')).status, 400);
  },
  // A stream never ends: the generic token and pretty cases (which read whole answers) become these.
  async 'GET /v1/agent/monitor token'(s) {
    assert.ok((await monitorLines(s, '?token=anything')).text.includes('an info line'), '?token changes nothing (ACLs are not enforced)');
  },
  async 'GET /v1/agent/monitor pretty'(s) {
    const lines = (await monitorLines(s, '?logjson&pretty')).text.trim().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['an info line', 'a warn line'], 'one JSON object per line, ?pretty or not');
  },
  async 'GET /v1/agent/monitor logjson'(s) {
    const json = await monitorLines(s, '?logjson');
    assert.match(json.contentType, /ndjson/);
    const lines = json.text.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: number });
    assert.deepEqual(lines.map((l) => l.msg), ['an info line', 'a warn line']);
    const text = await monitorLines(s, '');
    assert.ok(!text.text.trim().startsWith('{'), `without ?logjson the lines are text: ${text.text}`);
  },
  // ------------------------------------------------------------ api: prepared queries
  async 'GET /v1/query/:uuid/execute near'(s) {
    // No coordinates: the near node leads the shuffled answer every time (web2 is critical, so n1 and n3 answer).
    for (let i = 0; i < 8; i++) {
      assert.equal((await json(s, 'GET', `/v1/query/${QUERY_ID}/execute?near=n3`)).Nodes[0].Node.Node, 'n3');
      assert.equal((await json(s, 'GET', `/v1/query/web-q/execute?near=_agent`)).Nodes[0].Node.Node, 'n1');
    }
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add((await json(s, 'GET', `/v1/query/${QUERY_ID}/execute`)).Nodes[0].Node.Node);
    assert.deepEqual([...seen].sort(), ['n1', 'n3'], 'without near the answer is shuffled');
  },
  async 'GET /v1/query/:uuid/execute pretty'(s) {
    // The generic case compares two answers; an execute is shuffled, so compare them in one order.
    const byNode = (text: string): unknown => ({ ...JSON.parse(text), Nodes: JSON.parse(text).Nodes.sort((x: Json, y: Json) => x.Node.Node.localeCompare(y.Node.Node)) });
    const pretty = await s.call('GET', `/v1/query/${QUERY_ID}/execute?pretty`);
    assert.ok(pretty.text.includes('\n    '), '?pretty did not indent the execute answer');
    assert.deepEqual(byNode(pretty.text), byNode((await s.call('GET', `/v1/query/${QUERY_ID}/execute`)).text));
  },
  async 'GET /v1/query/:uuid/execute limit'(s) {
    assert.equal((await json(s, 'GET', `/v1/query/${QUERY_ID}/execute`)).Nodes.length, 2);
    assert.equal((await json(s, 'GET', `/v1/query/${QUERY_ID}/execute?limit=1`)).Nodes.length, 1);
    assert.equal((await s.call('GET', `/v1/query/${QUERY_ID}/execute?limit=-1`)).status, 400);
  },
  // ---- ops2
  async 'PUT /v1/operator/autopilot/configuration cas'(s) {
    assert.equal((await s.call('PUT', '/v1/operator/autopilot/configuration?cas=5', { body: '{"MinQuorum":3}' })).text, 'false');
    assert.equal((await json(s, 'GET', '/v1/operator/autopilot/configuration')).MinQuorum, 0);
  },
};

/**
 * Parameters whose case cannot run here, each with the test that covers it.
 * Only ACL-only parameters now: every other parameter of every route has a case in this table.
 */
const COVERED_ELSEWHERE = new Set<string>([
  // sec: ACL-only parameters (this table's server runs without ACLs): test/acl/status.test.ts lists roles
  // and tokens by ?policy and tokens by ?role; test/acl/restore.test.ts restores with ?keep-acls on real agents
  'GET /v1/acl/roles policy', 'GET /v1/acl/tokens policy', 'GET /v1/acl/tokens role', 'PUT /v1/snapshot keep-acls',
]);

/** Routes whose parameter the generic cases skip for a stated reason (checked so the list stays honest). */
const NOT_READS = new Set(['/v1/snapshot']);

/** Runs every case; resolves with the failures ([] when the server conforms). `fresh` gives a newly seeded server per case. */
export async function runConformance(
  fresh: () => Promise<TestServer>, routes: readonly RouteSpec[] = allRoutes(), options: { unserved?: boolean } = {},
): Promise<string[]> {
  const failures: string[] = [];
  const attempt = async (what: string, fn: (s: TestServer) => Promise<void>): Promise<void> => {
    const s = await fresh();
    try {
      await fn(s);
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message.split('\n')[0]}`);
    }
  };
  for (const spec of routes) {
    const path = samplePath(spec);
    for (const param of routeParams(spec)) {
      const key = `${spec.method} ${spec.path} ${param}`;
      if (COVERED_ELSEWHERE.has(key)) continue;
      const specific = SPECIFIC[key];
      const generic = NOT_READS.has(spec.path) && ['stale', 'consistent', 'index', 'wait'].includes(param) ? undefined : GENERIC[param];
      if (specific) await attempt(key, (s) => specific(s, spec, path));
      else if (generic) await attempt(key, (s) => generic(s, spec, path));
      else if (!(spec.path === '/v1/snapshot' && param === 'stale')) failures.push(`${key}: no conformance case (add one to the table)`);
    }
    for (const param of unsupportedConsulParams(spec)) {
      await attempt(`${spec.method} ${spec.path} ?${param} (Consul's, not served)`, async (s) => {
        const r = await s.call(spec.method, withParam(path, `${param}=1`));
        assert.equal(r.status, 400, `got ${r.status}`);
        assert.ok(r.text.includes(`?${param}`), `the 400 does not name ?${param}: ${r.text}`);
      });
    }
  }
  await attempt('an unknown parameter', async (s) => {
    const r = await s.call('GET', '/v1/catalog/services?filtre=x');
    assert.equal(r.status, 400);
    assert.match(r.text, /\?filtre/);
  });
  for (const e of options.unserved === false ? [] : consulOnly(routes)) {
    await attempt(`${e.method} ${e.path} (not served)`, async (s) => {
      const r = await s.call(e.method, e.path.replace(/:[a-z_]+/g, 'x'));
      assert.ok(r.status === 404 || r.status === 405, `got ${r.status} ${r.text}`);
      // 405 only where konsul serves another method on the same path.
      if (r.status === 405) assert.ok(routes.some((x) => x.path.replace(/:[^/]+/g, 'x') === e.path.replace(/:[a-z_]+/g, 'x')), 'a 405 for a path konsul does not serve');
    });
  }
  return failures;
}
