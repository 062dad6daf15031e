// /v1/status/leader and /v1/status/peers: the Raft addresses of the leader
// and of the voters, as this agent knows them (Consul answers these locally).

import { sendJson } from './respond.js';
import { ACL_PUBLIC } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

function leader(ctx: RequestContext): void {
  sendJson(ctx.res, 200, ctx.agent.status().leader?.raftAddress ?? '');
}

function peers(ctx: RequestContext): void {
  const voters = ctx.agent.status().members.filter((m) => m.voter).map((m) => m.raftAddress);
  sendJson(ctx.res, 200, voters);
}

export const statusRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/v1/status/leader', handler: leader, acl: ACL_PUBLIC, params: ['dc'], consulParams: ['dc'] },
  { method: 'GET', path: '/v1/status/peers', handler: peers, acl: ACL_PUBLIC, params: ['dc'], consulParams: ['dc'] },
];
