// The Raft consensus algorithm as a deterministic state machine: no I/O, no
// clocks, no Math.random. The caller feeds it ticks, messages and proposals,
// and acts on the Ready batches it returns (persist, send, apply, advance).

import { ConfChangeError, NotLeaderError, ProposalDroppedError, RaftUsageError } from './errors.js';
import { encodeConfChange, findMember, isVoter, validateConfChange, voterIds } from './confchange.js';
import { RaftLog } from './log.js';
import { Progress, ProgressState } from './progress.js';
import { quorumOf, type QuorumConfig } from './quorum.js';
import {
  EntryType,
  MessageType,
  NO_NODE,
  Role,
  emptyMessage,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RandomSource,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

/**
 * Deliberately broken behaviours, for proving that the simulator catches them.
 * Never set outside tests.
 */
export interface UnsafeKnobs {
  /** Commit an entry of an earlier term by counting replicas (violates the figure-8 rule). */
  commitPreviousTermByCounting?: boolean;
  /** Grant votes without the election restriction (the up-to-date log check). */
  voteWithoutLogCheck?: boolean;
  /** Answer ReadIndex before the leader has committed an entry of its own term. */
  readIndexBeforeTermCommit?: boolean;
  /** Serve lease reads without checking the lease. */
  leaseWithoutCheck?: boolean;
  /** Let every role, not only the leader, send before the persist: a follower acknowledges appends before its fsync. */
  earlySendAllRoles?: boolean;
  /** Send every message before anything is persisted, vote grants included. */
  sendAllBeforePersist?: boolean;
}

export interface RaftOptions {
  id: NodeId;
  /** Ticks without a leader before a follower campaigns (randomized up to twice this). */
  electionTicks?: number;
  /** Ticks between a leader's heartbeats. */
  heartbeatTicks?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Bytes of entry data in one append message (at least one entry is always sent). */
  maxSizePerMsg?: number;
  /** Appends in flight to one follower in the replicate state. */
  maxInflightMsgs?: number;
  /** Bytes of uncommitted entry data a leader accepts before it drops proposals. */
  maxUncommittedSize?: number;
  /** Bytes of committed entries handed out in one Ready. */
  maxCommittedSizePerReady?: number;
  /** Ticks a lease lasts after the heartbeat round that confirmed it; below electionTicks. */
  leaseTicks?: number;
  /**
   * Ticks after hearing from its leader during which a voter refuses (pre-)votes
   * (check-quorum's promise, on which the leader's lease rests): above
   * leaseTicks, at most electionTicks (the default). Shorter lets a follower
   * whose link to the leader broke campaign sooner (see leaderUnreachable); it
   * must exceed the lease by the clock drift the deployment allows.
   */
  voteRefusalTicks?: number;
  random: RandomSource;
  /** Persisted state to start from. */
  hardState?: HardState;
  snapshot?: SnapshotMeta;
  /** The snapshot's image, if the core should carry it to followers (the simulator does). */
  snapshotData?: Uint8Array;
  entries?: Entry[];
  /** The state machine's applied index. */
  applied?: number;
  unsafe?: UnsafeKnobs;
}

interface PendingRead {
  context: string;
  /** Who asked: this node, or a follower that forwarded it. */
  from: NodeId;
  index: number;
  round: number;
}

export interface PeerStatus {
  id: NodeId;
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
  voter: boolean;
}

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  vote: NodeId;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  snapshotIndex: number;
  conf: ConfState;
  leadTransferee: NodeId;
  progress: PeerStatus[];
}

const EMPTY = new Uint8Array(0);
export const TRANSFER_CONTEXT = 'transfer';

export class RaftNode {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NO_NODE;
  role = Role.Follower;
  leader: NodeId = NO_NODE;
  readonly log: RaftLog;

  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxSizePerMsg: number;
  private readonly maxInflight: number;
  private readonly maxUncommittedSize: number;
  private readonly maxCommittedSizePerReady: number;
  private readonly leaseTicks: number;
  private readonly voteRefusalTicks: number;
  /** Set by leaderUnreachable until the term changes: an unanswered pre-vote is asked again soon, not after a full timeout. */
  private fastRetryTicks = 0;
  private readonly random: RandomSource;
  private readonly unsafe: UnsafeKnobs;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private ticks = 0;

  private prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private quorumFor: ConfState | undefined;
  private quorumCache: QuorumConfig | undefined;
  private leadTransferee: NodeId = NO_NODE;
  private uncommittedSize = 0;
  /** Appended by proposals since the last broadcast; sent in one batch at ready(). */
  private needBroadcast = false;

  private round = 0;
  private roundTicks = new Map<number, number>();
  private roundInOutbox = false;
  private pendingReads: PendingRead[] = [];
  private readsAwaitingTermCommit: Array<{ context: string; from: NodeId; lease: boolean }> = [];

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private readyOutstanding: Ready | undefined;

  constructor(opts: RaftOptions) {
    this.id = opts.id;
    this.electionTicks = opts.electionTicks ?? 10;
    this.heartbeatTicks = opts.heartbeatTicks ?? 1;
    if (this.heartbeatTicks >= this.electionTicks) {
      throw new RaftUsageError('heartbeatTicks must be smaller than electionTicks');
    }
    this.preVote = opts.preVote ?? true;
    this.checkQuorum = opts.checkQuorum ?? true;
    this.maxSizePerMsg = opts.maxSizePerMsg ?? 1024 * 1024;
    this.maxInflight = opts.maxInflightMsgs ?? 256;
    this.maxUncommittedSize = opts.maxUncommittedSize ?? 64 * 1024 * 1024;
    this.maxCommittedSizePerReady = opts.maxCommittedSizePerReady ?? 4 * 1024 * 1024;
    this.leaseTicks = opts.leaseTicks ?? this.electionTicks - 1;
    if (this.leaseTicks >= this.electionTicks) throw new RaftUsageError('leaseTicks must be below electionTicks');
    this.voteRefusalTicks = opts.voteRefusalTicks ?? this.electionTicks;
    if (this.voteRefusalTicks <= this.leaseTicks || this.voteRefusalTicks > this.electionTicks) {
      throw new RaftUsageError('voteRefusalTicks must be above leaseTicks and at most electionTicks');
    }
    this.random = opts.random;
    this.unsafe = opts.unsafe ?? {};

    const snapshot = opts.snapshot ?? { index: 0, term: 0, conf: { members: [] } };
    const hs = opts.hardState ?? { term: 0, vote: NO_NODE, commit: 0 };
    this.log = new RaftLog(snapshot, opts.entries ?? [], hs.commit, opts.applied ?? 0);
    this.log.snapshotData = opts.snapshotData;
    this.term = hs.term;
    this.vote = hs.vote;
    this.prevHardState = this.hardState();
    this.becomeFollower(this.term, NO_NODE);
    this.prevSoftState = this.softState();
  }

  // ---------------------------------------------------------------- queries

  conf(): ConfState {
    return this.log.latestConf();
  }

  /** The quorum rule of the latest configuration (rebuilt only when the configuration changes). */
  private quorum(): QuorumConfig {
    const conf = this.conf();
    if (conf !== this.quorumFor) {
      this.quorumFor = conf;
      this.quorumCache = quorumOf(conf);
    }
    return this.quorumCache!;
  }

  /** Whether this node's own acknowledgement is a quorum (a lone voter): nothing to wait for. */
  private selfIsQuorum(): boolean {
    return this.quorum().isQuorum([this.id]);
  }

  /** Can this node become leader: a voter in its own latest configuration. */
  promotable(): boolean {
    return isVoter(this.conf(), this.id);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  status(): RaftStatus {
    const conf = this.conf();
    const progress: PeerStatus[] = [];
    if (this.role === Role.Leader) {
      for (const [id, pr] of this.prs) {
        progress.push({
          id, match: pr.match, next: pr.next, state: pr.state,
          recentActive: pr.recentActive, voter: isVoter(conf, id),
        });
      }
    }
    return {
      id: this.id, role: this.role, term: this.term, vote: this.vote, leader: this.leader,
      commit: this.log.committed, applied: this.log.applied, lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(), snapshotIndex: this.log.snapshot.index, conf,
      leadTransferee: this.leadTransferee, progress,
    };
  }

  /** Whether a lease read may be answered now without a quorum round. */
  leaseValid(): boolean {
    if (this.role !== Role.Leader || !this.checkQuorum) return false;
    if (this.unsafe.leaseWithoutCheck) return true;
    const confirmed = this.quorumAckedRound();
    const startedAt = this.roundTicks.get(confirmed);
    return startedAt !== undefined && this.ticks < startedAt + this.leaseTicks;
  }

  /**
   * The read index a lease read gets right now, when readIndex(ctx, { lease: true })
   * would answer it at once (a leader inside its lease, or a lone voter, that
   * has committed an entry of its term): the commit index. undefined when the
   * read needs a heartbeat round (or cannot be served here). For a caller that
   * answers such reads without waiting for a Ready.
   */
  leaseReadIndex(): number | undefined {
    if (this.role !== Role.Leader) return undefined;
    if (!this.committedInCurrentTerm() && !this.unsafe.readIndexBeforeTermCommit) return undefined;
    if (this.selfIsQuorum()) return this.log.committed;
    return this.leaseValid() ? this.log.committed : undefined;
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    this.ticks++;
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  /**
   * Start an election now (if this node may), as if its election timer fired.
   * With `force`, skip pre-vote and ask voters to ignore their leader lease, as
   * a leadership transfer does: for operators and tests that pick the leader;
   * the up-to-date log check still applies.
   */
  campaignNow(force = false): void {
    this.hup(force);
  }

  /** Append a client command. Returns where it will sit in the log if it commits. */
  propose(data: Uint8Array): { index: number; term: number } {
    this.checkCanPropose(data.length);
    const index = this.appendEntry(EntryType.Normal, data);
    return { index, term: this.term };
  }

  /** Propose a single-server membership change. */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    this.checkCanPropose(0);
    if (!this.committedInCurrentTerm()) {
      throw new ConfChangeError('the leader has not yet committed an entry of its term; retry shortly', true);
    }
    if (this.log.latestConfIndex() > this.log.committed) {
      throw new ConfChangeError('another membership change is still pending', true);
    }
    validateConfChange(this.conf(), cc);
    const index = this.appendEntry(EntryType.ConfChange, encodeConfChange(cc));
    return { index, term: this.term };
  }

  /**
   * Ask for a linearizable read index. The answer arrives as a ReadState with
   * this context once it is safe; with `lease`, a leader inside its lease
   * answers without a quorum round. Returns false when there is no leader to ask.
   */
  readIndex(context: string, opts: { lease?: boolean } = {}): boolean {
    if (this.role === Role.Leader) {
      this.leaderReadIndex(context, this.id, opts.lease === true);
      return true;
    }
    if (this.leader === NO_NODE) return false;
    const m = emptyMessage(MessageType.ReadIndex, this.id, this.leader, this.term);
    m.context = context;
    this.send(m);
    return true;
  }

  /** Hand leadership to `target` (a voter): catch it up, then tell it to campaign. */
  transferLeader(target: NodeId): void {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.leader);
    if (target === this.id) return;
    if (!isVoter(this.conf(), target)) throw new ConfChangeError(`node ${target} is not a voter`);
    if (this.leadTransferee === target) return;
    this.leadTransferee = target;
    this.electionElapsed = 0;
    const pr = this.prs.get(target)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target);
  }

  /** The transport could not deliver a snapshot (ok=false) or finished it (ok=true). */
  reportSnapshot(to: NodeId, ok: boolean): void {
    const pr = this.prs.get(to);
    if (this.role !== Role.Leader || !pr || pr.state !== ProgressState.Snapshot) return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or a heartbeat answer) before probing again.
    pr.probeSent = true;
  }

  /** The transport lost its connection to `to`: stop pipelining blindly to it. */
  reportUnreachable(to: NodeId): void {
    const pr = this.prs.get(to);
    if (this.role === Role.Leader && pr && pr.state === ProgressState.Replicate) pr.becomeProbe();
  }

  /**
   * The transport lost its link to this follower's leader (the connection
   * closed: the leader's process most likely died). Campaign as soon as the
   * leader's lease has lapsed, at electionTicks plus a short random spread,
   * rather than anywhere in the usual [electionTicks, 2 x electionTicks): the
   * choice stays inside that range, so nothing a voter promises changes; a
   * leader that is in fact alive keeps resetting the clock with its
   * heartbeats and is not disturbed. The next term change restores the usual range.
   */
  leaderUnreachable(): void {
    if (this.role !== Role.Follower || this.leader === NO_NODE) return;
    // Campaign once every voter's refusal window has surely passed (two ticks of margin, for the others
    // heard the leader's last heartbeat a little after us), staggered by rank among the surviving voters so
    // two of them rarely split the vote (with three servers, the two survivors need each other's vote), and a
    // little random spread for ties in rank (rank is only known from a configuration we may not share yet).
    const survivors = voterIds(this.conf()).filter((id) => id !== this.leader).sort();
    const rank = Math.max(0, survivors.indexOf(this.id));
    // Wider than a heartbeat interval: the survivors' clocks started from messages up to one heartbeat apart.
    const stagger = Math.max(this.heartbeatTicks + 2, Math.ceil(this.electionTicks / 10));
    const soon = this.voteRefusalTicks + 2 + rank * stagger + Math.floor(this.random() * 2);
    if (soon < this.randomizedElectionTimeout) this.randomizedElectionTimeout = soon;
    // A voter that heard the leader a little later than us ignores our pre-vote for a few ticks more.
    this.fastRetryTicks = Math.max(2, Math.ceil(this.electionTicks / 10));
  }

  /** Forget log entries up to `index`: the caller has a snapshot of the state machine there. */
  compact(index: number, data?: Uint8Array): void {
    this.log.compact(index, data);
  }

  step(m: Message): void {
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context === TRANSFER_CONTEXT;
        if (!force && this.inLease()) return;
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote does not move our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // Granted pre-votes carry the future term; ours moves when we campaign.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NO_NODE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A deposed leader learns of the newer term from this answer and steps down.
        this.send(emptyMessage(MessageType.AppResp, this.id, m.from, this.term));
      } else if (m.type === MessageType.PreVote) {
        const resp = emptyMessage(MessageType.PreVoteResp, this.id, m.from, this.term);
        resp.reject = true;
        this.send(resp);
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        break;
      case Role.Follower:
        this.stepFollower(m);
        break;
    }
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    if (this.readyOutstanding) return false;
    if (this.needBroadcast && this.role === Role.Leader) return true;
    if (this.msgs.length > 0 || this.readStates.length > 0) return true;
    if (this.log.pendingSnapshot) return true;
    if (this.log.inProgressTo < this.log.lastIndex()) return true;
    if (this.log.hasNextCommittedEntries()) return true;
    const hs = this.hardState();
    if (!sameHardState(hs, this.prevHardState)) return true;
    const ss = this.softState();
    return ss.leader !== this.prevSoftState.leader || ss.role !== this.prevSoftState.role;
  }

  ready(): Ready {
    if (this.readyOutstanding) throw new RaftUsageError('ready() called again before advance()');
    if (this.needBroadcast && this.role === Role.Leader) this.broadcastAppend(false);
    this.needBroadcast = false;
    const rd: Ready = {
      entries: this.log.unstableEntries(),
      committedEntries: this.log.nextCommittedEntries(this.maxCommittedSizePerReady),
      messagesBeforePersist: [],
      messages: this.msgs,
      readStates: this.readStates,
      mustSync: false,
    };
    if (this.log.pendingSnapshot) rd.snapshot = this.log.pendingSnapshot;
    const hs = this.hardState();
    if (!sameHardState(hs, this.prevHardState)) rd.hardState = hs;
    this.durabilityPolicy(rd, hs);
    const ss = this.softState();
    if (ss.leader !== this.prevSoftState.leader || ss.role !== this.prevSoftState.role) rd.softState = ss;

    this.msgs = [];
    this.readStates = [];
    this.roundInOutbox = false;
    this.log.pendingSnapshot = undefined;
    this.log.inProgressTo = this.log.lastIndex();
    this.prevHardState = hs;
    this.prevSoftState = ss;
    this.readyOutstanding = rd;
    return rd;
  }

  /**
   * What must be durable before what leaves (etcd's MustSync and the leader's
   * early send, Raft thesis 10.2.1). A vote or a term is a promise: messages
   * leave only once it is on disk. So is a follower's log: it acknowledges an
   * append only once the entries are on disk. The leader may send its appends
   * and heartbeats while its own entries are written (it counts itself only
   * for what advance() reports durable), provided its term and vote already
   * are. Only the commit index moved: no fsync (a restart that finds an older
   * commit relearns it from the leader).
   */
  private durabilityPolicy(rd: Ready, hs: HardState): void {
    const promiseChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    rd.mustSync = rd.snapshot !== undefined || rd.entries.length > 0 || promiseChanged;
    const early = this.unsafe.sendAllBeforePersist
      || (!promiseChanged && (this.role === Role.Leader || this.unsafe.earlySendAllRoles === true));
    if (early) {
      rd.messagesBeforePersist = rd.messages;
      rd.messages = [];
    }
  }

  /** The caller has persisted, sent and applied what `rd` asked for. */
  advance(rd: Ready): void {
    if (rd !== this.readyOutstanding) throw new RaftUsageError('advance() with a Ready that is not the outstanding one');
    this.readyOutstanding = undefined;
    if (rd.snapshot) this.log.stableTo = Math.max(this.log.stableTo, rd.snapshot.meta.index);
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      // A conflicting append may have cut these entries off since ready().
      if (this.log.matchTerm(last.index, last.term)) {
        this.log.stableTo = Math.max(this.log.stableTo, Math.min(last.index, this.log.inProgressTo));
      }
    }
    if (rd.committedEntries.length > 0) {
      this.log.applied = Math.max(this.log.applied, rd.committedEntries[rd.committedEntries.length - 1].index);
    }
    if (this.role === Role.Leader) {
      // The leader counts itself toward a quorum only for what is on its own disk.
      const self = this.prs.get(this.id);
      if (self && self.maybeUpdate(this.log.stableTo) && this.maybeCommit()) this.broadcastAppend(true);
    }
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.leader = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + Math.floor(this.random() * this.electionTicks);
    this.fastRetryTicks = 0;
    this.leadTransferee = NO_NODE;
    this.votes.clear();
    this.uncommittedSize = 0;
    this.needBroadcast = false;
    this.pendingReads = [];
    this.readsAwaitingTermCommit = [];
    this.roundTicks.clear();
    this.resetProgress();
  }

  private resetProgress(): void {
    this.prs.clear();
    for (const m of this.conf().members) {
      const pr = new Progress(this.log.lastIndex() + 1, this.maxInflight);
      if (m.id === this.id) pr.match = this.log.stableTo;
      this.prs.set(m.id, pr);
    }
  }

  /** After the configuration changed: track new members, forget removed ones. */
  private syncProgress(): void {
    const conf = this.conf();
    for (const m of conf.members) {
      if (!this.prs.has(m.id)) {
        const pr = new Progress(this.log.lastIndex() + 1, this.maxInflight);
        if (m.id === this.id) pr.match = this.log.stableTo;
        this.prs.set(m.id, pr);
      }
    }
    for (const id of [...this.prs.keys()]) {
      if (!findMember(conf, id)) this.prs.delete(id);
    }
    if (this.leadTransferee !== NO_NODE && !isVoter(conf, this.leadTransferee)) this.leadTransferee = NO_NODE;
  }

  private becomeFollower(term: number, leader: NodeId): void {
    this.reset(term);
    this.role = Role.Follower;
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    // Neither the term nor the vote change: a failed pre-vote leaves no trace.
    this.role = Role.PreCandidate;
    this.votes.clear();
    this.leader = NO_NODE;
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = Role.Leader;
    this.leader = this.id;
    this.electionElapsed = 0;
    for (const pr of this.prs.values()) pr.recentActive = true;
    const self = this.prs.get(this.id);
    if (self) self.becomeReplicate();
    // The no-op lets the new leader commit (and learn the commit index) in its own term.
    this.appendEntry(EntryType.Normal, EMPTY);
    this.broadcastAppend(true);
    this.needBroadcast = false;
  }

  // ---------------------------------------------------------------- timers

  private tickElection(): void {
    this.electionElapsed++;
    const timeout = this.role === Role.PreCandidate && this.fastRetryTicks > 0 ? this.fastRetryTicks : this.randomizedElectionTimeout;
    if (this.promotable() && this.electionElapsed >= timeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NO_NODE;
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.openRound();
    }
  }

  /** Did a quorum of voters talk to us since the last check? Resets the marks. */
  private quorumActive(): boolean {
    const active = [this.id];
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      if (pr.recentActive) active.push(id);
      pr.recentActive = false;
    }
    return this.quorum().isQuorum(active);
  }

  /**
   * With check-quorum, a node that heard from a live leader within the election
   * timeout (or that just started, and so may have) ignores vote requests: a
   * leader's lease rests on that promise.
   */
  private inLease(): boolean {
    if (!this.checkQuorum) return false;
    if (this.leader !== NO_NODE) return this.electionElapsed < this.voteRefusalTicks;
    return this.ticks < this.voteRefusalTicks;
  }

  // ---------------------------------------------------------------- elections

  private hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    if (this.preVote && !transfer) this.campaign(MessageType.PreVote, false);
    else this.campaign(MessageType.Vote, transfer);
  }

  private campaign(type: MessageType.PreVote | MessageType.Vote, transfer: boolean): void {
    let term: number;
    if (type === MessageType.PreVote) {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (type === MessageType.PreVote) this.campaign(MessageType.Vote, false);
      else this.becomeLeader();
      return;
    }
    for (const id of voterIds(this.conf())) {
      if (id === this.id) continue;
      const m = emptyMessage(type, this.id, id, term);
      m.index = this.log.lastIndex();
      m.logTerm = this.log.lastTerm();
      if (transfer) m.context = TRANSFER_CONTEXT;
      this.msgs.push(m);
    }
  }

  private poll(from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    return this.quorum().voteResult((id) => this.votes.get(id));
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const canVote =
      this.vote === m.from ||
      (this.vote === NO_NODE && this.leader === NO_NODE) ||
      (pre && m.term > this.term);
    const upToDate = this.unsafe.voteWithoutLogCheck || this.log.isUpToDate(m.index, m.logTerm);
    const respType = pre ? MessageType.PreVoteResp : MessageType.VoteResp;
    if (canVote && upToDate) {
      // A granted pre-vote answers in the candidate's future term.
      const resp = emptyMessage(respType, this.id, m.from, pre ? m.term : this.term);
      this.send(resp);
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      const resp = emptyMessage(respType, this.id, m.from, this.term);
      resp.reject = true;
      this.send(resp);
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.PreVoteResp:
      case MessageType.VoteResp: {
        const mine = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
        if (m.type !== mine) return;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === Role.PreCandidate) this.campaign(MessageType.Vote, false);
          else this.becomeLeader();
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NO_NODE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TimeoutNow:
        this.hup(true);
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- follower side of replication

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      const resp = emptyMessage(MessageType.AppResp, this.id, m.from, this.term);
      resp.index = this.log.committed;
      this.send(resp);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    const resp = emptyMessage(MessageType.AppResp, this.id, m.from, this.term);
    if (lastNew !== undefined) {
      resp.index = lastNew;
    } else {
      const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
      resp.index = m.index;
      resp.reject = true;
      resp.rejectHint = hint.index;
      resp.logTerm = hint.term;
    }
    this.send(resp);
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    const resp = emptyMessage(MessageType.HeartbeatResp, this.id, m.from, this.term);
    resp.round = m.round;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const resp = emptyMessage(MessageType.AppResp, this.id, m.from, this.term);
    const s = m.snapshot;
    if (s && this.restore(s)) resp.index = this.log.lastIndex();
    else resp.index = this.log.committed;
    this.send(resp);
  }

  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We already have the snapshot's entries: just learn that they are committed.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    return true;
  }

  // ---------------------------------------------------------------- leader side of replication

  private checkCanPropose(size: number): void {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.leader);
    if (this.leadTransferee !== NO_NODE) throw new ProposalDroppedError('leadership transfer in progress');
    if (!isVoter(this.conf(), this.id)) throw new ProposalDroppedError('this leader is leaving the cluster');
    if (this.uncommittedSize > 0 && this.uncommittedSize + size > this.maxUncommittedSize) {
      throw new ProposalDroppedError('too many uncommitted entries (no quorum?)');
    }
  }

  private appendEntry(type: EntryType, data: Uint8Array): number {
    const index = this.log.lastIndex() + 1;
    const confBefore = this.log.latestConfIndex();
    this.log.append([{ term: this.term, index, type, data }]);
    this.uncommittedSize += data.length;
    if (this.log.latestConfIndex() !== confBefore) this.syncProgress();
    this.needBroadcast = true;
    return index;
  }

  private broadcastAppend(sendIfEmpty: boolean): void {
    for (const id of this.prs.keys()) {
      if (id !== this.id) this.sendAppend(id, sendIfEmpty);
    }
  }

  /** Send `to` what it is missing, if flow control allows. Returns whether a message went. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.maxSizePerMsg);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const m = emptyMessage(MessageType.App, this.id, to, this.term);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = entries;
    m.commit = this.log.committed;
    this.msgs.push(m);
    if (pr.state === ProgressState.Replicate && entries.length > 0) {
      const last = entries[entries.length - 1].index;
      pr.next = last + 1;
      pr.inflights.add(last);
    } else if (pr.state === ProgressState.Probe) {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const m = emptyMessage(MessageType.Snap, this.id, to, this.term);
    m.snapshot = { meta: this.log.snapshot, data: this.log.snapshotData };
    pr.becomeSnapshot(this.log.snapshot.index);
    this.msgs.push(m);
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(emptyMessage(MessageType.TimeoutNow, this.id, to, this.term));
  }

  private stepLeader(m: Message): void {
    if (m.type === MessageType.ReadIndex) {
      this.leaderReadIndex(m.context, m.from, false);
      return;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.AppResp:
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.HeartbeatResp:
        pr.recentActive = true;
        pr.probeSent = false;
        // Appends in flight may have been lost: let one more through so a
        // rejection can reset the pipeline.
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirst();
        if (m.round > pr.ackedRound) pr.ackedRound = m.round;
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        this.releaseConfirmedReads();
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.Probe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.broadcastAppend(true);
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    while (this.sendAppend(m.from, false)) {
      // keep the pipeline full while the window allows
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  /** Advance the commit index to what a quorum of voters holds. Returns whether it moved. */
  private maybeCommit(): boolean {
    const index = this.quorum().committedIndex((id) => this.prs.get(id)?.match);
    if (index <= this.log.committed) return false;
    // Figure 8: only an entry of the current term is committed by counting replicas.
    if (this.log.term(index) !== this.term && !this.unsafe.commitPreviousTermByCounting) return false;
    const before = this.log.committed;
    this.log.commitTo(index);
    for (let i = before + 1; i <= index; i++) this.uncommittedSize -= this.log.entry(i)?.data.length ?? 0;
    if (this.uncommittedSize < 0) this.uncommittedSize = 0;
    this.afterCommit();
    return true;
  }

  private afterCommit(): void {
    if (this.committedInCurrentTerm() && this.readsAwaitingTermCommit.length > 0) {
      const waiting = this.readsAwaitingTermCommit;
      this.readsAwaitingTermCommit = [];
      for (const r of waiting) this.leaderReadIndex(r.context, r.from, r.lease);
    }
    // A leader that removed or demoted itself steps down once that change is committed.
    if (!this.promotable() && this.log.committed >= this.log.latestConfIndex()) {
      this.becomeFollower(this.term, NO_NODE);
    }
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  // ---------------------------------------------------------------- reads

  private leaderReadIndex(context: string, from: NodeId, lease: boolean): void {
    if (!this.committedInCurrentTerm() && !this.unsafe.readIndexBeforeTermCommit) {
      // Until then the leader may not know the true commit index.
      this.readsAwaitingTermCommit.push({ context, from, lease });
      return;
    }
    const index = this.log.committed;
    if (this.selfIsQuorum()) {
      this.answerRead(from, context, index);
      return;
    }
    if (lease && this.leaseValid()) {
      this.answerRead(from, context, index);
      return;
    }
    this.pendingReads.push({ context, from, index, round: this.openRound() });
  }

  private answerRead(from: NodeId, context: string, index: number): void {
    if (from === this.id) {
      this.readStates.push({ index, context });
      return;
    }
    const m = emptyMessage(MessageType.ReadIndexResp, this.id, from, this.term);
    m.index = index;
    m.context = context;
    this.send(m);
  }

  /**
   * Start a heartbeat round (or join the one whose heartbeats have not left
   * yet): its answers confirm that we were still leader after this moment.
   */
  private openRound(): number {
    if (this.roundInOutbox) return this.round;
    this.round++;
    this.roundTicks.set(this.round, this.ticks);
    this.roundInOutbox = true;
    const self = this.prs.get(this.id);
    if (self) self.ackedRound = this.round;
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m = emptyMessage(MessageType.Heartbeat, this.id, id, this.term);
      m.commit = Math.min(pr.match, this.log.committed);
      m.round = this.round;
      this.msgs.push(m);
    }
    if (this.selfIsQuorum()) this.releaseConfirmedReads();
    return this.round;
  }

  private quorumAckedRound(): number {
    return this.quorum().committedIndex((id) => (id === this.id ? this.round : this.prs.get(id)?.ackedRound));
  }

  private releaseConfirmedReads(): void {
    const confirmed = this.quorumAckedRound();
    let released = 0;
    while (released < this.pendingReads.length && this.pendingReads[released].round <= confirmed) {
      const r = this.pendingReads[released++];
      this.answerRead(r.from, r.context, r.index);
    }
    if (released > 0) this.pendingReads.splice(0, released);
    for (const round of this.roundTicks.keys()) {
      if (round < confirmed) this.roundTicks.delete(round);
      else break;
    }
  }

  // ---------------------------------------------------------------- messages

  private send(m: Message): void {
    this.msgs.push(m);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
