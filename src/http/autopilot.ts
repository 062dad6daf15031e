// ---- ops: /v1/operator/autopilot/health and /state, Consul's shapes, from
// the leader's view of the servers (a follower asks the leader). Read-only:
// konsul's autopilot settings are agent flags (--stabilization-time,
// --dead-server-timeout), not replicated configuration.

import { KonsulError } from '../errors.js';
import type { ClusterStatus, MemberStatus } from '../agent/api.js';
import { sendJson } from './respond.js';
import { aclNeed } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

interface ServerHealth {
  ID: string;
  Name: string;
  Address: string;
  SerfStatus: 'alive' | 'failed';
  Leader: boolean;
  LastContact: string;
  LastTerm: number;
  LastIndex: number;
  Healthy: boolean;
  Voter: boolean;
  ProtocolVersion: number | null;
}

/** A member is a server when it votes or its member record says so; client agents are left out, as in Consul. */
function servers(st: ClusterStatus, isServer: (id: string) => boolean): MemberStatus[] {
  return st.members.filter((m) => m.voter || isServer(m.id));
}

export function autopilotHealth(st: ClusterStatus, isServer: (id: string) => boolean): { Healthy: boolean; FailureTolerance: number; Servers: ServerHealth[] } {
  const list = servers(st, isServer).map((m): ServerHealth => ({
    ID: m.id,
    Name: m.id,
    Address: m.raftAddress,
    SerfStatus: m.healthy ? 'alive' : 'failed',
    Leader: m.leader,
    LastContact: m.lastContactMs === undefined || m.lastContactMs < 0 ? '-1s' : `${m.lastContactMs}ms`,
    LastTerm: st.term,
    LastIndex: m.matchIndex ?? 0,
    Healthy: m.healthy === true,
    Voter: m.voter,
    ProtocolVersion: m.protocolVersion ?? null,
  }));
  const voters = list.filter((s) => s.Voter);
  const healthyVoters = voters.filter((s) => s.Healthy).length;
  const quorum = Math.floor(voters.length / 2) + 1;
  return {
    Healthy: list.every((s) => s.Healthy),
    FailureTolerance: Math.max(0, healthyVoters - quorum),
    Servers: list,
  };
}

/** The leader answers; a follower relays the leader's answer (Consul forwards these to the leader too). */
async function fromLeader(ctx: RequestContext, path: string): Promise<ClusterStatus | undefined> {
  const st = ctx.agent.status();
  if (st.role === 'leader') return st;
  const leader = st.leader?.httpAddress;
  if (!leader) throw new KonsulError('KONSUL_ERR_NOT_LEADER', 'no known leader to ask for the servers\' health', 'unavailable', { retryable: true });
  const res = await fetch(`http://${leader}${path}`, { signal: AbortSignal.timeout(5_000) }).catch((error: Error) => {
    throw new KonsulError('KONSUL_ERR_PEER_UNREACHABLE', `the leader (${leader}) did not answer: ${error.message}`, 'unavailable', { retryable: true });
  });
  sendJson(ctx.res, res.status, await res.json());
  return undefined;
}

async function health(ctx: RequestContext): Promise<void> {
  const st = await fromLeader(ctx, '/v1/operator/autopilot/health');
  if (!st) return;
  const h = autopilotHealth(st, (id) => ctx.agent.state.member(id)?.server === true);
  // Consul: 200 when healthy, 429 when not (so a load balancer's health check can use it).
  sendJson(ctx.res, h.Healthy ? 200 : 429, h);
}

async function state(ctx: RequestContext): Promise<void> {
  const st = await fromLeader(ctx, '/v1/operator/autopilot/state');
  if (!st) return;
  const h = autopilotHealth(st, (id) => ctx.agent.state.member(id)?.server === true);
  const Servers: Record<string, unknown> = {};
  for (const s of h.Servers) {
    Servers[s.ID] = {
      ID: s.ID, Name: s.Name, Address: s.Address, NodeStatus: s.SerfStatus, LastContact: s.LastContact,
      LastTerm: s.LastTerm, LastIndex: s.LastIndex, Healthy: s.Healthy,
      Status: s.Leader ? 'leader' : s.Voter ? 'voter' : 'non-voter', ProtocolVersion: s.ProtocolVersion,
    };
  }
  sendJson(ctx.res, 200, {
    Healthy: h.Healthy,
    FailureTolerance: h.FailureTolerance,
    Leader: st.leader?.id ?? '',
    Voters: h.Servers.filter((s) => s.Voter).map((s) => s.ID),
    Servers,
  });
}

export const autopilotRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/v1/operator/autopilot/health', handler: health, acl: aclNeed('operator', 'read'), params: ['dc'], consulParams: ['dc', 'stale'] },
  { method: 'GET', path: '/v1/operator/autopilot/state', handler: state, acl: aclNeed('operator', 'read'), params: ['dc'], consulParams: ['dc', 'stale'] },
];
