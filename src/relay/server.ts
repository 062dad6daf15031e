// A relay at work: answers subscribers' relay-pull requests from a committed
// view (long-polling until the commit index moves), streams snapshot images in
// chunks to subscribers that fell behind the view, drops subscribers that fell
// silent, and sends the leader its liveness changes in batches. Servers run one
// over their Raft log; relay clients run one over the window of entries they
// applied.

import { randomBytes } from 'node:crypto';
import { KonsulError } from '../errors.js';
import type { StateSnapshot } from '../storage/index.js';
import type { TransportLogger } from '../transport/index.js';
import type { RelayCandidate } from './cursor.js';
import { RelayFeed, type CommittedView, type LivenessReport, type RelayEntry } from './feed.js';
import {
  encodePullAnswer, encodeSnapshotChunk, type PullHeader, type PullRequest,
} from './protocol.js';

export interface RelayServerOptions {
  view: CommittedView;
  fanout: number;
  /** A subscriber silent this long is gone (it pulls at least every waitMs it asks for). */
  silenceMs: number;
  snapshot: () => StateSnapshot;
  leader: () => { id: string; address: string } | undefined;
  relays: () => RelayCandidate[];
  /** Sends liveness changes to the leader; rejects when it could not. */
  report?: (report: LivenessReport) => Promise<void>;
  /** How often liveness changes go to the leader (a full list every tenth time). */
  reportEveryMs?: number;
  logger: TransportLogger;
  /** May this relay take subscribers now (false: it answers "full" and sends its subscribers away, reported as moved). */
  accepting?: () => boolean;
}

interface Waiting {
  req: PullRequest;
  resolve(answer: Uint8Array): void;
  timer: NodeJS.Timeout;
}

interface SnapshotSession {
  image: StateSnapshot;
  iterator: AsyncIterator<Buffer>;
  lastUsed: number;
}

const SESSION_IDLE_MS = 30_000;

/** One wake-up's view: entries read once per range, answers encoded once per (kind, from, commit). */
class SharedAnswers implements CommittedView {
  readonly encoded = new Map<string, Buffer>();
  private readonly ranges = new Map<string, RelayEntry[]>();

  constructor(private readonly view: CommittedView) {}

  firstIndex(): number {
    return this.view.firstIndex();
  }

  commitIndex(): number {
    return this.view.commitIndex();
  }

  entries(lo: number, hi: number, maxBytes: number): RelayEntry[] {
    const key = `${lo}:${hi}:${maxBytes}`;
    let got = this.ranges.get(key);
    if (!got) this.ranges.set(key, (got = this.view.entries(lo, hi, maxBytes)));
    return got;
  }
}

export class RelayServer {
  readonly feed: RelayFeed;
  /** Counters for stats and the scale figures. */
  readonly counters = { pulls: 0, entriesSent: 0, snapshotsServed: 0, reportsSent: 0, refusedFull: 0, answersShared: 0 };

  private overflowLogged = 0;
  private overflowLoggedAt = -Infinity;

  /** What /cluster/stats shows of this relay: its subscribers now, those admitted past the fan-out, and the counters. */
  stats(): { subscribers: number; overflowAdmitted: number } & RelayServer['counters'] {
    return { subscribers: this.feed.size, overflowAdmitted: this.feed.overflowAdmitted, ...this.counters };
  }
  private readonly opts: RelayServerOptions;
  private waiting: Waiting[] = [];
  private readonly sessions = new Map<string, SnapshotSession>();
  private timer: NodeJS.Timeout | undefined;
  private reports = 0;
  private reporting = false;
  private pendingReport: LivenessReport = { alive: [], gone: [] };
  private stopped = false;

  constructor(options: RelayServerOptions) {
    this.opts = options;
    this.feed = new RelayFeed({ fanout: options.fanout, silenceMs: options.silenceMs });
  }

  start(): void {
    const every = this.opts.reportEveryMs ?? 1000;
    this.timer = setInterval(() => this.housekeeping(), Math.min(every, Math.max(100, Math.floor(this.opts.silenceMs / 8))));
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const w of this.waiting) {
      clearTimeout(w.timer);
      w.resolve(this.answer(w.req));
    }
    this.waiting = [];
    for (const s of this.sessions.values()) s.image.close();
    this.sessions.clear();
  }

  /** The commit index moved: answer the pulls waiting for it. */
  notify(): void {
    if (this.waiting.length === 0) return;
    this.checkAccepting();
    const commit = this.opts.view.commitIndex();
    const keep: Waiting[] = [];
    // Held pulls mostly ask for the same index: their entries are read and encoded once and the bytes shared.
    const shared = new SharedAnswers(this.opts.view);
    for (const w of this.waiting) {
      if (w.req.from > commit) {
        keep.push(w);
        continue;
      }
      clearTimeout(w.timer);
      w.resolve(this.answer(w.req, shared));
    }
    this.waiting = keep;
  }

  /** Whether this relay takes subscribers now; when it stops (a server became the leader), its subscribers are sent elsewhere. */
  private checkAccepting(): void {
    this.feed.accepting = this.opts.accepting?.() ?? true;
    if (this.feed.accepting || (this.feed.size === 0 && this.waiting.length === 0)) return;
    this.feed.sendAway();
    // The pulls of those sent away are answered ("full"): they subscribe elsewhere. Overflow subscribers stay.
    const keep: Waiting[] = [];
    for (const w of this.waiting) {
      if (this.feed.subscribers.has(w.req.id)) {
        keep.push(w);
        continue;
      }
      clearTimeout(w.timer);
      w.resolve(this.answer(w.req));
    }
    this.waiting = keep;
  }

  /** relay-pull (decoded by the peer-request table): answers at once, or holds the pull until there is something new. */
  pull(req: PullRequest): Promise<Uint8Array> {
    if (this.stopped) return Promise.reject(new KonsulError('KONSUL_ERR_STOPPED', 'relay stopped', 'unavailable'));
    this.counters.pulls++;
    this.checkAccepting();
    const commit = this.opts.view.commitIndex();
    if (req.from <= commit || req.waitMs === 0 || !this.feed.subscribers.has(req.id)) return Promise.resolve(this.answer(req));
    // Nothing new: hold the pull until the commit index moves or the wait ends (the subscriber's heartbeat).
    this.feed.pull(req.id, req.address, req.from, performance.now(), this.opts.view, req.epoch, req.overflow === true);
    return new Promise((resolve) => {
      const w: Waiting = {
        req, resolve,
        timer: setTimeout(() => {
          this.waiting = this.waiting.filter((x) => x !== w);
          resolve(this.answer(req));
        }, req.waitMs),
      };
      this.waiting.push(w);
    });
  }

  /**
   * The answer to one pull. `shared` (a held pull woken by a commit): the
   * entries come from, and the encoded answer goes into, what the other pulls
   * woken at the same time share; the answer says it was held, so the
   * subscriber knows the write was fresh, not a backlog.
   */
  private answer(req: PullRequest, shared?: SharedAnswers): Buffer {
    const a = this.feed.pull(req.id, req.address, req.from, performance.now(), shared ?? this.opts.view, req.epoch, req.overflow === true);
    if (this.feed.overflowAdmitted !== this.overflowLogged && performance.now() - this.overflowLoggedAt > 60_000) {
      this.overflowLoggedAt = performance.now();
      this.opts.logger?.warn({ subscribers: this.feed.size, fanout: this.opts.fanout, overflowAdmitted: this.feed.overflowAdmitted },
        'took client agents past the relay fan-out: every other relay refused them (start relay clients with --relay, or raise --relay-fanout)');
      this.overflowLogged = this.feed.overflowAdmitted;
    }
    if (a.kind === 'full') this.counters.refusedFull++;
    if (a.kind === 'snapshot') this.counters.snapshotsServed++;
    const entries = a.kind === 'entries' ? a.entries : [];
    this.counters.entriesSent += entries.length;
    const key = shared && a.kind !== 'full' && !req.wantRelays ? `${a.kind}:${req.from}:${a.commit}` : undefined;
    const done = key === undefined ? undefined : shared!.encoded.get(key);
    if (done) {
      this.counters.answersShared++;
      return done;
    }
    const header: PullHeader = { kind: a.kind, commit: a.kind === 'full' ? this.opts.view.commitIndex() : a.commit };
    const leader = this.opts.leader();
    if (leader) header.leader = leader;
    if (req.wantRelays || a.kind === 'full') header.relays = this.opts.relays();
    if (shared) header.held = true;
    const out = encodePullAnswer(header, entries);
    if (key !== undefined) shared!.encoded.set(key, out);
    return out;
  }

  /** relay-snapshot: the next chunk of a session ('' opens one). */
  async snapshotChunk(session0: string): Promise<Uint8Array> {
    let sessionId = session0;
    let session = this.sessions.get(sessionId);
    if (sessionId === '') {
      const image = this.opts.snapshot();
      sessionId = randomBytes(8).toString('hex');
      session = { image, iterator: image[Symbol.asyncIterator](), lastUsed: performance.now() };
      this.sessions.set(sessionId, session);
    }
    if (!session) throw new KonsulError('KONSUL_ERR_NOT_FOUND', 'no such snapshot session (it expired); start again', 'not-found');
    session.lastUsed = performance.now();
    const next = await session.iterator.next();
    if (next.done) {
      this.sessions.delete(sessionId);
      session.image.close();
    }
    return encodeSnapshotChunk({
      session: sessionId, index: session.image.appliedIndex, done: next.done === true, chunk: next.done ? Buffer.alloc(0) : next.value,
    });
  }

  private housekeeping(): void {
    const now = performance.now();
    this.feed.expire(now);
    for (const [id, s] of this.sessions) {
      if (now - s.lastUsed > SESSION_IDLE_MS) {
        s.image.close();
        this.sessions.delete(id);
      }
    }
    this.sendReport();
  }

  /** Liveness changes to the leader: joins and departures at once, the full list every tenth round. */
  private sendReport(): void {
    if (!this.opts.report || this.reporting) return;
    const full = this.reports % 10 === 0;
    const r = this.feed.takeReport(full);
    const merged = mergeReports(this.pendingReport, r);
    if (!full && merged.alive.length === 0 && merged.gone.length === 0 && (merged.moved ?? []).length === 0) return;
    this.reports++;
    this.reporting = true;
    this.pendingReport = { alive: [], gone: [] };
    this.opts.report(merged).then(
      () => { this.counters.reportsSent++; },
      (error: Error) => {
        // Kept for the next round (the leader may be changing).
        this.pendingReport = merged;
        this.reports = 0;
        this.opts.logger.debug({ err: error.message }, 'relay liveness report not delivered');
      },
    ).finally(() => { this.reporting = false; });
  }
}

/** An undelivered report followed by a newer one: the newer word about each id stands. */
export function mergeReports(older: LivenessReport, newer: LivenessReport): LivenessReport {
  const mentioned = new Set([...newer.alive, ...newer.gone, ...(newer.moved ?? [])]);
  const keep = (ids: readonly string[] | undefined): string[] => (ids ?? []).filter((id) => !mentioned.has(id));
  const out: LivenessReport = {
    alive: [...new Set([...keep(older.alive), ...newer.alive])],
    gone: [...new Set([...keep(older.gone), ...newer.gone])],
  };
  const moved = [...new Set([...keep(older.moved), ...(newer.moved ?? [])])];
  if (moved.length > 0) out.moved = moved;
  const epochs: Record<string, number> = {};
  for (const id of [...out.alive, ...out.gone, ...moved]) {
    const e = mentioned.has(id) ? newer.epochs?.[id] : older.epochs?.[id];
    if (e !== undefined) epochs[id] = e;
  }
  if (Object.keys(epochs).length > 0) out.epochs = epochs;
  return out;
}
