// Issue 15: Consul's agent commands: `konsul info`, `konsul reload` (PUT
// /v1/agent/reload), `konsul monitor` (GET /v1/agent/monitor, log lines at a
// chosen level) against a real agent process, and `konsul leave`.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { freePort, waitFor } from '../cluster/harness.js';
import { FakeAgent, run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'konsul.js');

/** A `konsul monitor` process and everything it printed so far. */
function monitor(addr: string, ...args: string[]): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [BIN, 'monitor', '--http-addr', addr, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  proc.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
  return { proc, out: () => out, exited: new Promise((r) => proc.once('exit', (code) => r(code))) };
}

describe('issue 15: info, reload, monitor and leave', () => {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-agent-ops-'));
  const config = join(dir, 'agent.json');
  let agent: ChildProcess;
  let addr: string;

  before(async () => {
    writeFileSync(config, JSON.stringify({ log_level: 'info' }));
    addr = `127.0.0.1:${await freePort()}`;
    agent = spawn(process.execPath, [BIN, 'agent', '--dev', '--node-id', 'ops1', '--config', config, '--http-addr', addr,
      '--dns-addr', `127.0.0.1:${await freePort()}`, '--raft-addr', `127.0.0.1:${await freePort()}`], { stdio: 'ignore' });
    await waitFor('the agent has a leader', async () => ((await run(['cluster', 'leader', '--http-addr', addr])).code === EXIT.ok ? true : undefined), 30_000);
  });
  after(async () => {
    agent.kill('SIGTERM');
    await new Promise((r) => (agent.exitCode !== null ? r(null) : agent.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('info prints agent, raft and runtime sections as `key = value`; --json in Consul\'s style', async () => {
    const r = await run(['info', '--http-addr', addr]);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /^agent:\n\tnode = ops1$/m);
    assert.match(r.out, /^raft:$/m);
    assert.match(r.out, /^\tstate = leader$/m);
    assert.match(r.out, /^\tleader = ops1$/m);
    assert.match(r.out, /^\tcommit_index = \d+$/m);
    const json = JSON.parse((await run(['info', '--json', '--http-addr', addr])).out) as { Raft: { State: string }; Agent: { Node: string } };
    assert.equal(json.Raft.State, 'leader');
    assert.equal(json.Agent.Node, 'ops1');
  });

  it('monitor streams log lines at the level asked; reload applies a changed file, refuses a broken one', async () => {
    const info = monitor(addr);
    const warn = monitor(addr, '--log-level', 'warn');
    try {
      for (const m of [info, warn]) await waitFor('the monitor is connected', () => (m.out().includes('Monitoring the agent at') ? true : undefined), 20_000);
      writeFileSync(config, JSON.stringify({ log_level: 'info', enable_script_checks: true }));
      const ok = await run(['reload', '--http-addr', addr]);
      assert.equal(ok.code, EXIT.ok, ok.err);
      assert.match(ok.out, /^Configuration reload triggered\napplied: enable_script_checks\n$/);
      await waitFor('the info monitor shows the reload', () => (info.out().includes('configuration reloaded') ? true : undefined), 15_000);

      writeFileSync(config, '{ not json');
      const bad = await run(['reload', '--http-addr', addr]);
      assert.equal(bad.code, EXIT.failed);
      assert.match(bad.err, /^Error: reload failed; the running configuration is kept: .*agent\.json/);
      await waitFor('the warn monitor shows the failed reload', () => (warn.out().includes('config reload failed') ? true : undefined), 15_000);
      assert.ok(!warn.out().includes('configuration reloaded'), `an info line reached the warn monitor: ${warn.out()}`);
      assert.match(info.out(), /\d\d:\d\d:\d\d\.\d{3} INFO  ops1: configuration reloaded/);
    } finally {
      info.proc.kill('SIGINT');
      warn.proc.kill('SIGINT');
      assert.equal(await info.exited, 0, info.out());
      assert.equal(await warn.exited, 0, warn.out());
      writeFileSync(config, JSON.stringify({ log_level: 'info' }));
    }
  });

  it('monitor: a bad --log-level is a usage error', async () => {
    const r = await run(['monitor', '--log-level', 'loud', '--http-addr', addr]);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /--log-level: "loud" is not one of/);
  });

  it('leave: the agent at --http-addr removes itself', async () => {
    const fake = await FakeAgent.start();
    try {
      const r = await run(['leave', '--http-addr', fake.address]);
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal(r.out, 'Graceful leave complete: n1 left the cluster\n');
      assert.deepEqual(fake.requests.map((q) => `${q.method} ${q.url}`), ['GET /cluster/status', 'DELETE /cluster/leave/n1']);
    } finally {
      await fake.close();
    }
  });
});
