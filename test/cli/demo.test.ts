// `konsul demo` as a user runs it: a real process that starts five agents,
// answers through a client agent over HTTP and DNS, and on SIGINT stops every
// agent it started and removes its temporary data.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { EXIT } from '../../src/cli/exit-codes.js';
import { encodeQuery, udpExchange } from '../dns/helpers.js';
import { run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'konsul.js');

interface DemoReady { dataDir: string; agents: Array<{ id: string; role: string; http: string; dns: string; raft: string; pid: number }> }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('konsul demo', () => {
  const demo = spawn(process.execPath, [BIN, 'demo', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    for (const a of ready?.agents ?? []) if (alive(a.pid)) process.kill(a.pid, 'SIGKILL');
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
    assert.deepEqual(ready.agents.map((a) => `${a.id}:${a.role}`), ['s1:server', 's2:server', 's3:server', 'c1:client', 'c2:client']);
    for (const a of ready.agents) assert.ok(alive(a.pid), `${a.id} runs`);
    assert.ok(existsSync(ready.dataDir));
  });

  it('a write through one client is read through the other; the members are all there', async () => {
    assert.ok(ready);
    const [c1, c2] = ready.agents.filter((a) => a.role === 'client');
    assert.ok(c1 && c2);
    const put = await run(['kv', 'put', '--http-addr', c1.http, 'demo/greeting', 'hello']);
    assert.equal(put.code, EXIT.ok, put.err);
    const get = await run(['kv', 'get', '--http-addr', c2.http, 'demo/greeting']);
    assert.deepEqual([get.code, get.out], [EXIT.ok, 'hello']);
    const members = JSON.parse((await run(['members', '--json', '--http-addr', c2.http])).out) as Array<{ Name: string }>;
    assert.deepEqual(members.map((m) => m.Name).sort(), ['c1', 'c2', 's1', 's2', 's3']);
  });

  it('DNS on a client answers for the sample service web', async () => {
    assert.ok(ready);
    const c2 = ready.agents.find((a) => a.id === 'c2');
    assert.ok(c2);
    const reply = await udpExchange(Number(c2.dns.split(':')[1]), encodeQuery('web.service.consul', 'SRV'));
    assert.ok(reply, 'a DNS reply');
    const answers = dnsPacket.decode(reply).answers ?? [];
    assert.deepEqual(answers.map((a) => a.type === 'SRV' ? `${a.data.port} ${a.data.target}` : a.type), ['8080 c1.node.dc1.consul']);
  });

  it('SIGINT stops every agent, removes the temporary data and exits 0', async () => {
    assert.ok(ready);
    demo.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    for (const a of ready.agents) assert.ok(!alive(a.pid), `${a.id} (pid ${a.pid}) is gone`);
    assert.ok(!existsSync(ready.dataDir), `${ready.dataDir} removed`);
  });
});
