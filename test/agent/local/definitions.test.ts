// Consul's registration bodies and service files read into definitions: both
// spellings of every field, the defaults Consul fills in, and one clear
// 400 naming the field for each rule a body can break.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DefinitionError,
  MIN_CHECK_INTERVAL_MS,
  parseCheckRegistration,
  parseServiceFile,
  parseServiceRegistration,
} from '../../../src/agent/local/definitions.js';

/** The message of the DefinitionError `fn` throws, checked to be a one-line 400. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DefinitionError, `a DefinitionError, got ${String(error)}`);
    assert.equal(error.kind, 'invalid');
    assert.equal(error.code, 'KONSUL_ERR_BAD_DEFINITION');
    assert.ok(!error.message.includes('\n'), `one line: ${JSON.stringify(error.message)}`);
    return error.message;
  }
  assert.fail('expected a DefinitionError');
}

/** A service body with one check, `check` merged over a valid HTTP check. */
function withCheck(check: Record<string, unknown>): unknown {
  return { Name: 'web', Check: { HTTP: 'http://127.0.0.1:8080/health', Interval: '10s', ...check } };
}

function serviceError(body: unknown): string {
  return errorOf(() => parseServiceRegistration(body));
}

describe('service registration bodies', () => {
  it('reads the CamelCase body the Consul API clients send', () => {
    const { service, checks } = parseServiceRegistration({
      Name: 'web',
      ID: 'web-1',
      Tags: ['v1', 'primary'],
      Address: '10.0.0.5',
      Port: 8080,
      Meta: { version: '1.2.3', 'rack_id-2': 'b' },
      Weights: { Passing: 10, Warning: 2 },
      EnableTagOverride: true,
      Check: { HTTP: 'http://10.0.0.5:8080/health', Interval: '10s', Timeout: '2s', Method: 'HEAD', Header: { 'X-Probe': ['1', '2'] } },
      Checks: [
        { CheckID: 'web-tcp', Name: 'port open', TCP: '10.0.0.5:8080', Interval: '1m30s', Status: 'passing', Notes: 'n' },
        { TTL: '30s', DeregisterCriticalServiceAfter: '90m' },
        { Args: ['/usr/local/bin/check', '--fast'], Interval: '5s', SuccessBeforePassing: 2, FailuresBeforeCritical: 3 },
      ],
    });
    assert.deepEqual(service, {
      id: 'web-1', name: 'web', tags: ['v1', 'primary'], address: '10.0.0.5', port: 8080,
      meta: { version: '1.2.3', 'rack_id-2': 'b' }, weights: { passing: 10, warning: 2 }, enableTagOverride: true,
    });
    assert.equal(checks.length, 4);
    const [http, tcp, ttl, script] = checks as [typeof checks[0], typeof checks[0], typeof checks[0], typeof checks[0]];

    assert.equal(http.id, 'service:web-1:1');
    assert.equal(http.name, "Service 'web' check");
    assert.equal(http.serviceId, 'web-1');
    assert.equal(http.kind, 'http');
    assert.deepEqual(http.http, { url: 'http://10.0.0.5:8080/health', method: 'HEAD', headers: { 'X-Probe': ['1', '2'] }, tlsSkipVerify: false });
    assert.equal(http.intervalMs, 10_000);
    assert.equal(http.timeoutMs, 2_000);
    assert.equal(http.initialStatus, 'critical');

    assert.equal(tcp.id, 'web-tcp');
    assert.equal(tcp.name, 'port open');
    assert.equal(tcp.notes, 'n');
    assert.deepEqual(tcp.tcp, { host: '10.0.0.5', port: 8080 });
    assert.equal(tcp.intervalMs, 90_000);
    assert.equal(tcp.initialStatus, 'passing');

    assert.equal(ttl.id, 'service:web-1:3');
    assert.equal(ttl.kind, 'ttl');
    assert.equal(ttl.ttlMs, 30_000);
    assert.equal(ttl.deregisterCriticalServiceAfterMs, 90 * 60_000);

    assert.equal(script.id, 'service:web-1:4');
    assert.deepEqual(script.script, { args: ['/usr/local/bin/check', '--fast'] });
    assert.equal(script.successBeforePassing, 2);
    assert.equal(script.failuresBeforeCritical, 3);
    assert.equal(script.failuresBeforeWarning, 3, 'no warning step unless asked for');
  });

  it('reads the snake_case spellings of service files and older clients', () => {
    const { service, checks } = parseServiceRegistration({
      name: 'db',
      id: 'db-a',
      tags: ['rw'],
      address: 'db.local',
      port: 5432,
      meta: { engine: 'pg' },
      weights: { passing: 3, warning: 0 },
      enable_tag_override: true,
      check: {
        check_id: 'db-http', name: 'admin', http: 'https://db.local:8443/ok', method: 'POST', body: '{}',
        header: { Authorization: ['Bearer x'] }, tls_skip_verify: true, interval: '15s', timeout: '3s',
        deregister_critical_service_after: '10m', success_before_passing: 4, failures_before_critical: 5,
        failures_before_warning: 2, status: 'warning', notes: 'admin port',
      },
      checks: [
        { id: 'db-script', script_args: ['/bin/true'], interval: '1s' },
        { check_id: 'db-tcp', tcp: '[::1]:5432', interval: '2s' },
        { CHECKID: 'db-ttl', Ttl: '1h' },
      ],
    });
    assert.deepEqual(service, {
      id: 'db-a', name: 'db', tags: ['rw'], address: 'db.local', port: 5432, meta: { engine: 'pg' },
      weights: { passing: 3, warning: 0 }, enableTagOverride: true,
    });
    const [http, script, tcp, ttl] = checks as [typeof checks[0], typeof checks[0], typeof checks[0], typeof checks[0]];
    assert.deepEqual(http, {
      id: 'db-http', name: 'admin', serviceId: 'db-a', notes: 'admin port', kind: 'http',
      http: { url: 'https://db.local:8443/ok', method: 'POST', headers: { Authorization: ['Bearer x'] }, body: '{}', tlsSkipVerify: true },
      intervalMs: 15_000, timeoutMs: 3_000, deregisterCriticalServiceAfterMs: 600_000,
      successBeforePassing: 4, failuresBeforeCritical: 5, failuresBeforeWarning: 2, initialStatus: 'warning',
    });
    assert.equal(script.id, 'db-script');
    assert.deepEqual(script.script, { args: ['/bin/true'] });
    assert.equal(script.timeoutMs, 30_000, "Consul's script checks time out after 30s by default");
    assert.deepEqual(tcp.tcp, { host: '::1', port: 5432 });
    assert.equal(tcp.timeoutMs, 10_000);
    assert.equal(ttl.id, 'db-ttl');
    assert.equal(ttl.ttlMs, 3_600_000);
  });

  it('fills in what Consul fills in', () => {
    const { service, checks } = parseServiceRegistration({ Name: 'api' });
    assert.deepEqual(service, {
      id: 'api', name: 'api', tags: [], address: '', port: 0, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false,
    });
    assert.deepEqual(checks, []);

    const one = parseServiceRegistration({ Name: 'api', Weights: { Passing: 5 }, Check: { TTL: '10s' } });
    assert.deepEqual(one.service.weights, { passing: 5, warning: 1 });
    assert.equal(one.checks[0]!.id, 'service:api', 'a single check is not numbered');
    assert.equal(one.checks[0]!.name, "Service 'api' check");
    assert.equal(one.checks[0]!.initialStatus, 'critical');
    assert.equal(one.checks[0]!.successBeforePassing, 0);
    assert.equal(one.checks[0]!.failuresBeforeCritical, 0);
  });

  it('skips an empty Check, as Consul does for clients that always send one', () => {
    const { checks } = parseServiceRegistration({ Name: 'api', Check: {}, Checks: [{ TTL: '5s' }, { Interval: '', HTTP: '' }] });
    assert.equal(checks.length, 1);
    assert.equal(checks[0]!.id, 'service:api');
  });

  it('treats null as absent and ignores fields it does not know', () => {
    const { service } = parseServiceRegistration({ Name: 'api', Tags: null, Port: null, Connect: { Native: true }, TaggedAddresses: {} });
    assert.deepEqual(service.tags, []);
    assert.equal(service.port, 0);
  });

  it('takes durations as Go strings or as nanoseconds, and raises intervals under the floor', () => {
    const { checks } = parseServiceRegistration({
      Name: 'api',
      Checks: [
        { HTTP: 'http://localhost/', Interval: 2_000_000_000, Timeout: '1.5s' },
        { TCP: 'localhost:80', Interval: '10ms' },
      ],
    });
    assert.equal(checks[0]!.intervalMs, 2_000);
    assert.equal(checks[0]!.timeoutMs, 1_500);
    assert.equal(checks[1]!.intervalMs, MIN_CHECK_INTERVAL_MS);
  });
});

describe('check registration bodies', () => {
  it('CheckID defaults to Name; ServiceID ties the check to a service', () => {
    const check = parseCheckRegistration({ Name: 'mem', ServiceID: 'web-1', Args: ['/bin/check_mem'], Interval: '30s' });
    assert.equal(check.id, 'mem');
    assert.equal(check.name, 'mem');
    assert.equal(check.serviceId, 'web-1');
    assert.equal(check.kind, 'script');
  });

  it('accepts ID, CheckID and check_id, and node checks without a service', () => {
    assert.equal(parseCheckRegistration({ Name: 'a', ID: 'x', TTL: '1s' }).id, 'x');
    assert.equal(parseCheckRegistration({ Name: 'a', CheckID: 'y', TTL: '1s' }).id, 'y');
    const check = parseCheckRegistration({ name: 'a', check_id: 'z', service_id: '', ttl: '1s', status: 'passing' });
    assert.equal(check.id, 'z');
    assert.equal(check.serviceId, '');
    assert.equal(check.initialStatus, 'passing');
  });

  it('requires Name', () => {
    assert.match(errorOf(() => parseCheckRegistration({ TTL: '10s' })), /^Name: /);
  });

  it('names top-level fields without a prefix', () => {
    assert.equal(errorOf(() => parseCheckRegistration({ Name: 'a', HTTP: 'http://x/', Interval: '5x' })), 'Interval: "5x" is not a duration (examples: 500ms, 10s, 1m30s)');
  });
});

describe('service definition files', () => {
  it('reads {"service": {...}}', () => {
    const regs = parseServiceFile({ service: { name: 'web', port: 80, check: { http: 'http://localhost/', interval: '10s' } } });
    assert.equal(regs.length, 1);
    assert.equal(regs[0]!.service.name, 'web');
    assert.equal(regs[0]!.checks[0]!.id, 'service:web');
  });

  it('reads {"services": [...]} and both together, service first', () => {
    const regs = parseServiceFile({ services: [{ name: 'a' }, { name: 'b', id: 'b1' }], service: { name: 'c' } });
    assert.deepEqual(regs.map((r) => r.service.id), ['c', 'a', 'b1']);
  });

  it('refuses a file with neither, or two services with one id', () => {
    assert.match(errorOf(() => parseServiceFile({ Name: 'web' })), /^file: expected \{"service"/);
    assert.match(errorOf(() => parseServiceFile([{ name: 'web' }])), /^file: /);
    assert.match(errorOf(() => parseServiceFile({ services: [{ name: 'a' }, { name: 'b', id: 'a' }] })), /^file: two services have the id "a"/);
  });

  it('names the service in the file that is wrong', () => {
    assert.match(errorOf(() => parseServiceFile({ services: [{ name: 'a' }, { name: 'b', port: -1 }] })), /^services\[1\]\.Port: -1 is out of range/);
    assert.match(errorOf(() => parseServiceFile({ service: { name: 'a', check: { ttl: 'soon' } } })), /^service\.Check\.TTL: "soon" is not a duration/);
    assert.match(errorOf(() => parseServiceFile({ services: { name: 'a' } })), /^services: expected an array/);
  });
});

describe('every rule a body can break is a 400 naming the field', () => {
  const cases: Array<[rule: string, body: unknown, message: RegExp]> = [
    ['the body is an object', ['web'], /^body: expected a JSON object, got an array$/],
    ['Name is required', { Port: 80 }, /^Name: required/],
    ['Name is a string', { Name: 42 }, /^Name: expected a string, got a number$/],
    ['Port is an integer', { Name: 'web', Port: 80.5 }, /^Port: 80\.5 is not an integer$/],
    ['Port is a number, not a string', { Name: 'web', Port: '80' }, /^Port: "80" is not an integer$/],
    ['Port is at most 65535', { Name: 'web', Port: 65536 }, /^Port: 65536 is out of range \(0 to 65535\)$/],
    ['Address is reachable', { Name: 'web', Address: '0.0.0.0' }, /^Address: "0\.0\.0\.0" is not an address a client can reach/],
    ['Tags are strings', { Name: 'web', Tags: ['a', 1] }, /^Tags\[1\]: expected a string, got a number$/],
    ['Tags is a list', { Name: 'web', Tags: 'a,b' }, /^Tags: expected an array, got a string$/],
    ['EnableTagOverride is a boolean', { Name: 'web', EnableTagOverride: 'yes' }, /^EnableTagOverride: expected true or false/],
    ['Weights.Passing is at least 1', { Name: 'web', Weights: { Passing: 0, Warning: 1 } }, /^Weights\.Passing: 0 is out of range \(1 to 65535\)$/],
    ['Weights.Warning is at most 65535', { Name: 'web', Weights: { Passing: 1, Warning: 70000 } }, /^Weights\.Warning: 70000 is out of range \(0 to 65535\)$/],
    ['Weights is an object', { Name: 'web', Weights: 5 }, /^Weights: expected a JSON object, got a number$/],
    ['Meta has at most 64 pairs', { Name: 'web', Meta: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, /^Meta: 65 pairs, at most 64/],
    ['Meta keys are [A-Za-z0-9_-]', { Name: 'web', Meta: { 'bad key': 'v' } }, /^Meta: key "bad key" may hold only letters, digits/],
    ['Meta keys are at most 128 characters', { Name: 'web', Meta: { ['k'.repeat(129)]: 'v' } }, /^Meta: key "k+\.\.\. is longer than 128 characters$/],
    ['Meta keys do not start with consul-', { Name: 'web', Meta: { 'consul-version': '1' } }, /^Meta: key "consul-version": the prefix 'consul-' is reserved$/],
    ['Meta values are strings', { Name: 'web', Meta: { port: 80 } }, /^Meta\["port"\]: expected a string, got a number$/],
    ['Meta values are at most 512 bytes', { Name: 'web', Meta: { big: 'é'.repeat(257) } }, /^Meta\["big"\]: the value is longer than 512 bytes$/],
    ['Check is an object', { Name: 'web', Check: 'http://x' }, /^Check: expected a JSON object, got a string$/],
    ['Checks is a list', { Name: 'web', Checks: {} }, /^Checks: expected an array, got an object$/],
    ['a check has a kind', { Name: 'web', Check: { Interval: '10s', Notes: 'x' } }, /^Check: a check needs one of HTTP, TCP, TTL, Args, GRPC, H2PING, UDP or AliasService\/AliasNode$/],
    ['a check has one kind only', withCheck({ TCP: 'localhost:80' }), /^Check: HTTP and TCP are set; a check has exactly one of/],
    ['shell scripts are refused with the way out', { Name: 'web', Check: { Script: 'curl -f localhost', Interval: '10s' } }, /^Check\.Script: shell scripts are not run; give the command and its arguments as Args/],
    ['unsupported kinds are refused by name', { Name: 'web', Check: { DockerContainerID: 'abc', Interval: '10s' } }, /^Check\.DockerContainerID: this kind of check is not supported/],
    ['Interval is required for GRPC', { Name: 'web', Check: { GRPC: 'localhost:9090' } }, /^Check\.Interval: required for a GRPC check$/],
    ['GRPC is host:port[/service]', { Name: 'web', Check: { GRPC: 'localhost', Interval: '10s' } }, /^Check\.GRPC: "localhost" is not host:port/],
    ['UDP is host:port', { Name: 'web', Check: { UDP: 'localhost:99999', Interval: '10s' } }, /^Check\.UDP: "localhost:99999" is not host:port/],
    ['an alias check has no Interval', { Name: 'web', Check: { AliasService: 'db', Interval: '10s' } }, /^Check\.Interval: an alias check has no Interval/],
    ['Interval is required for HTTP', withCheck({ Interval: undefined }), /^Check\.Interval: required for an HTTP check$/],
    ['Interval is required for TCP', { Name: 'web', Check: { TCP: 'localhost:80' } }, /^Check\.Interval: required for a TCP check$/],
    ['Interval is required for Args', { Name: 'web', Check: { Args: ['/bin/true'] } }, /^Check\.Interval: required for an Args check$/],
    ['Interval is a duration', withCheck({ Interval: '5x' }), /^Check\.Interval: "5x" is not a duration/],
    ['Interval is a string or a number', withCheck({ Interval: true }), /^Check\.Interval: expected a duration such as "10s", got a boolean$/],
    ['Interval is more than 0', withCheck({ Interval: '0s' }), /^Check\.Interval: "0s" must be more than 0$/],
    ['Timeout is not negative', withCheck({ Timeout: '-1s' }), /^Check\.Timeout: "-1s" is negative$/],
    ['TTL is more than 0', { Name: 'web', Check: { TTL: '0s' } }, /^Check\.TTL: "0s" must be more than 0$/],
    ['TTL and Interval do not go together', { Name: 'web', Check: { TTL: '10s', Interval: '10s' } }, /^Check\.Interval: a TTL check has no Interval/],
    ['HTTP is a URL', withCheck({ HTTP: 'localhost:8080/health' }), /^Check\.HTTP: "localhost:8080\/health" is not an http:\/\/ or https:\/\/ URL$/],
    ['HTTP parses', withCheck({ HTTP: 'http://' }), /^Check\.HTTP: "http:\/\/" is not a URL$/],
    ['Method is an HTTP method', withCheck({ Method: 'GE T' }), /^Check\.Method: "GE T" is not an HTTP method$/],
    ['Header names are tokens', withCheck({ Header: { 'X Bad': ['1'] } }), /^Check\.Header\["X Bad"\]: not a valid header name$/],
    ['Header values are lists of strings', withCheck({ Header: { 'X-A': [1] } }), /^Check\.Header\["X-A"\]: expected a list of strings$/],
    ['Header values hold no line breaks', withCheck({ Header: { 'X-A': ['a\r\nInjected: 1'] } }), /^Check\.Header\["X-A"\]: a value holds a line break or NUL$/],
    ['TLSSkipVerify is a boolean', withCheck({ TLSSkipVerify: 'true' }), /^Check\.TLSSkipVerify: expected true or false/],
    ['TCP is host:port', { Name: 'web', Check: { TCP: 'localhost', Interval: '10s' } }, /^Check\.TCP: "localhost" is not host:port/],
    ['TCP port is 1..65535', { Name: 'web', Check: { TCP: 'localhost:0', Interval: '10s' } }, /^Check\.TCP: "localhost:0" is not host:port/],
    ['Args are strings', { Name: 'web', Check: { Args: ['/bin/check', 5], Interval: '10s' } }, /^Check\.Args\[1\]: expected a string, got a number$/],
    ['the command is not empty', { Name: 'web', Check: { Args: ['', '-x'], Interval: '10s' } }, /^Check\.Args\[0\]: the command is empty$/],
    ['Status is a health status', withCheck({ Status: 'ok' }), /^Check\.Status: "ok" is not one of passing, warning, critical$/],
    ['SuccessBeforePassing is not negative', withCheck({ SuccessBeforePassing: -1 }), /^Check\.SuccessBeforePassing: -1 is out of range/],
    ['FailuresBeforeCritical is an integer', withCheck({ FailuresBeforeCritical: 1.5 }), /^Check\.FailuresBeforeCritical: 1\.5 is not an integer$/],
    ['DeregisterCriticalServiceAfter is not negative', withCheck({ DeregisterCriticalServiceAfter: '-1m' }), /^Check\.DeregisterCriticalServiceAfter: "-1m" is negative$/],
    ['errors in Checks name the entry', { Name: 'web', Checks: [{ TTL: '1s' }, { HTTP: 'http://x/', Interval: 'often' }] }, /^Checks\[1\]\.Interval: "often" is not a duration/],
    ['check ids are unique within a service', { Name: 'web', Checks: [{ CheckID: 'a', TTL: '1s' }, { CheckID: 'a', TTL: '2s' }] }, /^Checks\[1\]\.CheckID: "a" is also the id of Checks\[0\]$/],
  ];
  for (const [rule, body, message] of cases) {
    it(rule, () => assert.match(serviceError(body), message));
  }
});
