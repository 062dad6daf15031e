// Script checks run for real: exit codes as Nagios plugins use them, output
// captured and capped, a timeout that kills the script's whole process
// group, the environment it gets, and stop() while one runs.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parseCheckRegistration } from '../../../src/agent/local/definitions.js';
import { processGone, waitFor, watch } from './helpers.js';

function shellCheck(script: string, extra: Record<string, unknown> = {}) {
  return parseCheckRegistration({ Name: 'script', Args: ['/bin/sh', '-c', script], Interval: '100ms', Timeout: '10s', ...extra });
}

/** A file the script writes its background child's pid to; returns the pid once written. */
function pidFile(t: TestContext): { path: string; read(): number | undefined } {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-check-script-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'pid');
  return {
    path,
    read() {
      try {
        const pid = Number(readFileSync(path, 'utf8').trim());
        return pid > 0 ? pid : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

describe('script checks', () => {
  it('exit 0 is passing, 1 warning, anything else critical', async (t) => {
    const ok = watch(t, shellCheck('exit 0'));
    const warn = watch(t, shellCheck('exit 1'));
    const bad = watch(t, shellCheck('exit 2', { Status: 'passing' }));
    for (const w of [ok, warn, bad]) w.runner.start();
    await ok.until('passing');
    await warn.until('warning');
    await bad.until('critical');
  });

  it('a script killed by a signal is critical', async (t) => {
    const { runner, until } = watch(t, shellCheck('kill -TERM $$', { Status: 'passing' }));
    runner.start();
    await until('critical');
  });

  it('captures stdout and stderr', async (t) => {
    const { runner, until } = watch(t, shellCheck('echo to stdout; echo to stderr >&2; exit 1'));
    runner.start();
    assert.equal((await until('warning')).output, 'to stdout\nto stderr\n');
  });

  it('keeps the last maxOutputBytes of a long output and says how much there was', async (t) => {
    const { runner, until } = watch(t, shellCheck("head -c 100000 /dev/zero | tr '\\0' x; printf END"), { maxOutputBytes: 1000 });
    runner.start();
    const { output } = await until('passing');
    const prefix = 'Captured 1000 of 100003 bytes\n...\n';
    assert.ok(output.startsWith(prefix), output.slice(0, 80));
    assert.equal(output.slice(prefix.length), `${'x'.repeat(997)}END`);
  });

  it('a script past its Timeout is killed with everything it started, and is critical', async (t) => {
    const pid = pidFile(t);
    const { runner, until } = watch(t, shellCheck(`echo starting; sleep 30 & echo $! > ${pid.path}; wait`, { Timeout: '300ms', Status: 'passing' }));
    runner.start();
    const child = await waitFor('the background sleep to start', () => pid.read());
    assert.equal((await until('critical')).output, 'Timed out (300ms) running check\n\nstarting\n');
    await waitFor(`the script's child ${child} to be killed`, () => processGone(child));
  });

  it('gets the environment it is given', async (t) => {
    const env = { PATH: process.env.PATH, KONSUL_CHECK_GREETING: 'hello from the agent' };
    const { runner, until } = watch(t, shellCheck('echo "$KONSUL_CHECK_GREETING"'), { env });
    runner.start();
    assert.equal((await until('passing')).output, 'hello from the agent\n');
  });

  it('runs the command without a shell: a missing command is critical, saying why', async (t) => {
    const def = parseCheckRegistration({ Name: 'x', Args: ['/nonexistent/konsul-check', '$HOME'], Interval: '100ms', Status: 'passing' });
    const { runner, until } = watch(t, def);
    runner.start();
    assert.match((await until('critical')).output, /^\/nonexistent\/konsul-check: .*ENOENT/);
  });

  it('stop() kills a running script and records nothing of it', async (t) => {
    const pid = pidFile(t);
    const { runner, changes } = watch(t, shellCheck(`sleep 30 & echo $! > ${pid.path}; wait`, { Status: 'passing' }));
    runner.start();
    const child = await waitFor('the script to start its child', () => pid.read());
    runner.stop();
    await waitFor(`the script's child ${child} to be killed`, () => processGone(child));
    assert.deepEqual(changes, []);
    assert.equal(runner.status().status, 'passing');
  });
});
