// The network the agents run on. As root: one network namespace per node,
// each with a veth pair into a bridge in the root namespace (where the harness
// and its clients live), so partitions are real dropped packets (iptables in
// the receiving node's namespace) and loss is real (iptables' statistic match;
// tc netem delay too when the kernel has sch_netem). Without root: every node
// on 127.0.0.1 and no network faults (the nemeses that need them say so).

import { execFileSync, spawnSync } from 'node:child_process';

/** Every name this suite creates starts with this, so leftovers can be found. */
export const NS_PREFIX = 'konsul-j';
const LINK_PREFIX = 'kj';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function run(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) {
    throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
  }
  return r.stdout ?? '';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes namespaces (and the agents still running in them) and bridges left
 * by runs whose process is gone (a harness killed with -9). Names carry the owning pid, so a run in
 * progress elsewhere on the machine is left alone.
 */
export function cleanupLeftovers(): string[] {
  if (!isRoot()) return [];
  const removed: string[] = [];
  for (const line of run('ip', ['netns', 'list'], true).split('\n')) {
    const name = line.split(' ')[0];
    const m = new RegExp(`^${NS_PREFIX}(\\d+)r\\d+-`).exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      // Agents of a harness that was killed outright still run in there: they were ours.
      for (const pid of run('ip', ['netns', 'pids', name], true).split('\n').map(Number).filter((p) => p > 0)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      run('ip', ['netns', 'del', name], true);
      removed.push(name);
    }
  }
  for (const line of run('ip', ['-o', 'link', 'show', 'type', 'bridge'], true).split('\n')) {
    const m = new RegExp(`^\\d+: (${LINK_PREFIX}(\\d+)r\\d+br)[:@]`).exec(line);
    if (m && !pidAlive(Number(m[2]))) {
      run('ip', ['link', 'del', m[1]], true);
      removed.push(m[1]);
    }
  }
  return removed;
}

export interface NetNode {
  id: string;
  /** The address the agent binds (raft, HTTP, DNS) and peers dial. */
  ip: string;
  /** The namespace it runs in, or undefined on loopback. */
  ns?: string;
}

export interface Network {
  readonly kind: 'netns' | 'loopback';
  /** Why network faults are unavailable (undefined when they are). */
  readonly noFaults?: string;
  /** Why netem delay is unavailable (undefined when it is). */
  readonly noDelay?: string;
  node(id: string): NetNode;
  /** The command prefix that runs a process inside the node's namespace. */
  wrap(id: string, argv: string[]): string[];
  /** Drop every packet from `from` arriving at `to` (one way). */
  drop(from: string, to: string): void;
  /** Cut the links between every pair of nodes in different groups (both ways). */
  partition(groups: string[][]): void;
  /** Drop a fraction of packets arriving at every node. */
  loss(fraction: number): void;
  /** netem delay on every node's link. */
  delay(ms: number, jitterMs: number): void;
  heal(): void;
  destroy(): void;
}

class LoopbackNetwork implements Network {
  readonly kind = 'loopback' as const;
  readonly noFaults = 'network faults need network namespaces and iptables: run the suite as root, without --loopback';
  readonly noDelay = this.noFaults;
  node(id: string): NetNode {
    return { id, ip: '127.0.0.1' };
  }
  wrap(_id: string, argv: string[]): string[] {
    return argv;
  }
  drop(): void {
    throw new Error(this.noFaults);
  }
  partition(): void {
    throw new Error(this.noFaults);
  }
  loss(): void {
    throw new Error(this.noFaults);
  }
  delay(): void {
    throw new Error(this.noFaults);
  }
  heal(): void {}
  destroy(): void {}
}

/** Runs in this process so far: part of every name, since a deleted namespace is freed by the kernel later. */
let runs = 0;

class NamespaceNetwork implements Network {
  readonly kind = 'netns' as const;
  readonly noFaults = undefined;
  noDelay: string | undefined;
  private readonly nodes = new Map<string, NetNode & { ns: string; inner: string }>();
  private readonly bridge: string;
  private readonly subnet: string;
  private readonly tag: string;
  private readonly veths: string[] = [];
  private destroyed = false;
  private delayed = false;

  constructor(ids: string[]) {
    this.tag = `${process.pid}r${runs++ % 10}`;
    this.bridge = `${LINK_PREFIX}${this.tag}br`;
    this.subnet = pickSubnet();
    run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    try {
      run('ip', ['addr', 'add', `${this.subnet}.254/24`, 'dev', this.bridge]);
      run('ip', ['link', 'set', this.bridge, 'up']);
      ids.forEach((id, i) => this.addNode(id, i + 1));
    } catch (error) {
      this.destroy();
      throw error;
    }
    const first = [...this.nodes.values()][0];
    const probe = spawnSync('ip', ['netns', 'exec', first.ns, 'tc', 'qdisc', 'add', 'dev', first.inner, 'root', 'netem', 'delay', '1ms'], { encoding: 'utf8' });
    if (probe.status === 0) run('ip', ['netns', 'exec', first.ns, 'tc', 'qdisc', 'del', 'dev', first.inner, 'root'], true);
    else this.noDelay = `tc netem is not available here (${(probe.stderr || '').trim() || 'no tc'}); packet delay is skipped, loss uses iptables`;
  }

  private addNode(id: string, n: number): void {
    const ns = `${NS_PREFIX}${this.tag}-${id}`;
    const outer = `${LINK_PREFIX}${this.tag}${id}`;
    if (outer.length > 14) throw new Error(`interface name ${outer} too long`);
    const inner = 'eth0';
    const ip = `${this.subnet}.${n}`;
    run('ip', ['netns', 'add', ns]);
    this.nodes.set(id, { id, ip, ns, inner });
    run('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', `${outer}p`]);
    this.veths.push(outer);
    run('ip', ['link', 'set', `${outer}p`, 'netns', ns]);
    run('ip', ['-n', ns, 'link', 'set', `${outer}p`, 'name', inner]);
    run('ip', ['link', 'set', outer, 'master', this.bridge]);
    run('ip', ['link', 'set', outer, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', inner]);
    run('ip', ['-n', ns, 'link', 'set', inner, 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  node(id: string): NetNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no network node ${id}`);
    return n;
  }

  wrap(id: string, argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.node(id).ns as string, ...argv];
  }

  private ipt(id: string, args: string[]): void {
    run('ip', ['netns', 'exec', this.node(id).ns as string, 'iptables', '-w', ...args]);
  }

  drop(from: string, to: string): void {
    this.ipt(to, ['-A', 'INPUT', '-s', this.node(from).ip, '-j', 'DROP']);
  }

  partition(groups: string[][]): void {
    const groupOf = new Map<string, number>();
    groups.forEach((g, i) => g.forEach((id) => groupOf.set(id, i)));
    for (const a of groupOf.keys()) {
      for (const b of groupOf.keys()) {
        if (a !== b && groupOf.get(a) !== groupOf.get(b)) this.drop(a, b);
      }
    }
  }

  loss(fraction: number): void {
    // Only peer traffic: the harness's own HTTP (from the bridge address) is spared.
    for (const id of this.nodes.keys()) {
      this.ipt(id, ['-A', 'INPUT', '!', '-s', `${this.subnet}.254`, '-m', 'statistic', '--mode', 'random', '--probability', String(fraction), '-j', 'DROP']);
    }
  }

  delay(ms: number, jitterMs: number): void {
    if (this.noDelay) throw new Error(this.noDelay);
    for (const n of this.nodes.values()) {
      run('ip', ['netns', 'exec', n.ns, 'tc', 'qdisc', 'add', 'dev', n.inner, 'root', 'netem', 'delay', `${ms}ms`, `${jitterMs}ms`]);
    }
    this.delayed = true;
  }

  heal(): void {
    for (const n of this.nodes.values()) {
      run('ip', ['netns', 'exec', n.ns, 'iptables', '-w', '-F', 'INPUT'], true);
      if (this.delayed) run('ip', ['netns', 'exec', n.ns, 'tc', 'qdisc', 'del', 'dev', n.inner, 'root'], true);
    }
    this.delayed = false;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const v of this.veths) run('ip', ['link', 'del', v], true);
    for (const n of this.nodes.values()) run('ip', ['netns', 'del', n.ns], true);
    run('ip', ['link', 'del', this.bridge], true);
  }
}

/** A 10.231.x.0/24 no interface on this machine uses yet. */
function pickSubnet(): string {
  const used = execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' });
  const start = process.pid % 250;
  for (let i = 0; i < 250; i++) {
    const x = (start + i) % 250;
    if (!used.includes(` 10.231.${x}.`)) return `10.231.${x}`;
  }
  throw new Error('no free 10.231.x.0/24 subnet for the test network');
}

/** Namespaces when root (unless disabled), else loopback. */
export function createNetwork(ids: string[], wantNamespaces = true): Network {
  if (wantNamespaces && isRoot()) {
    cleanupLeftovers();
    return new NamespaceNetwork(ids);
  }
  return new LoopbackNetwork();
}
