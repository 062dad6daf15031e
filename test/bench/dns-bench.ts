// Measures the DNS server: queries per second at saturation, then latency
// percentiles at half that rate, with dnsperf (Debian's dnsperf package) or,
// when it is missing, a bounded Node load generator in a worker thread.
// The server runs in this process over a fake catalog of realistic size, or is
// a running agent given with --server. Bounded by --seconds and --max-queries.
//
//   npm run bench:dns -- [--seconds 10] [--max-queries 2000000] [--services 200] [--instances 3]
//                        [--server host:port [--names web,db]] [--domain consul] [--tool dnsperf|node] [--json]

import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import dnsPacket from 'dns-packet';
import { startDnsServer, type DnsServer } from '../../src/dns/index.js';
import { FakeCatalog } from '../dns/fake-catalog.js';

type Question = [name: string, type: string];

/** What one load run measured. Latencies in milliseconds, sorted; empty when not recorded. */
interface LoadResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  rcodes: Record<string, number>;
  latencies: number[];
}

interface LoadJob {
  host: string;
  port: number;
  questions: Question[];
  seconds: number;
  maxQueries: number;
  /** Queries in flight at once (closed loop). */
  outstanding: number;
  /** Queries per second to pace at; 0 = as fast as answers come. */
  rate: number;
  /** Record each query's latency (costs the load tool some speed). */
  latencies: boolean;
}

// ------------------------------------------------------------ arguments

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function numberArg(name: string, fallback: number): number {
  const text = arg(name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${text}`);
  return n;
}

// ------------------------------------------------------------ the workload

/** 200 services × 3 instances by default, 6 instances per node; every 10th instance warning, every 50th critical. */
function buildCatalog(services: number, instances: number): FakeCatalog {
  const catalog = new FakeCatalog();
  const nodes = Math.max(1, Math.ceil((services * instances) / 6));
  for (let n = 0; n < nodes; n++) catalog.addNode(`node-${n}`, `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
  let k = 0;
  for (let s = 0; s < services; s++) {
    for (let i = 0; i < instances; i++, k++) {
      const node = `node-${k % nodes}`;
      catalog.addService({
        node, service: `svc-${s}`, id: `svc-${s}-${i}`, tags: [i % 2 === 0 ? 'v1' : 'v2'], port: 20_000 + k,
        weights: { passing: 10, warning: 1 },
      });
      if (k % 50 === 49) catalog.setCheck(node, `svc-${s}-${i}`, 'critical');
      else if (k % 10 === 9) catalog.setCheck(node, `svc-${s}-${i}`, 'warning');
    }
  }
  return catalog;
}

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG), so every run asks the same questions. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

/** A mix like a service mesh's: mostly A and SRV for services, some tags, RFC 2782, nodes, and misses. */
function questionMix(services: number, nodes: number, domain: string, count = 10_000): Question[] {
  const random = lcg(42);
  const out: Question[] = [];
  for (let i = 0; i < count; i++) {
    const s = Math.floor(random() * services);
    const roll = random();
    if (roll < 0.45) out.push([`svc-${s}.service.${domain}`, 'A']);
    else if (roll < 0.70) out.push([`svc-${s}.service.${domain}`, 'SRV']);
    else if (roll < 0.80) out.push([`v1.svc-${s}.service.${domain}`, 'A']);
    else if (roll < 0.85) out.push([`_svc-${s}._tcp.service.${domain}`, 'SRV']);
    else if (roll < 0.90) out.push([`svc-${s}.service.dc1.${domain}`, 'AAAA']);
    else if (roll < 0.95) out.push([`node-${Math.floor(random() * nodes)}.node.${domain}`, 'A']);
    else out.push([`missing-${s}.service.${domain}`, 'A']);
  }
  return out;
}

/** Against a running agent: A and SRV for each named service, and the SOA. */
function agentQuestions(names: string[], domain: string): Question[] {
  return [...names.flatMap((n): Question[] => [[`${n}.service.${domain}`, 'A'], [`${n}.service.${domain}`, 'SRV']]), [domain, 'SOA']];
}

// ------------------------------------------------------------ dnsperf

function dnsperfInstalled(): boolean {
  return !spawnSync('dnsperf', ['-h'], { stdio: 'ignore' }).error;
}

async function runDnsperf(job: LoadJob, file: string, outFile: string): Promise<LoadResult> {
  const args = [
    '-s', job.host, '-p', String(job.port), '-d', file, '-l', String(job.seconds),
    '-n', String(Math.max(1, Math.ceil(job.maxQueries / job.questions.length))),
    '-q', String(job.outstanding), '-t', '2',
    // Socket buffers of 4 MiB: replies must not be dropped while dnsperf writes its per-query lines.
    '-b', '4096',
  ];
  if (job.rate > 0) args.push('-Q', String(Math.round(job.rate)));
  if (job.latencies) args.push('-v');
  // dnsperf writes to a file, read once it is done: parsing its output while it
  // runs would take CPU from the server being measured.
  const out = openSync(outFile, 'w');
  const child = spawn('dnsperf', args, { stdio: ['ignore', out, 'pipe'] });
  closeSync(out);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`dnsperf exited with ${code}: ${stderr.trim()}`);

  const latencies: number[] = [];
  const summary: string[] = [];
  // "> NOERROR web.service.consul A 0.000114": one line per query with -v.
  for await (const line of createInterface({ input: createReadStream(outFile) })) {
    if (line.startsWith('> ')) {
      if (latencies.length < job.maxQueries) latencies.push(Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000);
    } else summary.push(line);
  }
  const text = summary.join('\n');
  const field = (label: string): number => Number(new RegExp(`${label}:\\s+([\\d.]+)`).exec(text)?.[1] ?? NaN);
  const rcodes: Record<string, number> = {};
  for (const [, rcode, n] of (/Response codes:\s+(.*)/.exec(text)?.[1] ?? '').matchAll(/([A-Z]+) (\d+)/g)) rcodes[rcode] = Number(n);
  return {
    sent: field('Queries sent'), completed: field('Queries completed'), lost: field('Queries lost'),
    qps: field('Queries per second'), rcodes, latencies: latencies.sort((a, b) => a - b),
  };
}

// ------------------------------------------------------------ the Node load generator (worker thread)

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const QUERY_TIMEOUT_MS = 2000;

/** One UDP socket; slot i owns query id i, so matching a reply is an array index. */
async function nodeLoad(job: LoadJob): Promise<LoadResult> {
  const encoded = job.questions.map(([name, type]) => dnsPacket.encode({
    type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as dnsPacket.RecordType }],
  }));
  const slots = Math.min(job.outstanding, 0x10000);
  const sentAt = new Float64Array(slots).fill(-1);
  const free: number[] = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  // Large buffers, as dnsperf's -b: replies must not be dropped while this thread is busy sending.
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const result: LoadResult = { sent: 0, completed: 0, lost: 0, qps: 0, rcodes: {}, latencies: [] };
  const start = performance.now();
  const deadline = start + job.seconds * 1000;
  let next = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));

  const sendOne = (): boolean => {
    if (free.length === 0 || result.sent >= job.maxQueries || performance.now() >= deadline) return false;
    if (job.rate > 0 && result.sent >= ((performance.now() - start) / 1000) * job.rate) return false;
    const slot = free.pop()!;
    const message = Buffer.from(encoded[next++ % encoded.length]);
    message.writeUInt16BE(slot, 0);
    sentAt[slot] = performance.now();
    result.sent++;
    socket.send(message, job.port, job.host);
    return true;
  };
  const settle = (): void => {
    if (free.length === slots && (result.sent >= job.maxQueries || performance.now() >= deadline)) finish();
  };

  socket.on('message', (reply) => {
    if (reply.length < 12) return;
    const slot = reply.readUInt16BE(0);
    if (slot >= slots || sentAt[slot] < 0) return;
    const latency = performance.now() - sentAt[slot];
    sentAt[slot] = -1;
    free.push(slot);
    result.completed++;
    const rcode = RCODE_NAMES[reply[3] & 0xf] ?? `RCODE${reply[3] & 0xf}`;
    result.rcodes[rcode] = (result.rcodes[rcode] ?? 0) + 1;
    if (job.latencies && result.latencies.length < job.maxQueries) result.latencies.push(latency);
    if (job.rate === 0) sendOne();
    settle();
  });
  // Pacing, timeouts and the deadline: a coarse 1 ms tick.
  const tick = setInterval(() => {
    const now = performance.now();
    for (let slot = 0; slot < slots; slot++) {
      if (sentAt[slot] >= 0 && now - sentAt[slot] > QUERY_TIMEOUT_MS) {
        sentAt[slot] = -1;
        free.push(slot);
        result.lost++;
      }
    }
    while (sendOne());
    settle();
  }, 1);
  while (sendOne());
  await done;
  clearInterval(tick);
  socket.close();
  result.qps = result.completed / ((performance.now() - start) / 1000);
  result.latencies.sort((a, b) => a - b);
  return result;
}

function runNodeLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

if (!isMainThread) {
  void nodeLoad(workerData as LoadJob).then((result) => parentPort!.postMessage(result));
}

// ------------------------------------------------------------ the run

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function round(n: number, digits = 3): number {
  return Number.isFinite(n) ? Number(n.toFixed(digits)) : n;
}

async function main(): Promise<void> {
  const seconds = numberArg('seconds', 10);
  const maxQueries = Math.floor(numberArg('max-queries', 2_000_000));
  const services = Math.floor(numberArg('services', 200));
  const instances = Math.floor(numberArg('instances', 3));
  const domain = (arg('domain') ?? 'consul').replace(/\.$/, '');
  const target = arg('server');
  const json = process.argv.includes('--json');
  const wantTool = arg('tool');
  const haveDnsperf = dnsperfInstalled();
  if (wantTool === 'dnsperf' && !haveDnsperf) throw new Error('dnsperf is not installed (apt-get install -y dnsperf)');
  const tool = wantTool === 'node' || !haveDnsperf ? 'node' : 'dnsperf';
  const log = (line: string): void => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  if (tool === 'node' && wantTool !== 'node') log('dnsperf not found (apt-get install -y dnsperf): using the Node load generator');

  let server: DnsServer | undefined;
  let host: string;
  let port: number;
  let questions: Question[];
  if (target) {
    const at = target.lastIndexOf(':');
    host = target.slice(0, at).replace(/^\[|\]$/g, '');
    port = Number(target.slice(at + 1));
    if (at <= 0 || !(port > 0)) throw new Error(`--server must be host:port, got ${target}`);
    questions = agentQuestions((arg('names') ?? 'consul').split(',').filter(Boolean), domain);
  } else {
    const catalog = buildCatalog(services, instances);
    server = await startDnsServer({ catalog, host: '127.0.0.1', port: 0, domain });
    ({ host, port } = server.address);
    questions = questionMix(services, catalog.nodes().length, domain);
  }
  const dir = mkdtempSync(join(tmpdir(), 'konsul-dns-bench-'));
  const file = join(dir, 'queries.txt');
  writeFileSync(file, questions.map(([name, type]) => `${name} ${type}`).join('\n') + '\n');
  const load = (job: LoadJob): Promise<LoadResult> => (tool === 'dnsperf' ? runDnsperf(job, file, join(dir, 'dnsperf.out')) : runNodeLoad(job));

  try {
    const phase = Math.max(1, Math.round(seconds / 2));
    const base = { host, port, questions, seconds: phase, maxQueries: Math.floor(maxQueries / 2) };
    log(`${tool} against ${host}:${port} (${target ? 'running agent' : `in-process server, ${services} services × ${instances} instances`}), ${questions.length} distinct questions, 2 × ${phase} s`);

    // 1. Saturation: 100 queries in flight, no pacing, no per-query output.
    const cpuBefore = process.cpuUsage();
    const peak = await load({ ...base, outstanding: 100, rate: 0, latencies: false });
    const cpu = process.cpuUsage(cpuBefore);
    // 2. Latency at half the peak rate, each query timed.
    const paced = await load({ ...base, outstanding: 1000, rate: Math.max(100, peak.qps / 2), latencies: true });

    const out: Record<string, unknown> = {
      tool,
      target: target ?? `in-process (${services} services × ${instances} instances)`,
      peak: { qps: Math.round(peak.qps), sent: peak.sent, lost: peak.lost, rcodes: peak.rcodes },
      atHalfPeak: {
        qps: Math.round(paced.qps), lost: paced.lost,
        p50Ms: round(pct(paced.latencies, 50)), p90Ms: round(pct(paced.latencies, 90)),
        p99Ms: round(pct(paced.latencies, 99)), maxMs: round(paced.latencies.at(-1) ?? NaN),
      },
    };
    if (tool === 'node') out.note = 'the Node generator paces in 1 ms bursts and shares this process: its latencies run high';
    if (server && tool === 'dnsperf') {
      // dnsperf is another process: this process's CPU time is the server's.
      out.serverCpuMicrosPerQuery = round((cpu.user + cpu.system) / Math.max(1, peak.completed), 1);
    }
    if (server) {
      const stats = server.stats();
      out.server = { queries: stats.queries, cacheHits: stats.cacheHits, cacheMisses: stats.cacheMisses, errors: stats.errors };
    }
    if (json) console.log(JSON.stringify(out));
    else for (const [key, value] of Object.entries(out)) console.log(`${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server?.close();
  }
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
