// Failover measurement: fault the leader, then probe writes through every
// other member until one is acknowledged. The time from the start of the fault
// to that first acknowledged write is the figure (what a client sees).

import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';
import { clusterView, probeWrite, type ApiName, type ClusterView } from './apis.js';
import { httpPool } from './http-load.js';
import { percentile } from './stats.js';

export interface FailoverRound {
  round: number;
  /** The leader that was faulted. */
  leader: string;
  /** Milliseconds from the start of the fault to the first acknowledged write; null when none within the time limit. */
  ms: number | null;
}

export interface FailoverResult {
  workload: 'failover';
  target: string;
  fault: string;
  rounds: FailoverRound[];
  failed: number;
  medianMs: number | null;
  p90Ms: number | null;
  worstMs: number | null;
}

export interface FailoverOptions {
  api: ApiName;
  /** Any member's origin, to find the leader and the members from. */
  origin: string;
  rounds: number;
  /** Describes the fault, for the report ("kill -9", "transfer", the command). */
  faultName: string;
  fault: (leader: { id: string; origin: string }, round: number) => Promise<void>;
  /** Undo the fault (restart, SIGCONT); then the round waits for one agreed leader again. */
  heal?: (leader: { id: string; origin: string }, round: number) => Promise<void>;
  /** Give up on a round after this long without an acknowledged write. */
  roundTimeoutMs: number;
  /** A new probe write through each survivor this often (ms), while earlier ones may still hang on a stopped leader. */
  probeEveryMs?: number;
  /** Wait this long after the cluster agrees on a leader again before the next round. */
  settleMs?: number;
  onRound?: (r: FailoverRound) => void;
}

/**
 * Probes in flight per member at most, and each probe's time limit: a probe every 10 ms for as long
 * as the limit must fit, or probes stuck on a faulted leader would hold back newer ones and the
 * figure would measure the limit instead of the failover.
 */
const PROBE_TIMEOUT_MS = 1000;
const PROBES_IN_FLIGHT = 150;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The median, p90 and worst of the rounds that succeeded. */
export function summarizeRounds(rounds: FailoverRound[]): Pick<FailoverResult, 'failed' | 'medianMs' | 'p90Ms' | 'worstMs'> {
  const ok = rounds.map((r) => r.ms).filter((ms): ms is number => ms !== null).sort((a, b) => a - b);
  const r = (n: number): number | null => (Number.isFinite(n) ? Math.round(n) : null);
  return { failed: rounds.length - ok.length, medianMs: r(percentile(ok, 50)), p90Ms: r(percentile(ok, 90)), worstMs: r(ok.at(-1) ?? NaN) };
}

export class FailoverRunner {
  private readonly pools = new Map<string, Pool>();
  constructor(private readonly options: FailoverOptions) {}

  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      p = httpPool(origin, PROBES_IN_FLIGHT, 5000);
      this.pools.set(origin, p);
    }
    return p;
  }

  /** Every member's origin seen so far: where to ask when the first address is the member that was faulted. */
  private readonly known = new Set<string>();

  /**
   * One leader that every member agrees on, within timeoutMs. With `requireAll` false, members that
   * do not answer are left out (a faulted member nobody healed) as long as more than half answer.
   */
  async agreedLeader(timeoutMs: number, requireAll: boolean): Promise<ClusterView> {
    const deadline = performance.now() + timeoutMs;
    this.known.add(this.options.origin);
    let last = 'no answer';
    for (;;) {
      const asked = [...this.known];
      const views = await Promise.all(asked.map((o) => clusterView(this.options.api, this.pool(o)).catch((error: Error) => {
        last = error.message;
        return null;
      })));
      const answered = views.filter((v) => v !== null);
      const answeredAt = new Set(asked.filter((_, i) => views[i] !== null));
      const view = answered.find((v) => v !== undefined);
      if (view) {
        for (const m of view.members) this.known.add(m.origin);
        const askedAll = view.members.every((m) => asked.includes(m.origin));
        const up = view.members.filter((m) => answeredAt.has(m.origin)).length;
        const enough = requireAll ? answered.length === asked.length : up * 2 > view.members.length;
        if (!answered.every((v) => v?.leaderId === view.leaderId)) last = 'members disagree on the leader';
        else if (!enough) last = `only ${up} of ${view.members.length} members answer`;
        else if (askedAll) return view;
      } else if (answered.length > 0) last = 'no leader known';
      if (performance.now() > deadline) throw new Error(`no agreed leader within ${timeoutMs} ms (${last})`);
      await sleep(50);
    }
  }

  async run(): Promise<FailoverResult> {
    const { options } = this;
    const rounds: FailoverRound[] = [];
    try {
      for (let round = 1; round <= options.rounds; round++) {
        const view = await this.agreedLeader(Math.max(10_000, options.roundTimeoutMs), options.heal !== undefined);
        const leader = view.members.find((m) => m.id === view.leaderId);
        if (!leader) throw new Error(`the leader ${view.leaderId} has no HTTP address`);
        const survivors = view.members.filter((m) => m.id !== leader.id);
        if (survivors.length === 0) throw new Error('failover needs at least two members with HTTP addresses');
        // Warm a keep-alive connection to every survivor, so the first probe does not pay a connect.
        await Promise.all(survivors.map((m) => probeWrite(options.api, this.pool(m.origin), 'bench/failover/warm', 'x', 3000)));
        const t0 = performance.now();
        await options.fault(leader, round);
        const ms = await this.firstWrite(survivors.map((m) => m.origin), t0, round);
        const result = { round, leader: leader.id, ms: ms === null ? null : Number(ms.toFixed(1)) };
        rounds.push(result);
        options.onRound?.(result);
        await options.heal?.(leader, round);
        await this.agreedLeader(Math.max(20_000, options.roundTimeoutMs), options.heal !== undefined);
        await sleep(options.settleMs ?? 1000);
      }
    } finally {
      await Promise.all([...this.pools.values()].map((p) => p.destroy().catch(() => {})));
    }
    return { workload: 'failover', target: options.origin, fault: options.faultName, rounds, ...summarizeRounds(rounds) };
  }

  /** Probes through each survivor every probeEveryMs until one is acknowledged; ms since t0, or null at the time limit. */
  private async firstWrite(origins: string[], t0: number, round: number): Promise<number | null> {
    const every = this.options.probeEveryMs ?? 10;
    const deadline = t0 + this.options.roundTimeoutMs;
    let done: number | null = null;
    let seq = 0;
    const pending = new Set<Promise<void>>();
    const outstanding = new Map<string, number>(origins.map((o) => [o, 0]));
    while (done === null && performance.now() < deadline) {
      for (const origin of origins) {
        // Against a stopped leader probes hang until their time limit: bound how many are in flight per member.
        if (outstanding.get(origin)! >= PROBES_IN_FLIGHT) continue;
        outstanding.set(origin, outstanding.get(origin)! + 1);
        const remaining = Math.max(1, Math.round(deadline - performance.now()));
        const p = probeWrite(this.options.api, this.pool(origin), `bench/failover/${round}`, String(seq++), Math.min(remaining, PROBE_TIMEOUT_MS)).then((outcome) => {
          outstanding.set(origin, outstanding.get(origin)! - 1);
          if (outcome === true && done === null) done = performance.now() - t0;
        });
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      await sleep(every);
    }
    await Promise.all(pending);
    return done;
  }
}
