// Consul's status codes around ACLs: with ACLs off, every ACL endpoint answers
// 401 "ACL support disabled"; with them on, a secret or an accessor that names no
// token (or a policy id that names none) answers 403 "ACL not found".

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { AclSettings } from '../../src/acl/resolver.js';
import { createHttpServer, ROUTES } from '../../src/http/index.js';
import { http } from '../cluster/harness.js';
import { FakeAgent } from '../http/fake-agent.js';

const MANAGEMENT = 'mgmt-status-4c1d';

async function server(acl: AclSettings): Promise<{ url: string; close(): Promise<void> }> {
  const agent = new FakeAgent();
  const s = createHttpServer({ agent, acl }, ROUTES);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return {
    url,
    async close() {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
      await agent.close();
    },
  };
}

/** Every ACL route of the table, with a concrete path and a body where it takes one. */
function aclCalls(): Array<{ method: string; path: string; body?: string }> {
  const routes = ROUTES.filter((r) => r.path.startsWith('/v1/acl/'));
  assert.ok(routes.length >= 12, `only ${routes.length} ACL routes`);
  return routes.map((r) => ({
    method: r.method,
    path: r.path.replace(/:[A-Za-z]+/g, 'no-such-thing'),
    body: r.method === 'PUT' ? '{}' : undefined,
  }));
}

describe('ACL status codes (Consul\'s)', () => {
  it('ACLs disabled: every ACL endpoint answers 401 "ACL support disabled", with or without a token', async () => {
    const s = await server({ enabled: false, defaultPolicy: 'allow' });
    try {
      for (const call of aclCalls()) {
        for (const headers of [{}, { 'x-consul-token': 'whatever' }] as Array<Record<string, string>>) {
          const r = await http(call.method, `${s.url}${call.path}`, call.body, 5000, headers);
          assert.equal(r.status, 401, `${call.method} ${call.path}: ${r.status} ${r.body}`);
          assert.equal(r.body.trim(), 'ACL support disabled', `${call.method} ${call.path}`);
        }
      }
      // Everything else ignores tokens when ACLs are off (as Consul does).
      assert.equal((await http('GET', `${s.url}/v1/kv/a`, undefined, 5000, { 'x-consul-token': 'nope' })).status, 404);
    } finally {
      await s.close();
    }
  });

  it('ACLs enabled: an unknown secret, an unknown accessor and an unknown policy id answer 403 "ACL not found"', async () => {
    const s = await server({ enabled: true, defaultPolicy: 'deny' });
    try {
      const boot = await http('PUT', `${s.url}/v1/acl/bootstrap`, JSON.stringify({ BootstrapSecret: MANAGEMENT }));
      assert.equal(boot.status, 200, boot.body);
      const mgmt = { 'x-consul-token': MANAGEMENT };
      for (const [method, path] of [['GET', '/v1/kv/a'], ['PUT', '/v1/kv/a'], ['GET', '/v1/acl/token/self'], ['GET', '/v1/acl/tokens']] as const) {
        const r = await http(method, `${s.url}${path}`, method === 'PUT' ? 'v' : undefined, 5000, { 'x-consul-token': 'no-such-secret' });
        assert.equal(r.status, 403, `${method} ${path}: ${r.status} ${r.body}`);
        assert.equal(r.body.trim(), 'ACL not found', `${method} ${path}`);
      }
      for (const path of ['/v1/acl/token/no-such-accessor', '/v1/acl/policy/no-such-policy', '/v1/acl/policy/name/no-such-name']) {
        const r = await http('GET', `${s.url}${path}`, undefined, 5000, mgmt);
        assert.equal(r.status, 403, `${path}: ${r.status} ${r.body}`);
        assert.equal(r.body.trim(), 'ACL not found', path);
      }
      // A token that exists but lacks the right is "Permission denied", not "ACL not found".
      const anon = await http('PUT', `${s.url}/v1/kv/a`, 'v');
      assert.equal(anon.status, 403);
      assert.match(anon.body, /^Permission denied: anonymous token lacks permission 'key:write' on "a"/);
      // And the management token reads what exists.
      assert.equal((await http('GET', `${s.url}/v1/acl/token/00000000-0000-0000-0000-000000000002`, undefined, 5000, mgmt)).status, 200);
    } finally {
      await s.close();
    }
  });
});

describe('token expiry (Consul\'s ExpirationTTL and ExpirationTime)', () => {
  it('a token works until its ExpirationTime, then answers 403 "ACL not found"; bad expirations are 400s', async () => {
    const s = await server({ enabled: true, defaultPolicy: 'deny' });
    try {
      const boot = await http('PUT', `${s.url}/v1/acl/bootstrap`, JSON.stringify({ BootstrapSecret: MANAGEMENT }));
      assert.equal(boot.status, 200, boot.body);
      const mgmt = { 'x-consul-token': MANAGEMENT };
      const create = (body: unknown) => http('PUT', `${s.url}/v1/acl/token`, JSON.stringify(body), 5000, mgmt);
      for (const [body, message] of [
        [{ ExpirationTTL: '5s' }, /should be between 1m0s and 24h0m0s/],
        [{ ExpirationTTL: 'soon' }, /not a duration/],
        [{ ExpirationTime: new Date(Date.now() - 1000).toISOString() }, /cannot be in the past/],
        [{ ExpirationTTL: '1h', ExpirationTime: new Date(Date.now() + 60_000).toISOString() }, /cannot both be set/],
      ] as const) {
        const r = await create(body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.body}`);
        assert.match(r.body, message);
      }
      const hour = JSON.parse((await create({ ExpirationTTL: '1h', Policies: [{ Name: 'global-management' }] })).body) as { ExpirationTime: string; CreateTime: string };
      const ttl = Date.parse(hour.ExpirationTime) - Date.parse(hour.CreateTime);
      assert.ok(Math.abs(ttl - 3600_000) < 1000, `ExpirationTTL 1h gave ${ttl} ms`);
      const at = new Date(Date.now() + 1500).toISOString();
      const made = await create({ SecretID: 'short-lived-token', ExpirationTime: at, Policies: [{ Name: 'global-management' }] });
      assert.equal(made.status, 200, made.body);
      const short = { 'x-consul-token': 'short-lived-token' };
      // Used (and cached by the resolver) while it lives...
      assert.equal((await http('GET', `${s.url}/v1/kv/a`, undefined, 5000, short)).status, 404);
      const self = JSON.parse((await http('GET', `${s.url}/v1/acl/token/self`, undefined, 5000, short)).body) as { ExpirationTime: string };
      assert.equal(self.ExpirationTime, at);
      // ...and refused once its time has passed, cached or not.
      await waitUntil(Date.parse(at));
      const after = await http('GET', `${s.url}/v1/kv/a`, undefined, 5000, short);
      assert.equal(after.status, 403, after.body);
      assert.equal(after.body.trim(), 'ACL not found');
      assert.equal((await http('GET', `${s.url}/v1/acl/token/self`, undefined, 5000, short)).status, 403);
      // An update may not move the expiry.
      const list = JSON.parse((await http('GET', `${s.url}/v1/acl/tokens`, undefined, 5000, mgmt)).body) as Array<{ AccessorID: string; ExpirationTime?: string }>;
      const id = list.find((t) => t.ExpirationTime === hour.ExpirationTime)!.AccessorID;
      const moved = await http('PUT', `${s.url}/v1/acl/token/${id}`, JSON.stringify({ ExpirationTTL: '2h' }), 5000, mgmt);
      assert.equal(moved.status, 400);
      assert.match(moved.body, /Cannot change expiration time/);
    } finally {
      await s.close();
    }
  });
});

/** Resolves once the wall clock is past `at` (ms since the epoch). */
async function waitUntil(at: number): Promise<void> {
  while (Date.now() <= at) await new Promise((resolve) => setTimeout(resolve, Math.max(10, at - Date.now() + 5)));
}

describe('ACL roles (Consul\'s /v1/acl/role)', () => {
  it('a token linked to a role has the role\'s policies, follows the role\'s changes, and loses them when the role goes', async () => {
    const s = await server({ enabled: true, defaultPolicy: 'deny' });
    try {
      assert.equal((await http('PUT', `${s.url}/v1/acl/bootstrap`, JSON.stringify({ BootstrapSecret: MANAGEMENT }))).status, 200);
      const mgmt = { 'x-consul-token': MANAGEMENT };
      const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; body: string }> => {
        const r = await http(method, `${s.url}${path}`, body === undefined ? undefined : JSON.stringify(body), 5000, mgmt);
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(r.body) as Record<string, unknown>; } catch { /* not JSON */ }
        return { status: r.status, json, body: r.body };
      };
      const app = await call('PUT', '/v1/acl/policy', { Name: 'app', Rules: 'key_prefix "app/" { policy = "write" }' });
      const ops = await call('PUT', '/v1/acl/policy', { Name: 'ops', Rules: 'key_prefix "ops/" { policy = "write" }' });
      const role = await call('PUT', '/v1/acl/role', { Name: 'deployer', Description: 'deploys', Policies: [{ Name: 'app' }] });
      assert.equal(role.status, 200, role.body);
      assert.deepEqual(role.json.Policies, [{ ID: app.json.ID, Name: 'app' }]);
      assert.equal((await call('PUT', '/v1/acl/role', { Name: 'deployer' })).status, 400, 'a second role of the same name');
      assert.match((await call('PUT', '/v1/acl/role', { Name: 'x', ServiceIdentities: [{ ServiceName: 'web' }] })).body, /not supported/);
      assert.equal((await call('GET', '/v1/acl/role/name/deployer')).json.ID, role.json.ID);
      assert.equal((await call('GET', `/v1/acl/role/${String(role.json.ID)}`)).json.Name, 'deployer');
      const token = await call('PUT', '/v1/acl/token', { SecretID: 'role-token-secret', Roles: [{ Name: 'deployer' }] });
      assert.equal(token.status, 200, token.body);
      assert.deepEqual(token.json.Roles, [{ ID: role.json.ID, Name: 'deployer' }]);
      assert.match((await call('PUT', '/v1/acl/token', { Roles: [{ Name: 'no-such-role' }] })).body, /cannot find role/);
      const as = { 'x-consul-token': 'role-token-secret' };
      const put = async (key: string): Promise<number> => (await http('PUT', `${s.url}/v1/kv/${key}`, 'v', 5000, as)).status;
      assert.equal(await put('app/a'), 200, 'the role\'s policy does not reach the token');
      assert.equal(await put('ops/a'), 403);
      // The role's policies change: the token's rights follow, at once.
      assert.equal((await call('PUT', `/v1/acl/role/${String(role.json.ID)}`, { Policies: [{ Name: 'ops' }] })).status, 200);
      assert.equal(await put('ops/b'), 200);
      assert.equal(await put('app/b'), 403);
      assert.equal(((await call('GET', `/v1/acl/roles?policy=${String(ops.json.ID)}`)).json as unknown as unknown[]).length, 1);
      assert.equal(((await call('GET', `/v1/acl/roles?policy=${String(app.json.ID)}`)).json as unknown as unknown[]).length, 0);
      // Tokens by role and by policy (Consul's ?role and ?policy).
      const byRole = (await call('GET', `/v1/acl/tokens?role=${String(role.json.ID)}`)).json as unknown as Array<{ AccessorID: string }>;
      assert.deepEqual(byRole.map((t) => t.AccessorID), [token.json.AccessorID]);
      const byPolicy = (await call('GET', '/v1/acl/tokens?policy=00000000-0000-0000-0000-000000000001')).json as unknown as unknown[];
      assert.equal(byPolicy.length, 1, 'only the bootstrap token links global-management');
      // The role goes: so do its rights, and the token no longer names it.
      assert.equal((await call('DELETE', `/v1/acl/role/${String(role.json.ID)}`)).body.trim(), 'true');
      assert.equal(await put('ops/c'), 403);
      assert.equal((await call('GET', `/v1/acl/token/${String(token.json.AccessorID)}`)).json.Roles, undefined);
      assert.equal((await call('GET', `/v1/acl/role/${String(role.json.ID)}`)).status, 403);
    } finally {
      await s.close();
    }
  });
});
