// What the cluster commands share: the JSON shapes of /cluster/* (the agent's
// own types) and the members table.

import type { ClusterStatus, MemberStatus } from '../../../agent/api.js';
import { table } from '../../output.js';

export type { ClusterStatus, MemberStatus };

export interface LeaderInfo {
  id: string;
  raftAddress: string;
  httpAddress: string;
}

const MEMBER_HEADER = ['NODE', 'RAFT ADDRESS', 'HTTP ADDRESS', 'ROLE', 'HEALTH', 'MATCH INDEX', 'LAST CONTACT'];

/** Members as an aligned table. Health, match index and last contact are known only on the leader ('-' elsewhere). */
export function membersTable(members: readonly MemberStatus[]): string {
  return table(
    MEMBER_HEADER,
    members.map((m) => [
      m.id,
      m.raftAddress,
      m.httpAddress || '-',
      m.leader ? 'leader' : m.voter ? 'voter' : 'non-voter',
      m.healthy === undefined ? '-' : m.healthy ? 'healthy' : 'unreachable',
      m.matchIndex === undefined ? '-' : String(m.matchIndex),
      m.lastContactMs === undefined ? '-' : `${m.lastContactMs}ms`,
    ]),
  );
}
