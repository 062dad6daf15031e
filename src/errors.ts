// konsul's one error hierarchy: every error a user or a peer can see has a
// stable code (KONSUL_ERR_*) and the HTTP status it maps to.

export class KonsulError extends Error {
  readonly code: string;
  readonly httpStatus: number;

  constructor(code: string, message: string, httpStatus = 500) {
    super(message);
    this.name = 'KonsulError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** A proposal or read reached a node that is not the leader, or has no leader to forward to. */
export class NotLeaderError extends KonsulError {
  readonly leader: string;
  constructor(leader: string) {
    super('KONSUL_ERR_NOT_LEADER', leader ? `not the leader (leader is ${leader})` : 'no known leader', 503);
    this.name = 'NotLeaderError';
    this.leader = leader;
  }
}

/** The leader refused a proposal it could not safely take now; retrying later may succeed. */
export class ProposalDroppedError extends KonsulError {
  constructor(reason: string) {
    super('KONSUL_ERR_PROPOSAL_DROPPED', `proposal dropped: ${reason}`, 503);
    this.name = 'ProposalDroppedError';
  }
}

/** A membership change that is invalid now (one pending, unknown member, last voter...). */
export class ConfChangeError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_CONF_CHANGE', message, 409);
    this.name = 'ConfChangeError';
  }
}

/** The caller broke the core's contract (ready/advance order, bad arguments). A bug, not a user error. */
export class RaftUsageError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_RAFT_USAGE', message, 500);
    this.name = 'RaftUsageError';
  }
}
