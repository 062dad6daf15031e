// `konsul demo` as a user runs it: a real process that starts five agents,
// answers through a client agent over HTTP and DNS, and on SIGINT stops every
// agent it started and removes its temporary data.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { EXIT } from '../../src/cli/exit-codes.js';
import { encodeQuery, udpExchange } from '../dns/helpers.js';
import { run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'konsul.js');

// Consul's naming style, as every --json of the CLI.
interface DemoReady { DataDir: string; Commands?: string[]; Agents: Array<{ ID: string; Role: string; Http: string; Dns: string; Raft: string; Pid: number }> }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('konsul demo', () => {
  // konsul on PATH, as after `npm link`: the demo then prints `konsul ...` commands.
  const binDir = mkdtempSync(join(tmpdir(), 'konsul-demo-path-'));
  symlinkSync(BIN, join(binDir, 'konsul'));
  const env = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` };
  const demo = spawn(process.execPath, [BIN, 'demo', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  demo.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  demo.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  let ready: DemoReady | undefined;

  after(async () => {
    // Should the test fail half-way: no agent outlives it.
    if (demo.exitCode === null) demo.kill('SIGTERM');
    await exited;
    for (const a of ready?.Agents ?? []) if (alive(a.Pid)) process.kill(a.Pid, 'SIGKILL');
    rmSync(binDir, { recursive: true, force: true });
  });

  it('prints its agents once the cluster is ready (3 servers, 2 clients)', async () => {
    const deadline = Date.now() + 90_000;
    while (ready === undefined) {
      try {
        ready = JSON.parse(stdout) as DemoReady;
      } catch {
        assert.ok(Date.now() < deadline, `no ready message within 90 s; stderr: ${stderr}`);
        assert.equal(demo.exitCode, null, `the demo exited: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.deepEqual(ready.Agents.map((a) => `${a.ID}:${a.Role}`), ['s1:server', 's2:server', 's3:server', 'c1:client', 'c2:client']);
    for (const a of ready.Agents) assert.ok(alive(a.Pid), `${a.ID} runs`);
    assert.ok(existsSync(ready.DataDir));
  });

  it('a write through one client is read through the other; the members are all there', async () => {
    assert.ok(ready);
    const [c1, c2] = ready.Agents.filter((a) => a.Role === 'client');
    assert.ok(c1 && c2);
    const put = await run(['kv', 'put', '--http-addr', c1.Http, 'demo/greeting', 'hello']);
    assert.equal(put.code, EXIT.ok, put.err);
    const get = await run(['kv', 'get', '--http-addr', c2.Http, 'demo/greeting']);
    assert.deepEqual([get.code, get.out], [EXIT.ok, 'hello']);
    const members = JSON.parse((await run(['members', '--json', '--http-addr', c2.Http])).out) as Array<{ Name: string }>;
    assert.deepEqual(members.map((m) => m.Name).sort(), ['c1', 'c2', 's1', 's2', 's3']);
  });

  it('the commands it prints work as pasted into a shell (issue 15: they used to fail with command not found)', async () => {
    assert.ok(ready?.Commands);
    assert.match(ready.Commands[1] ?? '', /^konsul members$/);
    const pasted = ready.Commands.filter((c) => !c.startsWith('dig ') || spawnSync('dig', ['-v']).status === 0);
    const r = spawnSync('bash', ['-c', `set -euo pipefail\n${pasted.join('\n')}`], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^c1\s/m);
    assert.match(r.stdout, /hello/);
  });

  it('DNS on a client answers for the sample service web', async () => {
    assert.ok(ready);
    const c2 = ready.Agents.find((a) => a.ID === 'c2');
    assert.ok(c2);
    const reply = await udpExchange(Number(c2.Dns.split(':')[1]), encodeQuery('web.service.consul', 'SRV'));
    assert.ok(reply, 'a DNS reply');
    const answers = dnsPacket.decode(reply).answers ?? [];
    assert.deepEqual(answers.map((a) => a.type === 'SRV' ? `${a.data.port} ${a.data.target}` : a.type), ['8080 c1.node.dc1.consul']);
  });

  it('SIGINT stops every agent, removes the temporary data and exits 0', async () => {
    assert.ok(ready);
    demo.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    for (const a of ready.Agents) assert.ok(!alive(a.Pid), `${a.ID} (pid ${a.Pid}) is gone`);
    assert.ok(!existsSync(ready.DataDir), `${ready.DataDir} removed`);
  });
});
