// The public face of the Raft core: the node, its types, and the helpers for
// membership changes. Everything here is pure: no I/O, no timers.

export * from './types.js';
export { RaftNode, TRANSFER_CONTEXT, type RaftOptions, type RaftStatus, type PeerStatus, type UnsafeKnobs } from './raft.js';
export { ProgressState } from './progress.js';
export {
  applyConfChange,
  bootstrapSnapshot,
  decodeConfChange,
  encodeConfChange,
  findMember,
  isVoter,
  voterIds,
} from './confchange.js';
export { ConfChangeError, NotLeaderError, ProposalDroppedError, RaftError, RaftUsageError, type RaftErrorKind } from './errors.js';
export { MajorityConfig, hasQuorum, quorumOf, type QuorumConfig, type VoteResult } from './quorum.js';
