// The ACL matrix on a leader, a follower and a client agent of a real cluster
// (default policy deny), and proof that the matrix catches a route whose check is not enforced.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ACL_PUBLIC } from '../../src/http/acl-check.js';
import { createHttpServer, ROUTES } from '../../src/http/index.js';
import type { RequestContext, RouteSpec } from '../../src/http/types.js';
import { ALLOW_ALL } from '../../src/acl/authorizer.js';
import { http, scenario, TestCluster, waitFor, waitVoters } from '../cluster/harness.js';
import { FakeAgent } from '../http/fake-agent.js';
import dnsPacket from 'dns-packet';
import { encodeQuery, udpExchange } from '../dns/helpers.js';
import { PREFIX_RULES, READONLY_RULES, runMatrix, type TokenName } from './matrix.js';

const MANAGEMENT = 'mgmt-3f1c7d0e-matrix';
const TOKENS: Record<TokenName, string | undefined> = {
  anonymous: undefined,
  readonly: 'readonly-8a2e-matrix',
  prefix: 'prefix-51b9-matrix',
  management: MANAGEMENT,
};

async function call(method: string, url: string, body?: string): Promise<string> {
  const r = await http(method, url, body, 15_000, { 'x-consul-token': MANAGEMENT });
  if (r.status !== 200) throw new Error(`${method} ${url}: ${r.status} ${r.body}`);
  return r.body;
}

/** Bootstrap with a known secret, then the two policies and tokens, and data for the lists to show. */
async function setUp(url: string): Promise<void> {
  await waitFor('ACL bootstrap', async () => {
    const r = await http('PUT', `${url}/v1/acl/bootstrap`, JSON.stringify({ BootstrapSecret: MANAGEMENT }));
    return r.status === 200 ? true : undefined;
  });
  for (const [name, rules] of [['readonly', READONLY_RULES], ['prefix', PREFIX_RULES]] as const) {
    await call('PUT', `${url}/v1/acl/policy`, JSON.stringify({ Name: name, Rules: rules }));
    await call('PUT', `${url}/v1/acl/token`, JSON.stringify({ SecretID: TOKENS[name], Description: name, Policies: [{ Name: name }] }));
  }
  await call('PUT', `${url}/v1/acl/role`, JSON.stringify({ Name: 'matrix-role', Policies: [{ Name: 'readonly' }] }));
  await call('PUT', `${url}/v1/kv/app/a`, 'a');
  await call('PUT', `${url}/v1/kv/other/b`, 'b');
}

/** An agent's own services for the matrix's samples (web-m and db-m), and its ACL replica caught up. */
async function prepareAgent(url: string): Promise<void> {
  await call('PUT', `${url}/v1/agent/service/register`, JSON.stringify({ Name: 'web', ID: 'web-m', Port: 80, Check: { TTL: '300s' } }));
  await call('PUT', `${url}/v1/agent/service/register`, JSON.stringify({ Name: 'db', ID: 'db-m', Port: 81 }));
  for (const secret of [TOKENS.readonly, TOKENS.prefix]) {
    await waitFor('the tokens on this agent', async () => {
      const r = await http('GET', `${url}/v1/acl/token/self`, undefined, 5000, { 'x-consul-token': secret! });
      return r.status === 200 ? true : undefined;
    });
  }
}

/** The in-process agent's node in its catalog, as a real agent's is (a session needs its node). */
async function seedNode(url: string): Promise<void> {
  await call('PUT', `${url}/v1/catalog/register`, JSON.stringify({ Node: 'n1', Address: '127.0.0.1' }));
}

async function inProcess(routes: readonly RouteSpec[]): Promise<{ url: string; close(): Promise<void> }> {
  const agent = new FakeAgent();
  const server = createHttpServer({ agent, acl: { enabled: true, defaultPolicy: 'deny' } }, routes);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await agent.close();
    },
  };
}

describe('ACL matrix: the checker', () => {
  it('passes on the route table as it is, and fails when one route does not enforce its rule', async () => {
    const good = await inProcess(ROUTES);
    try {
      await setUp(good.url);
      await seedNode(good.url);
      await prepareAgent(good.url);
      const result = await runMatrix(good.url, TOKENS, 'n1');
      assert.deepEqual(result.failures, []);
      assert.ok(result.calls > 250, `only ${result.calls} calls`);
    } finally {
      await good.close();
    }

    // The same table with one route broken at a time: a check dropped (declared public), a
    // declaration dropped (the closed default, operator:write, refuses tokens that have the right),
    // or a handler that checks or filters per item run as if every token were management.
    const asManagement = (r: RouteSpec): RouteSpec => ({
      ...r,
      handler: (ctx) => r.handler(Object.assign(Object.create(Object.getPrototypeOf(ctx) as object) as RequestContext, ctx, {
        authz: ALLOW_ALL, token: { authorizer: ALLOW_ALL, accessorId: 'x', anonymous: false },
      })),
    });
    const variants: Array<{ method: string; path: string; change: (r: RouteSpec) => RouteSpec; who: string }> = [
      { method: 'PUT', path: '/v1/kv/*key', change: (r) => ({ ...r, acl: ACL_PUBLIC }), who: 'as anonymous' },
      { method: 'PUT', path: '/v1/session/create', change: (r) => ({ ...r, acl: undefined }), who: 'as prefix' },
      { method: 'PUT', path: '/v1/event/fire/:name', change: (r) => ({ ...r, acl: undefined }), who: 'as prefix' },
      { method: 'PUT', path: '/v1/catalog/register', change: (r) => ({ ...r, acl: undefined }), who: 'as prefix' },
      { method: 'PUT', path: '/v1/catalog/deregister', change: (r) => ({ ...r, acl: ACL_PUBLIC }), who: 'as anonymous' },
      { method: 'PUT', path: '/v1/txn', change: asManagement, who: 'as anonymous' },
      { method: 'GET', path: '/v1/session/list', change: asManagement, who: 'as anonymous' },
      { method: 'GET', path: '/v1/event/list', change: asManagement, who: 'as prefix' },
    ];
    for (const v of variants) {
      assert.ok(ROUTES.some((r) => r.method === v.method && r.path === v.path), `${v.method} ${v.path} is not in the table`);
      const broken = ROUTES.map((r) => (r.method === v.method && r.path === v.path ? v.change(r) : r));
      const bad = await inProcess(broken);
      try {
        await setUp(bad.url);
        await seedNode(bad.url);
        await prepareAgent(bad.url);
        const result = await runMatrix(bad.url, TOKENS, 'n1', broken);
        const name = `${v.method} ${v.path} broken`;
        assert.ok(result.failures.length > 0, `the matrix did not notice ${name}`);
        assert.ok(result.failures.every((f) => f.includes(`(route ${v.path})`) && f.startsWith(`${v.method} `)), `${name}:\n${result.failures.join('\n')}`);
        assert.ok(result.failures.some((f) => f.includes(v.who)), `${name}:\n${result.failures.join('\n')}`);
      } finally {
        await bad.close();
      }
    }
  });
});

describe('ACL matrix: every endpoint on a leader, a follower and a client (default policy deny)', () => {
  const c = new TestCluster({ flags: ['--acl-enabled', '--acl-default-policy', 'deny'] });
  const step = scenario(c);

  step('a closed cluster: bootstrap, two servers and a client', async () => {
    await c.add({ id: 's1', server: true, bootstrap: true });
    await c.start('s1');
    await setUp(c.node('s1').url);
    c.token = MANAGEMENT;
    const join = [c.node('s1').raftAddress];
    await c.add({ id: 's2', server: true, join });
    await c.add({ id: 'c1', server: false, join });
    await Promise.all([c.start('s2'), c.start('c1')]);
    await waitVoters(c, ['s1', 's2'], 's1');
    await c.leader(['s1', 's2', 'c1']);
    for (const id of ['s1', 's2', 'c1']) await prepareAgent(c.node(id).url);
  });

  for (const role of ['leader', 'follower', 'client'] as const) {
    step(`on the ${role}`, async () => {
      const leader = await c.leader(['s1', 's2']);
      const id = role === 'client' ? 'c1' : role === 'leader' ? leader : leader === 's1' ? 's2' : 's1';
      const result = await runMatrix(c.node(id).url, TOKENS, id);
      assert.deepEqual(result.failures, []);
    });
  }

  step('DNS answers what the anonymous token may read', async () => {
    // TTL checks start critical (as Consul's): the matrix's node check goes, and a service without checks for DNS.
    await call('PUT', `${c.node('c1').url}/v1/agent/check/deregister/matrix-check`);
    await call('PUT', `${c.node('c1').url}/v1/agent/service/register`, JSON.stringify({ Name: 'web-dns', Port: 82 }));
    const ask = async (): Promise<number> => {
      const reply = await udpExchange(c.node('c1').dnsPort, encodeQuery('web-dns.service.consul', 'A'));
      assert.ok(reply, 'no DNS reply');
      return dnsPacket.decode(reply).answers?.length ?? 0;
    };
    assert.equal(await ask(), 0, 'the anonymous token reads no service, yet DNS answered');
    const url = c.node('s1').url;
    await call('PUT', `${url}/v1/acl/policy`, JSON.stringify({ Name: 'dns', Rules: 'service_prefix "web" { policy = "read" }\nnode_prefix "" { policy = "read" }' }));
    await call('PUT', `${url}/v1/acl/token/00000000-0000-0000-0000-000000000002`, JSON.stringify({ Policies: [{ Name: 'dns' }] }));
    try {
      await waitFor('DNS to answer web once anonymous may read it', async () => ((await ask()) > 0 ? true : undefined));
    } catch (error) {
      const h = await http('GET', `${c.node('c1').url}/v1/health/service/web-dns?stale`, undefined, 5000, { 'x-consul-token': MANAGEMENT });
      const t = await http('GET', `${c.node('c1').url}/v1/acl/token/self`);
      throw new Error(`${String(error)}; health on c1: ${h.body}; anonymous on c1: ${t.body}`);
    }
    const db = await udpExchange(c.node('c1').dnsPort, encodeQuery('db.service.consul', 'A'));
    assert.equal(dnsPacket.decode(db!).answers?.length ?? 0, 0, 'db is still not readable by anonymous');
  });

  step('nothing the refused calls asked for was written', async () => {
    const r = await http('GET', `${c.node('s1').url}/v1/kv/other/matrix?consistent`, undefined, 5000, { 'x-consul-token': MANAGEMENT });
    // Only management may write other/: it did, so the key holds its value; no token wrote app/ outside its rights.
    assert.equal(r.status, 200);
    const keys = JSON.parse((await http('GET', `${c.node('s1').url}/v1/kv/?keys`, undefined, 5000, { 'x-consul-token': MANAGEMENT })).body) as string[];
    // app/txn2 and other/txn: one transaction, all or nothing; only management had both rights.
    assert.deepEqual(keys.sort(), ['app/a', 'app/matrix', 'app/txn', 'app/txn2', 'other/b', 'other/matrix', 'other/txn']);
  });
});
