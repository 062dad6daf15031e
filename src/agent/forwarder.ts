// Runs a request on the leader: here when this node leads, else forwarded over
// the peer transport (peer-requests.ts). Retries while leadership moves, on
// errors that guarantee nothing ran (`retryable`), and gives up on a leader
// that hangs once another one is elected.

import { KonsulError, isRetryable } from '../errors.js';
import { NotLeaderError, Role, type NodeId } from '../raft/index.js';
import type { RaftDriver } from './driver.js';
import { decodeResponse, encodeRequest, type PeerMethod, type PeerRequest, type PeerResponse } from './peer-requests.js';

/**
 * Leadership moved while a forwarded request was in flight: it may or may not
 * have run, so only an idempotent request may be sent again.
 */
export class LeaderChangedError extends KonsulError {
  constructor(from: string, to: string) {
    super('KONSUL_ERR_LEADER_CHANGED',
      `leadership moved from ${from} to ${to} while the request was in flight; a write may or may not have been applied`, 'unavailable');
    this.name = 'LeaderChangedError';
  }
}

/** Requests that change nothing when run twice: these go again after a LeaderChangedError. */
const IDEMPOTENT: ReadonlySet<PeerMethod> = new Set<PeerMethod>([
  'info', 'join', 'remove', 'transfer', 'session-renew',
  // scale
  'relay-hello', 'relay-report', 'client-join', 'client-read-index',
]);

export interface ForwarderOptions {
  driver: RaftDriver;
  proposalTimeoutMs: number;
  electionTimeoutMs: number;
}

export class Forwarder {
  private readonly driver: RaftDriver;
  private readonly proposalTimeoutMs: number;
  private readonly electionTimeoutMs: number;
  private leaderWaiters: Array<() => void> = [];

  constructor(options: ForwarderOptions) {
    this.driver = options.driver;
    this.proposalTimeoutMs = options.proposalTimeoutMs;
    this.electionTimeoutMs = options.electionTimeoutMs;
  }

  /** The driver saw a new leader (or none): wake whoever waits on one. */
  leaderChanged(): void {
    const waiters = this.leaderWaiters;
    this.leaderWaiters = [];
    for (const w of waiters) w();
  }

  /** Send one request to a node (by id or address) and decode its answer. */
  async call<M extends PeerMethod>(
    target: { nodeId: NodeId } | { address: string }, method: M, request: PeerRequest<M>, timeoutMs: number,
  ): Promise<PeerResponse<M>> {
    const answer = await this.driver.transport.request(target, method, encodeRequest(method, request), timeoutMs);
    return decodeResponse(method, answer);
  }

  /**
   * Run `local` on the leader: here if this node leads, else by asking the
   * leader over the transport. Retries while leadership moves (errors that
   * guarantee nothing was applied), up to the proposal timeout.
   */
  async onLeader<M extends PeerMethod>(method: M, request: PeerRequest<M>, local: () => Promise<PeerResponse<M>>): Promise<PeerResponse<M>> {
    const deadline = performance.now() + this.proposalTimeoutMs;
    // Made only when needed: an Error captures a stack, a cost every write would pay.
    let lastError: Error | undefined;
    let body: Uint8Array | undefined;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0 || this.driver.isStopped) throw lastError ?? new NotLeaderError('');
      const raft = this.driver.raft;
      try {
        if (raft.role === Role.Leader) return await local();
        if (raft.leader === '') {
          await this.waitForLeader(Math.min(remaining, 2 * this.electionTimeoutMs));
          if (this.driver.raft.leader === '') lastError = new NotLeaderError('');
          continue;
        }
        this.driver.counters.forwarded++;
        body ??= encodeRequest(method, request);
        const answer = await this.untilLeaderMoves(
          this.driver.transport.request({ nodeId: raft.leader }, method, body, Math.max(1, remaining)), raft.leader);
        return decodeResponse(method, answer);
      } catch (error) {
        // A write may have reached the old leader: its outcome is unknown, so only idempotent requests go again.
        const retry = isRetryable(error) || (error instanceof LeaderChangedError && IDEMPOTENT.has(method));
        if (!retry) throw error;
        lastError = error as Error;
        await this.pauseBeforeRetry(Math.min(200, 10 * 2 ** Math.min(attempt, 4)));
      }
    }
  }

  /** Resolves once a leader is known, or after `timeoutMs`. */
  waitForLeader(timeoutMs: number): Promise<void> {
    if (this.driver.raft.leader !== '') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.leaderWaiters = this.leaderWaiters.filter((w) => w !== done);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.leaderWaiters.push(done);
    });
  }

  /**
   * The backoff between attempts, cut short when a leader becomes known: a
   * write that failed against a dead leader goes to the new one as soon as it
   * is elected rather than after the rest of its backoff (up to 160 ms of a failover).
   */
  private pauseBeforeRetry(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.leaderWaiters = this.leaderWaiters.filter((w) => w !== onChange);
        resolve();
      };
      const onChange = (): void => {
        if (this.driver.raft.leader === '') this.leaderWaiters.push(onChange);
        else done();
      };
      const timer = setTimeout(done, ms);
      this.leaderWaiters.push(onChange);
    });
  }

  /**
   * The forwarded call, abandoned when another leader is elected meanwhile: a
   * leader that hangs (SIGSTOP, a partition) keeps its socket open and never answers.
   */
  private untilLeaderMoves<T>(call: Promise<T>, sentTo: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onChange = (): void => {
        const now = this.driver.raft.leader;
        if (now === sentTo || now === '') {
          this.leaderWaiters.push(onChange);
          return;
        }
        reject(new LeaderChangedError(sentTo, now));
      };
      this.leaderWaiters.push(onChange);
      call.then(resolve, reject).finally(() => {
        this.leaderWaiters = this.leaderWaiters.filter((w) => w !== onChange);
      });
    });
  }
}
