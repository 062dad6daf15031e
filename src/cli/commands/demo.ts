// `konsul demo`: a local cluster to try konsul with, 3 servers and 2 clients as
// child processes of `konsul agent` on loopback, two sample services, and a
// clean stop (clients leave, then servers stop) on Ctrl-C or SIGTERM.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option, UsageError } from '../clipanion.js';
import { AgentClient } from '../client.js';
import { KonsulCommand } from '../command.js';
import { CliError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';

const BIN = fileURLToPath(new URL('../../../../bin/konsul.js', import.meta.url));
const HOST = '127.0.0.1';

/** This install's root (where bin/konsul.js is). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');

/**
 * How to type konsul in this shell so the printed commands work: `konsul` when PATH has this
 * install's konsul, `npx konsul` inside the checkout, else the full `node .../bin/konsul.js`.
 */
export function konsulInvocation(env: NodeJS.ProcessEnv, cwd: string, root = PACKAGE_ROOT): { prefix: string; onPath: boolean } {
  const own = (() => {
    try {
      return realpathSync(join(root, 'bin', 'konsul.js'));
    } catch {
      return join(root, 'bin', 'konsul.js');
    }
  })();
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      if (realpathSync(join(dir, 'konsul')) === own) return { prefix: 'konsul', onPath: true };
    } catch {
      // not there
    }
  }
  const inside = relative(root, cwd);
  if (!inside.startsWith('..') && !isAbsolute(inside) && existsSync(join(root, 'package.json'))) return { prefix: 'npx konsul', onPath: false };
  return { prefix: `node ${join(root, 'bin', 'konsul.js')}`, onPath: false };
}

/** The lines `konsul demo` prints for talking to the cluster through `http` (and DNS at `dns`). */
export function talkLines(env: NodeJS.ProcessEnv, cwd: string, http: string, dns: string, root = PACKAGE_ROOT): { commands: string[]; hint: string[] } {
  const { prefix: k, onPath } = konsulInvocation(env, cwd, root);
  const [dnsHost, dnsPort] = dns.split(':');
  const commands = [
    `export KONSUL_HTTP_ADDR=${http}`,
    `${k} members`,
    `${k} catalog services`,
    `${k} kv put greeting hello && ${k} kv get greeting`,
    `dig @${dnsHost} -p ${dnsPort} web.service.consul SRV +short`,
  ];
  const hint = onPath ? [] : [
    'To type `konsul` instead, put it on your PATH, one of:',
    `  npm link                            (in ${root}; or: npm install -g ${root})`,
    `  export PATH="${join(root, 'bin')}:$PATH"`,
  ];
  return { commands, hint };
}
/** Ports that do not clash with a dev agent's 8500/8600/7000: HTTP 8501-8505, DNS 8601-8605, raft 7101-7105. */
const PREFERRED = { http: 8501, dns: 8601, raft: 7101 };
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

interface DemoAgent {
  id: string;
  server: boolean;
  http: string;
  dns: string;
  raft: string;
  dataDir: string;
  log: string;
  child?: ChildProcess;
  exited?: Promise<void>;
}

const SAMPLE_SERVICES = [
  { on: 'c1', body: { Name: 'web', ID: 'web', Port: 8080, Tags: ['v1'], Address: HOST } },
  { on: 'c2', body: { Name: 'api', ID: 'api', Port: 9090, Tags: ['v2'], Address: HOST } },
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `port` can be bound on loopback now (TCP; DNS also binds UDP on the same number). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** A port the kernel hands out now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The preferred ports when all fifteen are free, else ports the kernel picks. */
async function choosePorts(count: number): Promise<Array<{ http: number; dns: number; raft: number }>> {
  const preferred = Array.from({ length: count }, (_, i) => ({ http: PREFERRED.http + i, dns: PREFERRED.dns + i, raft: PREFERRED.raft + i }));
  const all = preferred.flatMap((p) => [p.http, p.dns, p.raft]);
  if ((await Promise.all(all.map(portFree))).every(Boolean)) return preferred;
  const picked: Array<{ http: number; dns: number; raft: number }> = [];
  for (let i = 0; i < count; i++) picked.push({ http: await freePort(), dns: await freePort(), raft: await freePort() });
  return picked;
}

export class DemoCommand extends KonsulCommand {
  static override paths = [['demo']];
  static override usage = Command.Usage({
    category: 'Agent',
    description: 'Run a local 3-server, 2-client cluster on loopback to try konsul with',
    details: `
      Starts five \`konsul agent\` processes on 127.0.0.1: servers s1 (which bootstraps), s2 and s3, and
      clients c1 and c2, with HTTP on 8501-8505, DNS on 8601-8605 and raft on 7101-7105 (ports the
      kernel picks when any of those is taken), so a dev agent on 8500 keeps running beside it. It
      registers two sample services, web on c1 and api on c2, prints how to talk to the cluster, and
      a line starting with "Ready" once every agent knows the leader and the services are in the catalog.

      Each agent's log is in its data directory (agent.log). Ctrl-C or SIGTERM stops the clients (they
      leave the cluster), then the servers, and removes the data unless --keep or --data-dir was given.
      With --json the ready message is one JSON object: {"dataDir", "agents": [{"id", "role", "http",
      "dns", "raft", "pid"}]}.
    `,
    examples: [
      ['Start the demo cluster (Ctrl-C stops it)', '$0 demo'],
      ['Keep the data directories afterwards', '$0 demo --keep'],
      ['Print the agents\' addresses as JSON when ready, for scripts', '$0 demo --json'],
    ],
  });

  dataDir = Option.String('--data-dir', { description: 'Put the agents\' data here (kept afterwards); default: a new temporary directory' });
  keep = Option.Boolean('--keep', false, { description: 'Keep the temporary data directory when stopping' });
  json = Option.Boolean('--json', false, { description: 'Print the ready message as JSON, for scripts' });

  private agents: DemoAgent[] = [];

  async execute(): Promise<number> {
    let root: string;
    if (this.dataDir !== undefined) {
      if (this.dataDir.trim() === '') throw new UsageError('--data-dir: give a directory');
      root = this.dataDir;
      mkdirSync(root, { recursive: true });
    } else {
      root = mkdtempSync(join(tmpdir(), 'konsul-demo-'));
    }
    const removeAfter = this.dataDir === undefined && !this.keep;

    let stopping: ((signal: NodeJS.Signals) => void) | undefined;
    const stopRequested = new Promise<NodeJS.Signals>((resolve) => { stopping = resolve; });
    const onSignal = (signal: NodeJS.Signals): void => stopping?.(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    let code: number = EXIT.ok;
    try {
      const ports = await choosePorts(5);
      this.agents = ['s1', 's2', 's3', 'c1', 'c2'].map((id, i) => {
        const p = ports[i] ?? { http: 0, dns: 0, raft: 0 };
        const dataDir = join(root, id);
        return {
          id, server: id.startsWith('s'), dataDir, log: join(dataDir, 'agent.log'),
          http: `${HOST}:${p.http}`, dns: `${HOST}:${p.dns}`, raft: `${HOST}:${p.raft}`,
        };
      });
      const failed = new Promise<never>((_, reject) => {
        for (const agent of this.agents) this.start(agent, (why) => reject(new CliError(why)));
      });
      const outcome = await Promise.race([
        this.waitReady().then(() => 'ready' as const),
        stopRequested.then(() => 'stopped' as const),
        failed,
      ]);
      if (outcome === 'ready') {
        this.printReady(root, removeAfter);
        await Promise.race([stopRequested, failed]);
      }
    } catch (error) {
      this.context.stderr.write(`Error: ${(error as Error).message}\n`);
      code = EXIT.failed;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (!this.json) this.context.stderr.write('stopping: clients leave, then servers stop\n');
      await this.stopAll();
      if (removeAfter) rmSync(root, { recursive: true, force: true });
    }
    return code;
  }

  private start(agent: DemoAgent, fail: (why: string) => void): void {
    mkdirSync(agent.dataDir, { recursive: true });
    const servers = this.agents.filter((a) => a.server);
    const args = [
      BIN, 'agent', '--node-id', agent.id, '--data-dir', agent.dataDir,
      '--raft-addr', agent.raft, '--http-addr', agent.http, '--dns-addr', agent.dns,
      '--stabilization-time', '1s', '--log-level', 'warn',
    ];
    if (agent.server) args.push('--server');
    if (agent.id === 's1') args.push('--bootstrap');
    else args.push('--join', (agent.server ? [servers[0]] : servers).map((s) => s?.raft).join(','));
    // Only the demo's settings: a KONSUL_* variable of the caller's shell would change every agent.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KONSUL_')));
    const log = createWriteStream(agent.log, { flags: 'a' });
    // Its own process group: Ctrl-C reaches the demo only, which stops the agents in order.
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    agent.child = child;
    agent.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      resolve();
      if (!this.stoppingAll) fail(`agent ${agent.id} exited (${signal ?? `code ${code}`}); its log: ${agent.log}: ${lastLine(agent.log)}`);
    }));
  }

  private stoppingAll = false;

  /** Every agent answers and knows the leader, every member is in, and the sample services are in the catalog. */
  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const clients = new Map(this.agents.map((a) => [a.id, new AgentClient(`http://${a.http}`, { timeoutMs: 2000 })]));
    const ask = async <T>(id: string, method: 'GET' | 'PUT', path: string, body?: string): Promise<T | undefined> => {
      try {
        return (await clients.get(id)?.call(method, path, body === undefined ? {} : { body }))?.json<T>();
      } catch {
        return undefined;
      }
    };
    try {
      const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
        while (!(await check())) {
          if (Date.now() > deadline) throw new CliError(`the demo cluster was not ready within ${READY_TIMEOUT_MS / 1000}s: ${what}`);
          await sleep(100);
        }
      };
      await until('not every agent knows the leader', async () => {
        const leaders = await Promise.all(this.agents.map((a) => ask<string>(a.id, 'GET', '/v1/status/leader')));
        return leaders.every((l) => typeof l === 'string' && l !== '');
      });
      await until('not every agent is a member', async () => ((await ask<unknown[]>('s1', 'GET', '/v1/agent/members')) ?? []).length === this.agents.length);
      for (const { on, body } of SAMPLE_SERVICES) {
        await until(`could not register ${body.Name}`, async () => {
          try {
            await clients.get(on)?.call('PUT', '/v1/agent/service/register', { body: JSON.stringify(body) });
            return true;
          } catch {
            return false;
          }
        });
      }
      await until('the sample services are not in the catalog', async () => {
        const services = (await ask<Record<string, unknown>>('s1', 'GET', '/v1/catalog/services')) ?? {};
        return SAMPLE_SERVICES.every((s) => s.body.Name in services);
      });
    } finally {
      await Promise.all([...clients.values()].map((c) => c.close()));
    }
  }

  private printReady(root: string, removeAfter: boolean): void {
    const rows = this.agents.map((a) => ({ id: a.id, role: a.server ? 'server' : 'client', http: a.http, dns: a.dns, raft: a.raft, pid: a.child?.pid ?? 0 }));
    const c1 = this.agents.find((a) => a.id === 'c1') ?? this.agents[0];
    const talk = talkLines(this.context.env, process.cwd(), c1?.http ?? '', c1?.dns ?? '');
    if (this.json) {
      this.printJson({ dataDir: root, agents: rows, commands: talk.commands });
      return;
    }
    this.out([
      `konsul demo: 3 servers and 2 clients on ${HOST}; data in ${root}${removeAfter ? ' (removed on stop)' : ''}`,
      '',
      table(['NODE', 'ROLE', 'HTTP', 'DNS', 'RAFT'], rows.map((r) => [r.id, r.role, r.http, r.dns, r.raft])),
      '',
      'Talk to it from another shell:',
      ...talk.commands.map((c) => `  ${c}`),
      '',
      ...(talk.hint.length > 0 ? [...talk.hint, ''] : []),
      'Ready. Ctrl-C stops every agent.',
    ].join('\n'));
  }

  /** Clients first (they leave the cluster on SIGTERM), then servers; SIGKILL for any that hangs. */
  private async stopAll(): Promise<void> {
    this.stoppingAll = true;
    for (const group of [this.agents.filter((a) => !a.server), this.agents.filter((a) => a.server)]) {
      await Promise.all(group.map(async (agent) => {
        const child = agent.child;
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await agent.exited;
        clearTimeout(timer);
      }));
    }
  }
}

/** The last non-empty line of a log, for an error message. */
function lastLine(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').at(-1)?.slice(0, 300) ?? '';
  } catch {
    return '';
  }
}
