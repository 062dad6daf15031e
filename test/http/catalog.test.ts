// /v1/agent (services, checks, TTL updates, local health, self, members),
// /v1/catalog and /v1/health over a real state machine and the real
// local-services manager (its catalog syncs applied straight, without Raft).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startServer, type TestServer } from './helpers.js';

type Json = Record<string, unknown>;

async function register(s: TestServer, body: Json): Promise<void> {
  const r = await s.call('PUT', '/v1/agent/service/register', { body: JSON.stringify(body) });
  assert.equal(r.status, 200, r.text);
}

/** Two web instances and a db on this agent's node (n1), with TTL checks we can drive. */
async function seed(s: TestServer): Promise<void> {
  await register(s, { Name: 'web', ID: 'web1', Port: 8080, Tags: ['v1', 'Primary'], Check: { TTL: '30s', Status: 'passing' } });
  await register(s, { name: 'web', id: 'web2', port: 8081, tags: ['v2'], address: '10.0.0.5', check: { ttl: '30s', status: 'passing' } });
  await register(s, { Name: 'db', Port: 5432, Meta: { engine: 'pg' } });
}

describe('agent services and checks', () => {
  test('register (CamelCase and snake_case), list, get, deregister', async (t) => {
    const s = await startServer(t);
    await seed(s);
    const services = (await s.call('GET', '/v1/agent/services')).json<Record<string, Json>>();
    assert.deepEqual(Object.keys(services).sort(), ['db', 'web1', 'web2']);
    assert.deepEqual(services.web2, {
      ID: 'web2', Service: 'web', Tags: ['v2'], Meta: {}, Port: 8081, Address: '10.0.0.5',
      Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Datacenter: 'dc1',
    });
    assert.equal((await s.call('GET', '/v1/agent/service/db')).json<Json>().Port, 5432);
    assert.equal((await s.call('GET', '/v1/agent/service/nope')).status, 404);
    const checks = (await s.call('GET', '/v1/agent/checks')).json<Record<string, Json>>();
    assert.deepEqual(Object.keys(checks).sort(), ['service:web1', 'service:web2']);
    assert.equal(checks['service:web1']!.ServiceName, 'web');
    assert.equal(checks['service:web1']!.Status, 'passing');

    assert.equal((await s.call('PUT', '/v1/agent/service/deregister/web2')).status, 200);
    assert.equal((await s.call('PUT', '/v1/agent/service/deregister/web2')).status, 404);
    assert.deepEqual(Object.keys((await s.call('GET', '/v1/agent/checks')).json<Json>()), ['service:web1']);
    assert.deepEqual(
      (await s.call('GET', '/v1/catalog/service/web')).json<Json[]>().map((i) => i.ServiceID),
      ['web1'],
      'the deregistration reached the catalog',
    );
  });

  test('bad registrations are 400 with a message naming the field', async (t) => {
    const s = await startServer(t);
    const cases: Array<[unknown, RegExp]> = [
      [{ ID: 'x' }, /Name/],
      [{ Name: 'web', Port: 70000 }, /Port/],
      [{ Name: 'web', Check: { HTTP: 'http://127.0.0.1:1/', Interval: 'soon' } }, /Interval/],
      [[1, 2], /object/],
    ];
    for (const [body, message] of cases) {
      const r = await s.call('PUT', '/v1/agent/service/register', { body: JSON.stringify(body) });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.text, message);
    }
    const notJson = await s.call('PUT', '/v1/agent/service/register', { body: '{"Name":' });
    assert.equal(notJson.status, 400);
    assert.deepEqual((await s.call('GET', '/v1/agent/services')).json(), {}, 'nothing was registered');
  });

  test('TTL updates move local health (200/429/503) and the catalog', async (t) => {
    const s = await startServer(t);
    await seed(s);
    const health = async (): Promise<number> => (await s.call('GET', '/v1/agent/health/service/name/web')).status;
    assert.equal(await health(), 200);
    assert.equal((await s.call('PUT', '/v1/agent/check/warn/service:web2?note=slow')).status, 200);
    assert.equal(await health(), 429);
    const body = (await s.call('GET', '/v1/agent/health/service/name/web')).json<Json[]>();
    assert.deepEqual(body.map((b) => b.AggregatedStatus), ['passing', 'warning']);
    assert.equal((await s.call('PUT', '/v1/agent/check/update/service:web1', { body: JSON.stringify({ Status: 'critical', Output: 'down' }) })).status, 200);
    assert.equal(await health(), 503);
    assert.equal((await s.call('GET', '/v1/agent/health/service/name/web?format=text')).text, 'critical');
    assert.equal((await s.call('GET', '/v1/agent/health/service/id/web2')).json<Json>().AggregatedStatus, 'warning');
    assert.equal((await s.call('GET', '/v1/agent/health/service/name/nope')).status, 404);
    assert.equal((await s.call('PUT', '/v1/agent/check/pass/nope')).status, 404);
    assert.equal((await s.call('PUT', '/v1/agent/check/update/service:web1', { body: '{"Status":"fine"}' })).status, 400);

    const critical = (await s.call('GET', '/v1/health/state/critical')).json<Json[]>();
    assert.deepEqual(critical.map((c) => [c.CheckID, c.Output]), [['service:web1', 'down']]);
    const passing = (await s.call('GET', '/v1/health/service/web?passing')).json<Json[]>();
    assert.deepEqual(passing, [], 'web1 is critical and web2 warning: neither is passing');
    const all = (await s.call('GET', '/v1/health/service/web')).json<Array<{ Service: Json; Checks: Json[] }>>();
    assert.deepEqual(all.map((i) => i.Checks.map((c) => c.Status)), [['critical'], ['warning']]);
  });

  test('script checks only when the agent allows them', async (t) => {
    const s = await startServer(t);
    const body = JSON.stringify({ Name: 'job', Check: { Args: ['/bin/true'], Interval: '10s' } });
    const refused = await s.call('PUT', '/v1/agent/service/register', { body });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /--enable-script-checks/);
    const check = await s.call('PUT', '/v1/agent/check/register', { body: JSON.stringify({ Name: 'x', Args: ['/bin/true'], Interval: '10s' }) });
    assert.equal(check.status, 400);
    assert.deepEqual((await s.call('GET', '/v1/agent/services')).json(), {});
    s.agent.scriptChecksEnabled = true;
    assert.equal((await s.call('PUT', '/v1/agent/service/register', { body })).status, 200);
  });

  test('a check registered on its own, and deregistered', async (t) => {
    const s = await startServer(t);
    await seed(s);
    const r = await s.call('PUT', '/v1/agent/check/register', { body: JSON.stringify({ Name: 'disk', TTL: '10s', Status: 'warning' }) });
    assert.equal(r.status, 200, r.text);
    assert.equal((await s.call('GET', '/v1/agent/checks')).json<Record<string, Json>>().disk?.Status, 'warning');
    // A node-level check counts for every service on the node.
    assert.equal((await s.call('GET', '/v1/agent/health/service/name/db')).status, 429);
    assert.deepEqual((await s.call('GET', '/v1/health/node/n1')).json<Json[]>().map((c) => c.CheckID), ['disk', 'service:web1', 'service:web2']);
    assert.equal((await s.call('PUT', '/v1/agent/check/deregister/disk')).status, 200);
    assert.equal((await s.call('PUT', '/v1/agent/check/deregister/disk')).status, 404);
    const orphan = await s.call('PUT', '/v1/agent/check/register', { body: JSON.stringify({ Name: 'x', TTL: '10s', ServiceID: 'nope' }) });
    assert.equal(orphan.status, 400);
  });
});

describe('catalog and health reads', () => {
  test("Consul's shapes for services, one service (with ?tag), nodes and one node", async (t) => {
    const s = await startServer(t);
    await seed(s);
    const services = await s.call('GET', '/v1/catalog/services');
    assert.deepEqual(services.json(), { db: [], web: ['Primary', 'v1', 'v2'] });
    assert.ok(Number(services.header('x-consul-index')) > 0);

    const web = (await s.call('GET', '/v1/catalog/service/web?tag=primary')).json<Json[]>();
    assert.equal(web.length, 1);
    assert.deepEqual(
      { ...web[0], CreateIndex: 0, ModifyIndex: 0, ID: '' },
      {
        ID: '', Node: 'n1', Address: '127.0.0.1', Datacenter: 'dc1', TaggedAddresses: {}, NodeMeta: {},
        ServiceID: 'web1', ServiceName: 'web', ServiceTags: ['v1', 'Primary'], ServiceAddress: '',
        ServiceWeights: { Passing: 1, Warning: 1 }, ServiceMeta: {}, ServicePort: 8080, ServiceEnableTagOverride: false, ServiceKind: '',
        CreateIndex: 0, ModifyIndex: 0,
      },
    );
    assert.equal((await s.call('GET', '/v1/catalog/service/web?tag=v1&tag=v2')).json<Json[]>().length, 0, 'every tag must match');
    assert.deepEqual((await s.call('GET', '/v1/catalog/service/nope')).json(), []);

    const nodes = (await s.call('GET', '/v1/catalog/nodes')).json<Json[]>();
    assert.deepEqual(nodes.map((n) => n.Node), ['n1']);
    const node = (await s.call('GET', '/v1/catalog/node/N1')).json<{ Node: Json; Services: Record<string, Json> }>();
    assert.equal(node.Node.Node, 'n1');
    assert.deepEqual(Object.keys(node.Services).sort(), ['db', 'web1', 'web2']);
    assert.equal((await s.call('GET', '/v1/catalog/node/ghost')).text, 'null');
    assert.deepEqual((await s.call('GET', '/v1/health/checks/web')).json<Json[]>().map((c) => c.CheckID), ['service:web1', 'service:web2']);
  });

  test('bad state, other datacenter', async (t) => {
    const s = await startServer(t);
    assert.equal((await s.call('GET', '/v1/health/state/bogus')).status, 400);
    assert.equal((await s.call('GET', '/v1/catalog/services?dc=dc2')).status, 500);
    assert.equal((await s.call('GET', '/v1/catalog/services?dc=dc1')).status, 200);
  });

  test('a blocking health query wakes for its own service, not for another', async (t) => {
    const s = await startServer(t);
    await seed(s);
    const first = await s.call('GET', '/v1/health/service/web');
    const index = Number(first.header('x-consul-index'));
    let woke = false;
    const blocked = s.call('GET', `/v1/health/service/web?index=${index}&wait=5s`).then((r) => {
      woke = true;
      return r;
    });
    // A change to db: the web query must keep waiting.
    await register(s, { Name: 'db', Port: 5433 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(woke, false, 'a db change woke the web query');
    await s.call('PUT', '/v1/agent/check/fail/service:web1');
    const answer = await blocked;
    assert.ok(Number(answer.header('x-consul-index')) > index);
    assert.equal(answer.json<Array<{ Checks: Json[] }>>()[0]!.Checks[0]!.Status, 'critical');
  });

  test('agent self and members', async (t) => {
    const s = await startServer(t);
    const self = (await s.call('GET', '/v1/agent/self')).json<{ Config: Json; Member: Json }>();
    assert.equal(self.Config.NodeName, 'n1');
    assert.equal(self.Config.Datacenter, 'dc1');
    assert.equal(self.Member.Name, 'n1');
    const members = (await s.call('GET', '/v1/agent/members')).json<Array<{ Name: string; Tags: Json; Status: number }>>();
    assert.deepEqual(members.map((m) => [m.Name, m.Tags.voter, m.Status]), [['n1', 'true', 1], ['n2', 'true', 1], ['c1', 'false', 1]]);
  });
});
