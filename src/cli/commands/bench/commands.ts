// `konsul bench write|read|dns|failover|self-test`: load against a running
// cluster (konsul's API, or etcd's v3 HTTP/JSON gateway with --api etcd, so
// the same tool measures both), with throughput, latency percentiles and
// errors, as text or --json.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, Option, UsageError } from '../../clipanion.js';
import { agentOrigin } from '../../client.js';
import { KonsulCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { benchValue, readWorkload, writeWorkload, type ApiName } from './apis.js';
import { APIS, BenchLoadCommand, CONSISTENCIES, choiceFlag, durationFlag, intFlag } from './common.js';
import { DNS_TYPES, runDnsLoad, type DnsType } from './dns-load.js';
import { FailoverRunner, type FailoverResult } from './failover.js';
import { httpPool, runHttpLoad } from './http-load.js';
import { formatResult, type BenchResult } from './stats.js';

const HTTP_ADDR = 'The HTTP address to load, host:port or URL (default: KONSUL_HTTP_ADDR, else 127.0.0.1:8500); with --api etcd, an etcd client URL';
const API = 'konsul (the /v1/kv API, default) or etcd (etcd\'s v3 HTTP/JSON gateway: /v3/kv/put, /v3/kv/range), to measure both with the same load';

abstract class KvBenchCommand extends BenchLoadCommand {
  httpAddr = Option.String('--http-addr', { description: HTTP_ADDR });
  api = Option.String('--api', { description: API });
  keys = Option.String('--key-count', { description: 'How many distinct keys, used round-robin (default 1000)' });
  prefix = Option.String('--prefix', { description: 'Key prefix (default "bench/"); keys are <prefix>0 .. <prefix>N-1' });
  valueSize = Option.String('--value-size', { description: 'Bytes per value written (default 100)' });
  token = Option.String('--token', { description: 'ACL token sent with every request (default: KONSUL_HTTP_TOKEN); konsul\'s API only' });

  protected target(): { api: ApiName; origin: string; keys: number; prefix: string; value: Buffer; token?: string } {
    const api = choiceFlag('--api', this.api, 'konsul', APIS);
    const origin = agentOrigin(this.httpAddr, this.context.env);
    const keys = intFlag('--key-count', this.keys, 1000, 1, 1_000_000);
    const prefix = this.prefix ?? 'bench/';
    if (prefix === '' || prefix.startsWith('/')) throw new UsageError(`--prefix must be non-empty and not start with "/", got "${prefix}"`);
    const value = benchValue(intFlag('--value-size', this.valueSize, 100, 0, 512 * 1024));
    if (this.token !== undefined && api === 'etcd') throw new UsageError('--token is for konsul\'s API; etcd\'s gateway takes none here');
    const token = api === 'konsul' ? this.token || this.context.env.KONSUL_HTTP_TOKEN || undefined : undefined;
    return { api, origin, keys, prefix, value, token };
  }
}

export class BenchWriteCommand extends KvBenchCommand {
  static override paths = [['bench', 'write']];
  static override usage = Command.Usage({
    category: 'Bench',
    description: 'Measure write throughput and latency against a running cluster',
    details: `
      Writes --value-size bytes to --key-count keys (<prefix>0, <prefix>1, ... round-robin) with --concurrency
      requests in flight over keep-alive connections, for --duration or --requests, and prints the
      throughput (acknowledged writes per second), latency percentiles (p50, p90, p99, max) of the
      acknowledged writes, and the errors by kind (HTTP status, "timeout", connection errors).

      Each write is a PUT /v1/kv/<key>, acknowledged once committed by a majority. Writes sent to a
      follower are forwarded to the leader; point --http-addr at the leader to measure Raft alone.
      With --api etcd the same load goes to etcd's HTTP/JSON gateway (POST /v3/kv/put).

      On a terminal a progress line is shown on stderr. Exit status: 0 when any write succeeded, 1 when
      none did, 3 when nothing listens at the address, 2 for a bad flag.
    `,
    examples: [
      ['Ten seconds of 100-byte writes, 16 in flight', '$0 bench write'],
      ['64 in flight, 50,000 writes, as JSON', '$0 bench write -c 64 -n 50000 --json'],
      ['The same load against etcd', '$0 bench write --api etcd --http-addr http://127.0.0.1:2379 -c 64'],
    ],
  });

  async execute(): Promise<number> {
    const bounds = this.loadBounds();
    const t = this.target();
    const progress = this.progress();
    const result = await runHttpLoad({
      workload: t.api === 'konsul' ? 'write' : 'write (etcd)', origin: t.origin, ...bounds,
      ...writeWorkload(t.api, t.prefix, t.keys, t.value, t.token), onProgress: progress.onProgress,
    }).finally(progress.clear);
    return this.report(result, 'write');
  }
}

export class BenchReadCommand extends KvBenchCommand {
  static override paths = [['bench', 'read']];
  static override usage = Command.Usage({
    category: 'Bench',
    description: 'Measure read throughput and latency at a consistency mode',
    details: `
      First writes each of the --key-count keys once (unless --no-prefill), then reads them round-robin with
      --concurrency requests in flight, for --duration or --requests, and prints the throughput,
      latency percentiles (p50, p90, p99, max) and errors (a missing key counts as one).

      --consistency default: the leader answers under its lease (a follower asks it for a read index);
      consistent: the leader first confirms it still leads; stale: the agent answers from its own
      replica. With --api etcd, default and consistent are etcd's linearizable reads and stale is its
      serializable read (POST /v3/kv/range).
    `,
    examples: [
      ['Ten seconds of default reads', '$0 bench read'],
      ['Stale reads from a follower, 64 in flight', '$0 bench read --consistency stale --http-addr 127.0.0.1:8501 -c 64'],
      ['etcd serializable reads, as JSON', '$0 bench read --api etcd --http-addr http://127.0.0.1:2379 --consistency stale --json'],
    ],
  });

  consistency = Option.String('--consistency', { description: 'default, consistent or stale (default: default)' });
  noPrefill = Option.Boolean('--no-prefill', false, { description: 'Do not write the keys first (they must exist)' });

  async execute(): Promise<number> {
    const bounds = this.loadBounds();
    const t = this.target();
    const consistency = choiceFlag('--consistency', this.consistency, 'default', CONSISTENCIES);
    if (!this.noPrefill) {
      const fill = await runHttpLoad({
        workload: 'prefill', origin: t.origin, concurrency: Math.min(64, t.keys), requests: t.keys, timeoutMs: bounds.timeoutMs,
        ...writeWorkload(t.api, t.prefix, t.keys, t.value, t.token),
      });
      if (fill.errorCount > 0) {
        if (fill.ok === 0) this.report(fill, 'prefill write');
        throw new CliError(`writing the ${t.keys} keys first failed ${fill.errorCount} times (${Object.entries(fill.errors).map(([k, v]) => `${k}: ${v}`).join(', ')})`);
      }
    }
    const progress = this.progress();
    const result = await runHttpLoad({
      workload: `read ${consistency}${t.api === 'etcd' ? ' (etcd)' : ''}`, origin: t.origin, ...bounds,
      ...readWorkload(t.api, t.prefix, t.keys, consistency, t.token), onProgress: progress.onProgress,
    }).finally(progress.clear);
    return this.report(result, 'read');
  }
}

/** host:port, [v6]:port or a bare host (port 8600). */
export function dnsTarget(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(text.trim());
  const port = m?.[3] === undefined ? 8600 : Number(m[3]);
  if (!m || !(port >= 1 && port <= 65535)) throw new UsageError(`--dns-addr must be host:port (example: 127.0.0.1:8600), got "${text}"`);
  return { host: m[1] ?? m[2], port };
}

export class BenchDnsCommand extends BenchLoadCommand {
  static override paths = [['bench', 'dns']];
  static override usage = Command.Usage({
    category: 'Bench',
    description: 'Measure DNS queries per second and latency against an agent\'s DNS server',
    details: `
      Sends the given questions (each --name with --type, round-robin) over UDP with --concurrency
      queries in flight, for --duration or --requests, and prints the answers per second, latency
      percentiles of NOERROR answers, and the rest by kind (NXDOMAIN, SERVFAIL, ..., "timeout" for a
      query unanswered within --timeout). Works against any DNS server, so the same load can measure a
      reference such as dnsmasq.
    `,
    examples: [
      ['A records of the web service, 10 seconds', '$0 bench dns --name web.service.consul'],
      ['A and SRV mix, 100 in flight, 200,000 queries', '$0 bench dns --name web.service.consul --name db.service.consul --type SRV -c 100 -n 200000'],
    ],
  });

  dnsAddr = Option.String('--dns-addr', { description: 'The DNS server, host:port (default: KONSUL_DNS_ADDR, else 127.0.0.1:8600)' });
  names = Option.Array('--name', { description: 'A name to ask for (repeatable, at least one), such as web.service.consul' });
  type = Option.String('--type', { description: `Record type to ask for: ${DNS_TYPES.join(', ')} (default A)` });

  async execute(): Promise<number> {
    const bounds = this.loadBounds();
    const target = dnsTarget(this.dnsAddr ?? (this.context.env.KONSUL_DNS_ADDR || '127.0.0.1:8600'));
    const type = choiceFlag<DnsType>('--type', this.type?.toUpperCase(), 'A', DNS_TYPES);
    const names = this.names ?? [];
    if (names.length === 0) throw new UsageError('bench dns needs at least one --name to ask for (example: --name web.service.consul)');
    for (const name of names) {
      if (name === '' || name.length > 253 || name.split('.').some((label) => label.length > 63)) {
        throw new UsageError(`--name must be a DNS name (labels of at most 63 bytes, 253 in all), got "${name}"`);
      }
    }
    const progress = this.progress();
    const result = await runDnsLoad({
      ...target, ...bounds, questions: names.map((name) => ({ name: name.replace(/\.$/, ''), type })), onProgress: progress.onProgress,
    }).finally(progress.clear);
    return this.report(result, 'query');
  }
}

function runShell(command: string, env: NodeJS.ProcessEnv, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new CliError(`${what} exited with ${code}: ${stderr.trim().split('\n')[0] ?? ''}`))));
  });
}

export function formatFailover(r: FailoverResult): string {
  const ms = (n: number | null): string => (n === null ? '-' : `${n} ms`);
  return [
    `failover (${r.fault}) against ${r.target}, ${r.rounds.length} rounds`,
    ...r.rounds.map((x) => `  round ${x.round}: leader ${x.leader}, ${x.ms === null ? 'no write acknowledged in time' : `first write after ${x.ms} ms`}`),
    `  median ${ms(r.medianMs)}  p90 ${ms(r.p90Ms)}  worst ${ms(r.worstMs)}  failed rounds ${r.failed}`,
  ].join('\n');
}

export class BenchFailoverCommand extends KonsulCommand {
  static override paths = [['bench', 'failover']];
  static override usage = Command.Usage({
    category: 'Bench',
    description: 'Measure how long writes stop when the leader fails',
    details: `
      Each round finds the leader (GET /cluster/status), faults it, then sends a write through every
      other member every 10 ms until one is acknowledged. The figure is the time from the start of the
      fault to that first acknowledged write: what a client retrying on the other servers sees.
      After --fault-cmd, --heal-cmd runs, the round waits until every member agrees on a leader, then
      --settle before the next round.

      This command cannot kill processes on other hosts, so the fault is yours to give:

      - Without --fault-cmd, the fault is a leadership transfer (POST /cluster/transfer-leader), which
        needs nothing but the HTTP API: it measures a planned handover.
      - --fault-cmd runs a shell command with KONSUL_BENCH_LEADER_ID, KONSUL_BENCH_LEADER_HTTP (the
        leader's HTTP origin) and KONSUL_BENCH_ROUND set; timing starts before it runs, and the writes
        start when it exits, so keep it quick (a kill, not a shutdown). --heal-cmd gets the same
        variables and undoes it (restart the process, SIGCONT). With --api etcd, --fault-cmd is needed.

      \`npm run bench\` in the source tree runs this against a local cluster with kill -9 and SIGSTOP.
    `,
    examples: [
      ['Five leadership transfers', '$0 bench failover --rounds 5'],
      ['kill -9 of a systemd-managed leader, restarted after each round',
        '$0 bench failover --fault-cmd \'systemctl kill -s KILL konsul@$KONSUL_BENCH_LEADER_ID\' --heal-cmd \'systemctl start konsul@$KONSUL_BENCH_LEADER_ID\''],
    ],
  });

  httpAddr = Option.String('--http-addr', { description: 'Any member\'s HTTP address, host:port or URL (default: KONSUL_HTTP_ADDR, else 127.0.0.1:8500); with --api etcd, an etcd client URL' });
  api = Option.String('--api', { description: API });
  rounds = Option.String('--rounds', { description: 'How many faults (default 3)' });
  faultCmd = Option.String('--fault-cmd', { description: 'Shell command that faults the leader (default: a leadership transfer)' });
  healCmd = Option.String('--heal-cmd', { description: 'Shell command that undoes the fault after each round' });
  roundTimeout = Option.String('--round-timeout', { description: 'Give up on a round after this long without an acknowledged write (default 10s)' });
  settle = Option.String('--settle', { description: 'Pause after the cluster agrees on a leader again, before the next round (default 1s)' });
  json = Option.Boolean('--json', false, { description: 'Print the result as JSON, for scripts' });

  async execute(): Promise<number> {
    const t = { api: choiceFlag('--api', this.api, 'konsul', APIS), origin: agentOrigin(this.httpAddr, this.context.env) };
    const rounds = intFlag('--rounds', this.rounds, 3, 1, 1000);
    const roundTimeoutMs = durationFlag('--round-timeout', this.roundTimeout, 10_000, 100, 600_000);
    const settleMs = durationFlag('--settle', this.settle, 1000, 0, 600_000);
    if (t.api === 'etcd' && this.faultCmd === undefined) throw new UsageError('--api etcd needs --fault-cmd (a leadership transfer is konsul\'s endpoint)');
    if (this.healCmd !== undefined && this.faultCmd === undefined) throw new UsageError('--heal-cmd only goes with --fault-cmd');
    const env = (leader: { id: string; origin: string }, round: number): NodeJS.ProcessEnv => ({
      ...this.context.env, KONSUL_BENCH_LEADER_ID: leader.id, KONSUL_BENCH_LEADER_HTTP: leader.origin, KONSUL_BENCH_ROUND: String(round),
    });
    const faultCmd = this.faultCmd;
    const healCmd = this.healCmd;
    let transferPool: ReturnType<typeof httpPool> | undefined;
    const runner = new FailoverRunner({
      api: t.api, origin: t.origin, rounds, roundTimeoutMs, settleMs,
      faultName: faultCmd ?? 'leadership transfer',
      fault: faultCmd !== undefined
        ? (leader, round) => runShell(faultCmd, env(leader, round), '--fault-cmd')
        : async (leader) => {
          transferPool = httpPool(leader.origin, 1, roundTimeoutMs);
          const res = await transferPool.request({ method: 'POST', path: '/cluster/transfer-leader', headersTimeout: roundTimeoutMs });
          const text = await res.body.text();
          await transferPool.destroy();
          if (res.statusCode !== 200) throw new CliError(`leadership transfer failed: ${text.trim().split('\n')[0]} (HTTP ${res.statusCode})`);
        },
      heal: healCmd !== undefined ? (leader, round) => runShell(healCmd, env(leader, round), '--heal-cmd') : undefined,
      onRound: this.json || (this.context.stderr as { isTTY?: boolean }).isTTY !== true ? undefined
        : (r) => void this.context.stderr.write(`round ${r.round}: ${r.ms === null ? 'no write in time' : `${r.ms} ms`}\n`),
    });
    let result: FailoverResult;
    try {
      result = await runner.run();
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`failover: ${(error as Error).message}`);
    }
    if (this.json) this.printJson(result, 'as-is');
    else this.out(formatFailover(result));
    return result.failed === 0 ? EXIT.ok : EXIT.failed;
  }
}

export interface SelfTestResult {
  http: BenchResult;
  dns: BenchResult;
}

export class BenchSelfTestCommand extends BenchLoadCommand {
  static override paths = [['bench', 'self-test']];
  static override usage = Command.Usage({
    category: 'Bench',
    description: 'Measure the bench tool\'s own ceiling against trivial servers',
    details: `
      Starts, in a child process, an HTTP server that answers every request with 200 "true" and a UDP
      server that echoes every DNS query back as an empty answer, then runs the write load (PUT of
      100 bytes) and the DNS load against them. What it reaches there is the most this tool can
      measure on this machine: a figure from \`bench write\`, \`read\` or \`dns\` well below it is the
      server's, not the tool's. Defaults: 5 s each, 64 in flight.
    `,
    examples: [
      ['The ceiling on this machine', '$0 bench self-test'],
      ['As JSON', '$0 bench self-test --json --duration 3s'],
    ],
  });

  async execute(): Promise<number> {
    const bounds = this.loadBounds();
    const durationMs = this.duration === undefined && this.requests === undefined ? 5000 : bounds.durationMs;
    const concurrency = this.concurrency === undefined ? 64 : bounds.concurrency;
    const script = fileURLToPath(new URL('./trivial-servers.js', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => reject(new CliError(`the trivial servers exited with ${code}`)));
        createInterface({ input: child.stdout! }).once('line', resolve);
      });
      const ports = JSON.parse(line) as { http: number; dns: number };
      const http = await runHttpLoad({
        workload: 'self-test http', origin: `http://127.0.0.1:${ports.http}`, ...bounds, durationMs, concurrency,
        ...writeWorkload('konsul', 'bench/', 1000, benchValue(100)),
      });
      const dns = await runDnsLoad({
        host: '127.0.0.1', port: ports.dns, ...bounds, durationMs, concurrency, questions: [{ name: 'web.service.consul', type: 'A' }],
      });
      if (this.json) this.printJson({ http, dns } satisfies SelfTestResult, 'as-is');
      else this.out(`${formatResult(http)}\n${formatResult(dns)}`);
      return http.ok > 0 && dns.ok > 0 ? EXIT.ok : EXIT.failed;
    } finally {
      child.removeAllListeners('exit');
      child.stdin!.end();
      child.kill();
    }
  }
}
