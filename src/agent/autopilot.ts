// The leader's housekeeping loop (Consul's autopilot): promote servers that
// stayed caught up and healthy for the stabilization time, remove members
// dead longer than the dead-server timeout (a voter only while the rest keep a
// healthy majority), run the node health check, and keep this node's own
// member record right (on every node).

import { ConfChangeType, ProgressState, Role, hasQuorum, type NodeId } from '../raft/index.js';
import type { AgentContext } from './context.js';
import type { ClientDuties } from './clients.js';
import type { Membership } from './membership.js';
import { nodeHealthRound } from './node-health.js';
import { raiseClusterVersion } from './versions.js';

/** How often a round runs. */
const ROUND_MS = 250;

export class Autopilot {
  private readonly ctx: AgentContext;
  private readonly membership: Membership;
  private readonly healthySince = new Map<NodeId, number>();
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
    this.healthySince.delete(id);
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
      // Silence counts from the last message, this node's election, or the member's addition, whichever is latest:
      // a member added long after the election is not dead before it could answer.
      const heard = (id: NodeId): number => (id === ctx.nodeId ? now
        : Math.max(ctx.driver.lastHeard.get(id) ?? 0, this.leaderSince, this.addedAt.get(id) ?? 0));
      for (const id of this.addedAt.keys()) if (!raft.conf().members.some((m) => m.id === id)) this.addedAt.delete(id);
      await nodeHealthRound(ctx, now, heard, this.clients);
      await raiseClusterVersion(ctx);
      if (await this.promoteOne(now, heard)) return;
      await this.reapOne(now, heard);
    } catch (error) {
      ctx.logger.debug({ err: (error as Error).message }, 'autopilot round did not finish');
    } finally {
      this.busy = false;
    }
  }

  /** Promote the first non-voting server that stayed healthy for the stabilization time; true when one was. */
  private async promoteOne(now: number, heard: (id: NodeId) => number): Promise<boolean> {
    const { ctx } = this;
    const st = ctx.driver.raft.status();
    for (const m of st.conf.members) {
      if (m.voter || m.id === ctx.nodeId) continue;
      const record = ctx.state.member(m.id);
      const pr = st.progress.find((p) => p.id === m.id);
      const healthy = record?.server === true && pr !== undefined && pr.state === ProgressState.Replicate
        && pr.match + 64 >= st.commit && now - heard(m.id) < ctx.cfg.electionTimeoutMs;
      if (!healthy) {
        this.healthySince.delete(m.id);
        continue;
      }
      const since = this.healthySince.get(m.id) ?? now;
      this.healthySince.set(m.id, since);
      if (now - since >= ctx.cfg.stabilizationMs) {
        await this.membership.confChange({ type: ConfChangeType.Promote, nodeId: m.id, address: '' });
        this.healthySince.delete(m.id);
        ctx.logger.info({ member: m.id }, 'server promoted to voter after staying healthy for the stabilization time');
        return true;
      }
    }
    return false;
  }

  /** Remove the first member silent past the dead-server timeout, never shrinking a cluster that is failing. */
  private async reapOne(now: number, heard: (id: NodeId) => number): Promise<void> {
    const { ctx } = this;
    const conf = ctx.driver.raft.conf();
    for (const m of conf.members) {
      if (m.id === ctx.nodeId || now - heard(m.id) < ctx.cfg.deadServerTimeoutMs) continue;
      if (m.voter) {
        const rest = conf.members.filter((v) => v.voter && v.id !== m.id);
        // Only while the others are a healthy quorum of the current voters.
        const healthy = new Set(rest.filter((v) => now - heard(v.id) < 2 * ctx.cfg.electionTimeoutMs).map((v) => v.id));
        if (rest.length === 0 || !hasQuorum(conf, healthy)) continue;
      }
      ctx.logger.warn({ member: m.id, silentMs: Math.round(now - heard(m.id)) }, 'removing a member that stayed unreachable past the dead-server timeout');
      await this.membership.removeOnLeader(m.id);
      return;
    }
  }
}
