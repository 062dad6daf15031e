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
