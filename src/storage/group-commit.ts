// Group commit with fsync off the event loop: writes of one event-loop turn
// (or of every turn while an fsync runs) share one transaction, committed on the
// main thread without fsync; one fsync on the thread pool then makes them
// durable, and only then are they acknowledged.

import { readFileSync } from 'node:fs';
import { StorageClosedError, StorageFailedError } from './errors.js';

/**
 * TEST ONLY (the fault suite's slow-disk fault): when KONSUL_UNSAFE_FSYNC_DELAY_FILE
 * names a file, the whole number of milliseconds in it is waited before every
 * fsync starts (a disk whose flushes stall). Re-read at most every 250 ms, so
 * the fault comes and goes on a running node. Unset, this costs nothing.
 */
const DELAY_FILE = process.env.KONSUL_UNSAFE_FSYNC_DELAY_FILE;
let delayReadAt = 0;
let delayMs = 0;
function testFsyncDelayMs(): number {
  if (DELAY_FILE === undefined || DELAY_FILE === '') return 0;
  const now = Date.now();
  if (now - delayReadAt >= 250) {
    delayReadAt = now;
    try {
      const v = Number(readFileSync(DELAY_FILE, 'utf8').trim());
      delayMs = Number.isFinite(v) && v > 0 ? Math.min(v, 60_000) : 0;
    } catch {
      delayMs = 0;
    }
  }
  return delayMs;
}

/** Starts an fsync of everything committed so far; calls done once, later, from the thread pool's completion. */
export type SyncFn = (done: (error: Error | null) => void) => void;

/** Hooks for metrics and for tests that check the durability order. */
export interface DurabilityEvents {
  /** A group's write transaction committed: written, not yet durable. */
  committed?(batches: number): void;
  /** An fsync started; it covers every commit before this moment. */
  syncStarted?(): void;
  /** That fsync finished. */
  syncFinished?(durationMs: number, error: Error | null): void;
}

export interface DurabilityStats {
  /** Calls to submit(). */
  batches: number;
  /** Write transactions committed (one per group). */
  commits: number;
  syncsStarted: number;
  syncsFinished: number;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * At most one fsync in flight. A sync covers the commits made before it
 * started; anything committed while it runs waits for the next one, which
 * starts as soon as the current one ends, so commits keep flowing during an fsync.
 */
export class SyncScheduler {
  private waiting: Waiter[] = [];
  private inFlight = false;
  private failure: Error | undefined;
  private idleWaiters: (() => void)[] = [];
  readonly stats = { syncsStarted: 0, syncsFinished: 0 };

  /**
   * @param beforeNextSync runs when an fsync ends, before the next one starts:
   *   the moment to commit writes held back while it ran, so the next covers them.
   */
  constructor(
    private readonly sync: SyncFn,
    private readonly events: DurabilityEvents = {},
    private readonly beforeNextSync?: () => void,
  ) {}

  get busy(): boolean {
    return this.inFlight;
  }

  /** Resolves after an fsync that started after this call has finished. */
  request(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Resolves when no fsync is running or wanted (before the env may close). */
  idle(): Promise<void> {
    if (!this.inFlight && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (this.inFlight || this.waiting.length === 0) {
      if (!this.inFlight) this.settleIdle();
      return;
    }
    const covered = this.waiting;
    this.waiting = [];
    this.inFlight = true;
    this.stats.syncsStarted++;
    this.events.syncStarted?.();
    const started = performance.now();
    const sync = (done: (error: Error | null) => void): void => {
      const delay = testFsyncDelayMs();
      if (delay > 0) setTimeout(() => this.sync(done), delay);
      else this.sync(done);
    };
    sync((error) => {
      this.inFlight = false;
      this.stats.syncsFinished++;
      this.events.syncFinished?.(performance.now() - started, error);
      if (error) {
        // fsyncgate: after a failed fsync the kernel may have dropped the dirty
        // pages, so a retry could "succeed" without our data. Fail for good.
        this.failure = new StorageFailedError(`fsync failed: ${error.message}`, { cause: error });
        for (const w of covered) w.reject(this.failure);
        for (const w of this.waiting) w.reject(this.failure);
        this.waiting = [];
      } else {
        for (const w of covered) w.resolve();
      }
      // Also after a failure: writes held back during this fsync must hear of it.
      this.beforeNextSync?.();
      this.kick();
    });
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

export interface GroupCommitterOptions<B> {
  /**
   * Write every batch of one turn, in order, in one transaction, and commit it
   * (no fsync). Runs on the main thread. A throw fails the whole group and the
   * committer: a half-known disk state is not something to keep writing on.
   */
  commit(batches: B[]): void;
  sync: SyncFn;
  events?: DurabilityEvents;
  /** What the errors name ("raft log"). */
  name: string;
}

interface Pending<B> extends Waiter {
  batch: B;
  /** Resolve once committed; the next fsync anyone asks for (or close()) makes it durable. */
  lazy: boolean;
}

export class GroupCommitter<B> {
  private pending: Pending<B>[] = [];
  private scheduled = false;
  private failure: Error | undefined;
  private closed = false;
  private readonly syncer: SyncScheduler;
  private readonly counts = { batches: 0, commits: 0 };
  /** A lazy group was committed and no fsync has been asked for since. */
  private lazyUnsynced = false;

  constructor(private readonly options: GroupCommitterOptions<B>) {
    this.syncer = new SyncScheduler(options.sync, options.events, () => this.commitPending());
  }

  /**
   * Resolves once the batch is committed and an fsync covering it has finished.
   * With `lazy`, resolves once committed and asks for no fsync of its own: the
   * next write that does (or close()) makes it durable. For writes nothing waits
   * on, such as a Raft commit index, which a restart may safely find older.
   * Order is kept either way: a batch commits with or after every earlier one.
   */
  submit(batch: B, lazy = false): Promise<void> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    this.counts.batches++;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ batch, resolve, reject, lazy });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not a microtask: everything that arrives in this turn's
        // I/O callbacks joins the group, at the cost of at most one loop turn.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Why a write would be refused now, if it would. */
  refusal(): Error | undefined {
    if (this.closed) return new StorageClosedError(this.options.name);
    return this.failure ?? this.syncer.failed;
  }

  stats(): DurabilityStats {
    return { ...this.counts, ...this.syncer.stats };
  }

  /** Commit what is queued, wait for its fsync, and refuse writes from now on. */
  async close(): Promise<void> {
    this.scheduled = false;
    if (!this.syncer.busy) this.commitPending();
    this.closed = true;
    // A sync in flight commits the held writes when it ends (closed or not), then fsyncs them.
    await this.syncer.idle();
    // Lazy writes committed since the last fsync started (some perhaps just now, by that sync's end).
    if (this.lazyUnsynced) {
      this.lazyUnsynced = false;
      // Best effort: a failed fsync is already recorded for whoever asks next.
      await this.syncer.request().catch(() => undefined);
    }
  }

  private flush(): void {
    if (!this.scheduled) return;
    this.scheduled = false;
    // While an fsync runs, a commit now would wait for the next fsync anyway;
    // holding the writes until it ends makes one transaction of them instead of
    // one per turn: same latency, less main-thread work, fewer pages rewritten.
    // Lazy writes alone wait for no fsync: they commit now.
    if (this.syncer.busy && this.pending.some((p) => !p.lazy)) return;
    this.commitPending();
  }

  private commitPending(): void {
    const group = this.pending;
    this.pending = [];
    if (group.length === 0) return;
    // Not refusal(): writes accepted before close() still get committed.
    const refusal = this.failure ?? this.syncer.failed;
    if (refusal) {
      for (const p of group) p.reject(refusal);
      return;
    }
    try {
      this.options.commit(group.map((p) => p.batch));
    } catch (error) {
      this.failure = new StorageFailedError(
        `${this.options.name}: commit failed: ${(error as Error).message}`,
        { cause: error },
      );
      for (const p of group) p.reject(this.failure);
      return;
    }
    this.counts.commits++;
    this.options.events?.committed?.(group.length);
    const durable = group.filter((p) => !p.lazy);
    for (const p of group) if (p.lazy) p.resolve();
    if (durable.length === 0) {
      this.lazyUnsynced = true;
      return;
    }
    // This fsync starts after the commit above, so it covers any lazy group before it too.
    this.lazyUnsynced = false;
    this.syncer.request().then(
      () => { for (const p of durable) p.resolve(); },
      (error: Error) => { for (const p of durable) p.reject(error); },
    );
  }
}
