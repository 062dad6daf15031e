// Prepared queries on real agents: created through a client agent (forwarded
// to the leader through the Raft log), read, executed and explained over HTTP
// on both agents, answered over DNS (dig, A and SRV, NAME.query.consul and
// <id>.query.consul) from each agent's own replica, templates of type
// name_prefix_match, a query bound to a session that goes with it, bad input
// answered 400/404, a snapshot restore that brings a deleted query back, and a
// restart that keeps them.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe } from 'node:test';
import { http, scenario, TestCluster, waitFor, waitVoters } from './harness.js';

const exec = promisify(execFile);

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `dig @127.0.0.1 -p <port> <name> <type>`: the status and the answer lines (name, ttl, type, data). */
async function dig(port: number, name: string, type: string, tcp = false): Promise<{ status: string; answers: string[][] }> {
  const args = ['@127.0.0.1', '-p', String(port), name, type, '+noall', '+answer', '+comments', '+tries=1', '+time=5', ...(tcp ? ['+tcp'] : [])];
  const { stdout } = await exec('dig', args, { timeout: 20_000 });
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? 'none';
  const answers = stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).map((l) => l.trim().split(/\s+/))
    .map((f) => [f[0]!, f[1]!, f[3]!, f.slice(4).join(' ')]);
  return { status, answers };
}

describe('prepared queries on real agents, over HTTP and DNS', { timeout: 300_000 }, () => {
  const c = new TestCluster();
  const step = scenario(c);
  const url = (id: string): string => c.node(id).url;
  const call = async (id: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string; json: Json; headers: Record<string, unknown> }> => {
    const r = await http(method, `${url(id)}${path}`, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
    let json: Json;
    try {
      json = r.body === '' ? undefined : JSON.parse(r.body);
    } catch {
      json = undefined;
    }
    return { status: r.status, body: r.body, json, headers: r.headers };
  };
  const ok = async (id: string, method: string, path: string, body?: unknown): Promise<Json> => {
    const r = await call(id, method, path, body);
    assert.equal(r.status, 200, `${method} ${path}: ${r.status} ${r.body}`);
    return r.json;
  };
  const ids: Record<string, string> = {};
  const serviceIds = (answer: Json): string[] => answer.Nodes.map((n: Json) => n.Service.ID).sort();

  step('a server and a client agent, four web instances (one warning, one critical)', async () => {
    await c.add({ id: 's1', server: true, bootstrap: true, extra: ['--node-meta', 'rack:r1'] });
    await c.start('s1');
    await c.leader(['s1']);
    await c.add({ id: 'c1', server: false, join: [c.node('s1').raftAddress], extra: ['--node-meta', 'rack:r2'] });
    await c.start('c1');
    await waitVoters(c, ['s1'], 's1');
    const register = (node: string, body: object): Promise<Json> => ok(node, 'PUT', '/v1/agent/service/register', body);
    await register('s1', { Name: 'web', ID: 'web-1', Port: 8001, Tags: ['v1', 'primary'], Meta: { env: 'prod' }, Check: { TTL: '10m', Status: 'passing' } });
    await register('c1', { Name: 'web', ID: 'web-2', Port: 8002, Tags: ['v1', 'canary'], Check: { TTL: '10m', Status: 'passing' } });
    await register('c1', { Name: 'web', ID: 'web-3', Port: 8003, Tags: ['v2'], Check: { TTL: '10m', Status: 'warning' } });
    await register('c1', { Name: 'web', ID: 'web-4', Port: 8004, Tags: ['v2'], Check: { TTL: '10m', Status: 'critical' } });
    await waitFor('all four web instances in the catalog of both agents', async () => {
      for (const id of ['s1', 'c1']) if ((await ok(id, 'GET', '/v1/health/service/web?stale')).length !== 4) return undefined;
      return true;
    });
  });

  step('create through the client (a Raft write), read back in Consul\'s shape on the server', async () => {
    const created = await ok('c1', 'POST', '/v1/query', {
      Name: 'web-primary', Service: { Service: 'web', Tags: ['v1', '!canary'] }, DNS: { TTL: '7s' },
    });
    assert.match(created.ID, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    ids.primary = created.ID;
    ids.any = (await ok('s1', 'POST', '/v1/query', { name: 'web-any', service: { service: 'web' } })).ID; // Go's decoder: any case
    ids.passing = (await ok('s1', 'POST', '/v1/query', { Name: 'web-passing', Service: { Service: 'web', OnlyPassing: true } })).ID;
    const listed = await ok('s1', 'GET', '/v1/query');
    assert.deepEqual(listed.map((q: Json) => q.Name).sort(), ['web-any', 'web-passing', 'web-primary']);
    const [one] = await ok('s1', 'GET', `/v1/query/${ids.primary}`);
    assert.deepEqual(Object.keys(one), ['ID', 'Name', 'Session', 'Token', 'Template', 'Service', 'DNS', 'CreateIndex', 'ModifyIndex']);
    assert.deepEqual(one.Service.Tags, ['v1', '!canary']);
    assert.deepEqual(one.Template, { Type: '', Regexp: '', RemoveEmptyTags: false });
    assert.deepEqual(one.DNS, { TTL: '7s' });
    assert.equal(one.CreateIndex, one.ModifyIndex);
    // The client reads its own replica: the create was applied there before the answer.
    assert.equal((await ok('c1', 'GET', `/v1/query/${ids.primary}?stale`))[0].Name, 'web-primary');
  });

  step('execute: tags (with !exclusions), health (warning kept unless OnlyPassing, critical never), by ID or name, on either agent', async () => {
    for (const id of ['s1', 'c1']) {
      const byName = await ok(id, 'GET', '/v1/query/web-primary/execute');
      assert.deepEqual(serviceIds(byName), ['web-1']);
      assert.equal(byName.Service, 'web');
      assert.equal(byName.Datacenter, 'dc1');
      assert.equal(byName.Failovers, 0);
      assert.deepEqual(byName.DNS, { TTL: '7s' });
      assert.deepEqual(byName.Nodes[0].Node.Meta, { rack: 'r1' });
      assert.ok(Array.isArray(byName.Nodes[0].Checks) && byName.Nodes[0].Checks.length >= 1);
      assert.deepEqual(serviceIds(await ok(id, 'GET', `/v1/query/${ids.primary}/execute`)), ['web-1']);
      assert.deepEqual(serviceIds(await ok(id, 'GET', `/v1/query/${ids.any}/execute`)), ['web-1', 'web-2', 'web-3']);
      assert.deepEqual(serviceIds(await ok(id, 'GET', '/v1/query/WEB-PASSING/execute')), ['web-1', 'web-2']);
    }
    // ?near=_agent puts the agent's own node first; ?limit cuts after it.
    for (let i = 0; i < 5; i++) {
      const near = await ok('c1', 'GET', '/v1/query/web-any/execute?near=_agent&limit=1');
      assert.deepEqual(near.Nodes.map((n: Json) => n.Node.Node), ['c1']);
      assert.equal((await ok('s1', 'GET', '/v1/query/web-any/execute?near=_agent')).Nodes[0].Node.Node, 's1');
    }
  });

  step('a name_prefix_match template: the longest prefix wins, ${match(N)} interpolates, explain shows the rendering', async () => {
    ids.geo = (await ok('c1', 'POST', '/v1/query', {
      Name: 'geo-', Template: { Type: 'name_prefix_match', Regexp: '^geo-(.+)-(v[0-9])$' },
      Service: { Service: '${match(1)}', Tags: ['${match(2)}'] },
    })).ID;
    ids.catchAll = (await ok('c1', 'POST', '/v1/query', {
      Name: '', Template: { Type: 'name_prefix_match' }, Service: { Service: '${name.full}', OnlyPassing: true },
    })).ID;
    const explained = await ok('s1', 'GET', '/v1/query/geo-web-v2/explain');
    assert.equal(explained.Query.ID, ids.geo);
    assert.equal(explained.Query.Service.Service, 'web');
    assert.deepEqual(explained.Query.Service.Tags, ['v2']);
    assert.deepEqual(serviceIds(await ok('s1', 'GET', '/v1/query/geo-web-v2/execute')), ['web-3']);
    // No other prefix matches: the empty-name template takes it, with the whole name as the service.
    assert.deepEqual(serviceIds(await ok('c1', 'GET', '/v1/query/web/execute')), ['web-1', 'web-2']);
    assert.equal((await ok('c1', 'GET', '/v1/query/nothing-here/execute')).Nodes.length, 0);
    // A static query's exact name is found before any template.
    assert.equal((await ok('c1', 'GET', '/v1/query/web-any/explain')).Query.ID, ids.any);
  });

  step('DNS: NAME.query.consul and <id>.query.consul answer A and SRV from each agent\'s replica, with the query\'s TTL', async () => {
    for (const id of ['s1', 'c1']) {
      const port = c.node(id).dnsPort;
      const a = await dig(port, 'web-primary.query.consul', 'A');
      assert.equal(a.status, 'NOERROR');
      assert.deepEqual(a.answers.map((r) => [r[2], r[3], r[1]]), [['A', '127.0.0.1', '7']]);
      const srv = await dig(port, 'web-any.query.consul', 'SRV', true);
      assert.deepEqual(srv.answers.map((r) => r[3]!.split(' ')[2]).sort(), ['8001', '8002', '8003']);
      assert.ok(srv.answers.every((r) => r[2] === 'SRV' && /\.node\.dc1\.consul\.$/.test(r[3]!)), JSON.stringify(srv.answers));
      const byId = await dig(port, `${ids.primary}.query.consul`, 'SRV');
      assert.deepEqual(byId.answers.map((r) => r[3]!.split(' ').slice(2)), [['8001', 's1.node.dc1.consul.']]);
      assert.deepEqual((await dig(port, 'geo-web-v2.query.dc1.consul', 'SRV')).answers.map((r) => r[3]!.split(' ')[2]), ['8003']);
      assert.equal((await dig(port, 'no-such-query.query.consul', 'A')).status, 'NXDOMAIN');
      assert.equal((await dig(port, 'web-primary.query.dc2.consul', 'A')).status, 'NXDOMAIN');
    }
  });

  step('update: the new definition answers at once, over HTTP and DNS (answers cached before are dropped)', async () => {
    const [before] = await ok('s1', 'GET', `/v1/query/${ids.primary}`);
    const srv = async (): Promise<string[]> => (await dig(c.node('c1').dnsPort, 'web-primary.query.consul', 'SRV')).answers.map((r) => r[3]!.split(' ')[2]!).sort();
    assert.deepEqual(await srv(), ['8001']);
    const r = await call('c1', 'PUT', `/v1/query/${ids.primary}`, { Name: 'web-primary', Service: { Service: 'web', Tags: ['canary'] } });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, '');
    const [after] = await ok('c1', 'GET', `/v1/query/${ids.primary}?stale`);
    assert.equal(after.CreateIndex, before.CreateIndex);
    assert.ok(after.ModifyIndex > before.ModifyIndex);
    assert.deepEqual(after.DNS, { TTL: '' });
    assert.deepEqual(await srv(), ['8002']);
  });

  step('bad input: 400 with Consul\'s words, 404 for what does not exist; nothing is stored', async () => {
    const bad: Array<[string, string, unknown, number, RegExp]> = [
      ['POST', '/v1/query', { Name: 'x' }, 400, /^Invalid prepared query: Must provide a Service name to query$/],
      ['POST', '/v1/query', { Service: { Service: 'web' } }, 400, /Must be bound to a session/],
      ['POST', '/v1/query', { Name: 'web-any', Service: { Service: 'web' } }, 400, /^name 'web-any' aliases an existing query name$/],
      ['POST', '/v1/query', { Name: 'WEB-ANY', Service: { Service: 'web' } }, 400, /aliases an existing query name/],
      ['POST', '/v1/query', { Name: ids.any, Service: { Service: 'web' } }, 400, /aliases an existing query ID/],
      ['POST', '/v1/query', { ID: ids.any, Name: 'y', Service: { Service: 'web' } }, 400, /ID must be empty when creating a new prepared query/],
      ['POST', '/v1/query', { Name: 'y', Service: { Service: 'web' }, DNS: { TTL: 'soon' } }, 400, /Bad DNS TTL 'soon'/],
      ['POST', '/v1/query', { Name: 'y', Service: { Service: 'web', Failover: { NearestN: -1 } } }, 400, /Bad NearestN '-1', must be >= 0/],
      ['POST', '/v1/query', { Name: 'y', Template: { Type: 'prefix' }, Service: { Service: 'web' } }, 400, /Bad Template.Type 'prefix'/],
      ['POST', '/v1/query', { Name: 'y', Template: { Type: 'name_prefix_match', Regexp: '(' }, Service: { Service: 'web' } }, 400, /Bad Regexp/],
      ['POST', '/v1/query', { Name: 'y', Template: { Type: 'name_prefix_match' }, Service: { Service: '${nope}' } }, 400, /unknown variable/],
      ['POST', '/v1/query', { Name: 'y', Service: { Service: 'web', Connect: true } }, 400, /Connect is not supported: konsul has no service mesh/],
      ['POST', '/v1/query', { Name: 'y', Service: { Service: 'web', Failover: { Targets: [{ Peer: 'p' }] } } }, 400, /Targets is not supported/],
      ['POST', '/v1/query', { Name: 'y', Service: { Service: 'web', Tags: 'v1' } }, 400, /Service.Tags must be a list of strings/],
      ['POST', '/v1/query', { Name: 'y', Sevrice: { Service: 'web' } }, 400, /unknown field "Sevrice"/],
      ['POST', '/v1/query', { Name: 'y', Session: 'not-a-session', Service: { Service: 'web' } }, 400, /invalid session "not-a-session"/],
      ['POST', '/v1/query', { Name: 'y', Session: '4e0e2b1f-1a2b-4c3d-8e9f-001122334455', Service: { Service: 'web' } }, 400, /invalid session/],
      ['POST', '/v1/query', { Name: 'y', Token: '<hidden>', Service: { Service: 'web' } }, 400, /redacted token was submitted/],
      ['POST', '/v1/query', '{"Name":', 400, /malformed JSON/],
      ['POST', '/v1/query', '[1]', 400, /must be (an|a JSON) object/],
      ['POST', '/v1/query?flags=1', { Name: 'y', Service: { Service: 'web' } }, 400, /unknown query parameter \?flags/],
      ['GET', '/v1/query/web-any/execute?limit=ten', undefined, 400, /Invalid \?limit/],
      ['GET', '/v1/query/web-any/execute?connect=true', undefined, 400, /unsupported query parameter \?connect/],
      ['GET', '/v1/query?dc=dc2', undefined, 500, /^No path to datacenter$/],
      ['GET', '/v1/query/4e0e2b1f-1a2b-4c3d-8e9f-001122334455', undefined, 404, /^Query not found$/],
      ['PUT', '/v1/query/4e0e2b1f-1a2b-4c3d-8e9f-001122334455', { Name: 'z', Service: { Service: 'web' } }, 404, /^Query not found$/],
      ['DELETE', '/v1/query/4e0e2b1f-1a2b-4c3d-8e9f-001122334455', undefined, 404, /^Query not found$/],
      ['GET', '/v1/query/no-such-query/execute', undefined, 404, /^Query not found$/],
      ['GET', '/v1/query/no-such-query/explain', undefined, 404, /^Query not found$/],
      ['PUT', `/v1/query/${ids.primary}`, { Name: 'web-any', Service: { Service: 'web' } }, 400, /aliases an existing query name/],
    ];
    // One empty-name template at most.
    const second = await call('c1', 'POST', '/v1/query', { Name: '', Template: { Type: 'name_prefix_match' }, Service: { Service: 'x' } });
    assert.deepEqual([second.status, second.body], [400, 'a query template with an empty name already exists']);
    // Nothing may answer to /v1/query/<garbage>/execute except the catch-all template: remove it for these cases.
    await ok('c1', 'DELETE', `/v1/query/${ids.catchAll}`);
    for (const [method, path, body, status, message] of bad) {
      const r = await call('c1', method, path, body);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.status} ${r.body}`);
      assert.match(r.body, message, `${method} ${path} ${JSON.stringify(body)}`);
    }
    assert.deepEqual((await ok('s1', 'GET', '/v1/query')).map((q: Json) => q.Name).sort(), ['geo-', 'web-any', 'web-passing', 'web-primary']);
    assert.equal((await ok('s1', 'GET', `/v1/query/${ids.primary}`))[0].Service.Tags[0], 'canary');
  });

  step('a query bound to a session goes when the session is destroyed', async () => {
    const session = (await ok('c1', 'PUT', '/v1/session/create', { Name: 'pq', NodeChecks: [] })).ID;
    const bound = (await ok('c1', 'POST', '/v1/query', { Session: session, Service: { Service: 'web' } })).ID;
    const [q] = await ok('s1', 'GET', `/v1/query/${bound}`);
    assert.deepEqual([q.Name, q.Session], ['', session]);
    assert.deepEqual(serviceIds(await ok('c1', 'GET', `/v1/query/${bound}/execute`)), ['web-1', 'web-2', 'web-3']);
    assert.equal((await dig(c.node('c1').dnsPort, `${bound}.query.consul`, 'SRV')).answers.length, 3);
    await ok('c1', 'PUT', `/v1/session/destroy/${session}`);
    for (const id of ['s1', 'c1']) {
      await waitFor(`the bound query gone on ${id}`, async () => ((await call(id, 'GET', `/v1/query/${bound}?stale`)).status === 404 ? true : undefined));
    }
    assert.equal((await dig(c.node('c1').dnsPort, `${bound}.query.consul`, 'SRV')).status, 'NXDOMAIN');
  });

  step('a snapshot holds the queries: a deleted one comes back with the restore', async () => {
    const archive = await (await fetch(`${url('s1')}/v1/snapshot`)).arrayBuffer();
    await ok('c1', 'DELETE', `/v1/query/${ids.passing}`);
    assert.equal((await call('s1', 'GET', `/v1/query/${ids.passing}`)).status, 404);
    const restored = await http('PUT', `${url('s1')}/v1/snapshot`, Buffer.from(archive));
    assert.equal(restored.status, 200, restored.body);
    for (const id of ['s1', 'c1']) {
      const q = await waitFor(`web-passing back on ${id}`, async () => {
        const r = await call(id, 'GET', `/v1/query/${ids.passing}?stale`);
        return r.status === 200 ? r.json[0] : undefined;
      });
      assert.equal(q.Name, 'web-passing');
      assert.equal(q.Service.OnlyPassing, true);
    }
    assert.deepEqual(serviceIds(await ok('c1', 'GET', '/v1/query/web-passing/execute')), ['web-1', 'web-2']);
    assert.equal((await dig(c.node('c1').dnsPort, 'web-passing.query.consul', 'SRV')).answers.length, 2);
  });

  step('a restarted client keeps them in its data dir and answers DNS for them', async () => {
    await c.kill('c1', 'SIGTERM');
    await c.start('c1');
    const listed = await waitFor('c1 serving its replica', async () => {
      const r = await call('c1', 'GET', '/v1/query?stale');
      return r.status === 200 && r.json.length === 4 ? r.json : undefined;
    });
    assert.deepEqual(listed.map((q: Json) => q.Name).sort(), ['geo-', 'web-any', 'web-passing', 'web-primary']);
    const srv = await waitFor('DNS for the query after the restart', async () => {
      const a = await dig(c.node('c1').dnsPort, 'geo-web-v2.query.consul', 'SRV');
      return a.answers.length === 1 ? a : undefined;
    });
    assert.equal(srv.answers[0]![3]!.split(' ')[2], '8003');
  });
});
