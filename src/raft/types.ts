// The data types the Raft core speaks: log entries, hard state, membership,
// messages between peers, and the Ready batch the caller acts on.

export type NodeId = string;

export enum EntryType {
  /** A client command (or, with empty data, the leader's no-op at the start of its term). */
  Normal = 0,
  /** A single-server membership change; data is an encoded ConfChange. */
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on disk before any message that depends on it leaves the node. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface Member {
  id: NodeId;
  /** Where peers reach this member (host:port); opaque to the core. */
  address: string;
  /** Voters elect and count toward quorum; learners (non-voters) only receive the log. */
  voter: boolean;
}

/** A cluster configuration: the members, sorted by id. */
export interface ConfState {
  members: Member[];
}

export enum ConfChangeType {
  /** Add a new member as a learner (non-voter). */
  AddLearner = 0,
  /** Promote an existing learner to voter. */
  Promote = 1,
  /** Demote a voter to learner. */
  Demote = 2,
  /** Remove a member (learner or voter, the leader included). */
  Remove = 3,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** For AddLearner: the member's peer address. */
  address: string;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The state machine image. The core carries it only when the caller gives it one. */
  data?: Uint8Array;
}

export enum MessageType {
  App = 1,
  AppResp = 2,
  Vote = 3,
  VoteResp = 4,
  PreVote = 5,
  PreVoteResp = 6,
  Heartbeat = 7,
  HeartbeatResp = 8,
  Snap = 9,
  TimeoutNow = 10,
  ReadIndex = 11,
  ReadIndexResp = 12,
}

/**
 * One message between peers. A flat shape with every field present keeps the
 * wire codec simple: unused numbers are 0, unused strings ''.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /**
   * App: the term of the entry before `entries` (prevLogTerm).
   * Vote/PreVote: the candidate's last log term.
   * AppResp with reject: the term of the follower's entry at rejectHint.
   */
  logTerm: number;
  /**
   * App: the index before `entries` (prevLogIndex). AppResp: the highest index
   * the follower now matches, or the rejected prevLogIndex. Vote/PreVote: the
   * candidate's last log index. ReadIndexResp: the read index.
   */
  index: number;
  commit: number;
  reject: boolean;
  /** AppResp with reject: the follower's hint of where the logs may agree. */
  rejectHint: number;
  entries: Entry[];
  snapshot?: Snapshot;
  /** ReadIndex/ReadIndexResp: the caller's request id. Vote: 'transfer' when forced by TimeoutNow. */
  context: string;
  /** Heartbeat/HeartbeatResp: the leader's heartbeat round, which confirms ReadIndex and leases. */
  round: number;
}

export enum Role {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** A read that may be served once the state machine has applied `index`. */
export interface ReadState {
  index: number;
  context: string;
}

/**
 * What the caller must do, in this order:
 * 1. send `messagesBeforePersist` (they may leave at once);
 * 2. persist `snapshot` (if any), then `entries` (replacing any stored entries
 *    at or after entries[0].index), then `hardState` (if any), in one write,
 *    made durable (fsync) before going on when `mustSync`; without it the
 *    write may stay in the page cache (a later synced write covers it);
 * 3. send `messages` (only now: they depend on what step 2 made durable);
 * 4. apply `committedEntries` in order (they are committed and already durable
 *    here, so this may overlap step 2); serve `readStates` once applied
 *    reaches their index;
 * 5. call advance(ready).
 * The core decides the policy (raft.ts durabilityPolicy); drivers and the
 * simulator obey these fields and decide nothing themselves.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
  committedEntries: Entry[];
  /** Messages that may leave before this Ready is persisted: a leader's appends and heartbeats once its term and vote are durable. */
  messagesBeforePersist: Message[];
  /** Messages that leave only after the persist: votes, append responses, anything resting on this Ready's hard state or entries. */
  messages: Message[];
  readStates: ReadState[];
  /** The persist must be durable before `messages` leave and before advance(): entries, a snapshot, or a new term or vote. */
  mustSync: boolean;
}

/** An injected source of randomness in [0, 1): the core never calls Math.random. */
export type RandomSource = () => number;

export const NO_NODE: NodeId = '';

export function emptyMessage(type: MessageType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type, from, to, term,
    logTerm: 0, index: 0, commit: 0, reject: false, rejectHint: 0,
    entries: [], context: '', round: 0,
  };
}
