// scale (issue 13): a server's duties toward client agents. Clients are no Raft
// members: each is a member record (server=false) and a catalog node. This
// server relays the committed log to them (src/relay/server-relay.ts), passes
// their registrations, writes and read indexes on to the leader, and, on the
// leader, judges their node health from the relays' liveness reports (never
// from messages of their own: the leader's cost must not grow with them) and
// reaps the ones dead past the dead-server timeout.
//
// Peer requests arrive typed from the table in peer-requests.ts, after the
// transport checked the peer's join secret or certificate like any other
// peer's; with mutual TLS a client certificate may act only for itself.

import { KonsulError } from '../errors.js';
import { NotLeaderError, Role, findMember, type NodeId } from '../raft/index.js';
import { ServerRelay } from '../relay/server-relay.js';
import {
  NODE_ALIVE_OUTPUT, NODE_DEAD_OUTPUT, NODE_HEALTH_CHECK_ID, decodeCommand, encodeCommand, type Command,
} from '../state/index.js';
import type { NodeStorage } from '../storage/index.js';
import type { AgentContext } from './context.js';
import type { ProposalResult } from './driver.js';
import type { PeerFrom, PeerHandlers } from './peer-requests.js';

/** The peer requests this module answers. */
type ClientMethods = 'relay-pull' | 'relay-snapshot' | 'relay-report' | 'relay-hello' | 'client-join' | 'client-propose' | 'client-read-index';

/** Commands a client never needs to send (it joins by client-join; membership and versions are the servers' business). */
const NOT_FROM_CLIENTS: ReadonlySet<Command['type']> = new Set<Command['type']>(['member-set', 'member-delete', 'cluster-version', 'batch']);

function forbidden(message: string): KonsulError {
  return new KonsulError('KONSUL_ERR_PERMISSION_DENIED', message, 'forbidden');
}

export interface ClientDutiesOptions {
  ctx: AgentContext;
  storage: NodeStorage;
  /** This server's peer address (known once the transport listens). */
  raftAddress: () => string;
  /** Proposes command bytes on the leader (batched with the leader's own writes). */
  propose: (bytes: Uint8Array) => Promise<ProposalResult>;
}

export class ClientDuties {
  readonly relay: ServerRelay;
  private readonly ctx: AgentContext;
  private readonly opts: ClientDutiesOptions;
  /** Since when (leader's clock) each client has counted as dead. */
  private readonly deadSince = new Map<string, number>();
  private leaderSince = 0;

  constructor(options: ClientDutiesOptions) {
    this.opts = options;
    const ctx = (this.ctx = options.ctx);
    this.relay = new ServerRelay({
      selfId: ctx.nodeId,
      raft: () => ctx.driver.raft,
      state: ctx.state,
      snapshot: () => options.storage.state.snapshot(),
      fanout: ctx.cfg.relayFanout,
      silenceMs: ctx.cfg.relaySilenceMs,
      // A relay's clients move within a few pulls; a loaded machine must not flap them all critical meanwhile.
      graceMs: Math.max(5000, ctx.cfg.nodeHealthTimeoutMs),
      logger: ctx.logger,
      addressOf: (id) => (id === ctx.nodeId ? options.raftAddress() : undefined) ?? findMember(ctx.driver.raft.conf(), id)?.address
        ?? ctx.state.member(id)?.raftAddress ?? ctx.driver.addressBook.get(id),
      recentlyHeard: (id) => performance.now() - (ctx.driver.lastHeard.get(id) ?? 0) < ctx.cfg.nodeHealthTimeoutMs,
      sendReports: async (leader, reports) => {
        await ctx.forwarder.call({ nodeId: leader }, 'relay-report', { reports }, 2000);
      },
    });
  }

  start(): void {
    this.relay.start();
  }

  stop(): void {
    this.relay.stop();
  }

  /** The driver saw a new leader: a new leader starts its client view afresh, with a grace period for every client. */
  leaderChanged(leader: NodeId): void {
    if (leader !== this.ctx.nodeId) return;
    this.leaderSince = performance.now();
    this.relay.tracker.clear();
    this.deadSince.clear();
  }

  /** Is `id` a client agent (a member record outside the Raft configuration)? */
  clientIds(): Set<string> {
    const conf = this.ctx.driver.raft.conf();
    return new Set(this.ctx.state.members().filter((m) => !m.server && !findMember(conf, m.id)).map((m) => m.id));
  }

  /**
   * The leader's node-health round for client agents (node-health.ts does the
   * servers): their serfHealth from the relays' reports, and the reaping of a
   * client dead past the dead-server timeout (its node and member record).
   */
  healthRound(now: number, clientIds: ReadonlySet<string>): Command[] {
    const { ctx } = this;
    const catalog = ctx.state.catalog;
    this.relay.checkRelays();
    const out: Command[] = [];
    for (const id of clientIds) {
      const alive = this.relay.clientAlive(id) ?? now - this.leaderSince < ctx.cfg.nodeHealthTimeoutMs;
      const inCatalog = catalog.node(id) !== undefined;
      if (alive) this.deadSince.delete(id);
      else {
        const since = this.deadSince.get(id) ?? now;
        this.deadSince.set(id, since);
        if (now - since > ctx.cfg.deadServerTimeoutMs) {
          ctx.logger.warn({ member: id }, 'removing a client that stayed unreachable past the dead-server timeout');
          this.deadSince.delete(id);
          this.relay.tracker.forget(id);
          if (inCatalog) out.push({ type: 'catalog', op: { op: 'deregister-node', node: id } });
          out.push({ type: 'member-delete', id });
          continue;
        }
      }
      if (!inCatalog) continue;
      const status = alive ? 'passing' : 'critical';
      const current = catalog.nodeChecks(id).find((c) => c.checkId === NODE_HEALTH_CHECK_ID);
      if (current?.status === status) continue;
      if (current) ctx.logger.info({ member: id, status }, 'client node health changed');
      out.push({ type: 'catalog', op: { op: 'node-health', node: id, status, output: alive ? NODE_ALIVE_OUTPUT : NODE_DEAD_OUTPUT } });
    }
    return out;
  }

  /** A client agent registers as a member record (server=false), never as a Raft member. */
  private async joinOnLeader(info: { id: string; raftAddress: string; httpAddress: string }): Promise<void> {
    const { ctx } = this;
    if (findMember(ctx.driver.conf(), info.id)) {
      throw new KonsulError('KONSUL_ERR_CONFLICT', `"${info.id}" is a server of this cluster; a client needs another node id`, 'conflict');
    }
    const record = ctx.state.member(info.id);
    if (record?.server) throw new KonsulError('KONSUL_ERR_CONFLICT', `"${info.id}" is a server of this cluster`, 'conflict');
    if (record && record.raftAddress === info.raftAddress && record.httpAddress === info.httpAddress) return;
    await ctx.driver.propose(encodeCommand({ type: 'member-set', id: info.id, raftAddress: info.raftAddress, httpAddress: info.httpAddress, server: false }));
  }

  /**
   * Did a server send this (passing a client's request on)? A certificate
   * says so with mutual TLS; otherwise the sender is a server of this cluster.
   */
  private fromServer(from: PeerFrom): boolean {
    if (from.role !== undefined) return from.role === 'server';
    return findMember(this.ctx.driver.raft.conf(), from.nodeId) !== undefined || this.ctx.state.member(from.nodeId)?.server === true;
  }

  /** A client acts only for itself (servers pass clients' requests on, so they may name another node). */
  private checkSelf(from: PeerFrom, id: string, what: string): void {
    if (id !== from.nodeId && !this.fromServer(from)) {
      throw forbidden(`node '${from.nodeId}' is a client agent: it may ${what} only as itself`);
    }
  }

  /** What this server answers to the client agents' peer requests (the agent's table points here). */
  readonly handlers: Pick<PeerHandlers, ClientMethods> = this.makeHandlers();

  private makeHandlers(): Pick<PeerHandlers, ClientMethods> {
    const ctx = (): AgentContext => this.ctx;
    return {
      'relay-pull': async (req, from) => {
        // A subscriber pulls as the node its transport hello (and certificate) authenticated.
        if (req.id !== from.nodeId) throw forbidden(`a relay pull for '${req.id}' from node '${from.nodeId}': a node subscribes only as itself`);
        return this.relay.pull(req);
      },
      'relay-snapshot': async (session) => this.relay.snapshotChunk(session),
      'relay-hello': async () => this.relay.hello(),
      'relay-report': async ({ reports }, from) => {
        for (const r of reports) this.checkSelf(from, r.relay, 'report its subscribers');
        this.relay.receiveReports(reports);
        return { ok: true };
      },
      'client-join': (info, from) => {
        this.checkSelf(from, info.id, 'join');
        return ctx().forwarder.onLeader('client-join', info, async () => {
          await this.joinOnLeader(info);
          return { ok: true };
        });
      },
      'client-propose': (bytes, from) => {
        const cmd = decodeCommand(bytes);
        // A client leaving deletes its own member record; any other membership change is the servers'.
        if (NOT_FROM_CLIENTS.has(cmd.type) && !this.fromServer(from)) {
          const leaving = cmd.type === 'member-delete' && cmd.id === from.nodeId;
          if (!leaving) throw forbidden(`a ${cmd.type} command cannot come from a client agent`);
        }
        return ctx().forwarder.onLeader('client-propose', bytes, () => {
          if (ctx().driver.raft.role !== Role.Leader) throw new NotLeaderError(ctx().driver.raft.leader);
          return this.opts.propose(bytes);
        });
      },
      'client-read-index': async ({ consistent }) => {
        await ctx().driver.readBarrier(!consistent);
        return { index: ctx().state.appliedIndex() };
      },
    };
  }
}
