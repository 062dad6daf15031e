// Drives the pure Raft core with real time, real disks and real sockets: ticks
// from a timer, every Ready persisted (group commit, fsync off the event loop)
// before the messages that depend on it leave, committed entries applied to the
// state machine, proposals and reads resolved, snapshots streamed and installed,
// and the log compacted behind the state machine's durable applied index.

import { randomBytes } from 'node:crypto';
import { unsafeForTests } from './unsafe.js';
import { prepareProposal } from './versions.js';
import { DiskFullError, DiskGuard } from './disk-guard.js';
import { BusyError, KonsulError, SnapshotFailedError } from '../errors.js';
import {
  EntryType, MessageType, NotLeaderError, ProposalDroppedError, RaftNode, Role, bootstrapSnapshot, findMember,
  type ConfChange, type ConfState, type Entry, type Message, type NodeId, type Ready,
} from '../raft/index.js';
import type { NodeStorage } from '../storage/index.js';
import type { StateMachine } from '../state/index.js';
import { Transport, type TransportLogger } from '../transport/index.js';
import type { AgentConfig } from './config.js';
import type { AgentMetrics } from './metrics.js';

/** A write whose outcome is unknown: it may or may not have been applied. */
export class ProposalTimeoutError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_TIMEOUT', message, 'timeout');
    this.name = 'ProposalTimeoutError';
  }
}

/** The node stopped or failed; nothing more will be served. */
export class AgentStoppedError extends KonsulError {
  constructor(reason: string) {
    super('KONSUL_ERR_STOPPED', `agent stopped: ${reason}`, 'unavailable');
    this.name = 'AgentStoppedError';
  }
}

export interface ProposalResult {
  /** What the state machine returned (false: a cas failed). */
  result: boolean | undefined;
  index: number;
}

interface PendingProposal {
  term: number;
  resolve(result: ProposalResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  startedAt: number;
}

interface ReadWaiter {
  resolve(): void;
  reject(error: Error): void;
}

interface ReadBatch {
  context: string;
  lease: boolean;
  waiters: ReadWaiter[];
  /** Set once the core answered: serve when applied reaches it. */
  index?: number;
  timer: NodeJS.Timeout;
}

interface AppliedWaiter {
  index: number;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export interface DriverEvents {
  /** This node applied a configuration without itself. */
  removed?(): void;
  /** The leader changed (id, '' when unknown). */
  leaderChanged?(leader: NodeId): void;
  /** Storage failed: the node cannot go on safely. */
  fatal?(error: Error): void;
  /** A peer request (join, forwarded writes...) arrived. */
  request?(method: string, body: Buffer, from: { nodeId: string; address: string; version?: number }): Promise<Uint8Array>;
}

export interface DriverOptions {
  config: AgentConfig;
  storage: NodeStorage;
  state: StateMachine;
  metrics: AgentMetrics;
  logger: TransportLogger;
  events: DriverEvents;
}

/** Log entries deleted per transaction when compacting. */
const COMPACT_STEP = 512;

export class RaftDriver {
  raft!: RaftNode;
  transport!: Transport;
  readonly id: NodeId;
  /** Where peers dial this node (the bound port filled in when port 0 was asked for). */
  advertise: string;
  /** Peers' addresses learned outside the configuration (from a join answer), for a node that has no log yet. */
  readonly addressBook = new Map<NodeId, string>();
  /** When each peer was last heard from (ms, monotonic clock). */
  readonly lastHeard = new Map<NodeId, number>();
  lastLeaderContact = 0;
  leaderChanges = 0;
  readonly counters = { committed: 0, failed: 0, forwarded: 0, snapshotsSent: 0, snapshotsInstalled: 0, snapshotsTaken: 0 };

  private readonly cfg: AgentConfig;
  /** TEST ONLY: see unsafe.ts. */
  private readonly unsafeAckBeforeCommit = unsafeForTests() === 'ack-before-commit';
  private readonly storage: NodeStorage;
  private readonly state: StateMachine;
  private readonly metrics: AgentMetrics;
  private readonly logger: TransportLogger;
  private readonly events: DriverEvents;
  private readonly tickMs: number;

  /** ops: a full data-dir disk stops this node taking entries (see disk-guard.ts). */
  readonly diskGuard: DiskGuard;
  private tickTimer: NodeJS.Timeout | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private lastTickAt = 0;
  private readyScheduled = false;
  private processing = false;
  private restoring = false;
  private idleWaiters: Array<() => void> = [];
  private stopped: string | undefined;

  private readonly proposals = new Map<number, PendingProposal>();
  private readQueue: { lease: ReadWaiter[]; quorum: ReadWaiter[] } = { lease: [], quorum: [] };
  private readonly readsInFlight = new Map<string, ReadBatch>();
  private appliedWaiters: AppliedWaiter[] = [];
  private readonly snapshotsSending = new Set<NodeId>();
  private snapshotting = false;
  private lastSnapshotAt = Date.now();
  private wasMember = false;
  private readSeq = 0;
  private readonly readPrefix = randomBytes(4).toString('hex');

  constructor(options: DriverOptions) {
    this.cfg = options.config;
    this.id = options.config.nodeId;
    this.advertise = options.config.advertise;
    this.storage = options.storage;
    this.state = options.state;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.events = options.events;
    this.tickMs = Math.max(1, Math.min(10, Math.floor(this.cfg.heartbeatIntervalMs / 2)));
    this.diskGuard = new DiskGuard(this.cfg.dataDir ?? '', this.logger, (full) => {
      if (full) this.handOffForDisk();
    });
  }

  /** The leader's disk filled up: hand leadership to the voter that has the most of the log. */
  private handOffForDisk(): void {
    if (this.stopped || !this.raft || this.raft.role !== Role.Leader) return;
    const target = this.raft.status().progress
      .filter((p) => p.voter && p.id !== this.id)
      .sort((a, b) => b.match - a.match)[0];
    if (target === undefined) return;
    this.logger.warn({ to: target.id }, 'handing leadership over: this node\'s disk is full');
    this.raft.transferLeader(target.id);
    this.schedule();
  }

  // ------------------------------------------------------------ lifecycle

  /** Load (or bootstrap) the log, build the core, start the transport and the clock. */
  async start(): Promise<void> {
    // Listen first: with port 0 (tests, --dev) the address a bootstrap records is only known once bound.
    this.transport = new Transport({
      nodeId: this.id,
      clusterId: this.cfg.clusterId,
      listen: this.cfg.raftAddr,
      token: this.cfg.token,
      tls: this.cfg.tls ? { ...this.cfg.tls, verifyHostname: false } : undefined,
      resolve: (id) => (this.raft ? findMember(this.raft.conf(), id)?.address : undefined) ?? this.addressBook.get(id),
      onMessage: (m) => this.onMessage(m),
      onSnapshot: (m, chunks) => this.onSnapshot(m, chunks),
      onUnreachable: (id) => {
        this.raft?.reportUnreachable(id);
        // Our link to the leader broke (kill -9 closes its sockets at once): campaign when its lease lapses.
        if (this.raft && id === this.raft.leader) this.raft.leaderUnreachable();
      },
      onRequest: (method: string, body: Buffer, from: { nodeId: string; address: string; version?: number }) => {
        if (this.stopped) return Promise.reject(new AgentStoppedError(this.stopped));
        if (!this.raft) return Promise.reject(new AgentStoppedError('still starting'));
        if (!this.events.request) return Promise.reject(new KonsulError('KONSUL_ERR_NO_HANDLER', 'no handler', 'not-implemented'));
        return this.events.request(method, body, from);
      },
      // A Raft link from a node older than the cluster's protocol version is refused at the hello.
      clusterVersion: () => this.state.clusterVersion(),
      logger: this.logger,
    });
    await this.transport.start();
    if (this.advertise.endsWith(':0')) this.advertise = `${this.advertise.slice(0, -2)}:${this.transport.address.port}`;
    const log = this.storage.log;
    let loaded = log.load();
    if (loaded.hardState === undefined && loaded.snapshotMeta === undefined && this.cfg.bootstrap) {
      const meta = bootstrapSnapshot([{ id: this.id, address: this.advertise, voter: true }]);
      // The state machine at index 1, durable, before the log says it was compacted to 1: a power loss in
      // between must not leave a log compacted past a state store that never reached the disk (the fault
      // suite's power-loss fault found this: "state machine is at index 0 but the log was compacted to 1").
      if (this.storage.state.appliedIndex() < 1) this.storage.state.applyBatch(1, () => undefined);
      await this.storage.state.sync();
      await log.persist({ snapshot: { meta }, hardState: { term: 1, vote: '', commit: 1 } });
      this.logger.info({ member: this.id }, 'bootstrapped a new cluster with this node as its only voter');
      loaded = log.load();
    } else if (this.cfg.bootstrap) {
      this.logger.info({ member: this.id }, 'data dir already holds a cluster: --bootstrap ignored');
    }
    const hs = loaded.hardState ?? { term: 0, vote: '', commit: 0 };
    const snapIndex = loaded.snapshotMeta?.index ?? 0;
    const stateApplied = this.state.appliedIndex();
    if (stateApplied < snapIndex) {
      throw new KonsulError('KONSUL_ERR_STORAGE_CORRUPT',
        `state machine is at index ${stateApplied} but the log was compacted to ${snapIndex}: the data dir is damaged; ` +
        'remove it and join the cluster again', 'internal');
    }
    const lastIndex = loaded.entries.length > 0 ? loaded.entries[loaded.entries.length - 1].index : snapIndex;
    // After a snapshot install that crashed before the log recorded it, the state can be ahead of the log;
    // the state machine skips entries it already holds.
    const applied = Math.max(snapIndex, Math.min(stateApplied, hs.commit, lastIndex));
    const electionTicks = Math.max(2, Math.round(this.cfg.electionTimeoutMs / this.tickMs));
    const heartbeatTicks = Math.max(1, Math.round(this.cfg.heartbeatIntervalMs / this.tickMs));
    const leaseTicks = Math.min(electionTicks - 1, Math.max(1, Math.round(this.cfg.leaderLeaseMs / this.tickMs)));
    this.raft = new RaftNode({
      id: this.id,
      electionTicks,
      heartbeatTicks: Math.min(heartbeatTicks, electionTicks - 1),
      leaseTicks,
      // Voters refuse other candidates for the lease plus 20% (clock drift between machines) and a tick,
      // not a whole election timeout: a follower that saw its leader's connection close campaigns that much sooner.
      voteRefusalTicks: Math.min(electionTicks, Math.max(leaseTicks + 1, Math.ceil(leaseTicks * 1.2) + 1)),
      preVote: true,
      checkQuorum: true,
      random: Math.random,
      hardState: hs,
      snapshot: loaded.snapshotMeta,
      entries: loaded.entries,
      applied,
    });

    this.wasMember = findMember(this.raft.conf(), this.id) !== undefined;
    this.logger.info({
      term: hs.term, commit: hs.commit, applied, lastIndex, snapshotIndex: snapIndex,
      members: this.raft.conf().members.length,
    }, 'raft state loaded');


    this.lastTickAt = performance.now();
    this.tickTimer = setInterval(() => setImmediate(() => this.onTick()), this.tickMs);
    this.maintenanceTimer = setInterval(() => this.maintenance(), 1000);
    this.diskGuard.start();
    this.schedule();
  }

  /** The address the transport listens on (port resolved when 0 was asked for). */
  get raftAddress(): { host: string; port: number } {
    return this.transport.address;
  }

  /** Stop ticking and serving; fail everything pending. Storage is closed by the owner. */
  async stop(reason = 'shutting down'): Promise<void> {
    if (this.stopped) return;
    this.stopped = reason;
    clearInterval(this.tickTimer);
    clearInterval(this.maintenanceTimer);
    this.diskGuard.stop();
    const error = new AgentStoppedError(reason);
    for (const [, p] of this.proposals) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.proposals.clear();
    this.failReads(error);
    for (const w of this.appliedWaiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.appliedWaiters = [];
    await this.whenIdle();
    await this.transport?.close();
  }

  get isStopped(): boolean {
    return this.stopped !== undefined;
  }

  // ------------------------------------------------------------ inputs

  private onTick(): void {
    if (this.stopped || !this.raft) return;
    // Count real time, not timer firings: a late timer must not stretch the leader's lease.
    const now = performance.now();
    let n = Math.floor((now - this.lastTickAt) / this.tickMs);
    if (n <= 0) return;
    this.lastTickAt += n * this.tickMs;
    if (n > 1000) n = 1000;
    for (let i = 0; i < n; i++) this.raft.tick();
    if (this.raft.role === Role.Leader) this.lastLeaderContact = now;
    this.schedule();
  }

  private onMessage(m: Message): void {
    if (this.stopped || !this.raft) return;
    const now = performance.now();
    this.lastHeard.set(m.from, now);
    if ((m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) && m.term >= this.raft.term) {
      this.lastLeaderContact = now;
    }
    // Disk full: entries would not fit. Not stepped, so never acknowledged; the leader sends them again later.
    if (this.diskGuard.full && ((m.type === MessageType.App && m.entries.length > 0) || m.type === MessageType.Snap)) {
      this.diskGuard.dropped++;
      return;
    }
    this.raft.step(m);
    this.schedule();
  }

  private async onSnapshot(m: Message, chunks: AsyncIterable<Buffer>): Promise<void> {
    const drain = async (): Promise<void> => {
      for await (const chunk of chunks) void chunk;
    };
    if (this.stopped || !this.raft || !m.snapshot || this.restoring || m.term < this.raft.term || this.diskGuard.full) {
      if (this.diskGuard.full) this.diskGuard.dropped++;
      await drain();
      return;
    }
    this.lastHeard.set(m.from, performance.now());
    this.lastLeaderContact = performance.now();
    const meta = m.snapshot.meta;
    if (meta.index <= this.state.appliedIndex() || meta.index <= this.raft.log.committed) {
      // We hold all of it already; let the core answer the leader.
      await drain();
      this.raft.step(m);
      this.schedule();
      return;
    }
    this.restoring = true;
    const started = performance.now();
    try {
      await this.whenIdle();
      const restored = await this.storage.state.restoreSnapshot(chunks);
      if (restored.appliedIndex !== meta.index) {
        throw new SnapshotFailedError(`snapshot holds index ${restored.appliedIndex}, its meta says ${meta.index}`);
      }
      this.state.reset();
      this.counters.snapshotsInstalled++;
      this.metrics.snapshotDuration.observe({ kind: 'install' }, (performance.now() - started) / 1000);
      this.logger.info({ index: meta.index, records: restored.records, from: m.from }, 'installed a snapshot from the leader');
      for (const [index, p] of this.proposals) {
        if (index <= meta.index) {
          this.proposals.delete(index);
          clearTimeout(p.timer);
          p.reject(new ProposalTimeoutError('a snapshot replaced the log before this write was seen applied; its outcome is unknown'));
        }
      }
    } catch (error) {
      this.logger.warn({ err: error, from: m.from }, 'snapshot from the leader not installed');
      return;
    } finally {
      this.restoring = false;
    }
    if (this.stopped) return;
    this.raft.step(m);
    this.serveApplied();
    this.schedule();
  }

  // ------------------------------------------------------------ the Ready loop

  private schedule(): void {
    if (this.readyScheduled || this.stopped) return;
    this.readyScheduled = true;
    setImmediate(() => {
      this.readyScheduled = false;
      void this.processReady();
    });
  }

  private whenIdle(): Promise<void> {
    if (!this.processing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async processReady(): Promise<void> {
    if (this.processing || this.restoring || this.stopped || !this.raft.hasReady()) return;
    this.processing = true;
    let waitedForDisk = false;
    try {
      const rd = this.raft.ready();
      if (rd.softState) this.onSoftState(rd);
      // The core decided what may leave before the persist and whether it needs an fsync (Ready's contract).
      this.sendAll(rd.messagesBeforePersist);
      // Committed entries are durable on a majority already: apply them while this node's own write goes on.
      if (rd.committedEntries.length > 0) this.applyEntries(rd.committedEntries);
      for (const rs of rd.readStates) this.onReadState(rs.context, rs.index);
      if (rd.snapshot || rd.entries.length > 0 || rd.hardState) {
        const batch = {
          snapshot: rd.snapshot ? { meta: rd.snapshot.meta } : undefined,
          entries: rd.entries,
          hardState: rd.hardState,
        };
        // No fsync asked (only the commit index moved): written without waiting, and the next synced
        // write covers it. Waiting would hold the next append's fsync behind it: two fsyncs per write.
        if (!rd.mustSync) {
          this.storage.log.persist(batch, { sync: false }).catch((error: Error) => this.fatal(error));
        } else {
          const t0 = performance.now();
          await this.storage.log.persist(batch);
          waitedForDisk = true;
          this.metrics.persistTime.observe((performance.now() - t0) / 1000);
        }
        if (rd.entries.length > 0) {
          this.metrics.logEntries.inc(rd.entries.length);
          let bytes = 0;
          for (const e of rd.entries) bytes += e.data.length;
          this.metrics.logBytes.inc(bytes);
        }
      }
      if (this.stopped) return;
      this.sendAll(rd.messages);
      this.raft.advance(rd);
      this.serveApplied();
      this.flushReads();
    } catch (error) {
      this.fatal(error as Error);
      return;
    } finally {
      this.processing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    if (this.raft.hasReady() || this.hasQueuedReads()) {
      // After waiting for an fsync, I/O has had its turns: go on at once rather than a loop turn later.
      // Typically the leader's own entries just became durable and the followers' answers are in,
      // so the next Ready applies them and answers the writes.
      if (waitedForDisk && !this.readyScheduled) void this.processReady();
      else this.schedule();
    }
  }

  private fatal(error: Error): void {
    if (this.stopped) return;
    this.logger.error({ err: error }, 'raft driver failed; stopping this node');
    this.events.fatal?.(error);
  }

  private onSoftState(rd: Ready): void {
    const ss = rd.softState!;
    this.metrics.setRole(ss.role);
    if (ss.leader !== (this.lastLeader ?? '')) {
      if (ss.leader !== '') this.leaderChanges++;
      if (ss.leader !== '') this.metrics.leaderChanges.inc();
      this.lastLeader = ss.leader;
      this.logger.info({ leader: ss.leader || null, role: ss.role, term: this.raft.term }, 'leader changed');
      if (ss.leader === this.id) {
        const now = performance.now();
        for (const m of this.raft.conf().members) this.lastHeard.set(m.id, now);
      }
      // Reads asked of the old leader may never be answered: ask again (a fresh read index is still safe).
      this.requeueReads();
      this.events.leaderChanged?.(ss.leader);
    }
  }

  private lastLeader: NodeId | undefined;

  private sendAll(messages: Message[]): void {
    for (const m of messages) {
      if (m.type === MessageType.Snap) {
        void this.sendSnapshot(m);
        continue;
      }
      try {
        this.transport.send(m);
      } catch (error) {
        this.logger.error({ err: error, to: m.to, type: m.type }, 'message not sent');
      }
    }
  }

  private async sendSnapshot(m: Message): Promise<void> {
    if (this.snapshotsSending.has(m.to)) return;
    this.snapshotsSending.add(m.to);
    const started = performance.now();
    let ok = false;
    try {
      // The image is the state machine as it is now; the meta is rewritten to match it exactly.
      const image = this.storage.state.snapshot();
      const index = image.appliedIndex;
      const term = this.raft.log.term(index);
      if (term === undefined) {
        image.close();
        throw new SnapshotFailedError(`no term known for applied index ${index}`);
      }
      const meta = { index, term, conf: this.raft.log.confAt(index) };
      this.logger.info({ to: m.to, index }, 'sending a snapshot to a follower');
      await this.transport.sendSnapshot({ ...m, snapshot: { meta } }, image);
      ok = true;
      this.counters.snapshotsSent++;
      this.metrics.snapshotDuration.observe({ kind: 'send' }, (performance.now() - started) / 1000);
    } catch (error) {
      this.logger.warn({ err: error, to: m.to }, 'snapshot not delivered');
    } finally {
      this.snapshotsSending.delete(m.to);
    }
    if (this.stopped) return;
    this.raft.reportSnapshot(m.to, ok);
    this.schedule();
  }

  private applyEntries(entries: Entry[]): void {
    const t0 = performance.now();
    const items = entries.map((e) => ({
      index: e.index,
      command: e.type === EntryType.Normal && e.data.length > 0 ? e.data : undefined,
    }));
    const results = this.state.apply(items);
    const now = performance.now();
    this.metrics.applyTime.observe((now - t0) / 1000);
    let confChanged = false;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.type === EntryType.ConfChange) confChanged = true;
      const p = this.proposals.get(e.index);
      if (p === undefined) continue;
      this.proposals.delete(e.index);
      clearTimeout(p.timer);
      if (p.term === e.term) {
        this.counters.committed++;
        this.metrics.commitTime.observe((now - p.startedAt) / 1000);
        p.resolve({ result: results[i], index: e.index });
      } else {
        this.counters.failed++;
        p.reject(new ProposalDroppedError('leadership changed before the write committed; it was not applied'));
      }
    }
    if (confChanged) this.onConfApplied();
  }

  private onConfApplied(): void {
    const conf = this.raft.conf();
    this.metrics.peers.set(conf.members.filter((m) => m.voter).length);
    const member = findMember(conf, this.id) !== undefined;
    if (member) this.wasMember = true;
    else if (this.wasMember && this.raft.log.committed >= this.raft.log.latestConfIndex()) {
      this.wasMember = false;
      this.events.removed?.();
    }
  }

  // ------------------------------------------------------------ proposals

  /** Propose a command on this node, which must be the leader. Resolves once applied here. */
  propose(data: Uint8Array): Promise<ProposalResult> {
    let bytes: Uint8Array;
    try {
      bytes = prepareProposal(data, this.state.clusterVersion());
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.proposeBytes(bytes);
  }

  /** Propose bytes exactly as given (the cluster-version command itself). */
  proposeBytes(data: Uint8Array): Promise<ProposalResult> {
    const p = this.submit(() => this.raft.propose(data));
    if (this.unsafeAckBeforeCommit && this.raft.role === Role.Leader) {
      // TEST ONLY (unsafe.ts): answer "done" once appended here, before a majority has it.
      p.catch(() => undefined);
      return Promise.resolve({ result: true, index: this.raft.log.lastIndex() });
    }
    return p;
  }

  /** Propose a membership change on the leader; resolves once applied here. */
  proposeConfChange(cc: ConfChange): Promise<ProposalResult> {
    return this.submit(() => this.raft.proposeConfChange(cc));
  }

  private submit(append: () => { index: number; term: number }): Promise<ProposalResult> {
    if (this.stopped) return Promise.reject(new AgentStoppedError(this.stopped));
    if (this.diskGuard.full) {
      this.handOffForDisk();
      return Promise.reject(new DiskFullError(this.diskGuard.detail()));
    }
    if (this.raft.role !== Role.Leader) return Promise.reject(new NotLeaderError(this.raft.leader));
    let at: { index: number; term: number };
    try {
      at = append();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const p = this.track(at.index, at.term);
    this.schedule();
    return p;
  }

  private track(index: number, term: number): Promise<ProposalResult> {
    return new Promise<ProposalResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.proposals.get(index)?.timer !== timer) return;
        this.proposals.delete(index);
        this.counters.failed++;
        reject(new ProposalTimeoutError(`write not applied within ${this.cfg.proposalTimeoutMs}ms (it may still be applied later)`));
      }, this.cfg.proposalTimeoutMs);
      this.proposals.set(index, { term, resolve, reject, timer, startedAt: performance.now() });
    });
  }

  /** Resolves once this node's state machine has applied `index`. */
  waitApplied(index: number, timeoutMs = this.cfg.proposalTimeoutMs): Promise<void> {
    if (this.state.appliedIndex() >= index) return Promise.resolve();
    if (this.stopped) return Promise.reject(new AgentStoppedError(this.stopped));
    return new Promise((resolve, reject) => {
      const w: AppliedWaiter = {
        index, resolve, reject,
        timer: setTimeout(() => {
          this.appliedWaiters = this.appliedWaiters.filter((x) => x !== w);
          reject(new ProposalTimeoutError(`this node did not apply index ${index} within ${timeoutMs}ms`));
        }, timeoutMs),
      };
      this.appliedWaiters.push(w);
    });
  }

  // ------------------------------------------------------------ reads

  /**
   * Resolves when this node may serve a linearizable read: the leader (or, on
   * a follower, the leader asked by message) confirmed a read index and this
   * node applied up to it. `lease` lets a leader inside its lease skip the round.
   * Reads that arrive while one is in flight share the next one.
   */
  readBarrier(lease: boolean): Promise<void> {
    if (this.stopped) return Promise.reject(new AgentStoppedError(this.stopped));
    if (lease) {
      // Count the time since the last tick first: after a stall (a long GC, SIGSTOP) the lease is judged
      // on the real clock, not on a tick count that has not caught up yet.
      this.onTick();
      // A leader inside its lease that has applied its commit index answers now: no Ready, no timer.
      const index = this.raft.leaseReadIndex();
      if (index !== undefined && this.state.appliedIndex() >= index) return Promise.resolve();
    }
    if (this.raft.leader === '') return Promise.reject(new NotLeaderError(''));
    return new Promise((resolve, reject) => {
      (lease ? this.readQueue.lease : this.readQueue.quorum).push({ resolve, reject });
      this.flushReads();
      this.schedule();
    });
  }

  private hasQueuedReads(): boolean {
    return this.readQueue.lease.length > 0 || this.readQueue.quorum.length > 0;
  }

  private flushReads(): void {
    for (const lease of [true, false]) {
      const queue = lease ? this.readQueue.lease : this.readQueue.quorum;
      if (queue.length === 0) continue;
      let busy = false;
      for (const b of this.readsInFlight.values()) if (b.lease === lease && b.index === undefined) busy = true;
      if (busy) continue;
      const context = `${this.readPrefix}-${++this.readSeq}`;
      const waiters = queue.splice(0);
      const batch: ReadBatch = {
        context, lease, waiters,
        timer: setTimeout(() => {
          if (!this.readsInFlight.delete(context)) return;
          for (const w of waiters) w.reject(new NotLeaderError(this.raft.leader === this.id ? '' : this.raft.leader));
        }, Math.max(2000, 4 * this.cfg.electionTimeoutMs)),
      };
      if (!this.raft.readIndex(context, { lease })) {
        clearTimeout(batch.timer);
        for (const w of waiters) w.reject(new NotLeaderError(''));
        continue;
      }
      this.readsInFlight.set(context, batch);
    }
  }

  private onReadState(context: string, index: number): void {
    const batch = this.readsInFlight.get(context);
    if (batch) batch.index = index;
  }

  private requeueReads(): void {
    for (const [context, b] of this.readsInFlight) {
      if (b.index !== undefined) continue;
      clearTimeout(b.timer);
      this.readsInFlight.delete(context);
      (b.lease ? this.readQueue.lease : this.readQueue.quorum).push(...b.waiters);
    }
    if (this.raft?.leader === '') {
      // No leader: fail fast rather than hang; callers retry or read stale.
      const error = new NotLeaderError('');
      for (const w of [...this.readQueue.lease.splice(0), ...this.readQueue.quorum.splice(0)]) w.reject(error);
    }
  }

  private failReads(error: Error): void {
    for (const [, b] of this.readsInFlight) {
      clearTimeout(b.timer);
      for (const w of b.waiters) w.reject(error);
    }
    this.readsInFlight.clear();
    for (const w of [...this.readQueue.lease.splice(0), ...this.readQueue.quorum.splice(0)]) w.reject(error);
  }

  /** Serve reads and waiters whose index this node has now applied. */
  private serveApplied(): void {
    const applied = this.state.appliedIndex();
    for (const [context, b] of this.readsInFlight) {
      if (b.index === undefined || b.index > applied) continue;
      clearTimeout(b.timer);
      this.readsInFlight.delete(context);
      for (const w of b.waiters) w.resolve();
    }
    if (this.appliedWaiters.length > 0) {
      const keep: AppliedWaiter[] = [];
      for (const w of this.appliedWaiters) {
        if (w.index <= applied) {
          clearTimeout(w.timer);
          w.resolve();
        } else keep.push(w);
      }
      this.appliedWaiters = keep;
    }
  }

  // ------------------------------------------------------------ snapshots and compaction

  private maintenance(): void {
    if (this.stopped) return;
    const st = this.raft.status();
    this.metrics.lastContact.set(this.raft.role === Role.Leader ? 0 : (performance.now() - this.lastLeaderContact) / 1000);
    this.metrics.peers.set(st.conf.members.filter((m) => m.voter).length);
    const since = st.applied - st.snapshotIndex;
    const due = since >= this.cfg.snapshotThreshold
      || (since > 0 && Date.now() - this.lastSnapshotAt >= this.cfg.snapshotIntervalMs && since > this.cfg.snapshotTrailing);
    if (due && !this.snapshotting) void this.takeSnapshot();
  }

  /**
   * Compact the log behind the state machine: only up to an applied index that
   * is durable in the state store, keeping a trailing window of entries so a
   * briefly lagging follower still catches up from the log.
   */
  async takeSnapshot(options: { trailing?: number } = {}): Promise<{ index: number; term: number }> {
    if (this.snapshotting) throw new BusyError('a snapshot is already being taken');
    if (this.stopped) throw new AgentStoppedError(this.stopped);
    this.snapshotting = true;
    const started = performance.now();
    try {
      const durable = await this.storage.state.sync();
      if (this.stopped) throw new AgentStoppedError(this.stopped);
      const trailing = options.trailing ?? this.cfg.snapshotTrailing;
      const upTo = Math.min(durable, this.raft.log.applied) - trailing;
      const current = this.raft.log.snapshot.index;
      if (upTo <= current) return { index: current, term: this.raft.log.snapshot.term };
      const term = this.raft.log.term(upTo)!;
      const meta = { index: upTo, term, conf: this.raft.log.confAt(upTo) };
      await this.storage.log.setSnapshotMeta(meta);
      // In steps: deleting a threshold's worth of entries (8192 by default) in one transaction holds the
      // event loop ~5 ms (512 at a time: ~0.3 ms), on every node at about the same moment, a stall every
      // write in flight then waits out.
      for (let at = Math.min(upTo, this.storage.log.firstIndex() + COMPACT_STEP - 1); ; at = Math.min(upTo, at + COMPACT_STEP)) {
        await this.storage.log.compact(at);
        if (this.stopped) throw new AgentStoppedError(this.stopped);
        if (at >= upTo) break;
      }
      if (upTo > this.raft.log.snapshot.index && upTo <= this.raft.log.applied) this.raft.compact(upTo);
      this.counters.snapshotsTaken++;
      this.lastSnapshotAt = Date.now();
      this.metrics.snapshotDuration.observe({ kind: 'compact' }, (performance.now() - started) / 1000);
      this.logger.info({ index: upTo, term }, 'log compacted behind a snapshot of the state machine');
      return { index: upTo, term };
    } finally {
      this.snapshotting = false;
    }
  }

  /** Process whatever the core has to do now (after calling it directly, e.g. transferLeader). */
  poke(): void {
    this.schedule();
  }

  // ------------------------------------------------------------ views

  conf(): ConfState {
    return this.raft.conf();
  }

  /** ms since this node last heard from a leader (0 on the leader). */
  lastContactMs(): number {
    if (this.raft.role === Role.Leader) return 0;
    if (this.lastLeaderContact === 0) return -1;
    return Math.round(performance.now() - this.lastLeaderContact);
  }
}
