// `konsul catalog services|nodes|service` against a stand-in agent: the Consul
// reads they make (tag and passing filters in the query), the tables, --json,
// and a service with no (matching) instance exiting 1.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { CatalogNode, HealthServiceEntry } from '../../src/cli/commands/catalog/common.js';
import type { AgentCheck } from '../../src/cli/commands/services/common.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { FakeAgent, deadAddress, parseTable, run } from './harness.js';

function node(name: string, address: string): CatalogNode {
  return { ID: `${name}-0000-4000-8000-000000000000`, Node: name, Address: address, Datacenter: 'dc1', TaggedAddresses: {}, Meta: {} };
}

/** An instance of `name` on `on`, with the node's health check and one check of its own per status given. */
function instance(on: CatalogNode, name: string, port: number, tags: string[], statuses: string[], address = ''): HealthServiceEntry {
  const id = `${name}-${on.Node}`;
  const checkOf = (checkId: string, serviceId: string, status: string): AgentCheck => ({
    Node: on.Node, CheckID: checkId, Name: checkId, Status: status, Notes: '', Output: '',
    ServiceID: serviceId, ServiceName: serviceId ? name : '', ServiceTags: serviceId ? tags : [], Type: serviceId ? 'http' : '',
  });
  return {
    Node: on,
    Service: { ID: id, Service: name, Tags: tags, Address: address, Port: port, Meta: {} },
    Checks: [checkOf('serfHealth', '', 'passing'), ...statuses.map((status, i) => checkOf(`service:${id}:${i + 1}`, id, status))],
  };
}

describe('konsul catalog', () => {
  let agent: FakeAgent;
  const catalog = (...args: string[]): string[] => ['catalog', ...args, '--http-addr', agent.address];
  const n1 = node('n1', '10.0.0.1');
  const n2 = node('n2', '10.0.0.2');

  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    await agent.close();
  });
  beforeEach(() => {
    agent.requests.length = 0;
    agent.nodes = [n1, n2];
    agent.instances = [
      instance(n1, 'web', 8080, ['v1'], ['passing']),
      instance(n2, 'web', 8081, ['v2', 'canary'], ['passing', 'warning'], '10.0.1.2'),
      instance(n2, 'db', 5432, [], []),
      instance(n1, 'web', 8082, ['v2'], ['critical']),
    ];
  });

  it('services: every service with its tags, by name', async () => {
    const r = await run(catalog('services'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(agent.lastRequest().url, '/v1/catalog/services');
    assert.deepEqual(parseTable(r.out), [{ SERVICE: 'db', TAGS: '-' }, { SERVICE: 'web', TAGS: 'v1,v2,canary' }]);
    assert.deepEqual(JSON.parse((await run(catalog('services', '--json'))).out), { web: ['v1', 'v2', 'canary'], db: [] });
  });

  it('nodes: node, id, address and datacenter', async () => {
    const r = await run(catalog('nodes'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(agent.lastRequest().url, '/v1/catalog/nodes');
    assert.deepEqual(parseTable(r.out), [
      { NODE: 'n1', ID: n1.ID, ADDRESS: '10.0.0.1', DATACENTER: 'dc1' },
      { NODE: 'n2', ID: n2.ID, ADDRESS: '10.0.0.2', DATACENTER: 'dc1' },
    ]);
    assert.deepEqual(JSON.parse((await run(catalog('nodes', '--json'))).out), [n1, n2]);
  });

  it('service NAME: each instance with its address (the node\'s unless its own), port, worst check and tags', async () => {
    const r = await run(catalog('service', 'web'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(agent.lastRequest().url, '/v1/health/service/web');
    assert.deepEqual(parseTable(r.out), [
      { NODE: 'n1', ADDRESS: '10.0.0.1', PORT: '8080', STATUS: 'passing', TAGS: 'v1' },
      { NODE: 'n2', ADDRESS: '10.0.1.2', PORT: '8081', STATUS: 'warning', TAGS: 'v2,canary' },
      { NODE: 'n1', ADDRESS: '10.0.0.1', PORT: '8082', STATUS: 'critical', TAGS: 'v2' },
    ]);
  });

  it('--tag and --passing are sent as Consul\'s query parameters', async () => {
    const v2 = await run(catalog('service', 'web', '--tag', 'v2'));
    assert.equal(agent.lastRequest().url, '/v1/health/service/web?tag=v2');
    assert.deepEqual(parseTable(v2.out).map((row) => row.PORT), ['8081', '8082']);

    const passing = await run(catalog('service', 'web', '--passing'));
    assert.equal(agent.lastRequest().url, '/v1/health/service/web?passing');
    assert.deepEqual(parseTable(passing.out).map((row) => row.PORT), ['8080']);

    const both = await run(catalog('service', 'web', '--tag', 'v2', '--tag', 'canary gold', '--passing'));
    assert.equal(agent.lastRequest().url, '/v1/health/service/web?tag=v2&tag=canary%20gold&passing');
    assert.equal(both.code, EXIT.failed);
  });

  it('service NAME --json prints the instances with their node and checks', async () => {
    const r = await run(catalog('service', 'db', '--json'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(JSON.parse(r.out), [agent.instances[2]]);
  });

  it('the name is percent-encoded in the path', async () => {
    await run(catalog('service', 'my svc/1'));
    assert.equal(agent.lastRequest().url, '/v1/health/service/my%20svc%2F1');
  });

  it('no instance, or none matching, exits 1 with one line saying which', async () => {
    const cases: Array<[string[], string]> = [
      [['nope'], 'no instances of service "nope"'],
      [['db', '--passing', '--tag', 'v9'], 'no passing instances of service "db" with tag "v9"'],
      [['web', '--tag', 'v1', '--tag', 'canary'], 'no instances of service "web" with tags "v1", "canary"'],
      [['web', '--tag', 'v2', '--passing', '--json'], 'no passing instances of service "web" with tag "v2"'],
    ];
    for (const [argv, message] of cases) {
      const r = await run(catalog('service', ...argv));
      assert.equal(r.code, EXIT.failed, argv.join(' '));
      assert.equal(r.out, '');
      assert.equal(r.err, `Error: ${message}\n`);
    }
  });

  it('service without a NAME is a usage error', async () => {
    const r = await run(catalog('service'));
    assert.equal(r.code, EXIT.usage);
    assert.equal(r.err, 'Error: missing argument <name>; see `konsul catalog service --help`\n');
    assert.equal(agent.requests.length, 0);
  });

  it('an empty catalog prints nothing and exits 0', async () => {
    agent.nodes = [];
    agent.instances = [];
    for (const command of ['services', 'nodes']) {
      const r = await run(catalog(command));
      assert.equal(r.code, EXIT.ok, command);
      assert.equal(r.out, '', command);
    }
  });

  it('the agent\'s error is one line with its reason; exit 1', async () => {
    agent.failNext = { status: 500, body: 'No path to datacenter' };
    const r = await run(catalog('nodes'));
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.err, 'Error: No path to datacenter (HTTP 500)\n');
  });

  it('an unreachable agent exits 3 for every catalog command', async () => {
    const address = await deadAddress();
    for (const argv of [['services'], ['nodes'], ['service', 'web']]) {
      const r = await run(['catalog', ...argv, '--http-addr', address]);
      assert.equal(r.code, EXIT.unreachable, argv.join(' '));
      assert.match(r.err, /^Error: no konsul agent at [^\n]+: is `konsul agent` running\? [^\n]+\n$/);
    }
  });
});
