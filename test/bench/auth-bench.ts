// What authentication costs: write throughput at concurrency 64 (HTTP PUT with an ACL token)
// and DNS queries per second (answers filtered by the anonymous token's rights), with ACLs off
// and on, side by side in one run. Each side is a real `konsul agent --dev` process; both run at once
// and take the load in turns, --rounds slices of --seconds each, so load from elsewhere on the machine
// falls on both alike. Besides throughput it reports each agent's CPU per operation (from /proc).
//
//   npm run bench:auth -- [--seconds 2] [--rounds 8] [--concurrency 64] [--json]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runDnsLoad } from '../../src/cli/commands/bench/dns-load.js';
import { runHttpLoad } from '../../src/cli/commands/bench/http-load.js';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { FilteredCatalog } from '../../src/acl/catalog-filter.js';
import { AclResolver } from '../../src/acl/resolver.js';
import { authorize } from '../../src/http/acl-check.js';
import { ROUTES } from '../../src/http/index.js';
import { BIN, freePort, waitFor } from '../cluster/harness.js';
import { FakeAgent } from '../http/fake-agent.js';
import { cpuSeconds } from './proc.js';

interface Args { seconds: number; rounds: number; concurrency: number; json: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { seconds: 2, rounds: 8, concurrency: 64, json: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--seconds': a.seconds = Math.min(60, Math.max(1, Number(v))); i++; break;
      case '--rounds': a.rounds = Math.min(60, Math.max(1, Number(v))); i++; break;
      case '--concurrency': a.concurrency = Math.min(512, Math.max(1, Number(v))); i++; break;
      case '--json': a.json = true; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return a;
}

const MANAGEMENT = 'bench-management-secret';
const WRITER = 'bench-writer-secret';

interface Running { proc: ChildProcess; http: string; dnsPort: number; dir: string }

async function startAgent(acl: boolean): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-authbench-'));
  const [httpPort, dnsPort, raftPort] = [await freePort(), await freePort(), await freePort()];
  const args = [
    BIN, 'agent', '--dev', '--node-id', 'bench', '--data-dir', dir, '--http-addr', `127.0.0.1:${httpPort}`,
    '--dns-addr', `127.0.0.1:${dnsPort}`, '--raft-addr', `127.0.0.1:${raftPort}`, '--log-level', 'warn',
    ...(acl ? ['--acl-enabled', '--acl-default-policy', 'deny'] : []),
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const http = `http://127.0.0.1:${httpPort}`;
  await waitFor('the agent', async () => {
    const r = await request(`${http}/v1/status/leader`);
    const body = await r.body.text();
    return r.statusCode === 200 && body.length > 4 ? true : undefined;
  }, 20_000);
  const call = async (method: 'PUT', path: string, body: string, token?: string): Promise<void> => {
    const r = await request(`${http}${path}`, { method, body, headers: token ? { 'x-consul-token': token } : {} });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode} ${text}`);
  };
  if (acl) {
    await waitFor('bootstrap', async () => {
      const r = await request(`${http}/v1/acl/bootstrap`, { method: 'PUT', body: JSON.stringify({ BootstrapSecret: MANAGEMENT }) });
      await r.body.text();
      return r.statusCode === 200 ? true : undefined;
    });
    await call('PUT', '/v1/acl/policy', JSON.stringify({ Name: 'writer', Rules: 'key_prefix "bench/" { policy = "write" }' }), MANAGEMENT);
    await call('PUT', '/v1/acl/token', JSON.stringify({ SecretID: WRITER, Policies: [{ Name: 'writer' }] }), MANAGEMENT);
    await call('PUT', '/v1/acl/policy', JSON.stringify({ Name: 'dns', Rules: 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }' }), MANAGEMENT);
    await call('PUT', '/v1/acl/token/00000000-0000-0000-0000-000000000002', JSON.stringify({ Policies: [{ Name: 'dns' }] }), MANAGEMENT);
  }
  await call('PUT', '/v1/agent/service/register', JSON.stringify({ Name: 'web', Port: 80 }), acl ? MANAGEMENT : undefined);
  return { proc, http, dnsPort, dir };
}

async function stopAgent(a: Running): Promise<void> {
  const exited = new Promise((resolve) => a.proc.once('exit', resolve));
  a.proc.kill('SIGTERM');
  await exited;
  rmSync(a.dir, { recursive: true, force: true });
}

/** What one side (ACLs off or on) did over all its slices. */
interface Side { acl: boolean; writes: number; writeSeconds: number; writeCpu: number; writeErrors: number; dns: number; dnsSeconds: number; dnsCpu: number; dnsErrors: number; slices: Array<{ writesPerSecond: number; dnsQps: number }> }

function emptySide(acl: boolean): Side {
  return { acl, writes: 0, writeSeconds: 0, writeCpu: 0, writeErrors: 0, dns: 0, dnsSeconds: 0, dnsCpu: 0, dnsErrors: 0, slices: [] };
}

/** One slice of writes then one of DNS queries against one agent, added to its side's totals. */
async function slice(agent: Running, side: Side, args: Args): Promise<void> {
  const value = Buffer.alloc(100, 0x61);
  const headers: Record<string, string> = side.acl ? { 'x-consul-token': WRITER } : {};
  const pid = agent.proc.pid!;
  let cpu0 = cpuSeconds(pid);
  const writes = await runHttpLoad({
    workload: 'write', origin: agent.http, concurrency: args.concurrency, durationMs: args.seconds * 1000, timeoutMs: 10_000,
    next: (n) => ({ method: 'PUT', path: `/v1/kv/bench/${n % 1000}`, body: value, headers }),
    check: (status) => (status === 200 ? true : `HTTP ${status}`),
  });
  side.writeCpu += cpuSeconds(pid) - cpu0;
  side.writes += writes.ok;
  side.writeSeconds += writes.seconds;
  side.writeErrors += writes.errorCount;
  cpu0 = cpuSeconds(pid);
  const dns = await runDnsLoad({
    host: '127.0.0.1', port: agent.dnsPort, questions: [{ name: 'web.service.consul', type: 'A' }],
    concurrency: 32, durationMs: args.seconds * 1000, timeoutMs: 2000,
  });
  side.dnsCpu += cpuSeconds(pid) - cpu0;
  side.dns += dns.ok;
  side.dnsSeconds += dns.seconds;
  side.dnsErrors += dns.errorCount;
  side.slices.push({ writesPerSecond: Math.round(writes.throughput), dnsQps: Math.round(dns.throughput) });
}

/**
 * The same costs measured in one process, away from the machine's noise: the ACL check a request
 * makes (token lookup and rule match, as the server runs it) and what the anonymous-token filter adds to
 * a DNS answer served from the cache (its index check).
 */
async function microCosts(): Promise<{ authorizeNs: number; dnsCacheHitExtraNs: number }> {
  const agent = new FakeAgent();
  try {
    const token = (secretId: string, policies: string[]) => ({
      accessorId: `a-${secretId}`, secretId, description: '', policies, local: false, createTime: '',
    });
    agent.apply({ type: 'acl', op: { op: 'bootstrap', token: token(MANAGEMENT, ['00000000-0000-0000-0000-000000000001']) } });
    agent.apply({ type: 'acl', op: { op: 'policy-set', create: true, policy: { id: 'p1', name: 'writer', description: '', rules: 'key_prefix "bench/" { policy = "write" }\nservice_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }', datacenters: [] } } });
    agent.apply({ type: 'acl', op: { op: 'token-set', create: true, token: token(WRITER, ['p1']) } });
    const resolver = new AclResolver(agent.state.acl, { enabled: true, defaultPolicy: 'deny' });
    const route = ROUTES.find((r) => r.method === 'PUT' && r.path === '/v1/kv/*key')!;
    const req = { headers: { 'x-consul-token': WRITER } } as unknown as IncomingMessage;
    const query = new URLSearchParams();
    const n = 200_000;
    for (let i = 0; i < 10_000; i++) authorize(resolver, route.acl, req, { params: { key: `bench/${i % 1000}` }, query, agent });
    let t0 = performance.now();
    for (let i = 0; i < n; i++) authorize(resolver, route.acl, req, { params: { key: `bench/${i % 1000}` }, query, agent });
    const authorizeNs = ((performance.now() - t0) * 1e6) / n;

    const anonymous = new AclResolver(agent.state.acl, { enabled: true, defaultPolicy: 'deny' });
    const filtered = new FilteredCatalog(agent.state.catalog, () => anonymous.resolve(undefined)!.authorizer, () => agent.state.acl.version);
    let sink = 0;
    t0 = performance.now();
    for (let i = 0; i < n; i++) sink += agent.state.catalog.catalogIndex();
    const raw = performance.now() - t0;
    t0 = performance.now();
    for (let i = 0; i < n; i++) sink += filtered.catalogIndex();
    const withFilter = performance.now() - t0;
    if (sink < 0) process.stdout.write('');
    return { authorizeNs: Math.round(authorizeNs), dnsCacheHitExtraNs: Math.max(0, Math.round(((withFilter - raw) * 1e6) / n)) };
  } finally {
    await agent.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const micro = await microCosts();
  // Both agents run for the whole measurement and take the load in turns, a short slice each, the
  // order alternating: a burst of load from elsewhere on a shared machine lasts longer than a slice and
  // so falls on both sides alike. Each side's figure is its total operations over its total time, and
  // the agent's own CPU (from /proc) per operation, which other load on the machine barely moves.
  const agents = [await startAgent(false), await startAgent(true)] as const;
  const sides = [emptySide(false), emptySide(true)] as const;
  try {
    for (let r = 0; r < args.rounds; r++) {
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) await slice(agents[i]!, sides[i]!, args);
    }
  } finally {
    await Promise.all(agents.map(stopAgent));
  }
  const [off, on] = sides;
  const rate = (n: number, s: number): number => Math.round(n / s);
  const usPer = (cpu: number, n: number): number => Number(((cpu / n) * 1e6).toFixed(1));
  const cost = (a: number, b: number): number => Number((((a - b) / a) * 100).toFixed(1));
  const w0 = rate(off.writes, off.writeSeconds);
  const w1 = rate(on.writes, on.writeSeconds);
  const d0 = rate(off.dns, off.dnsSeconds);
  const d1 = rate(on.dns, on.dnsSeconds);
  const wc0 = usPer(off.writeCpu, off.writes);
  const wc1 = usPer(on.writeCpu, on.writes);
  const dc0 = usPer(off.dnsCpu, off.dns);
  const dc1 = usPer(on.dnsCpu, on.dns);
  const result = {
    seconds: args.seconds, rounds: args.rounds, concurrency: args.concurrency,
    writes: { off: w0, on: w1, costPercent: cost(w0, w1), agentCpuUs: { off: wc0, on: wc1, costPercent: cost(wc1, wc0) } },
    dns: { off: d0, on: d1, costPercent: cost(d0, d1), agentCpuUs: { off: dc0, on: dc1, costPercent: cost(dc1, dc0) } },
    errors: off.writeErrors + off.dnsErrors + on.writeErrors + on.dnsErrors,
    perOperation: {
      ...micro,
      // What those costs are against one operation at the rate measured with ACLs off.
      writePercent: Number(((micro.authorizeNs / (1e9 / w0)) * 100).toFixed(2)),
      dnsPercent: Number(((micro.dnsCacheHitExtraNs / (1e9 / d0)) * 100).toFixed(2)),
    },
    slices: { off: off.slices, on: on.slices },
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
  const span = (xs: number[]): string => `${Math.min(...xs)}–${Math.max(...xs)}`;
  process.stdout.write([
    `auth cost: ${args.rounds} slice(s) of ${args.seconds}s a side, the two agents taking turns; totals over all slices:`,
    `  writes/s at c${args.concurrency}   ACL off ${w0}   ACL on ${w1}   cost ${result.writes.costPercent}% (target < 10%)`,
    `    agent CPU per write   ${wc0} µs vs ${wc1} µs (${signed(-cost(wc0, wc1))})`,
    `  DNS queries/s          ACL off ${d0}   ACL on ${d1}   cost ${result.dns.costPercent}% (target < 5%)`,
    `    agent CPU per query   ${dc0} µs vs ${dc1} µs (${signed(-cost(dc0, dc1))})`,
    `  slices: writes/s off ${span(off.slices.map((x) => x.writesPerSecond))}, on ${span(on.slices.map((x) => x.writesPerSecond))}; `
      + `DNS off ${span(off.slices.map((x) => x.dnsQps))}, on ${span(on.slices.map((x) => x.dnsQps))}`,
    `  in one process: the ACL check costs ${micro.authorizeNs} ns a request (${result.perOperation.writePercent}% of a write at the rate above), `
      + `the DNS filter ${micro.dnsCacheHitExtraNs} ns an answer (${result.perOperation.dnsPercent}% of a query)`,
    `  errors: ${result.errors}`,
    '',
  ].join('\n'));
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
