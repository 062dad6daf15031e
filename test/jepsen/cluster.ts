// Real `konsul agent` processes for the fault suite: each in its own network
// namespace when the network allows it, each with a log file in the run dir,
// killed, paused, wiped and restarted by the nemeses.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent as UndiciAgent, request } from 'undici';
import type { ClusterStatus } from '../../src/agent/api.js';
import { BIN, freePort, sleep, waitFor } from '../cluster/harness.js';
import type { Network } from './net.js';

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

const dispatcher = new UndiciAgent({ keepAliveTimeout: 4_000, connections: 128, connect: { timeout: 2_000 } });

/** One HTTP request that gives up (throws) after timeoutMs in all. */
export async function call(method: string, url: string, body?: string, timeoutMs = 2_000): Promise<Answer> {
  const res = await request(url, {
    method: method as 'GET', body, dispatcher, signal: AbortSignal.timeout(timeoutMs),
    headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
  });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

export class JNode {
  proc: ChildProcess | undefined;
  paused = false;
  /** Set once the node was started; removed members are taken out of the rotation. */
  member = true;
  /** The konsul it runs (bin/konsul.js of this tree, or of a release built from history: see test/upgrade). */
  bin = BIN;
  /** Its data dir is a small filesystem of its own (the disk-full fault): wipe empties it instead of removing it. */
  mounted = false;
  /** ops2: the ext4 image file its data dir is loop-mounted from (the power-loss fault). */
  image: string | undefined;
  /** Set while the clock-skew fault runs it: its clocks (wall and monotonic) run at this rate (libfaketime). */
  clockRate: number | undefined;
  /** With delay proxies (delay-proxy.ts): the port of the proxy in front of its Raft port, which it advertises. */
  proxyPort: number | undefined;
  proxy: ChildProcess | undefined;
  constructor(
    readonly id: string,
    readonly server: boolean,
    readonly ip: string,
    readonly raftPort: number,
    readonly httpPort: number,
    readonly dnsPort: number,
    readonly dataDir: string,
    readonly logPath: string,
  ) {}

  get url(): string {
    return `http://${this.ip}:${this.httpPort}`;
  }

  get raftAddress(): string {
    return `${this.ip}:${this.raftPort}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }
}

/** libfaketime (apt: faketime), for the clock faults; undefined when it is not installed. */
export const FAKETIME_LIB = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/faketime/libfaketimeMT.so.1']
  .find((p) => existsSync(p));

export interface JClusterOptions {
  dir: string;
  net: Network;
  ids: string[];
  /** Those of ids that are client agents (non-voters with a full replica), not servers. */
  clientIds: string[];
  /** Extra agent flags (every node). */
  flags: string[];
  env: NodeJS.ProcessEnv;
  /** Put a delaying proxy in front of every node's Raft port (the delay fault where tc netem is missing). */
  proxies?: boolean;
}

export class JCluster {
  readonly nodes = new Map<string, JNode>();
  private readonly exits = new Map<string, Promise<void>>();

  private constructor(private readonly opts: JClusterOptions) {}

  static async create(opts: JClusterOptions): Promise<JCluster> {
    const c = new JCluster(opts);
    for (const id of opts.ids) {
      const ip = opts.net.node(id).ip;
      const ns = opts.net.kind === 'netns';
      const [raft, httpP, dns] = ns ? [7000, 8500, 8600] : [await freePort(), await freePort(), await freePort()];
      const node = new JNode(id, !opts.clientIds.includes(id), ip, raft, httpP, dns, join(opts.dir, 'data', id), join(opts.dir, `${id}.log`));
      if (opts.proxies) node.proxyPort = ns ? raft + 1 : await freePort();
      c.nodes.set(id, node);
    }
    mkdirSync(join(opts.dir, 'data'), { recursive: true });
    return c;
  }

  node(id: string): JNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  ids(): string[] {
    return [...this.nodes.keys()];
  }

  /** The server members (the nemeses' targets). */
  servers(): JNode[] {
    return this.members().filter((n) => n.server);
  }

  members(): JNode[] {
    return [...this.nodes.values()].filter((n) => n.member);
  }

  /** Start the process (bootstrap: first server of a new cluster; join: raft addresses). */
  async start(id: string, how: { bootstrap?: boolean; join?: string[] } = {}): Promise<void> {
    const n = this.node(id);
    if (n.running) return;
    const argv = [
      process.execPath, n.bin, 'agent', ...(n.server ? ['--server'] : []), '--node-id', id, '--data-dir', n.dataDir,
      '--raft-addr', n.raftAddress, '--http-addr', `${n.ip}:${n.httpPort}`, '--dns-addr', `${n.ip}:${n.dnsPort}`,
      '--stabilization-time', '300ms', '--dead-server-timeout', '10m', '--log-level', 'info',
      // Namespaces give the agents non-loopback addresses; the fault suite runs them open on purpose
      // (a release from before closed clusters has no such flag, and is open anyway).
      ...(knowsFlag(n.bin, '--insecure-peers') ? ['--insecure-peers'] : []), ...this.opts.flags,
    ];
    if (n.proxyPort !== undefined) {
      argv.push('--advertise', `${n.ip}:${n.proxyPort}`);
      this.startProxy(n);
    }
    if (how.bootstrap) argv.push('--bootstrap');
    if (how.join && how.join.length > 0) argv.push('--join', how.join.join(','));
    const full = this.opts.net.wrap(id, argv);
    const out = createWriteStream(n.logPath, { flags: 'a' });
    out.write(`\n=== jepsen: start ${id} at ${new Date().toISOString()} ${how.bootstrap ? 'bootstrap' : how.join ? `join ${how.join.join(',')}` : 'restart'}\n`);
    const proc = spawn(full[0], full.slice(1), {
      env: { ...process.env, ...this.opts.env, ...this.faultEnv(n), KONSUL_HTTP_ADDR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    n.proc = proc;
    n.paused = false;
    this.exits.set(id, new Promise((resolve) => proc.once('exit', () => resolve())));
    await waitFor(`${id} to serve HTTP`, async () => {
      if (proc.exitCode !== null) throw new Error(`${id} exited with ${proc.exitCode}: ${tail(n.logPath)}`);
      const r = await call('GET', `${n.url}/cluster/status`, undefined, 1_000);
      return r.status === 200 ? true : undefined;
    }, 30_000, 100);
  }

  /** The delay proxy's control file of a node ("MS JITTER", or "0"). */
  netDelayFile(id: string): string {
    return join(this.opts.dir, `${id}.netdelay`);
  }

  /** Delays every peer connection to every node by ms ± jitter (through the proxies). */
  setNetDelay(ms: number, jitterMs: number): void {
    for (const n of this.nodes.values()) writeFileSync(this.netDelayFile(n.id), `${ms} ${jitterMs}\n`);
  }

  private startProxy(n: JNode): void {
    if (n.proxy && n.proxy.exitCode === null && n.proxy.signalCode === null) return;
    const script = join(dirname(fileURLToPath(import.meta.url)), 'delay-proxy.js');
    const argv = this.opts.net.wrap(n.id, [process.execPath, script, n.ip, String(n.proxyPort), n.ip, String(n.raftPort), this.netDelayFile(n.id)]);
    n.proxy = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  }

  /** Where the slow-disk fault writes a node's fsync delay (ms). */
  fsyncDelayFile(id: string): string {
    return join(this.opts.dir, `${id}.fsync-delay`);
  }

  /** The libfaketime timestamp file of a node's wall clock ("+0", "+30", "-30"...), read at most once a second. */
  clockFile(id: string): string {
    return join(this.opts.dir, `${id}.clock`);
  }

  setFsyncDelay(id: string, ms: number): void {
    writeFileSync(this.fsyncDelayFile(id), `${ms}\n`);
  }

  /** Moves a node's wall clock to real time plus `offsetS` (its monotonic clock is untouched, as when NTP steps a clock). */
  setClockOffset(id: string, offsetS: number): void {
    writeFileSync(this.clockFile(id), `${offsetS >= 0 ? '+' : ''}${offsetS}\n`);
  }

  /**
   * The test-only hooks every agent of the suite starts with: the fsync delay
   * file (KONSUL_UNSAFE_FSYNC_DELAY_FILE, see src/storage/group-commit.ts) and,
   * with libfaketime, a wall clock the clock-jump fault can move; while the
   * clock-skew fault runs a node, both its clocks run at another rate.
   */
  private faultEnv(n: JNode): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { KONSUL_UNSAFE_FSYNC_DELAY_FILE: this.fsyncDelayFile(n.id) };
    if (!FAKETIME_LIB) return env;
    env.LD_PRELOAD = FAKETIME_LIB;
    if (n.clockRate !== undefined) {
      env.FAKETIME = `+0 x${n.clockRate}`;
      env.FAKETIME_DONT_FAKE_MONOTONIC = '0';
    } else {
      if (!existsSync(this.clockFile(n.id))) this.setClockOffset(n.id, 0);
      env.FAKETIME_TIMESTAMP_FILE = this.clockFile(n.id);
      env.FAKETIME_CACHE_DURATION = '1';
      env.FAKETIME_DONT_FAKE_MONOTONIC = '1';
    }
    return env;
  }

  async kill(id: string): Promise<void> {
    const n = this.node(id);
    if (!n.proc || !n.running) return;
    n.proc.kill('SIGKILL');
    n.paused = false;
    await this.exits.get(id);
  }

  /** Stops the agent with a signal (SIGTERM: a server stops, a client leaves first; SIGINT: either just stops). */
  async stop(id: string, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    const n = this.node(id);
    if (!n.proc || !n.running) return;
    if (n.paused) n.proc.kill('SIGCONT');
    n.proc.kill(signal);
    n.paused = false;
    await this.exits.get(id);
  }

  pause(id: string): void {
    const n = this.node(id);
    if (n.running) {
      n.proc!.kill('SIGSTOP');
      n.paused = true;
    }
  }

  resume(id: string): void {
    const n = this.node(id);
    if (n.running && n.paused) n.proc!.kill('SIGCONT');
    n.paused = false;
  }

  wipe(id: string): void {
    const n = this.node(id);
    if (n.running) throw new Error(`wipe ${id}: still running`);
    if (n.mounted) {
      for (const name of readdirSync(n.dataDir)) rmSync(join(n.dataDir, name), { recursive: true, force: true });
    } else {
      rmSync(n.dataDir, { recursive: true, force: true });
    }
  }

  async status(id: string, timeoutMs = 1_500): Promise<ClusterStatus> {
    const r = await call('GET', `${this.node(id).url}/cluster/status`, undefined, timeoutMs);
    if (r.status !== 200) throw new Error(`status of ${id}: ${r.status}`);
    return JSON.parse(r.body) as ClusterStatus;
  }

  /**
   * The leader the running, unpaused members agree on; undefined if none now.
   * strict: every one of them must name it (none without a leader or unreachable).
   */
  async leaderNow(strict = false): Promise<string | undefined> {
    const seen = new Set<string>();
    const live = this.members().filter((n) => n.running && !n.paused);
    if (live.length === 0) return undefined;
    const sts = await Promise.all(live.map((n) => this.status(n.id).catch(() => undefined)));
    for (const st of sts) {
      if (st?.leader) seen.add(st.leader.id);
      else if (strict) return undefined;
    }
    if (seen.size !== 1) return undefined;
    const leader = [...seen][0];
    const ln = this.nodes.get(leader);
    return ln && ln.running && !ln.paused ? leader : undefined;
  }

  async leader(timeoutMs = 20_000): Promise<string> {
    return waitFor('a leader', () => this.leaderNow(), timeoutMs, 100);
  }

  async stopAll(): Promise<void> {
    for (const n of this.nodes.values()) {
      if (n.proxy && n.proxy.exitCode === null) n.proxy.kill('SIGKILL');
      if (n.running) {
        n.proc!.kill('SIGCONT');
        n.proc!.kill('SIGKILL');
        await this.exits.get(n.id);
      }
    }
  }
}

export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export { sleep };

const flagsOfBin = new Map<string, string>();
/** Whether `konsul agent` of this build takes the flag (read once from its --help). */
function knowsFlag(bin: string, flag: string): boolean {
  let help = flagsOfBin.get(bin);
  if (help === undefined) {
    const r = spawnSync(process.execPath, [bin, 'agent', '--help'], { encoding: 'utf8', timeout: 30_000 });
    help = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    flagsOfBin.set(bin, help);
  }
  return help.includes(flag);
}
