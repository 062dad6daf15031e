// TCP checks against a real listener, and TTL checks: updates, expiry, the
// output cap, and where a runner starts from. TTL expiry runs on node:test's
// mock timers, so "just before" and "just after" the TTL are exact.

import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { parseCheckRegistration } from '../../../src/agent/local/definitions.js';
import { CheckRunner } from '../../../src/agent/local/runner.js';
import { KonsulError } from '../../../src/errors.js';
import { waitFor, watch } from './helpers.js';

describe('TCP checks', () => {
  it('is passing while the port accepts connections, critical once it does not', async (t) => {
    const listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as AddressInfo;
    const def = parseCheckRegistration({ Name: 'redis', TCP: `127.0.0.1:${port}`, Interval: '100ms', Timeout: '1s' });
    const { runner, changes, until } = watch(t, def);
    runner.start();
    assert.equal((await until('passing')).output, `TCP connect 127.0.0.1:${port}: Success`);

    await new Promise<void>((resolve) => listener.close(() => resolve()));
    assert.match((await until('critical')).output, new RegExp(`^TCP connect 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.deepEqual(changes.map((c) => c.status), ['passing', 'critical']);
  });
});

function ttlCheck(extra: Record<string, unknown> = {}) {
  return parseCheckRegistration({ Name: 'heartbeat', TTL: '10s', ...extra });
}

describe('TTL checks', () => {
  it('takes each update at once and turns critical when no update comes within the TTL', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { runner, changes } = watch(t, ttlCheck());
    runner.start();
    assert.equal(runner.status().status, 'critical', 'Consul starts a check critical');

    runner.ttlUpdate('passing', 'all good');
    assert.deepEqual(runner.status(), { status: 'passing', output: 'all good' });
    assert.equal(runner.criticalSinceMs(), undefined);
    t.mock.timers.tick(9_999);
    runner.ttlUpdate('warning', 'slow');
    t.mock.timers.tick(9_999);
    assert.equal(runner.status().status, 'warning', 'the update restarted the TTL');
    t.mock.timers.tick(1);
    assert.deepEqual(runner.status(), { status: 'critical', output: 'TTL expired (last output before timeout follows): slow' });
    assert.notEqual(runner.criticalSinceMs(), undefined);
    assert.deepEqual(changes.map((c) => c.status), ['passing', 'warning', 'critical']);
  });

  it('a check never updated expires with "TTL expired"', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { runner, changes } = watch(t, ttlCheck({ Status: 'passing' }));
    runner.start();
    t.mock.timers.tick(10_000);
    assert.deepEqual(changes, [{ status: 'critical', output: 'TTL expired' }]);
  });

  it('an update with the same status keeps the new output without calling onChange', (t) => {
    const { runner, changes } = watch(t, ttlCheck());
    runner.ttlUpdate('passing', 'a');
    runner.ttlUpdate('passing', 'b');
    assert.equal(changes.length, 1);
    assert.deepEqual(runner.status(), { status: 'passing', output: 'b' });
  });

  it('cuts long output as Consul does', (t) => {
    const { runner } = watch(t, ttlCheck(), { maxOutputBytes: 10 });
    runner.ttlUpdate('warning', 'x'.repeat(25));
    assert.equal(runner.status().output, `${'x'.repeat(10)} ... (captured 10 of 25 bytes)`);
  });

  it('stop() stops the TTL clock', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { runner, changes } = watch(t, ttlCheck());
    runner.start();
    runner.ttlUpdate('passing');
    runner.stop();
    t.mock.timers.tick(60_000);
    assert.equal(runner.status().status, 'passing');
    assert.equal(changes.length, 1);
  });

  it('expires on real timers too', async (t) => {
    const { runner, until } = watch(t, ttlCheck({ TTL: '150ms' }));
    runner.start();
    runner.ttlUpdate('passing', 'up');
    assert.equal((await until('critical')).output, 'TTL expired (last output before timeout follows): up');
  });

  it('refuses TTL updates for other kinds of check', (t) => {
    const { runner } = watch(t, parseCheckRegistration({ Name: 'web', HTTP: 'http://127.0.0.1:1/', Interval: '10s' }));
    assert.throws(() => runner.ttlUpdate('passing'), (error: unknown) => {
      assert.ok(error instanceof KonsulError);
      assert.equal(error.code, 'KONSUL_ERR_NOT_TTL_CHECK');
      assert.equal(error.kind, 'invalid');
      assert.equal(error.message, 'check "web" is not a TTL check');
      return true;
    });
  });
});

describe('a runner', () => {
  it('starts from the status it is given (a restored or re-registered check)', (t) => {
    const { runner } = watch(t, ttlCheck(), { initial: { status: 'passing', output: 'restored' } });
    assert.deepEqual(runner.status(), { status: 'passing', output: 'restored' });
    assert.equal(runner.criticalSinceMs(), undefined);
  });

  it('refuses options and definitions it cannot run', () => {
    assert.throws(() => new CheckRunner(ttlCheck(), () => {}, { maxOutputBytes: 0 }), /maxOutputBytes must be a positive integer, got 0/);
    assert.throws(() => new CheckRunner({ ...ttlCheck(), ttlMs: undefined }, () => {}), /a ttl check needs def\.ttlMs > 0/);
  });
});

describe('issue 15: a check that fails from its first run says why', () => {
  it('a TCP check to a closed port stays critical and reports its output (it used to stay empty)', async (t) => {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as AddressInfo;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    const def = parseCheckRegistration({ Name: 'dead', TCP: `127.0.0.1:${port}`, Interval: '100ms', Timeout: '1s' });
    const { runner, changes } = watch(t, def);
    runner.start();
    assert.equal(runner.status().status, 'critical', 'it starts critical');
    const first = await waitFor('the first output', () => changes[0]);
    assert.equal(first.status, 'critical');
    assert.match(first.output, /ECONNREFUSED/);
    assert.match(runner.status().output, /ECONNREFUSED/);
    // Further runs with the same status and output pass nothing on.
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(changes.length, 1);
  });
});
