// A client replica's side of the committed-log feed, pure: which relay to
// subscribe to (rendezvous hashing over the known relays, skipping ones that
// failed lately), which entries of an answer may be applied (only the next
// contiguous ones, never past the relay's commit), and when the replica may
// serve reads after a start (once caught up with a relay's commit).

import { createHash } from 'node:crypto';
import type { RelayEntry } from './feed.js';

export interface RelayCandidate {
  id: string;
  address: string;
  /** 0: a server (fed by Raft); 1: a relay client (fed by a server). A relay client subscribes only to level 0. */
  level: number;
}

function score(self: string, relay: string): string {
  return createHash('sha1').update(`${self}\u0000${relay}`).digest('hex');
}

export class RelayChooser {
  private readonly candidates = new Map<string, RelayCandidate>();
  private readonly avoid = new Map<string, number>();
  /** The candidates in preference order (computed when they change, not per pull). */
  private ranked: RelayCandidate[] = [];

  constructor(
    private readonly self: string,
    /** The highest level this node may subscribe to (relay clients: 0; others: 1). */
    private readonly maxLevel: number,
    /** How long a relay that failed is skipped. */
    private readonly avoidMs: number,
    /** Prefer relay clients over servers (so servers keep their fan-out for relays). */
    private readonly preferDeep: boolean,
  ) {}

  /** Replaces the known relays (this node itself never counts). */
  setCandidates(list: readonly RelayCandidate[]): void {
    const before = [...this.candidates.keys()].join('\u0000');
    this.candidates.clear();
    for (const c of list) if (c.id !== this.self && c.level <= this.maxLevel) this.candidates.set(c.id, c);
    if ([...this.candidates.keys()].join('\u0000') !== before || this.ranked.length !== this.candidates.size) this.rank();
    else this.ranked = this.ranked.map((c) => this.candidates.get(c.id)!);
  }

  add(c: RelayCandidate): void {
    if (c.id !== this.self && c.level <= this.maxLevel && !this.candidates.has(c.id)) {
      this.candidates.set(c.id, c);
      this.rank();
    }
  }

  get known(): number {
    return this.candidates.size;
  }

  private rank(): void {
    const byLevel = (a: RelayCandidate, b: RelayCandidate): number => (this.preferDeep ? b.level - a.level : a.level - b.level);
    this.ranked = [...this.candidates.values()]
      .map((c) => ({ c, s: score(this.self, c.id) }))
      .sort((a, b) => byLevel(a.c, b.c) || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0))
      .map((x) => x.c);
  }

  /** The relay to try now: the best-ranked one not failed within avoidMs (all failed: the one that failed longest ago). */
  choose(now: number): RelayCandidate | undefined {
    if (this.ranked.length === 0) return undefined;
    for (const c of this.ranked) {
      const at = this.avoid.get(c.id);
      if (at === undefined || now - at >= this.avoidMs) return c;
    }
    return this.ranked.reduce((best, c) => ((this.avoid.get(c.id) ?? 0) < (this.avoid.get(best.id) ?? 0) ? c : best));
  }

  failed(id: string, now: number): void {
    this.avoid.set(id, now);
  }

  succeeded(id: string): void {
    this.avoid.delete(id);
  }
}

/**
 * What a replica may apply and when it may serve. A replica holds only
 * committed entries, in order: an entry is taken only if it is the next one
 * and at or below the commit index the relay sent with it.
 */
export class ReplicaCursor {
  private appliedIndex: number;
  private catchUpTo: number | undefined;
  private servingNow: boolean;

  constructor(applied: number, options: { serveAtOnce?: boolean } = {}) {
    this.appliedIndex = applied;
    this.servingNow = options.serveAtOnce ?? false;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  /** May reads be served: caught up with the first commit index a relay reported after start. */
  get serving(): boolean {
    return this.servingNow;
  }

  /** The entries of an answer to apply, in order; anything out of order or past `commit` is not taken. */
  accept(commit: number, entries: readonly RelayEntry[]): RelayEntry[] {
    if (this.catchUpTo === undefined) this.catchUpTo = commit;
    const out: RelayEntry[] = [];
    let next = this.appliedIndex + 1;
    for (const e of entries) {
      if (e.index < next) continue;
      if (e.index !== next || e.index > commit) break;
      out.push(e);
      next++;
    }
    if (out.length === 0) this.checkServing();
    return out;
  }

  /** The state machine applied up to `index` (entries, or a snapshot at or after the current index). */
  advanced(index: number): void {
    if (index < this.appliedIndex) throw new Error(`applied index would go back from ${this.appliedIndex} to ${index}`);
    this.appliedIndex = index;
    this.checkServing();
  }

  /** A snapshot at `index` may replace the state only if it does not go back. */
  snapshotAcceptable(index: number): boolean {
    return index >= this.appliedIndex;
  }

  /** Serve anyway (no relay reachable for long: stale reads beat none; the caller flags them). */
  serveStale(): void {
    this.servingNow = true;
  }

  private checkServing(): void {
    if (!this.servingNow && this.catchUpTo !== undefined && this.appliedIndex >= this.catchUpTo) this.servingNow = true;
  }
}
