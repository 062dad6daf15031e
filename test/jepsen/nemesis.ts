// The faults, and the scheduler that runs them one after another (or two at
// once: a process fault together with a network fault) while the clients run.
// Every start and stop is written to the history as a "nemesis" event.

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { call, sleep, tail, type JCluster, type JNode } from './cluster.js';
import type { HistoryWriter } from './history.js';
import type { Network } from './net.js';
import type { Rng } from './rng.js';

export interface NemesisContext {
  cluster: JCluster;
  net: Network;
  rng: Rng;
  log: (line: string) => void;
  /** What a fault's own checks found wrong (the run fails on any). */
  problems?: string[];
  /** The server whose data dir is a small filesystem of its own (the disk-full fault), when there is one. */
  diskVictim?: string;
  /** Delaying proxies stand in front of the nodes' Raft ports (delay-proxy.ts): the delay fault uses them. */
  proxies?: boolean;
}

export interface Fault {
  /** What was done, for the history and the verdict. */
  what: string;
  stop(): Promise<void>;
}

export interface Nemesis {
  name: string;
  group: 'process' | 'net' | 'member';
  needsNet?: boolean;
  needsDelay?: boolean;
  /** libfaketime (the clock faults). */
  needsClock?: boolean;
  /** A server whose data dir is a small filesystem (root: tmpfs). */
  needsDisk?: boolean;
  /** ops2: servers whose data dirs are ext4 filesystems on loop-mounted image files (root), so a power loss can be played. */
  needsPowerLoss?: boolean;
  start(ctx: NemesisContext): Promise<Fault>;
}

async function leaderOrRandom(ctx: NemesisContext): Promise<string> {
  const l = await ctx.cluster.leaderNow();
  return l ?? ctx.rng.pick(ctx.cluster.servers().filter((n) => n.running).map((n) => n.id).concat(ctx.cluster.servers()[0].id));
}

function followers(ctx: NemesisContext, leader: string | undefined): string[] {
  return ctx.cluster.servers().map((n) => n.id).filter((id) => id !== leader);
}

function killer(name: string, choose: (ctx: NemesisContext) => Promise<string[]>): Nemesis {
  return {
    name,
    group: 'process',
    async start(ctx) {
      const ids = await choose(ctx);
      for (const id of ids) await ctx.cluster.kill(id);
      return {
        what: `kill -9 ${ids.join(',')}`,
        async stop() {
          for (const id of ids) await ctx.cluster.start(id);
        },
      };
    },
  };
}

function pauser(name: string, choose: (ctx: NemesisContext) => Promise<string>): Nemesis {
  return {
    name,
    group: 'process',
    async start(ctx) {
      const id = await choose(ctx);
      ctx.cluster.pause(id);
      return {
        what: `SIGSTOP ${id}`,
        async stop() {
          ctx.cluster.resume(id);
        },
      };
    },
  };
}

function partitioner(name: string, groups: (ctx: NemesisContext, ids: string[]) => Promise<string[][]>): Nemesis {
  return {
    name,
    group: 'net',
    needsNet: true,
    async start(ctx) {
      const ids = ctx.cluster.servers().map((n) => n.id);
      const g = await groups(ctx, ids);
      ctx.net.partition(g);
      return {
        what: `partition ${g.map((x) => x.join('+')).join(' | ')}`,
        async stop() {
          ctx.net.heal();
        },
      };
    },
  };
}

async function stillMember(ctx: NemesisContext, id: string): Promise<boolean> {
  for (const n of ctx.cluster.servers()) {
    if (n.id === id || !n.running || n.paused) continue;
    const st = await ctx.cluster.status(n.id).catch(() => undefined);
    if (st) return st.members.some((m) => m.id === id);
  }
  return true;
}

/** Remove a member (the leader, or a follower), wipe its data dir, and at stop join it back as a new server. */
function remover(name: string, leader: boolean): Nemesis {
  return {
    name,
    group: 'member',
    async start(ctx) {
      const l = await ctx.cluster.leader(10_000);
      const id = leader ? l : ctx.rng.pick(followers(ctx, l));
      try {
        const r = await call('DELETE', `${ctx.cluster.node(l).url}/cluster/leave/${id}`, undefined, 10_000);
        if (r.status !== 200) throw new Error(`remove ${id} via ${l}: HTTP ${r.status} ${r.body}`);
      } catch (error) {
        // The removal may still have happened (a timeout, a leader change): ask the others.
        await sleep(2_000);
        if (await stillMember(ctx, id)) throw error;
      }
      const node = ctx.cluster.node(id);
      node.member = false;
      // A removed server stops itself; make sure, then forget its state.
      for (let i = 0; i < 30 && node.running; i++) await sleep(100);
      await ctx.cluster.kill(id);
      ctx.cluster.wipe(id);
      return {
        what: `remove ${id}${leader ? ' (the leader)' : ''}, wipe its data dir`,
        async stop() {
          const join = ctx.cluster.servers().map((n) => n.raftAddress);
          await ctx.cluster.start(id, { join });
          node.member = true;
        },
      };
    },
  };
}

/** Polls a node's log for a line; true once it is there. */
async function logSays(ctx: NemesisContext, id: string, text: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tail(ctx.cluster.node(id).logPath, 400).includes(text)) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

function problem(ctx: NemesisContext, what: string): void {
  ctx.problems?.push(what);
  ctx.log(`nemesis: PROBLEM: ${what}`);
}

/**
 * Fills a filesystem with one file until ENOSPC, a megabyte every 25 ms (about 40 MB/s, as a log or
 * another process fills a disk while the load goes on, not in one instant: the node's guard polls
 * every 100 ms); returns the bytes written.
 */
async function fill(path: string): Promise<number> {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
        await sleep(25);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    // The last partial megabyte: smaller writes until nothing fits.
    for (let size = 512 * 1024; size >= 4096; size /= 2) {
      try {
        written += writeSync(fd, chunk.subarray(0, size));
      } catch {
        /* full at this size: try a smaller one */
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** ops: the faults of the design record's chaos menu that need more than signals and iptables. */
const OPS_NEMESES: Nemesis[] = [
  {
    // One server's data-dir filesystem fills up while the load goes on: it must stop taking entries (never
    // acknowledging what it could not store), stay up, and take entries again by itself once space is freed.
    name: 'disk-full',
    group: 'process',
    needsDisk: true,
    async start(ctx) {
      const id = ctx.diskVictim!;
      const n = ctx.cluster.node(id);
      const filler = join(n.dataDir, 'filler');
      const bytes = await fill(filler);
      if (!await logSays(ctx, id, 'disk full:', 3_000)) problem(ctx, `disk-full: ${id}'s disk is full (${bytes} bytes added) but it never said so`);
      return {
        what: `fill ${id}'s data-dir filesystem (${(bytes / 1024 / 1024).toFixed(0)} MiB added)`,
        async stop() {
          if (!n.running) problem(ctx, `disk-full: ${id} exited while its disk was full: ${tail(n.logPath, 5)}`);
          rmSync(filler, { force: true });
          if (n.running && !await logSays(ctx, id, 'disk space is back', 3_000)) problem(ctx, `disk-full: ${id} did not take entries again once space was freed`);
        },
      };
    },
  },
  {
    // fsyncs of one server (the leader half the time) stall for hundreds of milliseconds.
    name: 'slow-disk',
    group: 'process',
    async start(ctx) {
      const id = ctx.rng.next() < 0.5 ? await leaderOrRandom(ctx) : ctx.rng.pick(ctx.cluster.servers().map((x) => x.id));
      const ms = ctx.rng.pick([200, 400, 800]);
      ctx.cluster.setFsyncDelay(id, ms);
      return {
        what: `fsyncs of ${id} stall ${ms} ms`,
        async stop() {
          ctx.cluster.setFsyncDelay(id, 0);
        },
      };
    },
  },
  {
    // One server's wall clock steps forward or back (NTP stepping it); its monotonic clock goes on.
    name: 'clock-jump',
    group: 'process',
    needsClock: true,
    async start(ctx) {
      const id = ctx.rng.next() < 0.5 ? await leaderOrRandom(ctx) : ctx.rng.pick(ctx.cluster.servers().map((x) => x.id));
      const s = ctx.rng.pick([-3600, -60, -5, 5, 60, 3600]);
      ctx.cluster.setClockOffset(id, s);
      return {
        what: `wall clock of ${id} jumps ${s > 0 ? '+' : ''}${s} s`,
        async stop() {
          ctx.cluster.setClockOffset(id, 0);
        },
      };
    },
  },
  {
    // One server restarted with both clocks (wall and monotonic) running fast or slow by up to 10%.
    name: 'clock-skew',
    group: 'process',
    needsClock: true,
    async start(ctx) {
      const id = ctx.rng.next() < 0.5 ? await leaderOrRandom(ctx) : ctx.rng.pick(ctx.cluster.servers().map((x) => x.id));
      const rate = ctx.rng.pick([0.9, 0.95, 1.05, 1.1]);
      const n = ctx.cluster.node(id);
      await ctx.cluster.stop(id, 'SIGTERM');
      n.clockRate = rate;
      await ctx.cluster.start(id);
      return {
        what: `${id} restarted with its clocks at x${rate}`,
        async stop() {
          await ctx.cluster.stop(id, 'SIGTERM');
          n.clockRate = undefined;
          await ctx.cluster.start(id);
        },
      };
    },
  },
];

/**
 * ops2: a power loss on `n`'s disk, once its process is dead: its data dir becomes what its disk held, that is
 * what was fsynced plus whatever the kernel happened to write back (the image file is copied before the
 * filesystem on it is unmounted, so dirty pages never reach the copy). Throws when a mount step fails.
 */
export function powerCut(n: JNode): void {
  const image = n.image!;
  const run = (cmd: string, args: string[]): void => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`power-loss: ${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  };
  run('cp', ['--sparse=always', image, `${image}.cut`]);
  run('umount', [n.dataDir]);
  renameSync(`${image}.cut`, image);
  run('mount', ['-o', 'loop', image, n.dataDir]);
}

/** ops2: a whole-cluster power loss (every server on an image, at once), then a restart: what was acknowledged must be there. */
const POWER_LOSS: Nemesis = {
  name: 'power-loss',
  group: 'process',
  needsPowerLoss: true,
  async start(ctx) {
    const victims = ctx.cluster.servers().filter((n) => n.image !== undefined);
    // The cut lands while writes wait for their fsync: the disks are busy (fsyncs stall) for a moment first.
    const stallMs = ctx.rng.pick([50, 100, 200]);
    for (const n of victims) ctx.cluster.setFsyncDelay(n.id, stallMs);
    await sleep(1_000);
    await Promise.all(victims.map((n) => ctx.cluster.kill(n.id)));
    for (const n of victims) powerCut(n);
    for (const n of victims) ctx.cluster.setFsyncDelay(n.id, 0);
    return {
      what: `power loss on ${victims.map((n) => n.id).join(',')} during ${stallMs} ms fsync stalls (kill -9, then each data dir as its disk held it)`,
      async stop() {
        for (const n of victims) await ctx.cluster.start(n.id);
      },
    };
  },
};

export const NEMESES: readonly Nemesis[] = [
  killer('kill-leader', async (ctx) => [await leaderOrRandom(ctx)]),
  killer('kill-random', async (ctx) => [ctx.rng.pick(ctx.cluster.servers().map((n) => n.id))]),
  killer('kill-majority', async (ctx) => {
    const ids = ctx.cluster.servers().map((n) => n.id);
    return ctx.rng.shuffle(ids).slice(0, Math.floor(ids.length / 2) + 1);
  }),
  pauser('pause-leader', leaderOrRandom),
  pauser('pause-random', async (ctx) => ctx.rng.pick(ctx.cluster.servers().map((n) => n.id))),
  partitioner('partition-one', async (ctx, ids) => {
    const one = ctx.rng.pick(ids);
    return [[one], ids.filter((x) => x !== one)];
  }),
  partitioner('partition-leader', async (ctx, ids) => {
    const one = await leaderOrRandom(ctx);
    return [[one], ids.filter((x) => x !== one)];
  }),
  partitioner('partition-majority', async (ctx, ids) => {
    const s = ctx.rng.shuffle(ids);
    const minority = Math.floor(ids.length / 2);
    return [s.slice(0, minority), s.slice(minority)];
  }),
  {
    // Overlapping majorities: the bridge node sees both halves, the halves do not see each other.
    name: 'partition-bridge',
    group: 'net',
    needsNet: true,
    async start(ctx) {
      const s = ctx.rng.shuffle(ctx.cluster.servers().map((n) => n.id));
      const half = Math.floor(s.length / 2);
      const bridge = s[half];
      const a = s.slice(0, half);
      const b = s.slice(half + 1);
      for (const x of a) for (const y of b) {
        ctx.net.drop(x, y);
        ctx.net.drop(y, x);
      }
      return { what: `bridge ${a.join('+')} <-> ${bridge} <-> ${b.join('+')}`, async stop() { ctx.net.heal(); } };
    },
  },
  {
    // One-way: a node's packets are lost on their way out; it still hears the others.
    name: 'partition-oneway',
    group: 'net',
    needsNet: true,
    async start(ctx) {
      const ids = ctx.cluster.servers().map((n) => n.id);
      const from = ctx.rng.next() < 0.5 ? await leaderOrRandom(ctx) : ctx.rng.pick(ids);
      for (const to of ids) if (to !== from) ctx.net.drop(from, to);
      return { what: `one-way: packets from ${from} lost`, async stop() { ctx.net.heal(); } };
    },
  },
  {
    name: 'loss',
    group: 'net',
    needsNet: true,
    async start(ctx) {
      ctx.net.loss(0.2);
      return { what: 'lose 20% of peer packets', async stop() { ctx.net.heal(); } };
    },
  },
  {
    name: 'delay',
    group: 'net',
    needsNet: true,
    needsDelay: true,
    async start(ctx) {
      if (ctx.proxies) {
        // tc netem is missing here: the delaying proxy in front of each node's Raft port does it.
        ctx.cluster.setNetDelay(50, 40);
        return { what: 'proxy delay 50±40ms on every peer connection', async stop() { ctx.cluster.setNetDelay(0, 0); } };
      }
      ctx.net.delay(50, 40);
      return { what: 'netem delay 50±40ms', async stop() { ctx.net.heal(); } };
    },
  },
  remover('member-remove', false),
  remover('member-remove-leader', true),
  ...OPS_NEMESES,
  {
    // A follower is down while the others compact their logs; it comes back through a snapshot install.
    name: 'snapshot-install',
    group: 'member',
    async start(ctx) {
      const l = await ctx.cluster.leader(10_000);
      const id = ctx.rng.pick(followers(ctx, l));
      await ctx.cluster.kill(id);
      return {
        what: `kill -9 ${id}, compact the others' logs, restart it`,
        async stop() {
          for (const n of ctx.cluster.servers()) {
            if (n.id !== id && n.running && !n.paused) await call('POST', `${n.url}/cluster/snapshot`, undefined, 5_000).catch(() => undefined);
          }
          await ctx.cluster.start(id);
        },
      };
    },
  },
  // ---- ops2
  POWER_LOSS,
];

export const NEMESIS_NAMES = NEMESES.map((n) => n.name);

/** Parses --nemesis (names, or "all", or "none"); unknown names throw with the menu. */
export function parseNemeses(spec: string): Nemesis[] {
  if (spec === 'none') return [];
  if (spec === 'all') return [...NEMESES];
  const out: Nemesis[] = [];
  for (const name of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const n = NEMESES.find((x) => x.name === name);
    if (!n) throw new Error(`unknown nemesis "${name}"; choose from ${NEMESIS_NAMES.join(', ')}, all, none`);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

export interface ScheduleOptions {
  quietMs: [number, number];
  holdMs: [number, number];
  /** Every this many cycles, a process fault and a network fault run together (0: never). */
  combineEvery: number;
  /** After a fault ends, every member must name the same leader within this. */
  healBoundMs: number;
}

/** The order of faults: every nemesis once (shuffled), then again, ...; some cycles pair a process fault with a net one. */
export function plan(nemeses: readonly Nemesis[], rng: Rng, cycles: number, combineEvery: number): Nemesis[][] {
  const out: Nemesis[][] = [];
  let round: Nemesis[] = [];
  for (let i = 0; i < cycles && nemeses.length > 0; i++) {
    if (round.length === 0) round = rng.shuffle(nemeses);
    const first = round.shift() as Nemesis;
    const step = [first];
    if (combineEvery > 0 && (i + 1) % combineEvery === 0) {
      const partnerGroup = first.group === 'net' ? 'process' : first.group === 'process' ? 'net' : undefined;
      const partners = nemeses.filter((n) => n.group === partnerGroup);
      if (partners.length > 0) step.push(rng.pick(partners));
    }
    out.push(step);
  }
  return out;
}

export class Scheduler {
  readonly ran: string[] = [];
  readonly errors: string[] = [];
  /** Per fault kind: ms from the faults' stop until every member named the same leader again. */
  readonly healMs = new Map<string, number[]>();
  /** Faults after which the cluster did not agree on a leader within the bound. */
  readonly unrecovered: string[] = [];
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly ctx: NemesisContext,
    private readonly history: HistoryWriter,
    private readonly nemeses: readonly Nemesis[],
    private readonly opts: ScheduleOptions,
  ) {}

  /** Resolves when the faults are over: at untilMs, or (cover) once every fault also ran at least once. */
  start(untilMs: number, cover = false): Promise<void> {
    this.done = this.loop(untilMs, cover);
    return this.done;
  }

  missing(): string[] {
    return this.nemeses.map((n) => n.name).filter((n) => !this.ran.includes(n));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private between([lo, hi]: [number, number]): number {
    return lo + this.ctx.rng.int(hi - lo + 1);
  }

  private async loop(untilMs: number, cover: boolean): Promise<void> {
    const steps = plan(this.nemeses, this.ctx.rng, 10_000, this.opts.combineEvery);
    // Covering every fault may take longer than asked, but not more than 5 minutes longer.
    const over = (): boolean => this.stopped || Date.now() >= untilMs + 300_000 || (Date.now() >= untilMs && (!cover || this.missing().length === 0));
    if (this.nemeses.length === 0) await this.sleepUnless(Infinity, untilMs);
    for (const step of steps) {
      await this.sleepUnless(this.between(this.opts.quietMs), cover && this.missing().length > 0 ? Infinity : untilMs);
      if (over()) return;
      const faults: Array<{ name: string; fault: Fault }> = [];
      for (const n of step) {
        try {
          const fault = await n.start(this.ctx);
          faults.push({ name: n.name, fault });
          this.ran.push(n.name);
          this.history.append({ process: 'nemesis', type: 'info', f: 'start', key: n.name, value: fault.what });
          this.ctx.log(`nemesis: ${n.name}: ${fault.what}`);
        } catch (error) {
          // A fault that could not be set up (no leader right now, say) is logged and skipped.
          this.errors.push(`${n.name}: ${(error as Error).message}`);
          this.ctx.log(`nemesis: ${n.name} not started: ${(error as Error).message}`);
        }
      }
      await this.sleepUnless(this.between(this.opts.holdMs), Infinity);
      for (const { name, fault } of faults.reverse()) {
        try {
          await fault.stop();
          this.history.append({ process: 'nemesis', type: 'info', f: 'stop', key: name, value: fault.what });
        } catch (error) {
          this.errors.push(`${name} stop: ${(error as Error).message}`);
          this.ctx.log(`nemesis: ${name} stop failed: ${(error as Error).message}`);
        }
      }
      if (faults.length > 0) await this.measureHeal(faults.map((f) => f.name).join('+'));
    }
  }

  private async measureHeal(name: string): Promise<void> {
    const t0 = Date.now();
    const bound = this.opts.healBoundMs;
    while (Date.now() - t0 < bound) {
      if (await this.ctx.cluster.leaderNow(true)) {
        const ms = Date.now() - t0;
        this.healMs.set(name, [...(this.healMs.get(name) ?? []), ms]);
        this.history.append({ process: 'nemesis', type: 'info', f: 'stop', key: name, value: `healed: leader agreed by all in ${ms} ms` });
        return;
      }
      await sleep(50);
    }
    this.unrecovered.push(`${name}: no leader agreed by every member within ${bound} ms of the fault's end`);
    this.ctx.log(`nemesis: ${name}: no leader agreed by every member within ${bound} ms`);
  }

  private async sleepUnless(ms: number, untilMs: number): Promise<void> {
    const end = Math.min(Date.now() + ms, untilMs);
    while (!this.stopped && Date.now() < end) await sleep(Math.min(100, end - Date.now()));
  }
}
