// Cluster membership as the agent sees it: join (by id or address, via any
// member), leave and removal, leadership transfer, and keeping this node's own
// member record right. Changes run on the leader (Forwarder.onLeader), one
// configuration change at a time.

import { BadRequestError, ConflictError, KonsulError, NotFoundError, OperationTimeoutError } from '../errors.js';
import { ConfChangeError, ConfChangeType, NotLeaderError, Role, findMember, isVoter, type NodeId } from '../raft/index.js';
import { encodeCommand } from '../state/index.js';
import type { ClusterStatus } from './api.js';
import type { AgentContext } from './context.js';
import type { NodeInfo } from './peer-requests.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface MembershipOptions {
  ctx: AgentContext;
  /** This node as peers should know it. */
  info(): NodeInfo;
  /** The cluster status a join answers with. */
  status(): ClusterStatus;
  /** A member was added (autopilot starts its stabilization clock afresh). */
  added(id: NodeId): void;
  /** This node is about to leave: stop its local duties and take it out of the catalog. */
  beforeLeave(): Promise<void>;
  /** This node left the cluster. */
  left(): void;
}

export class Membership {
  private readonly ctx: AgentContext;
  private readonly options: MembershipOptions;
  private registering = false;
  private leavingNow = false;

  constructor(options: MembershipOptions) {
    this.ctx = options.ctx;
    this.options = options;
  }

  /** True from the start of this node's own leave until it failed or the node stopped. */
  get leaving(): boolean {
    return this.leavingNow;
  }

  async join(request: { id: string; raftAddress: string; httpAddress?: string; server: boolean }): Promise<ClusterStatus> {
    let info: NodeInfo = { id: request.id, raftAddress: request.raftAddress, httpAddress: request.httpAddress ?? '', server: request.server };
    if (!info.id) {
      // Joined by address only: ask that node who it is.
      const theirs = await this.ctx.forwarder.call({ address: request.raftAddress }, 'info', undefined, 5000);
      info = { ...theirs, raftAddress: request.raftAddress, server: request.server && theirs.server };
    }
    return this.ctx.forwarder.onLeader('join', info, () => this.joinOnLeader(info));
  }

  /** Ask the members at `addresses` (any of them) to let this node in. Resolves with the cluster's status. */
  async joinVia(addresses: string[]): Promise<ClusterStatus> {
    const { ctx } = this;
    let lastError: Error = new KonsulError('KONSUL_ERR_JOIN', 'no address to join', 'invalid');
    for (const address of addresses) {
      try {
        const status = await ctx.forwarder.call({ address }, 'join', this.options.info(), ctx.cfg.proposalTimeoutMs + 2000);
        for (const m of status.members) if (m.id !== ctx.nodeId) ctx.driver.addressBook.set(m.id, m.raftAddress);
        return status;
      } catch (error) {
        lastError = error as Error;
        ctx.logger.warn({ address, err: (error as Error).message }, 'join attempt failed');
      }
    }
    throw lastError;
  }

  async joinOnLeader(info: NodeInfo): Promise<ClusterStatus> {
    const { ctx } = this;
    if (typeof info?.id !== 'string' || info.id === '' || typeof info.raftAddress !== 'string' || info.raftAddress === '') {
      throw new BadRequestError('join needs the node id and its raft address');
    }
    const conf = ctx.driver.conf();
    const existing = findMember(conf, info.id);
    if (existing && existing.address !== info.raftAddress) {
      throw new ConflictError(
        `node "${info.id}" is already a member at ${existing.address}; remove it first (konsul cluster leave --node ${info.id})`);
    }
    const clash = conf.members.find((m) => m.id !== info.id && m.address === info.raftAddress);
    if (clash) {
      throw new ConflictError(`${info.raftAddress} is already the address of member "${clash.id}"`);
    }
    if (!existing) {
      ctx.driver.addressBook.set(info.id, info.raftAddress);
      await this.confChange({ type: ConfChangeType.AddLearner, nodeId: info.id, address: info.raftAddress });
      this.options.added(info.id);
      ctx.logger.info({ member: info.id, address: info.raftAddress, server: info.server }, 'member added as a non-voter');
    }
    const record = ctx.state.member(info.id);
    if (!record || record.raftAddress !== info.raftAddress || record.httpAddress !== info.httpAddress || record.server !== info.server) {
      await ctx.driver.propose(encodeCommand({
        type: 'member-set', id: info.id, raftAddress: info.raftAddress, httpAddress: info.httpAddress, server: info.server,
      }));
    }
    return this.options.status();
  }

  /** A membership change on the leader, retried while it only has to wait for another one. */
  async confChange(cc: { type: ConfChangeType; nodeId: NodeId; address: string }): Promise<void> {
    const { driver } = this.ctx;
    const deadline = performance.now() + this.ctx.cfg.proposalTimeoutMs;
    for (;;) {
      try {
        await driver.proposeConfChange(cc);
        return;
      } catch (error) {
        // Only a change that has to wait (another one pending, no entry of this term committed yet) is worth retrying.
        const transient = error instanceof ConfChangeError && error.retryable;
        if (!transient || performance.now() > deadline) throw error;
        if (driver.raft.role !== Role.Leader) throw new NotLeaderError(driver.raft.leader);
        await sleep(20);
      }
    }
  }

  async removeMember(id: string): Promise<void> {
    const { ctx } = this;
    if (typeof id !== 'string' || id === '') throw new BadRequestError('a node id is needed');
    const self = id === ctx.nodeId;
    if (self) {
      this.leavingNow = true;
      await this.options.beforeLeave();
    }
    try {
      await ctx.forwarder.onLeader('remove', { id }, async () => {
        await this.removeOnLeader(id);
        return { ok: true };
      });
    } catch (error) {
      if (self) this.leavingNow = false;
      throw error;
    }
    if (self) {
      ctx.logger.info({ member: id }, 'left the cluster');
      this.options.left();
    }
  }

  async removeOnLeader(id: string): Promise<void> {
    const { ctx } = this;
    const conf = ctx.driver.conf();
    const member = findMember(conf, id);
    if (!member) {
      if (ctx.state.member(id)) await ctx.driver.propose(encodeCommand({ type: 'member-delete', id }));
      else throw new NotFoundError(`no member "${id}"`);
      return;
    }
    if (member.voter && conf.members.filter((m) => m.voter).length === 1) {
      throw new ConflictError(`"${id}" is the last voter; removing it would leave no one to elect a leader`);
    }
    if (ctx.state.member(id)) await ctx.driver.propose(encodeCommand({ type: 'member-delete', id }));
    await this.confChange({ type: ConfChangeType.Remove, nodeId: id, address: '' });
    ctx.logger.info({ member: id }, 'member removed');
  }

  async transferLeader(id?: string): Promise<string> {
    const answer = await this.ctx.forwarder.onLeader('transfer', { id }, async () => ({ leader: await this.transferOnLeader(id) }));
    return answer.leader;
  }

  async transferOnLeader(id?: string): Promise<string> {
    const { ctx } = this;
    const raft = ctx.driver.raft;
    const conf = raft.conf();
    let target = id;
    if (target === undefined || target === '') {
      const now = performance.now();
      const candidates = raft.status().progress
        .filter((p) => p.voter && p.id !== ctx.nodeId && now - (ctx.driver.lastHeard.get(p.id) ?? 0) < ctx.cfg.electionTimeoutMs)
        .sort((a, b) => b.match - a.match);
      if (candidates.length === 0) throw new ConflictError('no other healthy voter to hand leadership to');
      target = candidates[0].id;
    }
    if (!findMember(conf, target)) throw new NotFoundError(`no member "${target}"`);
    if (!isVoter(conf, target)) throw new ConflictError(`"${target}" is not a voter`);
    if (target === ctx.nodeId) return target;
    raft.transferLeader(target);
    ctx.driver.poke();
    const deadline = performance.now() + 3 * ctx.cfg.electionTimeoutMs;
    while (performance.now() < deadline) {
      await sleep(10);
      const leader = ctx.driver.raft.leader;
      if (leader !== ctx.nodeId && leader !== '') return leader;
    }
    if (ctx.driver.raft.leader === target) return target;
    throw new OperationTimeoutError(`leadership did not move to "${target}" within ${3 * ctx.cfg.electionTimeoutMs}ms`);
  }

  /** Once in the configuration, make the replicated member record match this node (addresses, role). */
  async registerSelf(): Promise<void> {
    const { ctx } = this;
    const raft = ctx.driver.raft;
    if (this.registering || this.leavingNow || raft.leader === '' || !findMember(raft.conf(), ctx.nodeId)) return;
    const me = this.options.info();
    if (me.httpAddress === '') return;
    const record = ctx.state.member(ctx.nodeId);
    if (record && record.raftAddress === me.raftAddress && record.httpAddress === me.httpAddress && record.server === me.server) return;
    this.registering = true;
    try {
      await ctx.forwarder.onLeader('join', me, () => this.joinOnLeader(me));
    } finally {
      this.registering = false;
    }
  }
}
