// ---- ops: /v1/operator/autopilot/health, /state and /configuration in
// Consul's shapes. Health and state are the leader's view of the servers under
// the replicated autopilot configuration (src/agent/server-health.ts); a
// follower or client agent relays the leader's answer. The configuration is
// replicated state (the autopilot-config command): GET reads this agent's
// replica, PUT goes through Raft, with ?cas on its ModifyIndex.

import { KonsulError } from '../errors.js';
import type { HealthReport, ServerHealth } from '../agent/server-health.js';
import { autopilotConfigProblem, pickAutopilotConfig, type AutopilotConfig, type AutopilotConfigRecord } from '../state/index.js';
import { parseDuration } from '../duration.js';
import { formatDuration } from '../agent/config.js';
import { sendJson } from './respond.js';
import { aclNeed } from './acl-check.js';
import { badRequest } from './errors.js';
import { readJsonObject } from './body.js';
import { uintParam } from './query.js';
import { parseConsistency, readHeaders } from './consistency.js';
import type { RequestContext, RouteSpec } from './types.js';

/** Go's zero time: Consul's StableSince of a server that is not stable. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

function lastContact(s: ServerHealth): string {
  return s.leader ? '0s' : `${s.lastContactMs}ms`;
}

/** Relays the leader's answer when this agent is not the leader; the report when it is. */
async function fromLeader(ctx: RequestContext): Promise<HealthReport | undefined> {
  const report = ctx.agent.autopilotHealth();
  if (report) return report;
  const leader = ctx.agent.status().leader?.httpAddress;
  if (!leader) throw new KonsulError('KONSUL_ERR_NOT_LEADER', 'no known leader to ask for the servers\' health', 'unavailable', { retryable: true });
  const headers: Record<string, string> = {};
  for (const h of ['x-consul-token', 'authorization']) {
    const v = ctx.req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  const res = await fetch(`http://${leader}${ctx.req.url ?? ''}`, { headers, signal: AbortSignal.timeout(5_000) }).catch((error: Error) => {
    throw new KonsulError('KONSUL_ERR_PEER_UNREACHABLE', `the leader (${leader}) did not answer: ${error.message}`, 'unavailable', { retryable: true });
  });
  sendJson(ctx.res, res.status, await res.json());
  return undefined;
}

function protocolVersions(ctx: RequestContext): Map<string, number> {
  return new Map(ctx.agent.status().members.flatMap((m) => (m.protocolVersion === undefined ? [] : [[m.id, m.protocolVersion] as const])));
}

function serverJson(s: ServerHealth, versions: Map<string, number>): Record<string, unknown> {
  return {
    ID: s.id,
    Name: s.id,
    Address: s.address,
    SerfStatus: s.alive ? 'alive' : 'failed',
    Leader: s.leader,
    LastContact: lastContact(s),
    LastTerm: s.lastTerm,
    LastIndex: s.lastIndex,
    Healthy: s.healthy,
    Voter: s.voter,
    StableSince: s.stableSince === undefined ? ZERO_TIME : new Date(s.stableSince).toISOString(),
    ProtocolVersion: versions.get(s.id) ?? null,
    RedundancyZone: s.zone,
  };
}

async function health(ctx: RequestContext): Promise<void> {
  const report = await fromLeader(ctx);
  if (!report) return;
  const versions = protocolVersions(ctx);
  const body = {
    Healthy: report.healthy,
    FailureTolerance: report.failureTolerance,
    Servers: report.servers.map((s) => serverJson(s, versions)),
  };
  // Consul: 200 when healthy, 429 when not (so a load balancer's health check can use it).
  sendJson(ctx.res, report.healthy ? 200 : 429, body);
}

async function state(ctx: RequestContext): Promise<void> {
  const report = await fromLeader(ctx);
  if (!report) return;
  const versions = protocolVersions(ctx);
  const Servers: Record<string, unknown> = {};
  for (const s of report.servers) {
    const j = serverJson(s, versions);
    Servers[s.id] = {
      ID: j.ID, Name: j.Name, Address: j.Address, NodeStatus: j.SerfStatus, LastContact: j.LastContact,
      LastTerm: j.LastTerm, LastIndex: j.LastIndex, Healthy: j.Healthy, StableSince: j.StableSince,
      Status: s.leader ? 'leader' : s.voter ? 'voter' : 'non-voter', ProtocolVersion: j.ProtocolVersion, RedundancyZone: s.zone,
    };
  }
  const body: Record<string, unknown> = {
    Healthy: report.healthy,
    FailureTolerance: report.failureTolerance,
    Leader: report.leader,
    Voters: report.servers.filter((s) => s.voter).map((s) => s.id),
    Servers,
  };
  if (report.config.redundancyZoneTag !== '') {
    const zones: Record<string, { Servers: string[]; Voters: string[]; FailureTolerance: number }> = {};
    for (const s of report.servers) {
      if (s.zone === '') continue;
      const z = (zones[s.zone] ??= { Servers: [], Voters: [], FailureTolerance: 0 });
      z.Servers.push(s.id);
      if (s.voter) z.Voters.push(s.id);
    }
    // A zone survives losing all but one of its healthy servers (its standbys take over).
    for (const [name, z] of Object.entries(zones)) {
      z.FailureTolerance = Math.max(0, report.servers.filter((s) => s.zone === name && s.healthy).length - 1);
    }
    body.RedundancyZones = zones;
  }
  sendJson(ctx.res, 200, body);
}

// ------------------------------------------------------------ configuration

/** Consul's JSON names of the configuration's fields. */
const JSON_NAMES: Record<keyof AutopilotConfig, string> = {
  cleanupDeadServers: 'CleanupDeadServers',
  lastContactThresholdMs: 'LastContactThreshold',
  maxTrailingLogs: 'MaxTrailingLogs',
  minQuorum: 'MinQuorum',
  serverStabilizationTimeMs: 'ServerStabilizationTime',
  redundancyZoneTag: 'RedundancyZoneTag',
  disableUpgradeMigration: 'DisableUpgradeMigration',
  upgradeVersionTag: 'UpgradeVersionTag',
};
const DURATION_FIELDS: ReadonlySet<keyof AutopilotConfig> = new Set(['lastContactThresholdMs', 'serverStabilizationTimeMs']);

/** The configuration as Consul's API writes it (durations as Go durations). */
export function autopilotConfigJson(r: AutopilotConfigRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(JSON_NAMES) as Array<[keyof AutopilotConfig, string]>) {
    out[name] = DURATION_FIELDS.has(field) ? formatDuration(r[field] as number) : r[field];
  }
  out.CreateIndex = r.createIndex;
  out.ModifyIndex = r.modifyIndex;
  return out;
}

/**
 * The configuration a PUT body asks for: `current` with the body's fields
 * replaced (a field left out keeps its value). Durations: a Go duration
 * ("200ms", "10s") or a number of nanoseconds, as Consul reads them. Throws a
 * 400 naming the field.
 */
export function autopilotConfigFromJson(body: Record<string, unknown>, current: AutopilotConfig): AutopilotConfig {
  const next: Record<string, unknown> = { ...pickAutopilotConfig(current) };
  const byName = new Map(Object.entries(JSON_NAMES).map(([field, name]) => [name.toLowerCase(), field as keyof AutopilotConfig]));
  for (const [key, value] of Object.entries(body)) {
    if (key === 'CreateIndex' || key === 'ModifyIndex') continue; // Consul's GET answer, sent back as it is
    const field = byName.get(key.toLowerCase());
    if (!field) throw badRequest(`unknown autopilot configuration field ${JSON.stringify(key)}`);
    if (DURATION_FIELDS.has(field)) {
      const ms = typeof value === 'number' ? value / 1e6 : typeof value === 'string' ? parseDuration(value) : undefined;
      if (ms === undefined || !Number.isFinite(ms) || ms < 0) throw badRequest(`${key}: ${JSON.stringify(value)} is not a duration (e.g. "200ms", "10s")`);
      next[field] = Math.round(ms);
    } else {
      next[field] = value;
    }
  }
  const problem = autopilotConfigProblem(next);
  if (problem) {
    const field = Object.keys(JSON_NAMES).find((f) => problem.startsWith(f)) as keyof AutopilotConfig | undefined;
    throw badRequest(`invalid autopilot configuration: ${field ? problem.replace(field, JSON_NAMES[field]) : problem}`);
  }
  return next as unknown as AutopilotConfig;
}

async function getConfig(ctx: RequestContext): Promise<void> {
  const consistency = parseConsistency(ctx.query);
  const meta = await ctx.agent.barrier(consistency);
  const r = ctx.agent.autopilotConfig();
  sendJson(ctx.res, 200, autopilotConfigJson(r), readHeaders(Math.max(1, r.modifyIndex), meta, consistency));
}

async function putConfig(ctx: RequestContext): Promise<void> {
  const cas = uintParam(ctx.query, 'cas');
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  // Fields left out keep the values in force: read them after a barrier, so they are the leader's.
  await ctx.agent.barrier('default');
  const config = autopilotConfigFromJson(body, ctx.agent.autopilotConfig());
  sendJson(ctx.res, 200, await ctx.agent.setAutopilotConfig(config, cas));
}

export const autopilotRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/v1/operator/autopilot/health', handler: health, acl: aclNeed('operator', 'read'), params: ['dc'], consulParams: ['dc', 'stale'] },
  { method: 'GET', path: '/v1/operator/autopilot/state', handler: state, acl: aclNeed('operator', 'read'), params: ['dc'], consulParams: ['dc', 'stale'] },
  // ---- ops2: the replicated configuration
  {
    method: 'GET', path: '/v1/operator/autopilot/configuration', handler: getConfig, acl: aclNeed('operator', 'read'),
    params: ['dc', 'stale', 'consistent'], consulParams: ['dc', 'stale'],
  },
  {
    method: 'PUT', path: '/v1/operator/autopilot/configuration', handler: putConfig, acl: aclNeed('operator', 'write'),
    params: ['dc', 'cas'], consulParams: ['dc', 'cas'],
    note: 'a field left out of the body keeps its value (Consul sets it to its zero value)',
  },
];
