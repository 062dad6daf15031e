// Majority arithmetic in one place (etcd's quorum/majority.go): given a
// configuration's voters, the index a majority has reached (commit), the
// outcome of a vote, and whether a set of nodes is a quorum (check-quorum,
// lease, "can a cluster lose this member"). Callers ask a QuorumConfig; joint
// consensus later adds a JointConfig with the same three questions.

import type { ConfState, NodeId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

/** The questions every quorum rule answers; a joint configuration will answer them for both halves. */
export interface QuorumConfig {
  /** The highest value a quorum has reached: with match indexes, the commit index (0 when nothing is known). */
  committedIndex(acked: (id: NodeId) => number | undefined): number;
  /** Won when a quorum granted, lost when a quorum refused, else pending. */
  voteResult(votes: (id: NodeId) => boolean | undefined): VoteResult;
  /** Whether `ids` (others may be in it too) include a quorum of the voters. */
  isQuorum(ids: Iterable<NodeId>): boolean;
}

/** A simple majority of one voter set. */
export class MajorityConfig implements QuorumConfig {
  readonly voters: readonly NodeId[];

  constructor(voters: readonly NodeId[]) {
    this.voters = voters;
  }

  /** How many voters make a majority (1 for an empty set, which nothing can reach). */
  get size(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  committedIndex(acked: (id: NodeId) => number | undefined): number {
    const n = this.voters.length;
    if (n === 0) return 0;
    const values = new Array<number>(n);
    for (let i = 0; i < n; i++) values[i] = acked(this.voters[i]) ?? 0;
    values.sort((a, b) => b - a);
    // Sorted high to low, the value at position size-1 is held by at least `size` voters.
    return values[this.size - 1];
  }

  voteResult(votes: (id: NodeId) => boolean | undefined): VoteResult {
    let yes = 0;
    let no = 0;
    for (const id of this.voters) {
      const v = votes(id);
      if (v === true) yes++;
      else if (v === false) no++;
    }
    if (yes >= this.size) return 'won';
    if (no >= this.size) return 'lost';
    return 'pending';
  }

  isQuorum(ids: Iterable<NodeId>): boolean {
    const set = ids instanceof Set ? (ids as ReadonlySet<NodeId>) : new Set(ids);
    let count = 0;
    for (const id of this.voters) if (set.has(id)) count++;
    return count >= this.size;
  }
}

/** The quorum rule of a configuration (today a simple majority of its voters). */
export function quorumOf(conf: ConfState): QuorumConfig {
  return new MajorityConfig(conf.members.filter((m) => m.voter).map((m) => m.id));
}

/** Whether `ids` include a quorum of `conf`'s voters. */
export function hasQuorum(conf: ConfState, ids: Iterable<NodeId>): boolean {
  return quorumOf(conf).isQuorum(ids);
}
