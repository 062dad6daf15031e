// konsul's own cluster endpoints (/cluster/...): status, leader, join, leave,
// peers, configuration, snapshot, stats and leadership transfer, as JSON.

import { parseHostPort } from '../agent/config.js';
import { readJsonObject } from './body.js';
import { HttpError, badRequest } from './errors.js';
import { sendJson } from './respond.js';
import { aclNeed } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

function status(ctx: RequestContext): void {
  sendJson(ctx.res, 200, ctx.agent.status());
}

function leader(ctx: RequestContext): void {
  const known = ctx.agent.status().leader;
  if (!known) throw new HttpError('KONSUL_ERR_NO_LEADER', 'no known leader', 'unavailable');
  sendJson(ctx.res, 200, { id: known.id, raftAddress: known.raftAddress, httpAddress: known.httpAddress });
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest(`"${field}" must be a string`);
  return value;
}

function hostPortField(body: Record<string, unknown>, field: string): string | undefined {
  const value = optionalString(body, field);
  if (value === undefined) return undefined;
  if (parseHostPort(value) === undefined) throw badRequest(`"${field}" must be host:port (example: 10.0.0.2:7000), got "${value}"`);
  return value;
}

/** Body: {id?, address | raftAddress, httpAddress?, server? (default true)}. Without id, the agent asks that address who it is. */
async function join(ctx: RequestContext): Promise<void> {
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const id = optionalString(body, 'id');
  if (id !== undefined && (id === '' || /\s/.test(id))) throw badRequest('"id" must be a non-empty node id without spaces');
  const address = hostPortField(body, 'address');
  const raftAddress = hostPortField(body, 'raftAddress');
  if (address !== undefined && raftAddress !== undefined && address !== raftAddress) {
    throw badRequest('"address" and "raftAddress" differ: give one of them');
  }
  const target = raftAddress ?? address;
  if (target === undefined) throw badRequest('"address" is required: the raft address (host:port) of the node to add');
  const httpAddress = hostPortField(body, 'httpAddress');
  const server = body.server;
  if (server !== undefined && typeof server !== 'boolean') throw badRequest('"server" must be true or false');
  const result = await ctx.agent.join({ id: id ?? '', raftAddress: target, httpAddress, server: server ?? true });
  sendJson(ctx.res, 200, result);
}

async function leave(ctx: RequestContext): Promise<void> {
  const id = ctx.params.id;
  await ctx.agent.removeMember(id);
  sendJson(ctx.res, 200, { removed: id });
}

function peers(ctx: RequestContext): void {
  sendJson(ctx.res, 200, ctx.agent.status().members);
}

/** The Raft configuration joined with the replicated member records. */
function config(ctx: RequestContext): void {
  const { agent } = ctx;
  const st = agent.status();
  sendJson(ctx.res, 200, {
    commitIndex: st.commitIndex,
    appliedIndex: st.appliedIndex,
    lastLogIndex: st.lastLogIndex,
    snapshotIndex: st.snapshotIndex,
    members: st.members.map((m) => {
      const record = agent.state.member(m.id);
      return {
        id: m.id,
        raftAddress: m.raftAddress,
        httpAddress: m.httpAddress,
        voter: m.voter,
        leader: m.leader,
        server: record?.server ?? m.voter,
        modifyIndex: record?.modifyIndex ?? 0,
        ...(m.matchIndex === undefined ? {} : { matchIndex: m.matchIndex }),
      };
    }),
  });
}

async function snapshot(ctx: RequestContext): Promise<void> {
  const { index, term } = await ctx.agent.snapshot();
  sendJson(ctx.res, 200, { index, term });
}

function stats(ctx: RequestContext): void {
  sendJson(ctx.res, 200, ctx.agent.stats());
}

async function transferLeader(ctx: RequestContext): Promise<void> {
  const id = ctx.query.get('id');
  const leaderId = await ctx.agent.transferLeader(id === null || id === '' ? undefined : id);
  sendJson(ctx.res, 200, { leader: leaderId });
}

const operatorRead = aclNeed('operator', 'read');
const operatorWrite = aclNeed('operator', 'write');

export const clusterRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/cluster/status', handler: status, acl: operatorRead, params: [] },
  { method: 'GET', path: '/cluster/leader', handler: leader, acl: operatorRead, params: [] },
  { method: 'POST', path: '/cluster/join', handler: join, acl: operatorWrite, params: [] },
  { method: 'DELETE', path: '/cluster/leave/:id', handler: leave, acl: operatorWrite, params: [] },
  { method: 'GET', path: '/cluster/peers', handler: peers, acl: operatorRead, params: [] },
  { method: 'GET', path: '/cluster/config', handler: config, acl: operatorRead, params: [] },
  { method: 'POST', path: '/cluster/snapshot', handler: snapshot, acl: operatorWrite, params: [] },
  { method: 'GET', path: '/cluster/stats', handler: stats, acl: operatorRead, params: [] },
  { method: 'POST', path: '/cluster/transfer-leader', handler: transferLeader, acl: operatorWrite, params: ['id'] },
];
