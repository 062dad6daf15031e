// Real agents in real processes on loopback, started the way a user starts
// them (`node bin/konsul.js agent ...`), with helpers to talk to them over
// HTTP, kill, pause and restart them, and wait for the cluster to settle.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { Agent as UndiciAgent, request } from 'undici';
import type { ClusterStatus } from '../../src/agent/api.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'bin', 'konsul.js');

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/**
 * Where freePort looks: KONSUL_TEST_PORTS ("low-high"), which the test runner
 * sets to a different range for each of its lanes so two lanes never hand out
 * the same port, else 20000-31999.
 */
function portRange(): [number, number] {
  const set = process.env.KONSUL_TEST_PORTS;
  const m = /^(\d+)-(\d+)$/.exec(set ?? '');
  const [low, high] = m ? [Number(m[1]), Number(m[2])] : [20_000, 31_999];
  if ((set && !m) || !(low >= 1024 && high <= 65_535 && high - low >= 100)) throw new Error(`KONSUL_TEST_PORTS: expected low-high, 100 ports or more, got ${process.env.KONSUL_TEST_PORTS}`);
  return [low, high];
}

/**
 * A free port below the kernel's ephemeral range (32768 and up here), so an
 * outgoing connection cannot take it between now and the agent binding it.
 */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  for (let i = 0; i < 1000; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found');
}

/** Poll `fn` until it returns a value other than undefined, or fail with `what` after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await sleep(everyMs);
  }
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const dispatcher = new UndiciAgent({ keepAliveTimeout: 10_000, connections: 64 });

export async function http(
  method: string, url: string, body?: string | Buffer, timeoutMs = 15_000, headers?: Record<string, string>,
): Promise<HttpAnswer> {
  const res = await request(url, {
    method: method as 'GET', body, dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, headers,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

export interface NodeSpec {
  id: string;
  server: boolean;
  bootstrap?: boolean;
  join?: string[];
  extra?: string[];
  /** Extra environment for this node only. */
  env?: NodeJS.ProcessEnv;
}

export class TestNode {
  proc: ChildProcess | undefined;
  exitCode: number | null = null;
  exited: Promise<number | null> = Promise.resolve(null);
  constructor(
    readonly spec: NodeSpec,
    readonly dataDir: string,
    readonly raftPort: number,
    readonly httpPort: number,
    readonly logPath: string,
    readonly dnsPort: number,
  ) {}

  get id(): string {
    return this.spec.id;
  }

  get raftAddress(): string {
    return `127.0.0.1:${this.raftPort}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.exitCode === null && this.proc.exitCode === null;
  }

  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }
}

export interface ClusterOptions {
  /** Extra flags for every agent. */
  flags?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Fast settings for tests: short stabilization, default timeouts otherwise. */
export const TEST_FLAGS = ['--stabilization-time', '300ms', '--log-level', 'info'];

export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'konsul-cluster-'));
  readonly nodes = new Map<string, TestNode>();
  constructor(private readonly options: ClusterOptions = {}) {}

  async add(spec: NodeSpec): Promise<TestNode> {
    const node = new TestNode(spec, join(this.dir, spec.id), await freePort(), await freePort(), join(this.dir, `${spec.id}.log`), await freePort());
    this.nodes.set(spec.id, node);
    return node;
  }

  node(id: string): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no test node ${id}`);
    return n;
  }

  args(node: TestNode): string[] {
    const s = node.spec;
    const a = [
      BIN, 'agent', '--node-id', s.id, '--data-dir', node.dataDir,
      '--raft-addr', node.raftAddress, '--http-addr', `127.0.0.1:${node.httpPort}`, '--dns-addr', `127.0.0.1:${node.dnsPort}`,
      ...TEST_FLAGS, ...(this.options.flags ?? []),
    ];
    if (s.server) a.push('--server');
    if (s.bootstrap) a.push('--bootstrap');
    if (s.join && s.join.length > 0) a.push('--join', s.join.join(','));
    a.push(...(s.extra ?? []));
    return a;
  }

  /** Start (or restart) the process; resolves once its HTTP answers. */
  async start(id: string): Promise<TestNode> {
    const node = this.node(id);
    const out = createWriteStream(node.logPath, { flags: 'a' });
    // KONSUL_AGENT_NODE_ARGS: extra node flags for every agent (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"),
    // or only for those KONSUL_AGENT_NODE_ARGS_IDS names (comma-separated ids).
    const only = process.env.KONSUL_AGENT_NODE_ARGS_IDS?.split(',');
    const nodeArgs = only && !only.includes(id) ? [] : (process.env.KONSUL_AGENT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const proc = spawn(process.execPath, [...nodeArgs, ...this.args(node)], {
      env: { ...process.env, ...this.options.env, ...node.spec.env, KONSUL_HTTP_ADDR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    node.proc = proc;
    node.exitCode = null;
    node.exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
      node.exitCode = code ?? (signal ? 128 : 1);
      resolve(code);
    }));
    await waitFor(`${id} to serve HTTP`, async () => {
      if (proc.exitCode !== null) throw new Error(`${id} exited with ${proc.exitCode}: ${node.log().slice(-2000)}`);
      const r = await http('GET', `${node.url}/cluster/status`, undefined, 2000);
      // 403: serving, with ACLs on (the harness may not hold a token yet).
      return r.status === 200 || r.status === 403 ? true : undefined;
    }, 20_000);
    return node;
  }

  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    if (!node.proc || node.proc.exitCode !== null) return;
    node.proc.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await node.exited;
  }

  signal(id: string, signal: NodeJS.Signals): void {
    this.node(id).proc?.kill(signal);
  }

  /** sec: an ACL token the harness sends with its own requests (status, leader). */
  token: string | undefined;

  async status(id: string): Promise<ClusterStatusView> {
    const r = await http('GET', `${this.node(id).url}/cluster/status`, undefined, 3000, this.token === undefined ? undefined : { 'x-consul-token': this.token });
    if (r.status !== 200) throw new Error(`status of ${id}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as ClusterStatusView;
  }

  /** The leader every running node (of `among`) agrees on, once they all agree. */
  async leader(among?: string[], timeoutMs = 15_000, not?: string): Promise<string> {
    const ids = among ?? [...this.nodes.values()].filter((n) => n.running).map((n) => n.id);
    return waitFor('one leader agreed by all nodes', async () => {
      const seen = new Set<string>();
      for (const id of ids) {
        const st = await this.status(id);
        if (!st.leader) return undefined;
        seen.add(st.leader.id);
      }
      return seen.size === 1 && ![...seen].includes(not ?? '\0') ? [...seen][0] : undefined;
    }, timeoutMs);
  }

  async put(id: string, key: string, value: string, query = ''): Promise<HttpAnswer> {
    return http('PUT', `${this.node(id).url}/v1/kv/${key}${query}`, value);
  }

  async get(id: string, key: string, query = ''): Promise<HttpAnswer> {
    return http('GET', `${this.node(id).url}/v1/kv/${key}${query}`);
  }

  /** The raw value of `key` on node `id` (undefined when missing). */
  async value(id: string, key: string, mode: 'stale' | 'consistent' | '' = 'consistent'): Promise<string | undefined> {
    const q = mode ? `?raw&${mode}` : '?raw';
    const r = await this.get(id, key, q);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${key} on ${id}: ${r.status} ${r.body}`);
    return r.body;
  }

  /** Every key:value under prefix on node id, read with ?recurse. */
  async dump(id: string, prefix: string, mode = 'consistent'): Promise<Map<string, string>> {
    const r = await this.get(id, prefix, `?recurse&${mode}`);
    const out = new Map<string, string>();
    if (r.status === 404) return out;
    if (r.status !== 200) throw new Error(`dump on ${id}: ${r.status} ${r.body}`);
    for (const e of JSON.parse(r.body) as Array<{ Key: string; Value: string | null }>) {
      out.set(e.Key, e.Value === null ? '' : Buffer.from(e.Value, 'base64').toString());
    }
    return out;
  }

  async stopAll(): Promise<void> {
    for (const n of this.nodes.values()) {
      if (n.proc && n.proc.exitCode === null) {
        n.proc.kill('SIGCONT');
        n.proc.kill('SIGKILL');
        await n.exited;
      }
    }
  }

  async cleanup(keepOnFailure = false): Promise<void> {
    await this.stopAll();
    if (!keepOnFailure) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last lines of every node's log (for failure messages). */
  logs(lines = 30): string {
    return [...this.nodes.values()].map((n) => `--- ${n.id}\n${n.log().split('\n').slice(-lines).join('\n')}`).join('\n');
  }
}

/** What GET /cluster/status answers. */
export type ClusterStatusView = ClusterStatus;

/**
 * Writes keys prefix/0, prefix/1, ... through the given nodes, one at a time
 * per writer, until stopped or `max` writes; records which writes were
 * acknowledged (HTTP 200 "true").
 */
export class Writer {
  readonly acked = new Map<string, string>();
  attempted = 0;
  failed = 0;
  private stopped = false;
  private running: Promise<void>[] = [];

  constructor(private readonly cluster: TestCluster, private readonly prefix: string) {}

  start(targets: () => string[], concurrency = 4, max = 20_000): void {
    let seq = 0;
    for (let w = 0; w < concurrency; w++) {
      this.running.push((async () => {
        while (!this.stopped && seq < max) {
          const n = seq++;
          const live = targets();
          if (live.length === 0) {
            await sleep(20);
            continue;
          }
          const id = live[n % live.length];
          const key = `${this.prefix}/${n}`;
          const value = `v${n}`;
          this.attempted++;
          try {
            const r = await http('PUT', `${this.cluster.node(id).url}/v1/kv/${key}`, value, 5000);
            if (r.status === 200 && r.body === 'true') this.acked.set(key, value);
            else this.failed++;
          } catch {
            this.failed++;
          }
        }
      })());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }
}

/** Bootstrap the first server, then join the other servers and the clients; resolves once the servers are all voters. */
export async function formCluster(c: TestCluster, servers: string[], clients: string[]): Promise<void> {
  const [first, ...rest] = servers;
  await c.add({ id: first, server: true, bootstrap: true });
  await c.start(first);
  await c.leader([first]);
  const join = [c.node(first).raftAddress];
  for (const id of rest) await c.add({ id, server: true, join });
  for (const id of clients) await c.add({ id, server: false, join });
  await Promise.all([...rest, ...clients].map((id) => c.start(id)));
  await waitVoters(c, servers, first);
}

/** Three (or more) servers: the first bootstraps, the others join it; returns once all are voters. */
export async function startServers(c: TestCluster, servers: string[]): Promise<void> {
  const [first, ...rest] = servers;
  await c.add({ id: first!, server: true, bootstrap: true });
  await c.start(first!);
  await c.leader([first!]);
  for (const id of rest) await c.add({ id, server: true, join: [c.node(first!).raftAddress] });
  await Promise.all(rest.map((id) => c.start(id)));
  await waitVoters(c, servers, first!, 60_000);
}

/** Client agents joining every server, started ten at a time. */
export async function startClients(c: TestCluster, clients: string[], servers: string[]): Promise<void> {
  const join = servers.map((id) => c.node(id).raftAddress);
  for (const id of clients) await c.add({ id, server: false, join });
  for (let i = 0; i < clients.length; i += 10) await Promise.all(clients.slice(i, i + 10).map((id) => c.start(id)));
}

/** Until the configuration on `via` has exactly these voters (and every member is known). */
export async function waitVoters(c: TestCluster, voters: string[], via: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(`voters ${voters.join(',')}`, async () => {
    const st = await c.status(via);
    const v = st.members.filter((m) => m.voter).map((m) => m.id).sort();
    return JSON.stringify(v) === JSON.stringify([...voters].sort()) ? true : undefined;
  }, timeoutMs);
}

/**
 * `it` for the steps of one scenario on cluster `c`, inside a describe: when
 * the describe ends the cluster is stopped, and its dir is kept and its logs
 * printed if a step failed.
 */
export function scenario(c: TestCluster): (name: string, fn: () => Promise<void>) => void {
  let failed = false;
  after(async () => {
    if (failed) process.stderr.write(`cluster logs kept in ${c.dir}\n${c.logs()}\n`);
    await c.cleanup(failed);
  });
  return (name, fn) => {
    it(name, async () => {
      try {
        await fn();
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  };
}
