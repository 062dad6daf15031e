// `npm run bench`: konsul side by side with etcd (3 members each, loopback, the
// same disk), in one run, the same workloads alternating; dnsmasq serving the
// same records as the DNS reference. Prints one table (figure, konsul,
// reference, ratio, target, met) and writes it as JSON and Markdown under
// bench-results/<date>/. The load comes from `konsul bench ... --json` itself,
// run as a child process (its own event loop, the command operators run).
//
//   npm run bench -- [--quick] [--seconds 10] [--rounds 10] [--stability-seconds 60]
//                    [--no-etcd] [--no-memory] [--no-dns] [--profile] [--out DIR]
//
// --quick: 3 s loads, 3 failover rounds, 10 s stability run, a tenth of the memory load (about 3 minutes).
// --profile: the konsul agents run with --cpu-prof; their profiles land in <out>/profiles/.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { FailoverRunner, type FailoverResult } from '../../src/cli/commands/bench/failover.js';
import type { BenchResult } from '../../src/cli/commands/bench/stats.js';
import { percentile } from '../../src/cli/commands/bench/stats.js';
import { BIN, TestCluster, freePort, sleep, waitFor, type TestNode } from '../cluster/harness.js';
import { EtcdCluster, ensureEtcd, ensureTool } from './etcd.js';
import { formatSelfTimes, selfTimes, type CpuProfile } from './profile-summary.js';
import { renderMarkdown, renderText, type Row } from './report.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

// ------------------------------------------------------------ arguments

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number, got ${process.argv[i + 1]}\n`);
    process.exit(2);
  }
  return n;
}

const quick = flag('quick');
const SECONDS = numberArg('seconds', quick ? 3 : 10);
const ROUNDS = Math.round(numberArg('rounds', quick ? 3 : 10));
const STABILITY_SECONDS = numberArg('stability-seconds', quick ? 10 : 60);
const MEMORY_KEYS = quick ? 10_000 : 100_000;
const MEMORY_SERVICES = quick ? 1_000 : 10_000;
const outIndex = process.argv.indexOf('--out');

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

// ------------------------------------------------------------ helpers

/** `konsul bench <args> --json` as a child process; its parsed JSON. */
async function konsulBench<T = BenchResult>(args: string[]): Promise<T> {
  const child = spawn(process.execPath, [BIN, 'bench', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KONSUL_HTTP_ADDR: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (out.trim() === '') throw new Error(`konsul bench ${args.join(' ')} exited with ${code}: ${err.trim()}`);
  return JSON.parse(out) as T;
}

function describeErrors(r: BenchResult): string {
  return r.errorCount === 0 ? '' : `, ${r.errorCount} errors (${Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(', ')})`;
}

function line(r: BenchResult): string {
  return `${r.workload} c=${r.concurrency}: ${r.throughput.toFixed(0)}/s p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms${describeErrors(r)}`;
}

/** write+fdatasync of 4 KiB appended, `count` times, in `dir` (the data dirs' disk): ms per fsync, sorted. */
function measureFsync(dir: string, count: number): number[] {
  const path = join(dir, 'fsync-probe');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 7);
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      writeSync(fd, block);
      const t = performance.now();
      fdatasyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return times.sort((a, b) => a - b);
}

/** A process's resident memory in MB (field VmRSS, or RssAnon / RssFile of /proc/<pid>/status). */
function rssMb(pid: number | undefined, field = 'VmRSS'): number | null {
  if (pid === undefined) return null;
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

function formatMb(n: number | null | undefined): string {
  return n === null || n === undefined ? '?' : n.toFixed(0);
}

function has(command: string, args = ['--version']): boolean {
  return !spawnSync(command, args, { stdio: 'ignore' }).error;
}

function machine(dataDir: string): Record<string, string> {
  const fs = spawnSync('findmnt', ['-n', '-T', dataDir, '-o', 'SOURCE,FSTYPE'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: release(),
    node: process.version,
    disk: fs || 'unknown',
    loadAverageAtStart: loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

// ------------------------------------------------------------ DNS

interface DnsperfResult { qps: number; lost: number; latencies: number[] }

async function dnsperf(port: number, file: string, seconds: number, outstanding: number, rate: number, outFile: string): Promise<DnsperfResult> {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(seconds), '-q', String(outstanding), '-t', '2', '-b', '4096'];
  if (rate > 0) args.push('-Q', String(Math.round(rate)), '-v');
  const fd = openSync(outFile, 'w');
  const child = spawn('dnsperf', args, { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`dnsperf exited with ${code}`);
  const text = readFileSync(outFile, 'utf8');
  const latencies: number[] = [];
  const summary: string[] = [];
  for (const l of text.split('\n')) {
    if (l.startsWith('> ')) latencies.push(Number(l.slice(l.lastIndexOf(' ') + 1)) * 1000);
    else summary.push(l);
  }
  const s = summary.join('\n');
  const field = (label: string): number => Number(new RegExp(`${label}:\\s+([\\d.]+)`).exec(s)?.[1] ?? NaN);
  return { qps: field('Queries per second'), lost: field('Queries lost'), latencies: latencies.sort((a, b) => a - b) };
}

interface DnsFigures { qps: number; p99AtHalf: number; tool: string }

async function dnsFigures(port: number, names: string[], dir: string, seconds: number, label: string): Promise<DnsFigures> {
  if (has('dnsperf', ['-h'])) {
    const file = join(dir, 'queries.txt');
    writeFileSync(file, names.flatMap((n) => [`${n} A`, `${n} SRV`]).join('\n') + '\n');
    const peak = await dnsperf(port, file, seconds, 100, 0, join(dir, `${label}-peak.out`));
    const half = await dnsperf(port, file, seconds, 1000, peak.qps / 2, join(dir, `${label}-half.out`));
    log(`dns ${label}: ${peak.qps.toFixed(0)} q/s peak (lost ${peak.lost}), p99 ${percentile(half.latencies, 99).toFixed(3)} ms at ${(peak.qps / 2).toFixed(0)} q/s`);
    return { qps: peak.qps, p99AtHalf: percentile(half.latencies, 99), tool: 'dnsperf' };
  }
  // Without dnsperf: konsul's own DNS load; the p99 is then at 16 in flight, closed loop, not at half the peak rate.
  const nameArgs = names.flatMap((n) => ['--name', n]);
  const peak = await konsulBench(['dns', '--dns-addr', `127.0.0.1:${port}`, '-c', '100', '-d', `${seconds}s`, ...nameArgs]);
  const light = await konsulBench(['dns', '--dns-addr', `127.0.0.1:${port}`, '-c', '16', '-d', `${seconds}s`, ...nameArgs]);
  log(`dns ${label}: ${line(peak)}; ${line(light)}`);
  return { qps: peak.throughput, p99AtHalf: light.latencyMs.p99, tool: 'konsul bench dns' };
}

// ------------------------------------------------------------ the run

/** TestCluster whose agents run with --cpu-prof when given a directory (Node refuses it in NODE_OPTIONS). */
class BenchCluster extends TestCluster {
  constructor(options: ConstructorParameters<typeof TestCluster>[0], private readonly profileDir?: string) {
    super(options);
  }

  override args(node: TestNode): string[] {
    const args = super.args(node);
    return this.profileDir ? ['--cpu-prof', '--cpu-prof-dir', this.profileDir, ...args] : args;
  }
}

interface Figures { [key: string]: number | null }

async function registerServices(origin: string, count: number, perService: number, concurrency = 32): Promise<void> {
  const pool = new Pool(origin, { connections: concurrency });
  let next = 0;
  let failed = 0;
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const s = Math.floor(i / perService);
        const body = JSON.stringify({
          ID: `svc-${s}-${i % perService}`, Name: `svc-${s}`, Address: `10.${(s >> 8) & 255}.${s & 255}.${(i % perService) + 1}`, Port: 20_000 + (i % perService),
        });
        const res = await pool.request({ method: 'PUT', path: '/v1/agent/service/register', body, headersTimeout: 30_000, bodyTimeout: 30_000 });
        await res.body.text();
        if (res.statusCode !== 200) failed++;
      }
    }));
  } finally {
    await pool.close();
  }
  if (failed > 0) throw new Error(`${failed} of ${count} service registrations failed`);
}

async function main(): Promise<void> {
  const started = new Date();
  const dir = mkdtempSync(join(ROOT, '.bench-tmp-'));
  const outDir = outIndex > 0 ? process.argv[outIndex + 1] : join(ROOT, 'bench-results', started.toISOString().replace(/[:]/g, '-').slice(0, 19));
  const k: Figures = {};
  const e: Figures = {};
  const notes: string[] = [];
  const info = machine(dir);
  log(`data dirs under ${dir} (${info.disk}); ${SECONDS} s per load, ${ROUNDS} failover rounds, ${STABILITY_SECONDS} s stability run${quick ? ' (--quick)' : ''}`);

  // The disk: what one write+fdatasync costs here, the floor under a durable commit.
  const fsyncs = measureFsync(dir, quick ? 100 : 300);
  const fsyncP50 = percentile(fsyncs, 50);
  const fsyncP99 = percentile(fsyncs, 99);
  log(`fsync of 4 KiB: p50 ${fsyncP50.toFixed(3)} ms, p99 ${fsyncP99.toFixed(3)} ms`);

  // The tool's own ceiling: konsul bench against trivial servers, so a figure far below it is the server's.
  const ceiling = await konsulBench<{ http: BenchResult; dns: BenchResult }>(['self-test', '-c', '64', '-d', `${Math.min(SECONDS, 5)}s`]);
  log(`bench tool ceiling: ${line(ceiling.http)}; ${line(ceiling.dns)}`);

  const etcdState = flag('no-etcd') ? { reason: 'skipped with --no-etcd' } : ensureEtcd(log);
  const etcdOn = etcdState.version !== undefined;
  if (!etcdOn) {
    log(`THE ETCD SIDE IS SKIPPED: ${etcdState.reason}`);
    notes.push(`etcd side skipped: ${etcdState.reason}`);
  }

  // --profile: every konsul agent writes a V8 CPU profile (open in Chrome DevTools or speedscope) when it exits cleanly.
  const profileDir = flag('profile') ? join(outDir, 'profiles') : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const konsul = new BenchCluster({ flags: ['--log-level', 'warn'] }, profileDir);
  // TestCluster's data dirs go to the OS temp dir; put them on the same disk as etcd's.
  rmSync(konsul.dir, { recursive: true, force: true });
  (konsul as unknown as { dir: string }).dir = join(dir, 'konsul');
  mkdirSync(join(dir, 'konsul'));
  const etcd = new EtcdCluster(join(dir, 'etcd'));
  try {
    await konsul.add({ id: 'k1', server: true, bootstrap: true });
    await konsul.start('k1');
    await konsul.leader(['k1']);
    for (const id of ['k2', 'k3']) await konsul.add({ id, server: true, join: [konsul.node('k1').raftAddress] });
    await Promise.all(['k2', 'k3'].map((id) => konsul.start(id)));
    await waitFor('3 konsul voters', async () => ((await konsul.status('k1')).members.filter((m) => m.voter).length === 3 ? true : undefined), 30_000);
    if (etcdOn) await etcd.start();
    log(`konsul 3 servers up${etcdOn ? `; etcd ${etcdState.version} 3 members up` : ''}`);
    if (etcdOn) e.idleRss = rssMb((await etcd.leader()).proc?.pid);

    const konsulLeader = async (): Promise<string> => konsul.node(await konsul.leader()).url;
    const etcdLeader = async (): Promise<string> => etcd.url(await etcd.leader());
    const common = ['--key-count', '1000', '--value-size', '100', '-d', `${SECONDS}s`];

    // Writes, konsul then etcd at each concurrency.
    for (const c of [1, 16, 64, 256]) {
      const kr = await konsulBench(['write', '--http-addr', await konsulLeader(), '-c', String(c), ...common]);
      log(`konsul ${line(kr)}`);
      k[`w${c}`] = kr.throughput; k[`w${c}p50`] = kr.latencyMs.p50; k[`w${c}p99`] = kr.latencyMs.p99;
      if (etcdOn) {
        const er = await konsulBench(['write', '--api', 'etcd', '--http-addr', await etcdLeader(), '-c', String(c), ...common]);
        log(`etcd   ${line(er)}`);
        e[`w${c}`] = er.throughput; e[`w${c}p50`] = er.latencyMs.p50; e[`w${c}p99`] = er.latencyMs.p99;
      }
    }

    // Reads in each mode, at 64 in flight: konsul default/consistent vs etcd linearizable, stale vs serializable.
    for (const mode of ['default', 'consistent', 'stale'] as const) {
      const kr = await konsulBench(['read', '--http-addr', await konsulLeader(), '--consistency', mode, '-c', '64', ...common]);
      log(`konsul ${line(kr)}`);
      k[`r_${mode}`] = kr.throughput; k[`r_${mode}p99`] = kr.latencyMs.p99;
      if (etcdOn && mode !== 'consistent') {
        const er = await konsulBench(['read', '--api', 'etcd', '--http-addr', await etcdLeader(), '--consistency', mode, '-c', '64', ...common]);
        log(`etcd   ${line(er)}`);
        e[`r_${mode}`] = er.throughput; e[`r_${mode}p99`] = er.latencyMs.p99;
      }
    }
    if (etcdOn) {
      e.r_consistent = e.r_default;
      e.r_consistentp99 = e.r_defaultp99;
    }

    // Leader changes under a full write load (terms, from any member).
    {
      const before = (await konsul.status('k1')).term;
      const kr = await konsulBench(['write', '--http-addr', await konsulLeader(), '-c', '64', '--key-count', '1000', '-d', `${STABILITY_SECONDS}s`]);
      k.elections = (await konsul.status('k1')).term - before;
      log(`konsul stability: ${line(kr)}, ${k.elections} term changes`);
      if (etcdOn) {
        const eb = await etcd.term();
        const er = await konsulBench(['write', '--api', 'etcd', '--http-addr', await etcdLeader(), '-c', '64', '--key-count', '1000', '-d', `${STABILITY_SECONDS}s`]);
        e.elections = (await etcd.term()) - eb;
        log(`etcd stability: ${line(er)}, ${e.elections} term changes`);
      }
    }

    // Failover: kill -9 of the leader, then SIGSTOP, for each system.
    const failover = async (system: 'konsul' | 'etcd', signal: 'SIGKILL' | 'SIGSTOP'): Promise<FailoverResult> => {
      const runner = new FailoverRunner({
        api: system,
        origin: system === 'konsul' ? konsul.node('k1').url : etcd.url(etcd.members[0]),
        rounds: ROUNDS, roundTimeoutMs: 10_000, settleMs: 1000, faultName: signal === 'SIGKILL' ? 'kill -9' : 'SIGSTOP',
        fault: async (leader) => {
          if (system === 'konsul') {
            if (signal === 'SIGKILL') await konsul.kill(leader.id, 'SIGKILL');
            else konsul.signal(leader.id, 'SIGSTOP');
          } else {
            const m = etcd.byOrigin(leader.origin);
            if (signal === 'SIGKILL') await etcd.kill(m);
            else m.proc?.kill('SIGSTOP');
          }
        },
        heal: async (leader) => {
          if (system === 'konsul') {
            if (signal === 'SIGKILL') await konsul.start(leader.id);
            else konsul.signal(leader.id, 'SIGCONT');
          } else {
            const m = etcd.byOrigin(leader.origin);
            if (signal === 'SIGKILL') await etcd.restart(m);
            else m.proc?.kill('SIGCONT');
          }
        },
        onRound: (r) => log(`${system} ${signal} round ${r.round}: ${r.ms === null ? 'no write within 10 s' : `${r.ms} ms`} (leader ${r.leader})`),
      });
      return runner.run();
    };
    for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
      const key = signal === 'SIGKILL' ? 'kill' : 'stop';
      const kr = await failover('konsul', signal);
      k[`${key}Median`] = kr.medianMs; k[`${key}Worst`] = kr.worstMs;
      if (kr.failed > 0) notes.push(`konsul ${signal}: ${kr.failed} of ${ROUNDS} rounds without a write within 10 s`);
      if (etcdOn) {
        const er = await failover('etcd', signal);
        e[`${key}Median`] = er.medianMs; e[`${key}Worst`] = er.worstMs;
        if (er.failed > 0) notes.push(`etcd ${signal}: ${er.failed} of ${ROUNDS} rounds without a write within 10 s`);
      }
    }

    // DNS: 20 services × 3 instances registered on k1; dnsmasq serving the same A and SRV records.
    let dnsTool = '';
    if (!flag('no-dns')) {
      // dnsmasq-base is the binary alone, without the system service Debian's dnsmasq package starts on port 53.
      const haveDnsmasq = ensureTool('dnsmasq', 'dnsmasq-base', log);
      const haveDnsperf = ensureTool('dnsperf', 'dnsperf', log, ['-h']);
      if (!haveDnsperf.ok) notes.push(`${haveDnsperf.reason}: DNS measured with konsul bench dns instead`);
      const services = 20;
      await registerServices(konsul.node('k1').url, services * 3, 3);
      const names = Array.from({ length: services }, (_, s) => `svc-${s}.service.consul`);
      await waitFor('DNS answers for the registered services', async () => {
        const r = await konsulBench(['dns', '--dns-addr', `127.0.0.1:${konsul.node('k1').dnsPort}`, '-n', '40', '-c', '4', '--name', names.at(-1)!]);
        return r.ok === 40 ? true : undefined;
      }, 30_000, 500);
      const kd = await dnsFigures(konsul.node('k1').dnsPort, names, dir, SECONDS, 'konsul');
      k.dnsQps = kd.qps; k.dnsP99 = kd.p99AtHalf;
      dnsTool = kd.tool;
      if (haveDnsmasq.ok) {
        const port = await freePort();
        const records = Array.from({ length: services }, (_, s) => [
          ...[1, 2, 3].map((i) => `--host-record=svc-${s}.service.consul,10.0.${s}.${i}`),
          ...[0, 1, 2].map((i) => `--srv-host=svc-${s}.service.consul,svc-${s}-${i}.node.consul,${20_000 + i}`),
        ]).flat();
        const dnsmasqLog = openSync(join(dir, 'dnsmasq.log'), 'w');
        const dnsmasq = spawn('dnsmasq', ['--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
          '--no-resolv', '--no-hosts', '--cache-size=1000', ...(process.getuid?.() === 0 ? ['--user=root'] : []), ...records], { stdio: ['ignore', dnsmasqLog, dnsmasqLog] });
        closeSync(dnsmasqLog);
        try {
          await waitFor('dnsmasq to answer', async () => {
            if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited with ${dnsmasq.exitCode}: ${readFileSync(join(dir, 'dnsmasq.log'), 'utf8').trim()}`);
            const r = await konsulBench(['dns', '--dns-addr', `127.0.0.1:${port}`, '-n', '40', '-c', '4', '--timeout', '500ms', '--name', names.at(-1)!]);
            return r.ok === 40 ? true : undefined;
          }, 15_000, 200);
          const md = await dnsFigures(port, names, dir, SECONDS, 'dnsmasq');
          e.dnsQps = md.qps; e.dnsP99 = md.p99AtHalf;
        } finally {
          dnsmasq.kill('SIGKILL');
        }
      } else notes.push(`the DNS reference is missing: ${haveDnsmasq.reason}`);
    }

    // A clean stop (SIGTERM), so agents started with --cpu-prof write their profiles.
    for (const n of konsul.nodes.values()) {
      if (n.running) {
        n.proc!.kill('SIGTERM');
        await Promise.race([n.exited, sleep(10_000)]);
      }
    }
    await konsul.stopAll();
    if (profileDir) {
      const summary: string[] = [];
      for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
        const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;
        summary.push(`== ${file} (${((profile.endTime - profile.startTime) / 1e6).toFixed(0)} s), self time by function\n${formatSelfTimes(selfTimes(profile, ROOT))}\n`);
      }
      writeFileSync(join(profileDir, 'summary.txt'), summary.join('\n'));
      log(`CPU profiles of the konsul agents in ${profileDir}, top functions in summary.txt`);
    }

    // Memory: a fresh single agent, idle, then with the keys and service instances.
    if (!flag('no-memory')) {
      const mem = new TestCluster({ flags: ['--log-level', 'warn'] });
      rmSync(mem.dir, { recursive: true, force: true });
      (mem as unknown as { dir: string }).dir = join(dir, 'memory');
      mkdirSync(join(dir, 'memory'));
      try {
        await mem.add({ id: 'm1', server: true, bootstrap: true });
        await mem.start('m1');
        await mem.leader(['m1']);
        await sleep(3000);
        k.idleRss = rssMb(mem.node('m1').proc?.pid);
        const w = await konsulBench(['write', '--http-addr', mem.node('m1').url, '-c', '64', '--key-count', String(MEMORY_KEYS), '-n', String(MEMORY_KEYS), '--prefix', 'mem/']);
        if (w.errorCount > 0) notes.push(`memory: ${w.errorCount} of the ${MEMORY_KEYS} writes failed`);
        const t = performance.now();
        await registerServices(mem.node('m1').url, MEMORY_SERVICES, 10);
        log(`memory: ${MEMORY_KEYS} keys at ${w.throughput.toFixed(0)}/s, ${MEMORY_SERVICES} instances in ${((performance.now() - t) / 1000).toFixed(1)} s`);
        await sleep(2000);
        k.loadedRss = rssMb(mem.node('m1').proc?.pid);
        k.loadedRssAnon = rssMb(mem.node('m1').proc?.pid, 'RssAnon');
        k.loadedRssFile = rssMb(mem.node('m1').proc?.pid, 'RssFile');
      } finally {
        await mem.cleanup();
      }
    }

    // ------------------------------------------------------------ the table
    const kr = (key: string): number | null => k[key] ?? null;
    const er = (key: string): number | null => (etcdOn ? e[key] ?? null : null);
    const rows: Row[] = [
      { figure: 'konsul bench ceiling, HTTP PUT c=64 (trivial server)', unit: 'ops/s', konsul: ceiling.http.throughput, reference: null, referenceName: 'tool' },
      { figure: 'konsul bench ceiling, DNS c=64 (UDP echo)', unit: 'q/s', konsul: ceiling.dns.throughput, reference: null, referenceName: 'tool' },
      { figure: 'fsync of 4 KiB, p50 (this disk)', unit: 'ms', konsul: fsyncP50, reference: null, referenceName: 'disk' },
      { figure: 'fsync of 4 KiB, p99 (this disk)', unit: 'ms', konsul: fsyncP99, reference: null, referenceName: 'disk' },
    ];
    for (const c of [1, 16, 64, 256]) {
      rows.push({ figure: `writes c=${c}`, unit: 'ops/s', konsul: kr(`w${c}`), reference: er(`w${c}`), referenceName: 'etcd',
        target: c === 64 ? { kind: 'ratioAtLeast', value: 1.5 } : undefined });
      rows.push({ figure: `writes c=${c} p50`, unit: 'ms', konsul: kr(`w${c}p50`), reference: er(`w${c}p50`), referenceName: 'etcd',
        target: c === 1 ? { kind: 'ratioAtMost', value: 1 } : undefined });
      rows.push({ figure: `writes c=${c} p99`, unit: 'ms', konsul: kr(`w${c}p99`), reference: er(`w${c}p99`), referenceName: 'etcd',
        target: c === 16 ? { kind: 'below', value: 10 } : undefined });
    }
    rows.push(
      { figure: 'reads default c=64', unit: 'ops/s', konsul: kr('r_default'), reference: er('r_default'), referenceName: 'etcd linearizable', target: { kind: 'ratioAtLeast', value: 2 } },
      { figure: 'reads consistent c=64', unit: 'ops/s', konsul: kr('r_consistent'), reference: er('r_consistent'), referenceName: 'etcd linearizable' },
      { figure: 'reads stale c=64', unit: 'ops/s', konsul: kr('r_stale'), reference: er('r_stale'), referenceName: 'etcd serializable', target: { kind: 'ratioAtLeast', value: 2 } },
      { figure: 'reads default c=64 p99', unit: 'ms', konsul: kr('r_defaultp99'), reference: er('r_defaultp99'), referenceName: 'etcd linearizable' },
      { figure: 'reads stale c=64 p99', unit: 'ms', konsul: kr('r_stalep99'), reference: er('r_stalep99'), referenceName: 'etcd serializable' },
      { figure: `failover kill -9, median of ${ROUNDS}`, unit: 'ms', konsul: kr('killMedian'), reference: er('killMedian'), referenceName: 'etcd', target: { kind: 'below', value: 300 } },
      { figure: `failover kill -9, worst of ${ROUNDS}`, unit: 'ms', konsul: kr('killWorst'), reference: er('killWorst'), referenceName: 'etcd', target: { kind: 'below', value: 600 } },
      { figure: `failover SIGSTOP, median of ${ROUNDS}`, unit: 'ms', konsul: kr('stopMedian'), reference: er('stopMedian'), referenceName: 'etcd', target: { kind: 'below', value: 1000 } },
      { figure: `failover SIGSTOP, worst of ${ROUNDS}`, unit: 'ms', konsul: kr('stopWorst'), reference: er('stopWorst'), referenceName: 'etcd' },
      { figure: `leader changes in ${STABILITY_SECONDS} s of writes at c=64`, unit: 'terms', konsul: kr('elections'), reference: er('elections'), referenceName: 'etcd', target: { kind: 'atMost', value: 0 },
        note: STABILITY_SECONDS < 300 ? `the target is for 5 minutes; this run held the load ${STABILITY_SECONDS} s (--stability-seconds 300 for the full run)` : undefined },
    );
    if (!flag('no-dns')) {
      rows.push(
        { figure: 'DNS queries per second', unit: 'q/s', konsul: kr('dnsQps'), reference: e.dnsQps ?? null, referenceName: 'dnsmasq', target: { kind: 'ratioAtLeast', value: 1 }, note: `measured with ${dnsTool}` },
        { figure: 'DNS p99 at half the peak rate', unit: 'ms', konsul: kr('dnsP99'), reference: e.dnsP99 ?? null, referenceName: 'dnsmasq', target: { kind: 'below', value: 1 },
          note: dnsTool === 'dnsperf' ? undefined : 'without dnsperf this is the p99 at 16 queries in flight, not at half the peak rate' },
      );
    }
    if (!flag('no-memory')) {
      rows.push(
        { figure: 'RSS of an idle agent', unit: 'MB', konsul: kr('idleRss'), reference: er('idleRss'), referenceName: 'etcd member', target: { kind: 'below', value: 80 } },
        { figure: `RSS with ${MEMORY_KEYS.toLocaleString('en-US')} keys and ${MEMORY_SERVICES.toLocaleString('en-US')} instances`, unit: 'MB', konsul: kr('loadedRss'), reference: null, referenceName: 'etcd',
          target: quick ? undefined : { kind: 'below', value: 300 },
          note: `${formatMb(k.loadedRssAnon)} MB anonymous (heap and buffers), ${formatMb(k.loadedRssFile)} MB file-backed (mapped LMDB pages and code)${quick ? '; the target (< 300 MB) is for 100,000 keys and 10,000 instances: --quick loads a tenth' : ''}` },
      );
    }

    const settings = {
      konsul: 'election timeout 300 ms, heartbeat 50 ms (defaults)',
      etcd: etcdOn ? `etcd ${etcdState.version}: election timeout 1000 ms, heartbeat 100 ms (defaults)` : 'skipped',
    };
    const text = renderText(rows);
    process.stdout.write(`\n${text}\n\n`);
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    mkdirSync(outDir, { recursive: true });
    const header = [
      `konsul side by side with etcd, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Machine: ${info.cpu}, ${info.memory}, Linux ${info.kernel}, Node ${info.node}, disk ${info.disk}; load average at start ${info.loadAverageAtStart}.`,
      `Raft settings: konsul ${settings.konsul}; ${settings.etcd}.`,
      `Each load ran ${SECONDS} s with 100-byte values over 1000 keys, konsul then the reference; failover ${ROUNDS} rounds each.`,
      '',
    ].join('\n');
    const md = `${header}\n${renderMarkdown(rows)}\n${notes.length > 0 ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}`;
    writeFileSync(join(outDir, 'results.md'), md);
    writeFileSync(join(outDir, 'results.json'), `${JSON.stringify({ started: started.toISOString(), machine: info, settings, options: { quick, seconds: SECONDS, rounds: ROUNDS, stabilitySeconds: STABILITY_SECONDS }, rows, notes }, null, 2)}\n`);
    log(`written to ${outDir}/results.md and results.json (${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min)`);
  } finally {
    await konsul.stopAll();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
