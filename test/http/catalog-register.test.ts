// PUT /v1/catalog/register and /v1/catalog/deregister: external nodes and
// services (what consul-esm, Terraform and registrators write), merged into the
// node's entry; the reads show them in Consul's shapes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startServer } from './helpers.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('catalog register and deregister', () => {
  test('a node with a service and checks; a second service keeps the first; deregister service, check, node', async (t) => {
    const s = await startServer(t);
    const put = (path: string, body: object): Promise<{ status: number; text: string }> => s.call('PUT', path, { body: JSON.stringify(body) });
    let r = await put('/v1/catalog/register', {
      Datacenter: 'dc1', Node: 'ext-db', Address: '192.0.2.10', NodeMeta: { 'external-node': 'true' },
      Service: { ID: 'pg1', Service: 'postgres', Tags: ['primary'], Port: 5432, Meta: { version: '16' } },
      Checks: [{ CheckID: 'pg1-tcp', Name: 'tcp', Status: 'passing', ServiceID: 'pg1' }, { CheckID: 'ping', Name: 'ping', Status: 'passing' }],
    });
    assert.deepEqual([r.status, r.text], [200, 'true']);
    r = await put('/v1/catalog/register', { Node: 'ext-db', Address: '192.0.2.10', SkipNodeUpdate: true, Service: { ID: 'pg2', Service: 'postgres', Port: 5433 } });
    assert.equal(r.status, 200, r.text);

    const instances = (await s.call('GET', '/v1/catalog/service/postgres')).json<Json[]>();
    assert.deepEqual(instances.map((i) => [i.Node, i.ServiceID, i.ServicePort, i.NodeMeta]), [
      ['ext-db', 'pg1', 5432, { 'external-node': 'true' }], ['ext-db', 'pg2', 5433, { 'external-node': 'true' }],
    ]);
    const health = (await s.call('GET', '/v1/health/service/postgres?passing')).json<Json[]>();
    assert.deepEqual(health.map((h) => [h.Service.ID, h.Checks.map((c: Json) => c.CheckID)]), [['pg1', ['pg1-tcp', 'ping']], ['pg2', ['ping']]]);

    // A check turning critical through a new registration of the same check.
    await put('/v1/catalog/register', { Node: 'ext-db', Address: '192.0.2.10', SkipNodeUpdate: true, Check: { CheckID: 'pg1-tcp', Name: 'tcp', Status: 'critical', ServiceID: 'pg1' } });
    assert.deepEqual((await s.call('GET', '/v1/health/service/postgres?passing')).json<Json[]>().map((h) => h.Service.ID), ['pg2']);

    await put('/v1/catalog/deregister', { Node: 'ext-db', ServiceID: 'pg1' });
    assert.deepEqual((await s.call('GET', '/v1/catalog/service/postgres')).json<Json[]>().map((i) => i.ServiceID), ['pg2']);
    assert.deepEqual((await s.call('GET', '/v1/health/node/ext-db')).json<Json[]>().map((c) => c.CheckID), ['ping']);
    await put('/v1/catalog/deregister', { Node: 'ext-db', CheckID: 'ping' });
    assert.deepEqual((await s.call('GET', '/v1/health/node/ext-db')).json<Json[]>(), []);
    await put('/v1/catalog/deregister', { Node: 'ext-db' });
    assert.equal((await s.call('GET', '/v1/catalog/node/ext-db')).text, 'null');
  });

  test('SkipNodeUpdate keeps the stored node; without it the node is replaced', async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/catalog/register', { body: JSON.stringify({ Node: 'x', Address: '192.0.2.1', NodeMeta: { a: '1' } }) });
    await s.call('PUT', '/v1/catalog/register', { body: JSON.stringify({ Node: 'x', Address: '192.0.2.2', SkipNodeUpdate: true }) });
    assert.equal((await s.call('GET', '/v1/catalog/node/x')).json<Json>().Node.Address, '192.0.2.1');
    await s.call('PUT', '/v1/catalog/register', { body: JSON.stringify({ Node: 'x', Address: '192.0.2.3' }) });
    const node = (await s.call('GET', '/v1/catalog/node/x')).json<Json>().Node;
    assert.deepEqual([node.Address, node.Meta], ['192.0.2.3', {}]);
  });

  test('bad bodies are 400s that say what is wrong; another datacenter is Consul\'s 500', async (t) => {
    const s = await startServer(t);
    for (const [body, pattern] of [
      [{ Address: '1.2.3.4' }, /Must provide node/],
      [{ Node: 'x' }, /Must provide address/],
      [{ Node: 'x', Address: '1.2.3.4', Service: { Service: 'web', Port: 70000 } }, /Port/],
      [{ Node: 'x', Address: '1.2.3.4', Check: { CheckID: 'c', Status: 'fine' } }, /Status/],
      [{ Node: 'x', Address: '1.2.3.4', Check: { CheckID: 'c', ServiceID: 'nope' } }, /ServiceID "nope"/],
      [{ Node: 'x', Address: '1.2.3.4', NodeMeta: { a: 1 } }, /NodeMeta/],
    ] as const) {
      const r = await s.call('PUT', '/v1/catalog/register', { body: JSON.stringify(body) });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.text, pattern);
    }
    const other = await s.call('PUT', '/v1/catalog/register', { body: JSON.stringify({ Datacenter: 'dc2', Node: 'x', Address: '1.2.3.4' }) });
    assert.deepEqual([other.status, other.text], [500, 'No path to datacenter']);
    assert.deepEqual((await s.call('GET', '/v1/catalog/nodes')).json<Json[]>().map((n) => n.Node), ['n1'], 'a refused registration wrote nothing');
  });
});
