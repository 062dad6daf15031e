// Issue 15: the README's snippets for forwarding `.consul` from the host's
// resolver to the agent. The dnsmasq one runs for real: dnsmasq on a loopback
// port, told by the README's line (ports adapted) to forward .consul to a real
// agent's DNS server; answers are asked of dnsmasq. The systemd-resolved one is
// checked for the agent's address and the routing domain (no systemd here).

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { freePort, waitFor } from '../cluster/harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const dnsmasqPath = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq', '/sbin/dnsmasq'].find((p) => spawnSync(p, ['--version']).status === 0);

/** The body of the ```conf block after `<!-- dns-forward: NAME -->` in the README. */
export function readmeSnippet(readme: string, name: string): string {
  const at = readme.indexOf(`<!-- dns-forward: ${name} -->`);
  assert.ok(at >= 0, `README has the ${name} snippet`);
  const m = /```conf\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `a conf block after the ${name} marker`);
  return m[1] ?? '';
}

describe('issue 15: forwarding .consul from the host resolver (README snippets)', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  let agent: RunningAgent;
  let agentDns: number;
  const dir = mkdtempSync(join(tmpdir(), 'konsul-dnsfwd-'));

  before(async () => {
    agentDns = await freePort();
    agent = await startAgent({ dev: true, nodeId: 'fwd1', httpAddr: '127.0.0.1:0', dnsAddr: `127.0.0.1:${agentDns}`, raftAddr: '127.0.0.1:0' }, {}, pino({ level: 'silent' }));
    for (let i = 0; i < 250 && agent.agent.status().leader === null; i++) await new Promise((r) => setTimeout(r, 20));
    const r = await fetch(`http://${agent.httpAddress}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'web', Port: 8080 }) });
    assert.equal(r.status, 200);
  });
  after(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('dnsmasq with the README\'s line answers web.service.consul from the agent', { skip: !dnsmasqPath && 'dnsmasq is not installed (Debian: dnsmasq-base)' }, async () => {
    const snippet = readmeSnippet(readme, 'dnsmasq');
    assert.match(snippet, /^server=\/consul\/127\.0\.0\.1#8600$/m);
    const port = await freePort();
    const conf = join(dir, 'dnsmasq.conf');
    // The README's line with the agent's test port; the rest keeps dnsmasq to loopback and to itself.
    writeFileSync(conf, [
      snippet.replace('127.0.0.1#8600', `127.0.0.1#${agentDns}`),
      `port=${port}`, 'listen-address=127.0.0.1', 'bind-interfaces', 'no-resolv', 'no-hosts', 'no-poll', 'cache-size=0',
      `pid-file=${join(dir, 'dnsmasq.pid')}`, '',
    ].join('\n'));
    const dnsmasq: ChildProcess = spawn(dnsmasqPath!, ['--keep-in-foreground', `--conf-file=${conf}`, '--user=root', '--log-facility=-'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    dnsmasq.stderr?.on('data', (c: Buffer) => { err += c.toString(); });
    const exited = new Promise((r) => dnsmasq.once('exit', r));
    try {
      const resolver = new Resolver({ timeout: 1000, tries: 1 });
      resolver.setServers([`127.0.0.1:${port}`]);
      const srv = await waitFor('dnsmasq forwards web.service.consul', async () => {
        try {
          const answers = await resolver.resolveSrv('web.service.consul');
          return answers.length > 0 ? answers : undefined;
        } catch {
          assert.equal(dnsmasq.exitCode, null, `dnsmasq exited: ${err}`);
          return undefined;
        }
      }, 20_000);
      assert.deepEqual(srv.map((a) => a.port), [8080]);
      assert.deepEqual(await resolver.resolve4('web.service.consul'), ['127.0.0.1']);
      assert.deepEqual((await resolver.resolveSrv('consul.service.consul')).length, 1, 'the server itself, as the consul service');
    } finally {
      dnsmasq.kill('SIGTERM');
      await exited;
    }
  });

  it('the systemd-resolved snippet sends ~consul to the agent\'s default DNS address', () => {
    const snippet = readmeSnippet(readme, 'systemd-resolved');
    const lines = snippet.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    assert.equal(lines[0], '[Resolve]');
    const keys = Object.fromEntries(lines.slice(1).map((l) => l.split('=') as [string, string]));
    assert.deepEqual(keys, { DNS: '127.0.0.1:8600', DNSSEC: 'false', Domains: '~consul' });
  });
});
