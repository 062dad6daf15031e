// A 3-member etcd cluster on loopback, the reference for `npm run bench`:
// Debian's etcd-server (3.4) with its default heartbeat (100 ms) and election
// timeout (1000 ms), data dirs on the same disk as konsul's. Installed with
// apt when missing and this process is root; otherwise the caller is told.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, http, sleep, waitFor } from '../cluster/harness.js';

export function etcdVersion(): string | undefined {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

function has(binary: string, args: string[]): boolean {
  const r = spawnSync(binary, args, { stdio: 'ignore' });
  return !r.error;
}

/**
 * Makes sure `binary` runs, installing Debian's `pkg` with apt first when it is missing and
 * this process is root; the reason when it cannot.
 */
export function ensureTool(binary: string, pkg: string, log: (line: string) => void, probeArgs = ['--version']): { ok: boolean; reason?: string } {
  if (has(binary, probeArgs)) return { ok: true };
  if (process.getuid?.() !== 0 || !has('apt-get', ['--version'])) {
    return { ok: false, reason: `${binary} is not installed and this is not a root shell with apt-get (apt-get install ${pkg})` };
  }
  log(`${binary} not found: apt-get install -y ${pkg}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', env, timeout: 300_000 });
  return has(binary, probeArgs) ? { ok: true } : { ok: false, reason: `apt-get install ${pkg} failed (exit ${r.status})` };
}

/** etcd's version, installing etcd-server with apt first when it is missing and we are root; undefined with the reason when not. */
export function ensureEtcd(log: (line: string) => void): { version?: string; reason?: string } {
  const tool = ensureTool('etcd', 'etcd-server', log);
  if (!tool.ok) return { reason: tool.reason };
  return { version: etcdVersion() ?? 'unknown' };
}

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  proc?: ChildProcess;
  exited?: Promise<void>;
}

export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  constructor(private readonly dir: string, private readonly size = 3) {}

  url(m: EtcdMember): string {
    return `http://127.0.0.1:${m.clientPort}`;
  }

  async start(): Promise<void> {
    for (let i = 1; i <= this.size; i++) {
      const name = `e${i}`;
      this.members.push({ name, clientPort: await freePort(), peerPort: await freePort(), dataDir: join(this.dir, name) });
    }
    for (const m of this.members) this.spawn(m);
    await this.waitHealthy();
  }

  private spawn(m: EtcdMember): void {
    mkdirSync(m.dataDir, { recursive: true });
    const initial = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    const proc = spawn('etcd', [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', this.url(m), '--advertise-client-urls', this.url(m),
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'konsul-bench',
      '--logger', 'zap', '--log-level', 'warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = createWriteStream(join(this.dir, `${m.name}.log`), { flags: 'a' });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    m.proc = proc;
    m.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  /** Until every running member knows the same leader. */
  async waitHealthy(timeoutMs = 30_000): Promise<string> {
    return waitFor('etcd members to agree on a leader', async () => {
      const leaders = new Set<string>();
      for (const m of this.members.filter((x) => this.running(x))) {
        const r = await http('POST', `${this.url(m)}/v3/maintenance/status`, '{}', 2000);
        const leader = (JSON.parse(r.body) as { leader?: string }).leader;
        if (r.status !== 200 || !leader || leader === '0') return undefined;
        leaders.add(leader);
      }
      return leaders.size === 1 ? [...leaders][0] : undefined;
    }, timeoutMs);
  }

  running(m: EtcdMember): boolean {
    return m.proc !== undefined && m.proc.exitCode === null && m.proc.signalCode === null;
  }

  /** The member whose client URL answers as the leader. */
  async leader(): Promise<EtcdMember> {
    await this.waitHealthy();
    for (const m of this.members) {
      const r = await http('POST', `${this.url(m)}/v3/maintenance/status`, '{}', 2000);
      const st = JSON.parse(r.body) as { leader?: string; header?: { member_id?: string } };
      if (st.leader && st.leader === st.header?.member_id) return m;
    }
    throw new Error('no etcd member says it is the leader');
  }

  byOrigin(origin: string): EtcdMember {
    const m = this.members.find((x) => this.url(x) === origin);
    if (!m) throw new Error(`no etcd member at ${origin}`);
    return m;
  }

  async kill(m: EtcdMember): Promise<void> {
    m.proc?.kill('SIGKILL');
    await m.exited;
  }

  async restart(m: EtcdMember): Promise<void> {
    this.spawn(m);
    await sleep(100);
  }

  /** Raft term as one member reports it. */
  async term(): Promise<number> {
    const m = this.members.find((x) => this.running(x))!;
    const r = await http('POST', `${this.url(m)}/v3/maintenance/status`, '{}', 2000);
    return Number((JSON.parse(r.body) as { raftTerm?: string }).raftTerm ?? NaN);
  }

  async stop(): Promise<void> {
    for (const m of this.members) {
      if (m.proc && this.running(m)) {
        m.proc.kill('SIGCONT');
        m.proc.kill('SIGKILL');
        await m.exited;
      }
    }
  }
}
