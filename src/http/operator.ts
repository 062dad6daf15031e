// /v1/operator/raft/...: Consul's view of the Raft configuration, removing a
// peer by id or address, and handing leadership over.

import { badRequest, notFound } from './errors.js';
import { sendEmpty, sendJson } from './respond.js';
import { aclNeed } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

function configuration(ctx: RequestContext): void {
  const { agent } = ctx;
  const status = agent.status();
  // The configuration's index: the last replicated member change, else what this replica has applied.
  let index = 0;
  for (const record of agent.state.members()) index = Math.max(index, record.modifyIndex);
  if (index === 0) index = status.appliedIndex;
  sendJson(ctx.res, 200, {
    Servers: status.members.map((m) => ({
      ID: m.id,
      Node: m.id,
      Address: m.raftAddress,
      Leader: m.leader,
      Voter: m.voter,
      ProtocolVersion: '3',
    })),
    Index: Math.max(1, index),
  });
}

async function removePeer(ctx: RequestContext): Promise<void> {
  const id = ctx.query.get('id');
  const address = ctx.query.get('address');
  if ((id === null || id === '') === (address === null || address === '')) {
    throw badRequest('Must specify either ?id with the server\'s ID or ?address with IP:port of peer to remove');
  }
  let target = id ?? '';
  if (target === '') {
    const member = ctx.agent.status().members.find((m) => m.raftAddress === address);
    if (!member) throw notFound(`address "${address}" was not found in the Raft configuration`);
    target = member.id;
  }
  await ctx.agent.removeMember(target);
  sendEmpty(ctx.res, 200);
}

async function transferLeader(ctx: RequestContext): Promise<void> {
  const id = ctx.query.get('id');
  await ctx.agent.transferLeader(id === null || id === '' ? undefined : id);
  sendJson(ctx.res, 200, { Success: true });
}

const operatorRead = aclNeed('operator', 'read');
const operatorWrite = aclNeed('operator', 'write');

export const operatorRoutes: readonly RouteSpec[] = [
  {
    method: 'GET', path: '/v1/operator/raft/configuration', handler: configuration, acl: operatorRead,
    params: ['dc', 'stale'], consulParams: ['dc', 'stale'],
    note: '?stale accepted: the configuration is always this agent\'s view',
  },
  { method: 'DELETE', path: '/v1/operator/raft/peer', handler: removePeer, acl: operatorWrite, params: ['dc', 'id', 'address'], consulParams: ['dc', 'id', 'address'] },
  { method: 'POST', path: '/v1/operator/raft/transfer-leader', handler: transferLeader, acl: operatorWrite, params: ['id'], consulParams: ['id'] },
];
