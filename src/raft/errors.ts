// The errors the Raft core raises: plain and typed, with no knowledge of HTTP
// or of any caller. `kind` says what went wrong, `retryable` whether the same
// call may simply be made again (it guarantees nothing was appended).

/** What a Raft error means for its caller; the HTTP edge maps kinds to statuses. */
export type RaftErrorKind = 'unavailable' | 'conflict' | 'internal';

export class RaftError extends Error {
  readonly code: string;
  readonly kind: RaftErrorKind;
  /** True when nothing was done, so the same request may be sent again (here or to a new leader). */
  readonly retryable: boolean;

  constructor(code: string, message: string, kind: RaftErrorKind, retryable: boolean) {
    super(message);
    this.name = 'RaftError';
    this.code = code;
    this.kind = kind;
    this.retryable = retryable;
  }
}

/** A proposal or read reached a node that is not the leader, or has no leader to forward to. */
export class NotLeaderError extends RaftError {
  readonly leader: string;
  constructor(leader: string) {
    super('KONSUL_ERR_NOT_LEADER', leader ? `not the leader (leader is ${leader})` : 'no known leader', 'unavailable', true);
    this.name = 'NotLeaderError';
    this.leader = leader;
  }
}

/** The leader refused a proposal it could not safely take now; retrying later may succeed. */
export class ProposalDroppedError extends RaftError {
  constructor(reason: string) {
    super('KONSUL_ERR_PROPOSAL_DROPPED', `proposal dropped: ${reason}`, 'unavailable', true);
    this.name = 'ProposalDroppedError';
  }
}

/**
 * A membership change that is invalid now. `retryable` when it only has to
 * wait (another change pending, the leader's first entry not yet committed);
 * not when it can never succeed (unknown member, last voter...).
 */
export class ConfChangeError extends RaftError {
  constructor(message: string, retryable = false) {
    super('KONSUL_ERR_CONF_CHANGE', message, 'conflict', retryable);
    this.name = 'ConfChangeError';
  }
}

/** The caller broke the core's contract (ready/advance order, bad arguments). A bug, not a user error. */
export class RaftUsageError extends RaftError {
  constructor(message: string) {
    super('KONSUL_ERR_RAFT_USAGE', message, 'internal', false);
    this.name = 'RaftUsageError';
  }
}
