// ---- ops2: the servers' health as the leader sees it (Consul's autopilot
// health), under the replicated autopilot configuration: a server is healthy
// when the leader heard from it within the last-contact threshold and it is at
// most max-trailing-logs entries behind the commit index; StableSince is when
// it last became healthy. The autopilot decides with it, and
// GET /v1/operator/autopilot/health|state report it.

import { ProgressState, Role, type NodeId } from '../raft/index.js';
import type { AutopilotConfigRecord } from '../state/index.js';
import type { AgentContext } from './context.js';
import { effectiveAutopilotConfig } from './autopilot-defaults.js';

export { defaultAutopilotConfig, effectiveAutopilotConfig } from './autopilot-defaults.js';

export interface ServerHealth {
  id: NodeId;
  address: string;
  voter: boolean;
  leader: boolean;
  healthy: boolean;
  /** Heard within the last-contact threshold and not being probed after a failed send (Consul's SerfStatus alive). */
  alive: boolean;
  /** Milliseconds since the leader last heard from it (0 for the leader itself). */
  lastContactMs: number;
  lastTerm: number;
  lastIndex: number;
  /** Wall-clock ms (Date.now()) since when it has been healthy; undefined while unhealthy. */
  stableSince: number | undefined;
  /** Its redundancy zone (the value of the zone tag in its node meta); '' without one. */
  zone: string;
}

export interface HealthReport {
  healthy: boolean;
  failureTolerance: number;
  leader: NodeId;
  servers: ServerHealth[];
  config: AutopilotConfigRecord;
}

/** The zone a server is in: its node meta value for the tag, '' when there is no tag or no value. */
export function serverZone(ctx: Pick<AgentContext, 'state'>, id: NodeId, tag: string): string {
  if (tag === '') return '';
  return ctx.state.catalog.node(id)?.meta[tag] ?? '';
}

/** Failure tolerance as Consul computes it: healthy voters beyond a quorum of the voters. */
export function failureTolerance(servers: readonly Pick<ServerHealth, 'voter' | 'healthy'>[]): number {
  const voters = servers.filter((s) => s.voter);
  const healthy = voters.filter((s) => s.healthy).length;
  return Math.max(0, healthy - (Math.floor(voters.length / 2) + 1));
}

/** Keeps each server's StableSince across rounds; only meaningful on the leader. */
export class ServerHealthTracker {
  private readonly since = new Map<NodeId, number>();

  /** The servers' health now, or undefined when this node is not the leader. `heard(id)`: performance.now() of the last message. */
  evaluate(ctx: AgentContext, heard: (id: NodeId) => number): HealthReport | undefined {
    const raft = ctx.driver.raft;
    if (raft.role !== Role.Leader) {
      this.since.clear();
      return undefined;
    }
    const config = effectiveAutopilotConfig(ctx);
    const st = raft.status();
    const now = performance.now();
    const wall = Date.now();
    const servers: ServerHealth[] = [];
    for (const m of st.conf.members) {
      const self = m.id === ctx.nodeId;
      if (!m.voter && !self && ctx.state.member(m.id)?.server !== true) continue; // a client agent
      const pr = st.progress.find((p) => p.id === m.id);
      const lastIndex = self ? st.lastIndex : pr?.match ?? 0;
      const lastContactMs = self ? 0 : Math.max(0, Math.round(now - heard(m.id)));
      const heardOnce = self || ctx.driver.lastHeard.has(m.id);
      const alive = self || (heardOnce && lastContactMs < config.lastContactThresholdMs && pr !== undefined && pr.state !== ProgressState.Probe);
      const healthy = alive && (self || (pr!.state === ProgressState.Replicate && lastIndex + config.maxTrailingLogs >= st.commit));
      if (!healthy) this.since.delete(m.id);
      else if (!this.since.has(m.id)) this.since.set(m.id, now);
      const since = this.since.get(m.id);
      servers.push({
        id: m.id, address: m.address, voter: m.voter, leader: self, healthy, alive, lastContactMs, lastTerm: st.term, lastIndex,
        stableSince: since === undefined ? undefined : Math.round(wall - (now - since)),
        zone: serverZone(ctx, m.id, config.redundancyZoneTag),
      });
    }
    for (const id of this.since.keys()) if (!servers.some((s) => s.id === id)) this.since.delete(id);
    return { healthy: servers.every((s) => s.healthy), failureTolerance: failureTolerance(servers), leader: ctx.nodeId, servers, config };
  }

  /** How long (ms) a server has been healthy, 0 when it is not. */
  stableFor(id: NodeId): number {
    const since = this.since.get(id);
    return since === undefined ? 0 : performance.now() - since;
  }

  /** A member was (re)added: its stabilization starts again. */
  forget(id: NodeId): void {
    this.since.delete(id);
  }
}
