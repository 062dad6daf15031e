// Consul's ACL rules for prepared queries beyond the ACL matrix's rights: a
// query's Token is shown only to a token that may write ACLs, an update needs
// write on the name it replaces as well as on the new one, unnamed queries are
// listed only to management, and execute filters results by the query's own
// token when it has one.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createHttpServer } from '../../src/http/index.js';
import { http } from '../cluster/harness.js';
import { FakeAgent } from './fake-agent.js';

const MANAGEMENT = 'mgmt-pq-acl';

test('prepared query ACLs: token redaction, both names on update, unnamed queries, the bound token on execute', async (t) => {
  const agent = new FakeAgent();
  const server = createHttpServer({ agent, acl: { enabled: true, defaultPolicy: 'deny' } });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await agent.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const as = (token: string) => async (method: string, path: string, body?: unknown) => {
    const r = await http(method, `${url}${path}`, body === undefined ? undefined : JSON.stringify(body), 15_000, { 'x-consul-token': token });
    return { status: r.status, body: r.body, json: r.body.startsWith('[') || r.body.startsWith('{') ? JSON.parse(r.body) : undefined };
  };
  const mgmt = as(MANAGEMENT);
  assert.equal((await http('PUT', `${url}/v1/acl/bootstrap`, JSON.stringify({ BootstrapSecret: MANAGEMENT }))).status, 200);
  const policy = async (name: string, rules: string, secret: string): Promise<void> => {
    assert.equal((await mgmt('PUT', '/v1/acl/policy', { Name: name, Rules: rules })).status, 200);
    assert.equal((await mgmt('PUT', '/v1/acl/token', { SecretID: secret, Policies: [{ Name: name }] })).status, 200);
  };
  await policy('web-writer', 'query_prefix "web" { policy = "write" }\nservice_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }', 'web-writer');
  await policy('db-only', 'query_prefix "" { policy = "read" }\nservice "db" { policy = "read" }\nnode_prefix "" { policy = "read" }', 'db-only');
  agent.apply({ type: 'catalog', op: {
    op: 'sync', node: { id: '', node: 'n2', address: '10.0.0.2', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
    services: [{ id: 'web2', service: 'web', tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false }],
    checks: [],
  } });

  const created = await mgmt('POST', '/v1/query', { Name: 'web-q', Token: 'db-only', Service: { Service: 'web' } });
  assert.equal(created.status, 200, created.body);
  const id = created.json.ID as string;
  const writer = as('web-writer');
  // Token: the secret to management, "<hidden>" to anyone else (Consul's redaction).
  assert.equal((await mgmt('GET', `/v1/query/${id}`)).json[0].Token, 'db-only');
  assert.equal((await writer('GET', `/v1/query/${id}`)).json[0].Token, '<hidden>');
  assert.equal((await writer('GET', '/v1/query')).json[0].Token, '<hidden>');
  assert.equal((await writer('GET', '/v1/query/web-q/explain')).json.Query.Token, '<hidden>');
  // Execute uses the query's own token: it may read only service db, so web's instance is filtered out.
  const executed = await writer('GET', '/v1/query/web-q/execute');
  assert.equal(executed.status, 200, executed.body);
  assert.deepEqual(executed.json.Nodes, []);
  // An update needs write on the new name and on the one it replaces.
  const other = (await mgmt('POST', '/v1/query', { Name: 'other-q', Service: { Service: 'web' } })).json.ID as string;
  const steal = await writer('PUT', `/v1/query/${other}`, { Name: 'web-stolen', Service: { Service: 'web' } });
  assert.equal(steal.status, 403, steal.body);
  assert.match(steal.body, /lacks permission 'query:write' on "other-q"/);
  assert.equal((await mgmt('GET', `/v1/query/${other}`)).json[0].Name, 'other-q');
  assert.equal((await writer('PUT', `/v1/query/${id}`, { Name: 'web-q2', Service: { Service: 'web' } })).status, 200);
  // An unnamed query needs no query right to create (its ID is its secret), and only management lists it.
  const session = await mgmt('PUT', '/v1/session/create', { Node: 'n2', NodeChecks: [] });
  assert.equal(session.status, 200, session.body);
  const unnamed = await writer('POST', '/v1/query', { Session: session.json.ID, Service: { Service: 'web' } });
  assert.equal(unnamed.status, 200, unnamed.body);
  assert.deepEqual((await writer('GET', '/v1/query')).json.map((q: { Name: string }) => q.Name), ['web-q2']);
  assert.equal((await mgmt('GET', '/v1/query')).json.length, 3);
  assert.equal((await writer('GET', `/v1/query/${unnamed.json.ID}`)).status, 200, 'readable by its ID');
  // A deleted bound token: the query's executions are refused, not widened to the caller's rights.
  assert.equal((await mgmt('PUT', `/v1/query/${id}`, { Name: 'web-q2', Token: 'no-such-secret', Service: { Service: 'web' } })).status, 200);
  assert.equal((await writer('GET', '/v1/query/web-q2/execute')).status, 403);
});
