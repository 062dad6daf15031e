// `konsul services register|deregister|list` against a stand-in agent: the
// Consul bodies register sends (from flags and from definition files), its
// usage errors, deregister's not-found, and the list with each service's health.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { AgentCheck, AgentService } from '../../src/cli/commands/services/common.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { FakeAgent, deadAddress, parseTable, run } from './harness.js';

function service(id: string, name: string, fields: Partial<AgentService> = {}): AgentService {
  return { ID: id, Service: name, Tags: [], Address: '', Port: 0, Meta: {}, ...fields };
}

function check(id: string, serviceId: string, status: string): AgentCheck {
  return {
    Node: 'n1', CheckID: id, Name: id, Status: status, Notes: '', Output: '', ServiceID: serviceId, ServiceName: '', ServiceTags: [], Type: 'http',
  };
}

describe('konsul services', () => {
  let agent: FakeAgent;
  let dir: string;
  const services = (...args: string[]): string[] => ['services', ...args, '--http-addr', agent.address];
  const register = (...args: string[]): string[] => services('register', ...args);
  /** A file in the test's directory holding `content` (JSON-encoded unless a string). */
  const file = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return path;
  };
  const bodies = (): unknown[] => agent.requests.map((r) => JSON.parse(r.body) as unknown);

  before(async () => {
    agent = await FakeAgent.start();
    dir = mkdtempSync(join(tmpdir(), 'konsul-services-'));
  });
  after(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    agent.services.clear();
    agent.checks.clear();
    agent.requests.length = 0;
    agent.refuse = undefined;
  });

  describe('register from flags', () => {
    it('every flag lands in Consul\'s registration body', async () => {
      const r = await run(register(
        '--name', 'web', '--id', 'web-1', '--port', '8080', '--address', '10.0.0.5', '--tag', 'v1', '--tag', 'primary',
        '--meta', 'version=1.2', '--meta', 'owner=team=core', '--check-http', 'http://localhost:8080/health',
        '--check-interval', '5s', '--check-timeout', '2s',
      ));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal(r.out, 'Registered service: web (ID web-1)\n');
      assert.equal(agent.requests.length, 1);
      assert.ok(agent.catalogWaits.some((r) => r.url === '/v1/catalog/service/web?stale'), 'it waited for the catalog to list the service');
      assert.equal(agent.lastRequest().method, 'PUT');
      assert.equal(agent.lastRequest().url, '/v1/agent/service/register');
      assert.deepEqual(JSON.parse(agent.lastRequest().body), {
        Name: 'web',
        ID: 'web-1',
        Tags: ['v1', 'primary'],
        Address: '10.0.0.5',
        Port: 8080,
        Meta: { version: '1.2', owner: 'team=core' },
        Check: { HTTP: 'http://localhost:8080/health', Interval: '5s', Timeout: '2s' },
      });
    });

    it('only the fields given are sent; the ID is the name', async () => {
      const r = await run(register('--name', 'web'));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal(r.out, 'Registered service: web\n');
      assert.deepEqual(JSON.parse(agent.lastRequest().body), { Name: 'web' });
    });

    it('each kind of check, with the default interval of 10s', async () => {
      await run(register('--name', 'redis', '--check-tcp', 'localhost:6379'));
      await run(register('--name', 'worker', '--check-ttl', '30s'));
      await run(register('--name', 'db', '--check-script', 'pg_isready -q && test -f /ready'));
      await run(register('--name', 'v6', '--check-tcp', '[::1]:80', '--check-timeout', '1s'));
      assert.deepEqual(bodies().map((b) => (b as { Check: unknown }).Check), [
        { TCP: 'localhost:6379', Interval: '10s' },
        { TTL: '30s' },
        { Args: ['/bin/sh', '-c', 'pg_isready -q && test -f /ready'], Interval: '10s' },
        { TCP: '[::1]:80', Interval: '10s', Timeout: '1s' },
      ]);
    });

    it('--json names what was registered', async () => {
      const r = await run(register('--name', 'web', '--id', 'web-1', '--json'));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.deepEqual(JSON.parse(r.out), { Registered: ['web-1'] });
    });

    it('a registered service shows up in the list, its new check critical', async () => {
      await run(register('--name', 'web', '--port', '8080', '--check-http', 'http://localhost:8080/'));
      const rows = parseTable((await run(services('list'))).out);
      assert.deepEqual(rows, [{ ID: 'web', NAME: 'web', ADDRESS: ':8080', STATUS: 'critical', TAGS: '-' }]);
    });

    it('a bad flag exits 2 with one line naming it, and nothing is sent (the agent\'s own rules included)', async () => {
      const cases: Array<[string[], string]> = [
        [['--port', '80'], '--name is required: the service\'s name (or give a FILE of service definitions)'],
        [['--name', 'web', '--port', 'http'], '--port: "http" is not a port number (0 to 65535)'],
        [['--name', 'web', '--port', '65536'], '--port: "65536" is not a port number (0 to 65535)'],
        [['--name', 'web', '--port=-1'], '--port: "-1" is not a port number (0 to 65535)'],
        [['--name', 'web', '--id', ''], '--id: cannot be empty (leave it out to use the name)'],
        [['--name', 'web', '--tag', ''], '--tag: a tag cannot be empty'],
        [['--name', 'web', '--meta', 'version'], '--meta: "version" is not key=value'],
        [['--name', 'web', '--meta', '=1.2'], '--meta: "=1.2" is not key=value'],
        [['--name', 'web', '--meta', 'a=1', '--meta', 'a=2'], '--meta: the key "a" is given twice'],
        [
          ['--name', 'web', '--check-http', 'http://localhost/', '--check-tcp', 'localhost:80'],
          '--check-http and --check-tcp cannot be used together: a service registered by flags has one check',
        ],
        [
          ['--name', 'web', '--check-ttl', '30s', '--check-script', 'true'],
          '--check-ttl and --check-script cannot be used together: a service registered by flags has one check',
        ],
        [['--name', 'web', '--check-interval', '5s'], '--check-interval needs a check: --check-http, --check-tcp or --check-script'],
        [
          ['--name', 'web', '--check-ttl', '30s', '--check-timeout', '1s'],
          '--check-timeout does not go with --check-ttl: the service reports a TTL check\'s status itself',
        ],
        [['--name', 'web', '--check-ttl', 'soon'], '--check-ttl: "soon" is not a duration (examples: 500ms, 10s, 1m30s)'],
        [['--name', 'web', '--check-tcp', 'db:5432', '--check-interval', '0s'], '--check-interval: "0s" must be more than 0'],
        [['--name', 'web', '--check-tcp', 'db:5432', '--check-timeout', '10'], '--check-timeout: "10" is not a duration (examples: 500ms, 10s, 1m30s)'],
        [['--name', 'web', '--check-http', 'localhost:8080/health'], '--check-http: "localhost:8080/health" is not an http:// or https:// URL'],
        [['--name', 'web', '--check-tcp', 'localhost'], '--check-tcp: "localhost" is not host:port (examples: localhost:6379, [::1]:80)'],
        [['--name', 'web', '--check-tcp', 'localhost:0'], '--check-tcp: "localhost:0" is not host:port (examples: localhost:6379, [::1]:80)'],
        [['--name', 'web', '--check-script', ' '], '--check-script: cannot be empty'],
        [['--name', 'web', '--check-http', ''], '--check-http: cannot be empty'],
        [['--name', 'web', '--meta', 'bad key=1'], '--meta: key "bad key" may hold only letters, digits, \'_\' and \'-\''],
        [['--name', 'web', '--address', '0.0.0.0'], '--address: "0.0.0.0" is not an address a client can reach (leave it empty for the node\'s address)'],
        [['web.json', '--name', 'web'], '--name cannot be used with a FILE: the file defines the services'],
        [['web.json', '--check-ttl', '30s'], '--check-ttl cannot be used with a FILE: the file defines the services'],
      ];
      for (const [argv, message] of cases) {
        const r = await run(register(...argv));
        assert.equal(r.code, EXIT.usage, argv.join(' '));
        assert.equal(r.out, '');
        assert.equal(r.err, `Error: ${message}\n`, argv.join(' '));
      }
      assert.equal(agent.requests.length, 0);
    });

    it('the agent\'s refusal is one line with its reason; exit 1', async () => {
      agent.failNext = { status: 400, body: 'Scripts are disabled on this agent; to enable, start it with --enable-script-checks' };
      const r = await run(register('--name', 'db', '--check-script', 'pg_isready'));
      assert.equal(r.code, EXIT.failed);
      assert.equal(r.err, 'Error: Scripts are disabled on this agent; to enable, start it with --enable-script-checks (HTTP 400)\n');
    });
  });

  describe('register FILE', () => {
    it('{"service": {...}} is sent as written, lower-case keys and all', async () => {
      const web = { name: 'web', id: 'web-1', port: 8080, tags: ['v1'], enable_tag_override: true, check: { http: 'http://localhost:8080/', interval: '10s' } };
      const r = await run(register(file('web.json', { service: web })));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal(r.out, 'Registered service: web (ID web-1)\n');
      assert.equal(agent.lastRequest().url, '/v1/agent/service/register');
      assert.deepEqual(bodies(), [web]);
    });

    it('{"services": [...]} registers each in order; Consul\'s "Service" spelling works too', async () => {
      const path = file('two.json', { Service: { Name: 'web', Port: 80 }, services: [{ name: 'api', port: 81 }, { name: 'api', id: 'api-2', port: 82 }] });
      const r = await run(register(path, '--json'));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.deepEqual(JSON.parse(r.out), { Registered: ['web', 'api', 'api-2'] });
      assert.deepEqual(bodies(), [{ Name: 'web', Port: 80 }, { name: 'api', port: 81 }, { name: 'api', id: 'api-2', port: 82 }]);
      assert.deepEqual([...agent.services.keys()], ['web', 'api', 'api-2']);
    });

    it('"-" reads the file from stdin', async () => {
      const r = await run(register('-'), { stdin: JSON.stringify({ service: { name: 'from-stdin' } }) });
      assert.equal(r.code, EXIT.ok, r.err);
      assert.deepEqual(bodies(), [{ name: 'from-stdin' }]);
    });

    it('a file that cannot be read or is not a service definition exits 2, naming the file; nothing is registered', async () => {
      const missing = join(dir, 'missing.json');
      const folder = join(dir, 'folder.json');
      mkdirSync(folder, { recursive: true });
      const cases: Array<[string, RegExp]> = [
        [missing, /^Error: \S+\/missing\.json: cannot read it \(no such file\)\n$/],
        [folder, /^Error: \S+\/folder\.json: cannot read it \(it is a directory\)\n$/],
        [file('broken.json', '{\n  "service": {"name": "web",}\n}'), /^Error: \S+\/broken\.json: not valid JSON \([^\n]+\)\n$/],
        [file('empty.json', '  \n'), /^Error: \S+\/empty\.json: empty: expected \{"service": \{\.\.\.\}\} or \{"services": \[\.\.\.\]\}\n$/],
        [file('bare.json', { name: 'web' }), /^Error: \S+\/bare\.json: expected \{"service": \{\.\.\.\}\} or \{"services": \[\.\.\.\]\}\n$/],
        [file('list.json', [{ name: 'web' }]), /^Error: \S+\/list\.json: expected \{"service": \{\.\.\.\}\} or \{"services": \[\.\.\.\]\}/],
        [file('noname.json', { services: [{ name: 'web' }, { port: 80 }] }), /^Error: \S+\/noname\.json: services\[1\]\.Name: [^\n]+\n$/],
        [file('badport.json', { service: { name: 'web', port: 'http' } }), /^Error: \S+\/badport\.json: service\.Port: [^\n]+\n$/],
      ];
      for (const [path, expected] of cases) {
        const r = await run(register(path));
        assert.equal(r.code, EXIT.usage, path);
        assert.equal(r.out, '');
        assert.match(r.err, expected);
      }
      const stdin = await run(register('-'), { stdin: '' });
      assert.equal(stdin.code, EXIT.usage);
      assert.match(stdin.err, /^Error: stdin: empty: /);
      assert.equal(agent.requests.length, 0);
    });

    it('when the agent refuses one service of several, the error names it and those already registered', async () => {
      agent.refuse = (request) => (request.body.includes('"api"') ? { status: 400, body: 'Check.TCP: not reachable' } : undefined);
      const r = await run(register(file('three.json', { services: [{ name: 'web' }, { name: 'api' }, { name: 'db' }] })));
      assert.equal(r.code, EXIT.failed);
      assert.equal(r.out, '');
      assert.equal(r.err, 'Error: service "api" not registered: Check.TCP: not reachable (HTTP 400); registered before it: web\n');
      assert.deepEqual([...agent.services.keys()], ['web']);
    });
  });

  describe('deregister', () => {
    it('sends the ID in the path', async () => {
      agent.services.set('web-1', service('web-1', 'web'));
      const r = await run(services('deregister', 'web-1'));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal(r.out, 'Deregistered service: web-1\n');
      assert.deepEqual(agent.requests.map((q) => `${q.method} ${q.url}`), ['PUT /v1/agent/service/deregister/web-1']);
      assert.equal(agent.services.size, 0);
    });

    it('the ID is percent-encoded; --json says what was removed', async () => {
      agent.services.set('odd id/1', service('odd id/1', 'odd'));
      const r = await run(services('deregister', 'odd id/1', '--json'));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal(agent.lastRequest().url, '/v1/agent/service/deregister/odd%20id%2F1');
      assert.deepEqual(JSON.parse(r.out), { Deregistered: 'odd id/1' });
    });

    it('an ID the agent does not have exits 1 and says so', async () => {
      const r = await run(services('deregister', 'nope'));
      assert.equal(r.code, EXIT.failed);
      assert.equal(r.out, '');
      assert.equal(r.err, 'Error: no service ID "nope" registered with this agent (give the ID, not the name; see `konsul services list`)\n');
    });

    it('without an ID it is a usage error', async () => {
      const r = await run(services('deregister'));
      assert.equal(r.code, EXIT.usage);
      assert.match(r.err, /^Error: missing argument <id>; see `konsul services deregister --help`\n$/);
    });
  });

  describe('list', () => {
    beforeEach(() => {
      agent.services.set('web-2', service('web-2', 'web', { Port: 8081, Tags: ['v2'] }));
      agent.services.set('web-1', service('web-1', 'web', { Address: '10.0.0.5', Port: 8080, Tags: ['v1', 'primary'] }));
      agent.services.set('db', service('db', 'db', { Address: 'fd00::5', Port: 5432, Tags: null }));
      agent.services.set('cron', service('cron', 'cron', { Address: 'batch.local' }));
      agent.checks.set('service:web-1', check('service:web-1', 'web-1', 'passing'));
      agent.checks.set('service:web-2', check('service:web-2', 'web-2', 'warning'));
      agent.checks.set('service:web-2:2', check('service:web-2:2', 'web-2', 'critical'));
      agent.checks.set('service:db', check('service:db', 'db', 'passing'));
    });

    it('a table by name, with each service\'s worst check (passing when it has none)', async () => {
      const r = await run(services('list'));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.deepEqual(agent.requests.map((q) => `${q.method} ${q.url}`), ['GET /v1/agent/services', 'GET /v1/agent/checks']);
      assert.deepEqual(parseTable(r.out), [
        { ID: 'cron', NAME: 'cron', ADDRESS: 'batch.local', STATUS: 'passing', TAGS: '-' },
        { ID: 'db', NAME: 'db', ADDRESS: '[fd00::5]:5432', STATUS: 'passing', TAGS: '-' },
        { ID: 'web-1', NAME: 'web', ADDRESS: '10.0.0.5:8080', STATUS: 'passing', TAGS: 'v1,primary' },
        { ID: 'web-2', NAME: 'web', ADDRESS: ':8081', STATUS: 'critical', TAGS: 'v2' },
      ]);
    });

    it('a failing node-level check counts against every service', async () => {
      agent.checks.set('serfHealth', check('serfHealth', '', 'warning'));
      const rows = parseTable((await run(services('list'))).out);
      assert.deepEqual(rows.map((row) => row.STATUS), ['warning', 'warning', 'warning', 'critical']);
    });

    it('--json prints the agent\'s services by ID, as it answered', async () => {
      const r = await run(services('list', '--json'));
      assert.equal(r.code, EXIT.ok, r.err);
      assert.deepEqual(JSON.parse(r.out), Object.fromEntries(agent.services));
      assert.equal(agent.requests.length, 1);
    });

    it('no services: nothing printed, exit 0', async () => {
      agent.services.clear();
      const r = await run(services('list'));
      assert.equal(r.code, EXIT.ok);
      assert.equal(r.out, '');
    });
  });

  it('an unreachable agent exits 3 for every services command', async () => {
    const address = await deadAddress();
    for (const argv of [['register', '--name', 'web'], ['deregister', 'web'], ['list']]) {
      const r = await run(['services', ...argv, '--http-addr', address]);
      assert.equal(r.code, EXIT.unreachable, argv.join(' '));
      assert.match(r.err, /^Error: no konsul agent at [^\n]+: is `konsul agent` running\? [^\n]+\n$/);
    }
  });
});
