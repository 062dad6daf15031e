// A relay's side of the committed-log feed, pure (no I/O, no clock: the caller
// passes `now`): which subscribers it serves (bounded fan-out), what a pull is
// answered with (committed entries only, or "take a snapshot", or "full, go
// elsewhere"), and which subscribers fell silent. Servers and relay clients
// both run it; the simulator runs the same code.

/** One committed log entry as a relay forwards it: its index and its command bytes (empty for Raft-internal entries). */
export interface RelayEntry {
  index: number;
  data: Uint8Array;
}

/** What a relay can forward: entries it holds, and how far the log is committed (and applied) here. */
export interface CommittedView {
  /** The lowest index still held as an entry (entries before it are only in a snapshot). */
  firstIndex(): number;
  /** The highest index this relay knows committed (and has applied, so a snapshot covers it). */
  commitIndex(): number;
  /** Entries lo..hi (inclusive, hi <= commitIndex()), stopping once maxBytes is passed (at least one). */
  entries(lo: number, hi: number, maxBytes: number): RelayEntry[];
}

export type PullAnswer =
  /** Entries from the asked index on (maybe none yet); every one is at or below `commit`. */
  | { kind: 'entries'; commit: number; entries: RelayEntry[] }
  /** The asked index was compacted away here: fetch a snapshot from this relay first. */
  | { kind: 'snapshot'; commit: number }
  /** This relay serves its fan-out already: subscribe elsewhere. */
  | { kind: 'full' };

export interface Subscriber {
  id: string;
  /** Where the subscriber's agent answers peers (for its node record and for relays below it). */
  address: string;
  /** The last index the subscriber said it applied. */
  applied: number;
  lastSeen: number;
  /** The subscription epoch the subscriber chose (carried in liveness reports; 0 from a client that sends none). */
  epoch: number;
  /** Admitted past the fan-out (or by a leader stepping aside) because every other relay refused it: not sent away. */
  overflow?: boolean;
}

export interface RelayFeedOptions {
  /** The most subscribers served at once. */
  fanout: number;
  /** A subscriber not heard from for this long is dropped (and reported gone). */
  silenceMs: number;
  /** Bytes of entries per answer (at least one entry is always sent). */
  maxBytes?: number;
}

/** A change in who this relay serves, for the leader's node-health view (tracker.ts). */
export interface LivenessReport {
  alive: string[];
  gone: string[];
  /** Subscribers sent away to subscribe elsewhere (the relay stopped taking subscribers). */
  moved?: string[];
  /** The subscription epoch of every id listed. */
  epochs?: Record<string, number>;
}

export class RelayFeed {
  readonly subscribers = new Map<string, Subscriber>();
  /** False: no new subscriber is admitted (the leader stepping aside). */
  accepting = true;
  /** Subscribers admitted past the fan-out (or while not accepting) because every other relay refused them. */
  overflowAdmitted = 0;
  private readonly opts: Required<RelayFeedOptions>;
  private joined = new Set<string>();
  private left = new Set<string>();
  private moved = new Set<string>();
  /** The epoch of each id in joined, left or moved (kept after the subscriber itself is dropped). */
  private epochs = new Map<string, number>();

  constructor(options: RelayFeedOptions) {
    if (!(Number.isInteger(options.fanout) && options.fanout >= 0)) throw new RangeError(`fanout must be a non-negative integer, got ${options.fanout}`);
    if (!(options.silenceMs > 0)) throw new RangeError(`silenceMs must be positive, got ${options.silenceMs}`);
    this.opts = { maxBytes: 512 * 1024, ...options };
  }

  /**
   * A subscriber asks for entries from `from` on (it applied from - 1). A new
   * subscriber is admitted while the fan-out allows, or past it when it says
   * every relay refused it (`overflow`); one already served is always answered.
   */
  pull(id: string, address: string, from: number, now: number, view: CommittedView, epoch = 0, overflow = false): PullAnswer {
    let sub = this.subscribers.get(id);
    if (!sub) {
      const room = this.accepting && this.subscribers.size < this.opts.fanout;
      if (!room && !overflow) return { kind: 'full' };
      sub = { id, address, applied: from - 1, lastSeen: now, epoch, ...(room ? {} : { overflow: true }) };
      if (!room) this.overflowAdmitted++;
      this.subscribers.set(id, sub);
      this.left.delete(id);
      this.moved.delete(id);
      this.joined.add(id);
      this.epochs.set(id, epoch);
    } else if (epoch > sub.epoch) {
      // Subscribed anew (it was away at another relay meanwhile): the leader hears of the new subscription.
      sub.epoch = epoch;
      this.joined.add(id);
      this.epochs.set(id, epoch);
    }
    sub.lastSeen = now;
    sub.address = address;
    sub.applied = from - 1;
    const commit = view.commitIndex();
    if (from > commit) return { kind: 'entries', commit, entries: [] };
    if (from < view.firstIndex()) return { kind: 'snapshot', commit };
    return { kind: 'entries', commit, entries: view.entries(from, commit, this.opts.maxBytes) };
  }

  /** A subscriber that said goodbye (or whose connection closed) is gone at once. */
  drop(id: string): void {
    const sub = this.subscribers.get(id);
    if (!sub) return;
    this.subscribers.delete(id);
    this.joined.delete(id);
    this.moved.delete(id);
    this.left.add(id);
    this.epochs.set(id, sub.epoch);
  }

  /**
   * This relay stops taking subscribers (a server became the leader): every one is sent away, reported as
   * moved, not gone; except those admitted as overflow (no other relay would take them). Returns how many went.
   */
  sendAway(): number {
    let sent = 0;
    for (const sub of [...this.subscribers.values()]) {
      if (sub.overflow) continue;
      this.joined.delete(sub.id);
      this.left.delete(sub.id);
      this.moved.add(sub.id);
      this.epochs.set(sub.id, sub.epoch);
      this.subscribers.delete(sub.id);
      sent++;
    }
    return sent;
  }

  /** Drops subscribers silent for longer than silenceMs; returns their ids. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const sub of this.subscribers.values()) {
      if (now - sub.lastSeen > this.opts.silenceMs) gone.push(sub.id);
    }
    for (const id of gone) this.drop(id);
    return gone;
  }

  /** Who joined and who left since the last call (full: every subscriber as alive). */
  takeReport(full: boolean): LivenessReport {
    const alive = full ? [...this.subscribers.keys()] : [...this.joined];
    const report: LivenessReport = { alive, gone: [...this.left] };
    if (this.moved.size > 0) report.moved = [...this.moved];
    const epochs: Record<string, number> = {};
    for (const id of alive) epochs[id] = this.subscribers.get(id)?.epoch ?? this.epochs.get(id) ?? 0;
    for (const id of [...this.left, ...this.moved]) epochs[id] = this.epochs.get(id) ?? 0;
    if (Object.keys(epochs).length > 0) report.epochs = epochs;
    this.joined = new Set();
    this.left = new Set();
    this.moved = new Set();
    this.epochs = new Map();
    return report;
  }

  get size(): number {
    return this.subscribers.size;
  }
}

/** A relay view over an in-memory window of recent entries (what a relay client keeps of what it applied). */
export class EntryWindow implements CommittedView {
  private readonly ring: RelayEntry[] = [];
  private bytes = 0;
  /** The snapshot/restart point: entries at or below it are not in the window. */
  private base: number;

  constructor(base: number, private readonly maxBytes: number, private readonly maxEntries = 4096) {
    this.base = base;
  }

  /** Records entries just applied (contiguous after the last one). */
  push(entries: readonly RelayEntry[]): void {
    for (const e of entries) {
      if (e.index !== this.commitIndex() + 1) this.reset(e.index - 1);
      this.ring.push(e);
      this.bytes += e.data.length + 16;
    }
    while (this.ring.length > 0 && (this.bytes > this.maxBytes || this.ring.length > this.maxEntries)) {
      const e = this.ring.shift()!;
      this.bytes -= e.data.length + 16;
      this.base = e.index;
    }
  }

  /** Forget the window (after a snapshot install to `index`). */
  reset(index: number): void {
    this.ring.length = 0;
    this.bytes = 0;
    this.base = index;
  }

  firstIndex(): number {
    return this.base + 1;
  }

  commitIndex(): number {
    return this.ring.length === 0 ? this.base : this.ring[this.ring.length - 1]!.index;
  }

  entries(lo: number, hi: number, maxBytes: number): RelayEntry[] {
    const out: RelayEntry[] = [];
    let bytes = 0;
    for (let i = lo - this.base - 1; i < this.ring.length && i <= hi - this.base - 1; i++) {
      const e = this.ring[i]!;
      if (out.length > 0 && bytes + e.data.length > maxBytes) break;
      out.push(e);
      bytes += e.data.length;
    }
    return out;
  }
}
