// Fuzz targets for what the HTTP API reads: registration JSON parsed directly
// (volume), and whole requests (method, path, query, body) against a real
// in-process server over a real state machine. Allowed: a clear error (4xx with
// a message) or a correct answer; never a 5xx, a hang, a dead server, or a
// write that happened although the request was refused.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { parseDuration } from '../../src/duration.js';
import {
  DefinitionError, parseCheckRegistration, parseServiceFile, parseServiceRegistration, type CheckDefinition, type ServiceRegistration,
} from '../../src/agent/local/definitions.js';
import { allRoutes, createHttpServer } from '../../src/http/index.js';
import { routeParams } from '../../src/http/params.js';
import { FakeAgent } from '../http/fake-agent.js';
import { hostileBytes, mutated, replaceSomewhere, withTimeout, type FuzzTarget } from './runner.js';
import { split } from './transport-targets.js';

const loopback = fc.constantFrom('127.0.0.1', 'localhost', '[::1]');

const checkJson = fc.oneof(
  fc.record({ TTL: fc.constantFrom('10s', '1m', '0s', '-1s', '5'), Name: fc.string({ maxLength: 8 }), CheckID: fc.string({ maxLength: 8 }), Status: fc.constantFrom('passing', 'warning', 'critical', 'bad') }, { requiredKeys: ['TTL'] }),
  fc.record({ HTTP: loopback.map((h) => `http://${h}:1/health`), Interval: fc.constantFrom('10s', '100ms', '1ms'), Timeout: fc.constantFrom('1s', '0s'), Method: fc.constantFrom('GET', 'POST', 'BAD METHOD'), Header: fc.constant({ 'X-A': ['b'] }), TLSSkipVerify: fc.boolean() }, { requiredKeys: ['HTTP', 'Interval'] }),
  fc.record({ TCP: loopback.map((h) => `${h}:1`), Interval: fc.constantFrom('10s', '30s') }),
  fc.record({ Args: fc.constant(['/bin/true']), Interval: fc.constant('10s') }),
  fc.record({ TTL: fc.constant('30s'), DeregisterCriticalServiceAfter: fc.constantFrom('1m', '-1m', 'x'), SuccessBeforePassing: fc.integer({ min: -2, max: 3 }), FailuresBeforeCritical: fc.integer({ min: -2, max: 3 }) }),
);

const serviceJson = fc.record({
  ID: fc.string({ maxLength: 10 }),
  Name: fc.oneof(fc.constantFrom('web', 'db', 'api'), fc.string({ maxLength: 10 })),
  Tags: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
  Address: fc.constantFrom('127.0.0.1', '', '::1', 'not an address'),
  Port: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: -5, max: 70000 })),
  Meta: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }),
  Weights: fc.record({ Passing: fc.integer({ min: -1, max: 70000 }), Warning: fc.integer({ min: -1, max: 70000 }) }),
  EnableTagOverride: fc.boolean(),
  Check: checkJson,
  Checks: fc.array(checkJson, { maxLength: 2 }),
}, { requiredKeys: ['Name'] });

// api branch (issue 18): a prepared query definition, Consul's field names.
const queryJson = fc.record({
  Name: fc.oneof(fc.constantFrom('web-q', 'geo-', ''), fc.string({ maxLength: 10 })),
  Session: fc.constantFrom('', 'not-a-session', '4e0e2b1f-1a2b-4c3d-8e9f-001122334455'),
  Token: fc.constantFrom('', '<hidden>', 'secret'),
  Template: fc.record({ Type: fc.constantFrom('', 'name_prefix_match', 'bad'), Regexp: fc.constantFrom('', '^geo-(.*)$', '(', '\\p{Greek}'), RemoveEmptyTags: fc.boolean() }, { requiredKeys: [] }),
  Service: fc.record({
    Service: fc.oneof(fc.constantFrom('web', '${name.full}', '${match(1)}', '${nope}', ''), fc.string({ maxLength: 8 })),
    Tags: fc.array(fc.oneof(fc.constantFrom('v1', '!v2', '${match(2)}'), fc.string({ maxLength: 4 })), { maxLength: 3 }),
    OnlyPassing: fc.boolean(), Near: fc.constantFrom('', '_agent', '_ip', 'n1'),
    Failover: fc.record({ NearestN: fc.integer({ min: -1, max: 3 }), Datacenters: fc.constant(['dc2']) }, { requiredKeys: [] }),
    IgnoreCheckIDs: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
    NodeMeta: fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
    Connect: fc.boolean(),
  }, { requiredKeys: ['Service'] }),
  DNS: fc.record({ TTL: fc.constantFrom('', '10s', '-1s', 'soon') }),
}, { requiredKeys: ['Service'] });

/** A JSON document: as generated, with one value replaced by any JSON, or as text with bytes mutated. */
function hostileJson(valid: fc.Arbitrary<unknown>): fc.Arbitrary<Buffer> {
  const text = valid.map((v) => Buffer.from(JSON.stringify(v)));
  return fc.oneof(
    text,
    fc.tuple(valid, fc.array(fc.nat(), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })).map(([v, path, r]) => Buffer.from(JSON.stringify(replaceSomewhere(v, path, r)))),
    mutated(text),
    fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)),
  );
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

export const definitionsTarget: FuzzTarget = {
  name: 'registration-json',
  description: 'parseServiceRegistration / parseCheckRegistration / parseServiceFile: generated, structurally replaced, byte-mutated and random JSON; a definition or a DefinitionError, never another error',
  testRuns: 12000,
  async setup() {
    const property = fc.property(
      fc.oneof(
        hostileJson(serviceJson).map((b) => ({ kind: 'service' as const, b })),
        hostileJson(checkJson).map((b) => ({ kind: 'check' as const, b })),
        hostileJson(fc.record({ service: serviceJson, services: fc.array(serviceJson, { maxLength: 2 }) }, { requiredKeys: [] })).map((b) => ({ kind: 'file' as const, b })),
      ),
      ({ kind, b }) => {
        const parsed = parseJson(b);
        if (!parsed.ok) return;
        let registrations: ServiceRegistration[];
        try {
          if (kind === 'service') registrations = [parseServiceRegistration(parsed.value)];
          else if (kind === 'check') registrations = [{ service: undefined as never, checks: [parseCheckRegistration(parsed.value)] }];
          else registrations = parseServiceFile(parsed.value);
        } catch (error) {
          assert.ok(error instanceof DefinitionError, `not a DefinitionError: ${String((error as Error)?.stack ?? error)}`);
          assert.ok((error as Error).message.length > 0 && !(error as Error).message.includes('\n'), 'an empty or multi-line error');
          return;
        }
        for (const r of registrations) {
          if (r.service !== undefined) {
            assert.ok(r.service.id !== '', 'a service without an id');
            assert.ok(Number.isInteger(r.service.port) && r.service.port >= 0 && r.service.port <= 65535, `port ${r.service.port}`);
          }
          for (const c of r.checks) checkSane(c);
        }
      },
    );
    return { property, teardown: async () => {} };
  },
};

/** What a check runner relies on: positive intervals, a kind with its settings. */
function checkSane(c: CheckDefinition): void {
  assert.ok(c.id !== '', 'a check without an id');
  assert.ok(['http', 'tcp', 'ttl', 'script', 'grpc', 'h2ping', 'udp', 'alias'].includes(c.kind));
  if (c.kind === 'ttl') assert.ok(c.ttlMs !== undefined && c.ttlMs > 0, `ttl ${c.ttlMs}`);
  else assert.ok(Number.isFinite(c.intervalMs) && c.intervalMs > 0, `interval ${c.intervalMs}`);
  assert.ok(Number.isFinite(c.timeoutMs) && c.timeoutMs >= 0, `timeout ${c.timeoutMs}`);
}

// ------------------------------------------------------------ whole requests

/** A path segment: plain, any text percent-encoded, or raw bytes that are not valid percent-encoding. */
const segment = fc.oneof(
  fc.constantFrom('web', 'a', 'a/b', 'n1', 'svc1', 'chk1', 'passing', 'any', 'critical', 'pass', 'fail', 'warn'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 4 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%c3', '%00', '..', '.', '%2e%2e', '%2F', 'a%20b', '%FF%FE', ''),
);

const templates = [
  'GET /v1/kv/*', 'PUT /v1/kv/*', 'DELETE /v1/kv/*',
  'PUT /v1/agent/service/register', 'PUT /v1/agent/service/deregister/:', 'GET /v1/agent/services', 'GET /v1/agent/service/:',
  'GET /v1/agent/checks', 'PUT /v1/agent/check/register', 'PUT /v1/agent/check/deregister/:', 'PUT /v1/agent/check/update/:',
  'PUT /v1/agent/check/:/:', 'GET /v1/agent/health/service/name/:', 'GET /v1/agent/health/service/id/:', 'GET /v1/agent/self',
  'GET /v1/agent/members', 'GET /v1/catalog/services', 'GET /v1/catalog/service/:', 'GET /v1/catalog/nodes', 'GET /v1/catalog/node/:',
  'GET /v1/health/service/:', 'GET /v1/health/node/:', 'GET /v1/health/checks/:', 'GET /v1/health/state/:',
  'GET /cluster/status', 'GET /cluster/leader', 'POST /cluster/join', 'DELETE /cluster/leave/:', 'GET /cluster/peers',
  'GET /cluster/config', 'GET /cluster/stats', 'POST /cluster/transfer-leader', 'GET /v1/operator/raft/configuration',
  'DELETE /v1/operator/raft/peer', 'POST /v1/operator/raft/transfer-leader', 'GET /v1/status/leader', 'GET /v1/status/peers',
  'GET /v1/agent/metrics',
  // api branch (issue 18)
  'GET /v1/catalog/datacenters', 'GET /v1/catalog/node-services/:', 'PUT /v1/agent/maintenance', 'PUT /v1/agent/service/maintenance/:',
  'POST /v1/query', 'GET /v1/query', 'GET /v1/query/:', 'PUT /v1/query/:', 'DELETE /v1/query/:', 'GET /v1/query/:/execute', 'GET /v1/query/:/explain',
];

/**
 * The parameters each template's route takes: a case mostly picks among them
 * (a route answers any other with a 400 naming it, so random names would
 * mostly test that one refusal), and sometimes any name of paramNames.
 */
function templateParams(template: string): readonly string[] {
  const [method, pattern] = template.split(' ') as [string, string];
  const spec = allRoutes().find((r) => r.method === method && r.path.replace(/:[^/]+/g, ':').replace(/\*.*$/, '*') === pattern);
  return spec ? routeParams(spec) : [];
}
const paramNames = ['recurse', 'keys', 'separator', 'raw', 'cas', 'flags', 'index', 'wait', 'stale', 'consistent', 'dc', 'tag', 'passing', 'id', 'address', 'format', 'near', 'filter', 'node-meta', 'pretty', 'replace-existing-checks', 'note', 'enable', 'reason', 'hash', 'token', 'limit'];
const paramValue = fc.oneof(
  fc.constantFrom('', '0', '1', '5', 'true', '/', '10ms', '50ms', '1s', '4294967295', '4294967296', '9007199254740993', '18446744073709551615', '18446744073709551616', '-1', '1.5', '1e3', 'prometheus', '127.0.0.1:7000'),
  fc.string({ maxLength: 10 }),
  fc.nat().map(String),
);

interface HttpCase {
  method: string;
  path: string;
  body: Buffer | undefined;
  oversize: boolean;
}

const caseArb: fc.Arbitrary<HttpCase> = fc.record({
  template: fc.constantFrom(...templates),
  // fc.option's freq is the odds of nil (1 in freq): this sends another method than the route's in 1 case of 4
  // (it was 7 of 8, so most cases tested only the router's 405).
  otherMethod: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 3 },
    { arbitrary: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), weight: 1 },
  ),
  segments: fc.array(segment, { minLength: 3, maxLength: 3 }),
  kvKey: fc.array(segment, { minLength: 0, maxLength: 4 }).map((s) => s.join('/')),
  params: fc.uniqueArray(fc.tuple(fc.oneof({ arbitrary: fc.constantFrom(...paramNames), weight: 1 }, { arbitrary: fc.nat(), weight: 9 }), paramValue, fc.boolean()), { maxLength: 4, selector: ([n]) => n }),
  body: fc.oneof(
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    hostileJson(serviceJson),
    hostileJson(checkJson),
    hostileJson(queryJson),
    hostileJson(fc.record({ address: fc.constant('127.0.0.1:1'), id: fc.string({ maxLength: 6 }) }, { requiredKeys: [] })),
  ),
  oversize: fc.boolean(),
}).map((r) => {
  const [method0, pattern] = r.template.split(' ') as [string, string];
  let i = 0;
  let path = pattern.replace(/:/g, () => r.segments[i++]!).replace('*', r.kvKey);
  const own = templateParams(r.template);
  const named = r.params.map(([pick, value, bare]) => [typeof pick === 'number' ? own[pick % own.length] ?? 'pretty' : pick, value, bare] as const);
  const unique = named.filter(([name], i) => named.findIndex(([n]) => n === name) === i);
  const query = unique.map(([name, value, bare]) => {
    // Bounded blocking: a wait that parses is at most 200 ms, and ?index never comes without ?wait.
    if (name === 'wait') {
      const ms = parseDuration(value);
      if (ms !== undefined && ms > 200) value = '50ms';
    }
    return bare ? name : `${name}=${encodeURIComponent(value)}`;
  });
  if (unique.some(([n]) => n === 'index') && !unique.some(([n]) => n === 'wait')) query.push('wait=20ms');
  if (query.length > 0) path += `?${query.join('&')}`;
  const method = r.otherMethod ?? method0;
  return { method, path, body: method === 'GET' || method === 'HEAD' ? undefined : r.body, oversize: r.oversize && method === 'PUT' };
});

/** The KV table and the member list: what a refused request must not have changed. */
function kvDigest(agent: FakeAgent): string {
  const hash = createHash('sha256');
  for (const e of agent.state.kvList('')) hash.update(JSON.stringify([e.key, e.flags, e.modifyIndex, Buffer.from(e.value).toString('base64')]));
  hash.update(JSON.stringify(agent.state.members()));
  return hash.digest('hex');
}

/** A real HTTP server over a FakeAgent with small limits, on a free loopback port; error logs collected. */
async function startFuzzServer(): Promise<{ agent: FakeAgent; logged: string[]; server: ReturnType<typeof createHttpServer> }> {
  const agent = new FakeAgent();
  const logged: string[] = [];
  const server = createHttpServer({
    agent, maxValueBytes: 4096, maxBodyBytes: 4096, defaultWaitMs: 200, maxWaitMs: 200,
    logger: { debug() {}, info() {}, warn() {}, error: (o: object, m?: string) => logged.push(`${m} ${JSON.stringify(o)}`) } as never,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { agent, logged, server };
}

export const httpTarget: FuzzTarget = {
  name: 'http-api',
  description: 'a real HTTP server over a real state machine: every route with hostile methods, path segments, query parameters (cas, flags, index, wait, consistency...) and bodies (JSON, bytes, oversized); a 2xx or a 4xx with a message, never a 5xx or a hang, a refused request writes nothing, the server answers after',
  testRuns: 1600,
  async setup() {
    const { agent, logged, server } = await startFuzzServer();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dispatcher = new Agent({ keepAliveTimeout: 10_000 });

    const send = async (c: HttpCase): Promise<{ status: number; body: string }> => {
      const body = c.oversize ? Buffer.alloc(5000, 0x61) : c.body;
      const res = await request(url + c.path, { method: c.method as 'GET', body, dispatcher, headersTimeout: 4000, bodyTimeout: 4000 });
      return { status: res.statusCode, body: await res.body.text() };
    };

    const statuses = new Map<number, number>();
    const members = structuredClone(agent.members);
    const property = fc.asyncProperty(caseArb, async (c) => {
      // Each case starts from the same membership (an earlier case may have removed the leader).
      agent.members = structuredClone(members);
      // Checks that would reach beyond loopback are never registered (the generator keeps them on
      // loopback; a mutated body that parses into anything else is skipped, not sent).
      if (c.body !== undefined && /register/.test(c.path)) {
        const parsed = parseJson(c.body);
        if (parsed.ok) {
          try {
            const checks = c.path.includes('/check/') ? [parseCheckRegistration(parsed.value)] : parseServiceRegistration(parsed.value).checks;
            const remote = checks.some((k) => (k.http && !/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(k.http.url)) || (k.tcp && !['127.0.0.1', 'localhost', '::1'].includes(k.tcp.host)));
            if (remote) return;
          } catch {
            // Refused by the parser: the server will refuse it too.
          }
        }
      }
      const before = kvDigest(agent);
      let answer: { status: number; body: string } | undefined;
      try {
        answer = await withTimeout(`${c.method} ${c.path}`, 5000, send(c));
      } catch (error) {
        // The server may cut an oversized upload short after its 413; that is a refusal, not a crash.
        if (!c.oversize) throw error;
      }
      if (answer !== undefined) {
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        // The one 5xx on purpose: Consul's 500 "No path to datacenter" for a ?dc that is not ours.
        const noPath = answer.status === 500 && (answer.body.trim() === 'No path to datacenter' || c.method === 'HEAD') && /[?&]dc=/.test(c.path);
        // And a 503 when the request itself removed the leader from the fake cluster (DELETE /cluster/leave/n1).
        const noLeader = answer.status === 503 && !agent.members.some((m) => m.leader);
        assert.ok(answer.status < 500 || noPath || noLeader, `${c.method} ${c.path} -> ${answer.status} ${answer.body}`);
        if (answer.status >= 400) {
          // Consul answers a missing KV key with a bare 404; every other refusal says why.
          if (c.method !== 'HEAD' && answer.status !== 404) assert.ok(answer.body.trim().length > 0, `${answer.status} without a message for ${c.method} ${c.path}`);
          assert.equal(kvDigest(agent), before, `${c.method} ${c.path} was refused (${answer.status}) but changed the store`);
        }
        if (c.oversize && /^\/v1\/kv\//.test(c.path) && c.method === 'PUT' && answer.status < 400) {
          assert.fail(`an oversized KV value was accepted: ${c.path} -> ${answer.status}`);
        }
      }
      assert.deepEqual(logged.splice(0), [], 'the server logged an internal error');
    });
    return {
      property,
      async after() {
        // The generator reaches both sides: requests that succeed and requests that are refused.
        const count = (from: number, to: number): number => [...statuses].filter(([st]) => st >= from && st < to).reduce((n, [, k]) => n + k, 0);
        const total = count(0, 1000);
        if (total >= 200) {
          assert.ok(count(200, 300) >= total * 0.1, `only ${count(200, 300)} of ${total} requests succeeded: ${JSON.stringify([...statuses])}`);
          assert.ok(count(400, 500) >= total * 0.1, `only ${count(400, 500)} of ${total} requests were refused: ${JSON.stringify([...statuses])}`);
        }
        const ok = await withTimeout('the server after the fuzzing', 5000, send({ method: 'PUT', path: '/v1/kv/after-fuzz', body: Buffer.from('ok'), oversize: false }));
        assert.equal(ok.status, 200);
        const back = await send({ method: 'GET', path: '/v1/kv/after-fuzz?raw', body: undefined, oversize: false });
        assert.equal(back.body, 'ok');
      },
      async teardown() {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await dispatcher.destroy();
        await closed;
        await agent.close();
      },
    };
  },
};

// ------------------------------------------------------------ raw bytes on the socket

/** A request as bytes: Content-Length or chunked, keep-alive or not. */
const rawRequestArb: fc.Arbitrary<Buffer> = fc.tuple(caseArb, fc.boolean(), fc.boolean()).map(([c, chunked, close]) => {
  const body = c.body ?? Buffer.alloc(0);
  const head = [`${c.method} ${c.path} HTTP/1.1`, 'Host: 127.0.0.1', ...(close ? ['Connection: close'] : [])];
  if (chunked) {
    head.push('Transfer-Encoding: chunked');
    const chunk = body.length > 0 ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : Buffer.alloc(0);
    return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), chunk, Buffer.from('0\r\n\r\n')]);
  }
  head.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]);
});

export const httpRawTarget: FuzzTarget = {
  name: 'http-raw',
  description: 'the HTTP server at the byte level: valid, mutated (request line, headers, chunked framing, lengths) and random requests, pipelined, in random TCP chunks; every response is HTTP with a status under 500, nothing hangs or logs an internal error, the server answers after',
  testRuns: 1200,
  async setup() {
    const { agent, logged, server } = await startFuzzServer();
    const port = (server.address() as AddressInfo).port;
    const members = structuredClone(agent.members);
    const property = fc.asyncProperty(
      fc.array(hostileBytes(rawRequestArb, 200), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      async (requests, cuts) => {
        agent.members = structuredClone(members);
        // Registrations whose checks would reach beyond loopback are left out, as in http-api.
        const input = Buffer.concat(requests);
        if (/register/.test(input.toString('latin1')) && /HTTP"|TCP"|Args"/i.test(input.toString('latin1'))) return;
        const received: Buffer[] = [];
        await withTimeout('a raw HTTP exchange to end', 5000, new Promise<void>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1');
          socket.on('error', () => resolve()); // a reset after a refusal is an answer too
          socket.on('data', (chunk: Buffer) => received.push(chunk));
          socket.on('close', () => resolve());
          socket.once('connect', () => {
            for (const piece of split(input, cuts)) socket.write(piece);
            socket.end();
          });
          socket.setTimeout(4500, () => reject(new Error('the server neither answered nor closed')));
        }));
        const text = Buffer.concat(received).toString('latin1');
        for (const m of text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)) {
          const status = Number(m[1]);
          // Consul's 500 for a ?dc that is not ours (a HEAD answer carries no body to say so).
          const noPath = status === 500 && (/No path to datacenter/.test(text) || /^HEAD [^\r\n]*[?&]dc=/m.test(input.toString('latin1')));
          // A pipelined request may remove the leader from the fake cluster; later ones then get 503.
          const noLeader = status === 503 && !agent.members.some((m) => m.leader);
          assert.ok(status < 500 || noPath || noLeader, `status ${status} for ${JSON.stringify(input.toString('latin1').slice(0, 300))}`);
        }
        if (text.length > 0) assert.match(text, /^HTTP\/1\.1 \d{3} /, 'the server sent something that is not an HTTP response');
        assert.deepEqual(logged.splice(0), [], 'the server logged an internal error');
      },
    );
    return {
      property,
      async after() {
        const res = await request(`http://127.0.0.1:${port}/v1/status/leader`);
        assert.equal(res.statusCode, 200);
        await res.body.text();
      },
      async teardown() {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await agent.close();
      },
    };
  },
};
