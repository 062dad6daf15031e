// Issue 15: `konsul watch` with Consul's types, against a real agent: the view
// printed once without a handler; with one, the handler runs at start and on
// each change with the view on stdin (a real process, stopped with Ctrl-C).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { waitFor } from '../cluster/harness.js';
import { run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'konsul.js');

describe('issue 15: konsul watch', () => {
  let agent: RunningAgent;
  let addr: string;
  const dir = mkdtempSync(join(tmpdir(), 'konsul-watch-'));
  const k = (...argv: string[]): Promise<{ code: number; out: string; err: string }> => run([...argv, '--http-addr', addr]);

  before(async () => {
    agent = await startAgent({ dev: true, nodeId: 'w1', httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0', raftAddr: '127.0.0.1:0' }, {}, pino({ level: 'silent' }));
    addr = agent.httpAddress;
    for (let i = 0; i < 250 && agent.agent.status().leader === null; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await k('kv', 'put', 'w/a', 'one')).code, EXIT.ok);
    assert.equal((await k('services', 'register', '--name', 'web', '--port', '80', '--tag', 'v1')).code, EXIT.ok);
  });
  after(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without a handler: each type prints Consul\'s API JSON once and exits 0', async () => {
    const key = JSON.parse((await k('watch', '--type', 'key', '--key', 'w/a')).out) as { Key: string; Value: string };
    assert.deepEqual([key.Key, Buffer.from(key.Value, 'base64').toString()], ['w/a', 'one']);
    assert.equal((await k('watch', '--type', 'key', '--key', 'w/none')).out, 'null\n');
    const prefix = JSON.parse((await k('watch', '-type=keyprefix', '-prefix=w/')).out) as Array<{ Key: string }>;
    assert.deepEqual(prefix.map((e) => e.Key), ['w/a']);
    assert.deepEqual(JSON.parse((await k('watch', '--type', 'services')).out), { consul: [], web: ['v1'] }, 'a server is the consul service, as in Consul');
    assert.deepEqual((JSON.parse((await k('watch', '--type', 'nodes')).out) as Array<{ Node: string }>).map((n) => n.Node), ['w1']);
    const service = JSON.parse((await k('watch', '--type', 'service', '--service', 'web', '--tag', 'v1')).out) as Array<{ Service: { Port: number } }>;
    assert.deepEqual(service.map((s) => s.Service.Port), [80]);
    // The leader writes its node check (serfHealth) shortly after it starts.
    await waitFor('serfHealth among the passing checks', async () => {
      const checks = JSON.parse((await k('watch', '--type', 'checks', '--state', 'passing')).out) as Array<{ CheckID: string }>;
      return checks.some((c) => c.CheckID === 'serfHealth') ? true : undefined;
    });
  });

  it('bad combinations are usage errors naming the flag', async () => {
    assert.match((await k('watch')).err, /^Error: --type is needed: one of key, keyprefix, services, nodes, service, checks\n$/);
    assert.match((await k('watch', '--type', 'key')).err, /--type key needs --key/);
    assert.match((await k('watch', '--type', 'nodes', '--key', 'x')).err, /--key does not go with --type nodes/);
    assert.match((await k('watch', '--type', 'bogus')).err, /--type: "bogus" is not one of/);
    assert.equal((await k('watch', '--type', 'checks', '--state', 'red')).code, EXIT.usage);
  });

  it('with a handler: it runs at start and after each change, the view on stdin and CONSUL_INDEX set; Ctrl-C stops it', async () => {
    const out = join(dir, 'runs.txt');
    const proc = spawn(process.execPath, [BIN, 'watch', '--http-addr', addr, '--type', 'keyprefix', '--prefix', 'w/',
      `(echo "index=$CONSUL_INDEX"; cat; echo ---) >> ${out}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      // The runs the handler finished (each ends with its --- line); a run still being written is not one yet.
      const runs = (): string[] => (existsSync(out) ? readFileSync(out, 'utf8').split('---\n').slice(0, -1) : []);
      await waitFor('the first run', () => (runs().length >= 1 ? true : undefined), 20_000);
      assert.match(runs()[0] ?? '', /^index=\d+\n\[/);
      assert.equal((await k('kv', 'put', 'w/b', 'two')).code, EXIT.ok);
      const second = await waitFor('a run after the change', () => runs()[1], 20_000);
      assert.deepEqual((JSON.parse(second.slice(second.indexOf('\n') + 1)) as Array<{ Key: string }>).map((e) => e.Key), ['w/a', 'w/b']);
      // A write elsewhere (outside the prefix) does not run the handler again.
      assert.equal((await k('kv', 'put', 'elsewhere', 'x')).code, EXIT.ok);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(runs().length, 2, runs().join('\n'));
    } finally {
      proc.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
    }
  });
});
