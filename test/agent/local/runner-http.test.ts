// HTTP checks against real servers on loopback: the status each answer maps
// to, Consul's output, what is sent, timeouts, redirects, TLS, stop(), and
// the success/failure thresholds counted request by request.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { parseCheckRegistration } from '../../../src/agent/local/definitions.js';
import { CheckRunner } from '../../../src/agent/local/runner.js';
import type { HealthStatus } from '../../../src/state/catalog-types.js';
import { startProbeServer, waitFor, watch, type Reply } from './helpers.js';

function httpCheck(url: string, extra: Record<string, unknown> = {}) {
  return parseCheckRegistration({ Name: 'web', HTTP: url, Interval: '100ms', Timeout: '5s', ...extra });
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('HTTP checks', () => {
  it('2xx is passing, 429 warning, anything else critical, with Consul\'s output', async (t) => {
    let reply: Reply = { status: 200, body: 'ok' };
    const server = await startProbeServer(t, () => reply);
    const { runner, changes, until } = watch(t, httpCheck(`${server.url}/health`));
    assert.notEqual(runner.criticalSinceMs(), undefined, 'a new check starts critical');
    runner.start();

    const passing = await until('passing');
    assert.match(passing.output, /^HTTP GET http:\/\/127\.0\.0\.1:\d+\/health: 200 OK Output: ok$/);
    assert.equal(runner.criticalSinceMs(), undefined);

    reply = { status: 429, body: 'slow down' };
    assert.match((await until('warning')).output, /: 429 Too Many Requests Output: slow down$/);

    reply = { status: 503, body: 'boom' };
    assert.match((await until('critical')).output, /: 503 Service Unavailable Output: boom$/);
    assert.notEqual(runner.criticalSinceMs(), undefined);
    assert.deepEqual(changes.map((c) => c.status), ['passing', 'warning', 'critical']);
  });

  it('calls onChange when the status changes, not on every run or every new output', async (t) => {
    const server = await startProbeServer(t, (n) => ({ status: 200, body: `ok #${n}` }));
    const { runner, changes } = watch(t, httpCheck(`${server.url}/`));
    runner.start();
    await waitFor('five runs, the latest with new output', () => server.requests.length >= 5 && runner.status().output.endsWith('#5'));
    assert.equal(changes.length, 1);
    assert.deepEqual(changes[0], { status: 'passing', output: `HTTP GET ${server.url}/: 200 OK Output: ok #1` });
    assert.notEqual(runner.status().output, changes[0]!.output, 'the output still follows each run');
  });

  it('sends the method, headers and body, with Consul\'s User-Agent and Accept unless given', async (t) => {
    const server = await startProbeServer(t, () => ({ status: 204 }));
    const def = httpCheck(`${server.url}/probe?x=1`, {
      Method: 'POST', Body: 'ping', Header: { 'X-Probe': ['a', 'b'], 'user-agent': ['probe/1'] },
    });
    const { runner, until } = watch(t, def);
    runner.start();
    assert.match((await until('passing')).output, /^HTTP POST http:\/\/127\.0\.0\.1:\d+\/probe\?x=1: 204 No Content Output: $/);
    const seen = server.requests[0]!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/probe?x=1');
    assert.equal(seen.body, 'ping');
    assert.equal(seen.headers['x-probe'], 'a, b');
    assert.equal(seen.headers['user-agent'], 'probe/1');
    assert.equal(seen.headers.accept, 'text/plain, text/*, */*');

    const plain = await startProbeServer(t, () => ({ status: 200 }));
    const other = watch(t, httpCheck(plain.url));
    other.runner.start();
    await other.until('passing');
    assert.equal(plain.requests[0]!.headers['user-agent'], 'Consul Health Check');
  });

  it('keeps only the first maxOutputBytes of the body', async (t) => {
    const server = await startProbeServer(t, () => ({ status: 200, body: 'x'.repeat(100_000) }));
    const { runner, until } = watch(t, httpCheck(server.url), { maxOutputBytes: 100 });
    runner.start();
    const { output } = await until('passing');
    assert.ok(output.endsWith(`Output: ${'x'.repeat(100)}`), output.slice(0, 200));
    assert.ok(!output.endsWith('x'.repeat(101)));
  });

  it('a request that hangs past Timeout is critical', async (t) => {
    const server = await startProbeServer(t, () => 'hang');
    const { runner, until } = watch(t, httpCheck(server.url, { Timeout: '300ms', Status: 'passing' }));
    runner.start();
    assert.match((await until('critical')).output, /^HTTP GET http:\/\/127\.0\.0\.1:\d+: timed out after 300ms$/);
    await waitFor('the server to see the client give up', () => server.abandoned >= 1);
  });

  it('never starts a run while the last one is in flight', async (t) => {
    // Each answer takes several intervals; the intervals that fire meanwhile are skipped.
    const server = await startProbeServer(t, () => ({ status: 200, delayMs: 350 }));
    const { runner, until } = watch(t, httpCheck(server.url));
    runner.start();
    await until('passing');
    await waitFor('three requests', () => server.requests.length >= 3);
    assert.equal(server.maxConcurrent, 1);
  });

  it('a refused connection is critical', async (t) => {
    const port = await closedPort();
    const { runner, until } = watch(t, httpCheck(`http://127.0.0.1:${port}/`, { Status: 'passing' }));
    runner.start();
    assert.match((await until('critical')).output, new RegExp(`^HTTP GET http://127\\.0\\.0\\.1:${port}/: .*ECONNREFUSED`));
  });

  it('follows redirects, as Go\'s client does for Consul', async (t) => {
    const server = await startProbeServer(t, (_n, req) => (req.url === '/old' ? { status: 302, headers: { Location: '/health' } } : { status: 200, body: 'here' }));
    const { runner, until } = watch(t, httpCheck(`${server.url}/old`));
    runner.start();
    assert.match((await until('passing')).output, /\/old: 200 OK Output: here$/);
    assert.deepEqual(server.requests.slice(0, 2).map((r) => r.url), ['/old', '/health']);
  });

  it('stop() aborts the request in flight and runs no more', async (t) => {
    const server = await startProbeServer(t, () => 'hang');
    const { runner, changes } = watch(t, httpCheck(server.url, { Timeout: '30s' }));
    runner.start();
    await waitFor('the first request', () => server.requests.length === 1);
    runner.stop();
    await waitFor('the server to see the client give up', () => server.abandoned === 1);
    await delay(350); // three intervals: none of them may run
    assert.equal(server.requests.length, 1);
    assert.deepEqual(changes, []);
    assert.equal(runner.status().status, 'critical');
  });

  it('TLSSkipVerify accepts a certificate nobody vouches for; without it the check is critical', async (t) => {
    const tls = selfSignedCertificate(t);
    if (!tls) return;
    const server = createHttpsServer(tls, (_req, res) => res.end('secure'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;

    const trusting = watch(t, httpCheck(url, { TLSSkipVerify: true }));
    trusting.runner.start();
    assert.match((await trusting.until('passing')).output, /: 200 OK Output: secure$/);

    const strict = watch(t, httpCheck(url, { Status: 'passing' }));
    strict.runner.start();
    assert.match((await strict.until('critical')).output, /self[- ]signed certificate/i);
  });
});

/** A throwaway certificate for 127.0.0.1 made by openssl; skips the test when openssl is missing. */
function selfSignedCertificate(t: TestContext): { key: Buffer; cert: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-check-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
  } catch {
    t.skip('openssl is not on the PATH (or too old for -addext); cannot make a certificate for the TLS check test');
    return undefined;
  }
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

describe('success and failure thresholds', () => {
  /**
   * Runs an HTTP check against a server that answers `plan[n-1]` to the n-th
   * request (200 after the plan) and records, for each status change, which
   * request caused it. Runs never overlap, so at each onChange the server has
   * seen exactly the requests up to the one that caused it.
   */
  async function changesFor(t: TestContext, plan: number[], extra: Record<string, unknown>, count: number): Promise<Array<[HealthStatus, number]>> {
    const server = await startProbeServer(t, (n) => ({ status: plan[n - 1] ?? 200 }));
    const seen: Array<[HealthStatus, number]> = [];
    const runner = new CheckRunner(httpCheck(server.url, extra), (status) => seen.push([status, server.requests.length]));
    t.after(() => runner.stop());
    runner.start();
    await waitFor(`${count} status changes`, () => seen.length >= count);
    return seen;
  }

  it('turns critical after FailuresBeforeCritical failures in a row, passing after SuccessBeforePassing successes in a row', async (t) => {
    // Two failures (below 3), one success (below 2, and it resets the failures),
    // three failures (critical at the 6th), one success, then a second (passing at the 8th).
    const plan = [500, 500, 200, 500, 500, 500, 200, 200];
    const seen = await changesFor(t, plan, { Status: 'passing', SuccessBeforePassing: 2, FailuresBeforeCritical: 3 }, 2);
    assert.deepEqual(seen, [['critical', 6], ['passing', 8]]);
  });

  it('FailuresBeforeWarning turns the check warning on the way to critical', async (t) => {
    const seen = await changesFor(t, [500, 500, 500], { Status: 'passing', FailuresBeforeWarning: 1, FailuresBeforeCritical: 3 }, 3);
    assert.deepEqual(seen, [['warning', 1], ['critical', 3], ['passing', 4]]);
  });

  it('a warning answer counts as a success, as in Consul', async (t) => {
    const seen = await changesFor(t, [429, 429], { SuccessBeforePassing: 2 }, 2);
    assert.deepEqual(seen, [['warning', 2], ['passing', 3]]);
  });

  it('a new check waits for its thresholds too (Consul would apply its first result at once)', async (t) => {
    const seen = await changesFor(t, [], { SuccessBeforePassing: 3 }, 1);
    assert.deepEqual(seen, [['passing', 3]]);
  });

  it('a result short of its threshold leaves the output alone too', async (t) => {
    const server = await startProbeServer(t, (n) => ({ status: n === 1 ? 200 : 500, body: `#${n}` }));
    const { runner, changes } = watch(t, httpCheck(server.url, { FailuresBeforeCritical: 1000 }));
    runner.start();
    await waitFor('three runs', () => server.requests.length >= 3);
    assert.deepEqual(runner.status(), { status: 'passing', output: `HTTP GET ${server.url}: 200 OK Output: #1` });
    assert.equal(changes.length, 1);
  });
});
