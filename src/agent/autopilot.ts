// The leader's housekeeping loop (Consul's autopilot), under the replicated
// autopilot configuration (server-health.ts): promote servers that stayed
// healthy for the stabilization time (with redundancy zones, one voter per
// zone, the others standbys promoted when their zone's voter fails, extra
// voters demoted), remove members dead longer than the dead-server timeout
// (when cleanup-dead-servers is on; a voter only while the rest keep a healthy
// majority and min-quorum voters), run the node health check, and keep this
// node's own member record right (on every node).

import { ConfChangeType, Role, hasQuorum, type NodeId } from '../raft/index.js';
import type { AgentContext } from './context.js';
import type { ClientDuties } from './clients.js';
import type { Membership } from './membership.js';
import { nodeHealthRound } from './node-health.js';
import { raiseClusterVersion } from './versions.js';
import { ServerHealthTracker, type HealthReport, type ServerHealth } from './server-health.js';

/** How often a round runs. */
const ROUND_MS = 250;

export class Autopilot {
  private readonly ctx: AgentContext;
  private readonly membership: Membership;
  private readonly tracker = new ServerHealthTracker();
  /** When this leader added each member: a member is not silent before it could have spoken. */
  private readonly addedAt = new Map<NodeId, number>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private leaderSince = 0;

  /** scale: client agents' node health (from their relays' reports). */
  private readonly clients: ClientDuties | undefined;

  constructor(ctx: AgentContext, membership: Membership, clients?: ClientDuties) {
    this.ctx = ctx;
    this.membership = membership;
    this.clients = clients;
  }

  start(): void {
    this.timer = setInterval(() => void this.round(), ROUND_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The driver saw a new leader: a node that just became leader gives every member a fresh grace period. */
  leaderChanged(leader: NodeId): void {
    if (leader === this.ctx.nodeId) this.leaderSince = performance.now();
  }

  /** A member was (re)added: its stabilization time starts again, and so does its dead-server clock. */
  forget(id: NodeId): void {
    this.tracker.forget(id);
    this.addedAt.set(id, performance.now());
  }

  async round(): Promise<void> {
    const { ctx } = this;
    if (this.busy || ctx.driver.isStopped) return;
    this.busy = true;
    try {
      await this.membership.registerSelf();
      const raft = ctx.driver.raft;
      if (raft.role !== Role.Leader || raft.log.latestConfIndex() > raft.log.committed) return;
      const now = performance.now();
      const heard = this.heardFn(now);
      for (const id of this.addedAt.keys()) if (!raft.conf().members.some((m) => m.id === id)) this.addedAt.delete(id);
      await nodeHealthRound(ctx, now, heard, this.clients);
      await raiseClusterVersion(ctx);
      const report = this.tracker.evaluate(ctx, heard);
      if (!report) return;
      if (await this.balanceVoters(report)) return;
      await this.reapOne(now, heard, report);
    } catch (error) {
      ctx.logger.debug({ err: (error as Error).message }, 'autopilot round did not finish');
    } finally {
      this.busy = false;
    }
  }

  /** The servers' health as this leader sees it now (undefined on a follower). */
  health(): HealthReport | undefined {
    const now = performance.now();
    return this.tracker.evaluate(this.ctx, this.heardFn(now));
  }

  private heardFn(now: number): (id: NodeId) => number {
    const { ctx } = this;
    // Silence counts from the last message, this node's election, or the member's addition, whichever is latest:
    // a member added long after the election is not dead before it could answer.
    return (id: NodeId): number => (id === ctx.nodeId ? now
      : Math.max(ctx.driver.lastHeard.get(id) ?? 0, this.leaderSince, this.addedAt.get(id) ?? 0));
  }

  /**
   * One change of voters, or none: promote a server that stayed healthy for the
   * stabilization time (with redundancy zones: only the zone's one voter, or
   * the standby of a zone whose voter failed), then demote a zone's extra
   * voter. Never leaves fewer voters than min-quorum, nor a configuration whose
   * healthy voters are not a quorum. True when it changed something.
   */
  private async balanceVoters(report: HealthReport): Promise<boolean> {
    const { ctx } = this;
    const plan = planVoterChange(report, (id) => this.tracker.stableFor(id), ctx.nodeId);
    if (!plan) return false;
    const type = plan.promote ? ConfChangeType.Promote : ConfChangeType.Demote;
    await this.membership.confChange({ type, nodeId: plan.id, address: '' });
    this.tracker.forget(plan.id);
    ctx.logger.info({ member: plan.id, zone: plan.zone || undefined }, plan.reason);
    return true;
  }

  /** Remove the first member silent past the dead-server timeout, never shrinking a cluster that is failing. */
  private async reapOne(now: number, heard: (id: NodeId) => number, report: HealthReport): Promise<void> {
    const { ctx } = this;
    if (!report.config.cleanupDeadServers) return;
    const conf = ctx.driver.raft.conf();
    for (const m of conf.members) {
      if (m.id === ctx.nodeId || now - heard(m.id) < ctx.cfg.deadServerTimeoutMs) continue;
      if (m.voter) {
        const rest = conf.members.filter((v) => v.voter && v.id !== m.id);
        // Never below min-quorum voters, and only while the others are a healthy quorum of the current voters.
        if (rest.length < report.config.minQuorum) continue;
        const healthy = new Set(rest.filter((v) => now - heard(v.id) < 2 * ctx.cfg.electionTimeoutMs).map((v) => v.id));
        if (rest.length === 0 || !hasQuorum(conf, healthy)) continue;
      }
      ctx.logger.warn({ member: m.id, silentMs: Math.round(now - heard(m.id)) }, 'removing a member that stayed unreachable past the dead-server timeout');
      await this.membership.removeOnLeader(m.id);
      return;
    }
  }
}

export interface VoterChange {
  id: NodeId;
  promote: boolean;
  zone: string;
  reason: string;
}

/**
 * The one voter change the autopilot makes next, or undefined (pure: tested
 * on its own). `stableFor(id)`: how long that server has been healthy.
 */
export function planVoterChange(report: HealthReport, stableFor: (id: NodeId) => number, self: NodeId): VoterChange | undefined {
  const { config, servers } = report;
  const stable = (s: ServerHealth): boolean => s.healthy && stableFor(s.id) >= config.serverStabilizationTimeMs;
  // The longest-stable first, then by id: every leader picks the same standby.
  const byStability = (a: ServerHealth, b: ServerHealth): number => stableFor(b.id) - stableFor(a.id) || a.id.localeCompare(b.id);
  const zoned = config.redundancyZoneTag !== '';
  // Without zones every server is a zone of its own (every healthy server votes); so is a server without a zone value.
  const zoneOf = (s: ServerHealth): string => (zoned && s.zone !== '' ? `zone:${s.zone}` : `server:${s.id}`);
  const zones = new Map<string, ServerHealth[]>();
  for (const s of servers) zones.set(zoneOf(s), [...(zones.get(zoneOf(s)) ?? []), s]);

  // 1. Promotions: a zone without a healthy voter gets its longest-stable standby.
  for (const members of zones.values()) {
    if (members.some((s) => s.voter && s.healthy)) continue;
    const standby = members.filter((s) => !s.voter && stable(s)).sort(byStability)[0];
    if (standby) {
      const failed = members.some((s) => s.voter);
      return {
        id: standby.id, promote: true, zone: standby.zone,
        reason: failed ? 'promoted the standby server of a zone whose voter failed' : 'server promoted to voter after staying healthy for the stabilization time',
      };
    }
  }

  // 2. Demotions (zones only): a zone's extra voters, failed ones first, keeping one healthy voter per zone.
  if (!zoned) return undefined;
  const voters = servers.filter((s) => s.voter);
  for (const members of zones.values()) {
    const zoneVoters = members.filter((s) => s.voter);
    if (zoneVoters.length < 2 || !zoneVoters.some((s) => s.healthy)) continue;
    const keep = zoneVoters.find((s) => s.id === self) ?? zoneVoters.filter((s) => s.healthy).sort(byStability)[0]!;
    const extra = zoneVoters.filter((s) => s.id !== keep.id && s.id !== self).sort((a, b) => Number(a.healthy) - Number(b.healthy))[0];
    if (!extra) continue;
    const after = voters.filter((s) => s.id !== extra.id);
    if (after.length < Math.max(1, config.minQuorum)) continue;
    // The voters left must still have a healthy quorum among themselves.
    if (after.filter((s) => s.healthy).length < Math.floor(after.length / 2) + 1) continue;
    return { id: extra.id, promote: false, zone: extra.zone, reason: extra.healthy ? 'demoted a zone\'s extra voter to a standby' : 'demoted the failed voter of a zone whose standby took over' };
  }
  return undefined;
}
