// Sessions, locks and transactions as the HTTP layer asks for them, and the
// leader's session TTL timers. A session's TTL timer runs only on the leader,
// for 2x its TTL (Consul's multiplier), and every timer starts over on a new
// leader, so a failover can only make a session live longer, never expire early.
// Renewals go to the leader, which resets the timer (no Raft write).

import { randomUUID } from 'node:crypto';
import { BadRequestError } from '../errors.js';
import {
  SESSION_TTL_MULTIPLIER, WRITE_VERBS, sessionCreateProblem,
  type Command, type SessionEvent, type SessionInput, type SessionRecord, type StateMachine, type TxnOp, type TxnOutcome,
} from '../state/index.js';
import type { Consistency, ReadMeta } from './api.js';
import { recoverTxnOutcome } from './txn-recover.js';

export interface CoordinationHost {
  readonly nodeId: string;
  readonly state: StateMachine;
  /** Propose through the leader; resolves once applied on this node, with the entry's index. */
  propose(cmd: Command): Promise<{ result: boolean | undefined; index: number }>;
  barrier(consistency: Consistency): Promise<ReadMeta>;
  /** Run `local` (a renewal) on the leader: here when this node leads, else forwarded to it. */
  renewOnLeader(id: string, local: () => Promise<SessionRecord | undefined>): Promise<SessionRecord | undefined>;
  isLeader(): boolean;
  logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/** What a session create request may set; the rest has defaults. */
export type SessionRequest = Partial<Omit<SessionInput, 'id'>>;

export interface TxnAnswer {
  outcome: TxnOutcome;
  /** The index the transaction was applied at (writes), or the KV index it was read at (read-only). */
  index: number;
  meta?: ReadMeta;
}

const RETRY_EXPIRE_MS = 1000;

export class CoordinationService {
  /** session id -> its TTL timer (only on the leader). */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private leading = false;
  private stopped = false;

  constructor(private readonly host: CoordinationHost) {
    host.state.coord.onSessionEvent((e) => this.onSessionEvent(e));
  }

  // ------------------------------------------------------------ sessions

  async createSession(request: SessionRequest): Promise<string> {
    const input: SessionInput = {
      id: randomUUID(),
      name: request.name ?? '',
      node: request.node ?? this.host.nodeId,
      nodeChecks: request.nodeChecks ?? ['serfHealth'],
      serviceChecks: request.serviceChecks ?? [],
      lockDelayMs: request.lockDelayMs ?? 15_000,
      behavior: request.behavior ?? 'release',
      ttl: request.ttl ?? '',
      ttlMs: request.ttlMs ?? 0,
    };
    // Check first on a current read, for a clear answer; every replica checks again as it applies.
    await this.host.barrier('default');
    const problem = sessionCreateProblem(input, this.host.state.catalog);
    if (problem) throw new BadRequestError(problem);
    const r = await this.host.propose({ type: 'session-create', session: input });
    if (r.result === false) {
      const why = this.host.state.coord.outcome(r.index);
      throw new BadRequestError(typeof why === 'string' ? why : 'session not created');
    }
    return input.id;
  }

  async destroySession(id: string): Promise<void> {
    await this.host.propose({ type: 'session-destroy', id });
  }

  /** Resets the session's TTL timer on the leader; undefined when there is no such session. */
  renewSession(id: string): Promise<SessionRecord | undefined> {
    return this.host.renewOnLeader(id, () => this.renewOnLeader(id));
  }

  /** The leader's side of a renewal (also reached by a follower's forwarded request). */
  async renewOnLeader(id: string): Promise<SessionRecord | undefined> {
    const session = this.host.state.session(id);
    if (session && session.ttlMs > 0 && this.leading) this.arm(session);
    return session;
  }

  // ------------------------------------------------------------ transactions and locks

  /**
   * Runs KV operations all or nothing. Read-only ones are answered from this
   * replica after barrier(consistency); writes go through Raft as one entry.
   * A lock op on a key still inside its lock-delay fails before it is proposed.
   */
  async txn(ops: TxnOp[], consistency: Consistency): Promise<TxnAnswer> {
    if (!ops.some((o) => WRITE_VERBS.has(o.verb))) {
      const meta = await this.host.barrier(consistency);
      return { outcome: this.host.state.readTxn(ops), index: this.host.state.kvIndex(), meta };
    }
    if (ops.some((o) => o.verb === 'lock')) {
      // The delay is recorded when a replica applies the invalidation: read at least that far first.
      await this.host.barrier('default');
      const errors: TxnOutcome['errors'] = [];
      ops.forEach((o, opIndex) => {
        if (o.verb !== 'lock') return;
        const left = this.host.state.coord.lockDelayRemaining(o.key);
        if (left > 0) errors.push({ opIndex, what: `failed to lock key ${JSON.stringify(o.key)} due to lock delay (${left}ms left)` });
      });
      if (errors.length > 0) return { outcome: { ok: false, results: [], errors }, index: this.host.state.kvIndex() };
    }
    const r = await this.host.propose({ type: 'txn', ops });
    // ops2: an outcome this agent never held (the entry came inside a snapshot install) is rebuilt where exact.
    const outcome = this.host.state.coord.txnOutcome(r.index)
      ?? (r.result === false ? { ok: false, results: [], errors: [{ opIndex: 0, what: 'transaction failed' }] }
        : recoverTxnOutcome(ops, r.index, (key) => this.host.state.kvGet(key)));
    return { outcome, index: r.index };
  }

  // ------------------------------------------------------------ the leader's TTL timers

  /** Called when leadership changes: the leader arms a timer for every session with a TTL; others hold none. */
  leadershipChanged(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.clearTimers();
    if (leading && !this.stopped) this.armAll();
  }

  stop(): void {
    this.stopped = true;
    this.leading = false;
    this.clearTimers();
  }

  /** How many TTL timers run here (0 on a follower). */
  get timerCount(): number {
    return this.timers.size;
  }

  private armAll(): void {
    for (const s of this.host.state.sessions()) if (s.ttlMs > 0) this.arm(s);
  }

  private arm(s: SessionRecord, delayMs = s.ttlMs * SESSION_TTL_MULTIPLIER): void {
    clearTimeout(this.timers.get(s.id));
    const timer = setTimeout(() => void this.expire(s.id), delayMs);
    timer.unref();
    this.timers.set(s.id, timer);
  }

  private clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private onSessionEvent(e: SessionEvent): void {
    if (!this.leading) return;
    if (e.kind === 'created') {
      if (e.session.ttlMs > 0) this.arm(e.session);
    } else if (e.kind === 'destroyed') {
      clearTimeout(this.timers.get(e.id));
      this.timers.delete(e.id);
    } else {
      this.clearTimers();
      this.armAll();
    }
  }

  private async expire(id: string): Promise<void> {
    this.timers.delete(id);
    if (!this.leading || this.stopped || !this.host.isLeader()) return;
    const session = this.host.state.session(id);
    if (!session) return;
    this.host.logger.info({ session: id, ttl: session.ttl }, 'session TTL lapsed; invalidating it');
    try {
      await this.host.propose({ type: 'session-destroy', id });
    } catch (error) {
      // Still the leader and still there: try again soon (a new leader starts its own timers anyway).
      this.host.logger.warn({ session: id, err: (error as Error).message }, 'session invalidation failed; retrying');
      if (this.leading && !this.stopped && this.host.state.session(id)) this.arm(session, RETRY_EXPIRE_MS);
    }
  }
}
