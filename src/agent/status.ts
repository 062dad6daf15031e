// What a node reports about the cluster and itself: /cluster/status (members,
// leader, health and quorum as this node sees them) and /cluster/stats.

import { Role, findMember, hasQuorum } from '../raft/index.js';
import type { ClusterStats, ClusterStatus, MemberRole, MemberStatus } from './api.js';
import type { AgentContext } from './context.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../transport/index.js';

export function clusterStatus(ctx: AgentContext, httpAddress: string): ClusterStatus {
  const { driver, nodeId, state, cfg } = ctx;
  const st = driver.raft.status();
  const now = performance.now();
  const leaderId = ctx.knownLeader();
  const members: MemberStatus[] = st.conf.members.map((m) => {
    const record = state.member(m.id);
    const out: MemberStatus = {
      id: m.id,
      raftAddress: m.address,
      httpAddress: record?.httpAddress ?? (m.id === nodeId ? httpAddress : ''),
      voter: m.voter,
      leader: m.id === leaderId,
    };
    // ---- ops: the protocol version this node and that member speak (the last handshake's)
    const version = m.id === nodeId ? PROTOCOL_VERSION : driver.transport.peerVersion(m.id);
    if (version !== undefined) out.protocolVersion = version;
    if (st.role === Role.Leader) {
      const pr = st.progress.find((p) => p.id === m.id);
      const last = m.id === nodeId ? now : driver.lastHeard.get(m.id);
      out.lastContactMs = last === undefined ? -1 : Math.round(now - last);
      out.healthy = m.id === nodeId || (last !== undefined && now - last < 2 * cfg.electionTimeoutMs);
      out.matchIndex = m.id === nodeId ? st.lastIndex : pr?.match ?? 0;
    }
    return out;
  });
  let leader: ClusterStatus['leader'] = null;
  if (leaderId !== '') {
    const m = findMember(st.conf, leaderId);
    leader = {
      id: leaderId,
      raftAddress: m?.address ?? driver.addressBook.get(leaderId) ?? '',
      httpAddress: state.member(leaderId)?.httpAddress ?? '',
    };
  }
  // The leader knows who answers it: a quorum of healthy voters. Anyone else trusts a live leader.
  const quorum = st.role === Role.Leader
    ? hasQuorum(st.conf, members.filter((m) => m.healthy).map((m) => m.id))
    : leaderId !== '';
  const self = findMember(st.conf, nodeId);
  const role: MemberRole = self && !self.voter ? 'learner' : (st.role as MemberRole);
  return {
    nodeId,
    role,
    term: st.term,
    leader,
    commitIndex: st.commit,
    appliedIndex: state.appliedIndex(),
    lastLogIndex: st.lastIndex,
    snapshotIndex: st.snapshotIndex,
    members,
    quorum,
    protocol: { cluster: state.clusterVersion(), min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION },
  };
}

export function clusterStats(ctx: AgentContext, st: ClusterStatus, startedAt: number): ClusterStats {
  const { driver } = ctx;
  const c = driver.counters;
  return {
    nodeId: ctx.nodeId,
    role: st.role,
    term: st.term,
    commitIndex: st.commitIndex,
    appliedIndex: st.appliedIndex,
    lastLogIndex: st.lastLogIndex,
    snapshotIndex: st.snapshotIndex,
    leaderChanges: driver.leaderChanges,
    proposals: { committed: c.committed, failed: c.failed, forwarded: c.forwarded },
    transport: driver.transport.stats(),
    storage: {
      snapshotsTaken: c.snapshotsTaken, snapshotsSent: c.snapshotsSent, snapshotsInstalled: c.snapshotsInstalled,
    },
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
}
