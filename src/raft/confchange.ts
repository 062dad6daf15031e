// Single-server membership changes: applying one ConfChange to a ConfState,
// validating it, and its (rare, so JSON) encoding inside a log entry.

import { ConfChangeError } from './errors.js';
import { ConfChangeType, type ConfChange, type ConfState, type Member, type NodeId, type SnapshotMeta } from './types.js';

export function voterIds(conf: ConfState): NodeId[] {
  return conf.members.filter((m) => m.voter).map((m) => m.id);
}

export function findMember(conf: ConfState, id: NodeId): Member | undefined {
  return conf.members.find((m) => m.id === id);
}

export function isVoter(conf: ConfState, id: NodeId): boolean {
  return findMember(conf, id)?.voter === true;
}

/** Why `cc` cannot apply to `conf`, or undefined when it can. */
export function confChangeProblem(conf: ConfState, cc: ConfChange): string | undefined {
  const member = findMember(conf, cc.nodeId);
  switch (cc.type) {
    case ConfChangeType.AddLearner:
      if (member) return `node ${cc.nodeId} is already a member`;
      if (!cc.nodeId) return 'a node id is required';
      return undefined;
    case ConfChangeType.Promote:
      if (!member) return `node ${cc.nodeId} is not a member`;
      if (member.voter) return `node ${cc.nodeId} is already a voter`;
      return undefined;
    case ConfChangeType.Demote:
      if (!member) return `node ${cc.nodeId} is not a member`;
      if (!member.voter) return `node ${cc.nodeId} is not a voter`;
      if (voterIds(conf).length === 1) return `node ${cc.nodeId} is the last voter`;
      return undefined;
    case ConfChangeType.Remove:
      if (!member) return `node ${cc.nodeId} is not a member`;
      if (member.voter && voterIds(conf).length === 1) return `node ${cc.nodeId} is the last voter`;
      return undefined;
    default:
      return `unknown change type ${String(cc.type)}`;
  }
}

export function validateConfChange(conf: ConfState, cc: ConfChange): void {
  const problem = confChangeProblem(conf, cc);
  if (problem) throw new ConfChangeError(problem);
}

/**
 * The configuration after `cc`. An invalid change (which a correct leader never
 * appends) leaves the configuration as it was, so every node computes the same.
 */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  if (confChangeProblem(conf, cc)) return conf;
  let members: Member[];
  switch (cc.type) {
    case ConfChangeType.AddLearner:
      members = [...conf.members, { id: cc.nodeId, address: cc.address, voter: false }];
      break;
    case ConfChangeType.Promote:
    case ConfChangeType.Demote: {
      const voter = cc.type === ConfChangeType.Promote;
      members = conf.members.map((m) =>
        m.id === cc.nodeId ? { ...m, voter, address: cc.address || m.address } : m,
      );
      break;
    }
    case ConfChangeType.Remove:
      members = conf.members.filter((m) => m.id !== cc.nodeId);
      break;
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { members };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ t: cc.type, n: cc.nodeId, a: cc.address }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  try {
    const raw = JSON.parse(decoder.decode(data)) as { t: unknown; n: unknown; a: unknown };
    if (typeof raw.t === 'number' && typeof raw.n === 'string' && typeof raw.a === 'string') {
      return { type: raw.t as ConfChangeType, nodeId: raw.n, address: raw.a };
    }
  } catch {
    // fall through: a malformed change decodes to one that applies as a no-op
  }
  return { type: -1 as ConfChangeType, nodeId: '', address: '' };
}

/**
 * The starting point of a new cluster: every founding member starts from this
 * snapshot at index 1, term 1 (with an empty state machine). A node that joins
 * later starts empty and receives it, configuration included, from the leader,
 * because its log cannot match the leader's below index 1.
 */
export function bootstrapSnapshot(members: Array<{ id: NodeId; address: string; voter?: boolean }>): SnapshotMeta {
  const conf: ConfState = {
    members: members
      .map((m) => ({ id: m.id, address: m.address, voter: m.voter ?? true }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
  };
  return { index: 1, term: 1, conf };
}
