// The agent: one node, composed of its parts. The Raft driver (driver.ts) runs
// the log; the forwarder (forwarder.ts) takes writes to the leader; membership
// (membership.ts) and autopilot (autopilot.ts) keep the configuration; local
// services (services.ts) keep this node's own services in the catalog; status
// and archives answer the cluster endpoints. This file wires them and serves
// the AgentApi that HTTP calls.

import { unsafeForTests } from './unsafe.js';
import type { AclOp } from '../state/acl.js';
import { BadRequestError, KonsulError } from '../errors.js';
import type { PreparedQueryOp } from '../state/prepared-queries.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { NotLeaderError, Role, findMember } from '../raft/index.js';
import { CommandTooNewError, encodeCommand, type CatalogOp, type Command, type NodeInput, type StateMachine, type UserEvent } from '../state/index.js';
import { raftDir, type NodeStorage } from '../storage/index.js';
import { PROTOCOL_VERSION, type TransportLogger } from '../transport/index.js';
import { packageVersion } from '../version.js';
import type {
  AgentApi, AgentSelf, ClusterStats, ClusterStatus, Consistency, KvDeleteOptions, KvPutOptions, ReadMeta, SnapshotArchiveStream,
} from './api.js';
import { openArchive, restoreArchive } from './archives.js';
import { Autopilot } from './autopilot.js';
import { parseHostPort, type AgentConfig } from './config.js';
import type { AgentContext } from './context.js';
import { RaftDriver } from './driver.js';
import { Forwarder } from './forwarder.js';
import { Membership } from './membership.js';
import { AgentMetrics } from './metrics.js';
import { servePeerRequest, type NodeInfo, type PeerHandlers } from './peer-requests.js';
import { LocalServices } from './services.js';
import { clusterStats, clusterStatus } from './status.js';
// ---- coord
import { WriteBatcher } from './batcher.js';
import { CoordinationService } from './sessions.js';
import type { ProposalResult } from './driver.js';
import { refuseOlderJoiner } from './versions.js';
import { effectiveAutopilotConfig, type HealthReport } from './server-health.js';
import type { AutopilotConfig, AutopilotConfigRecord } from '../state/autopilot-config.js';
// ---- scale
import { ClientDuties } from './clients.js';

export type { NodeInfo } from './peer-requests.js';
export { LeaderChangedError } from './forwarder.js';

export interface AgentOptions {
  config: AgentConfig;
  storage: NodeStorage;
  state: StateMachine;
  logger: TransportLogger;
  /** Called once when this agent must stop: it left, was removed, or its storage failed. */
  onExit?: (reason: string, code: number) => void;
}

// A node's catalog UUID lives apart (node-uuid.ts) so a client agent need not load this file.
export { nodeUuid } from './node-uuid.js';
import { nodeUuid } from './node-uuid.js';

export class Agent implements AgentApi {
  readonly nodeId: string;
  readonly state: StateMachine;
  readonly driver: RaftDriver;
  readonly metricsRegistry: AgentMetrics;
  /** This agent's own services and checks, kept in the catalog by anti-entropy. */
  readonly local: LocalServices;
  readonly forwarder: Forwarder;
  readonly membership: Membership;
  readonly autopilot: Autopilot;
  private dnsAddress = '';
  private readonly cfg: AgentConfig;
  private readonly logger: TransportLogger;
  private readonly onExit: AgentOptions['onExit'];
  private readonly startedAt = Date.now();
  private httpAddress = '';
  private exited = false;
  /** TEST ONLY: see unsafe.ts. */
  private readonly unsafe = unsafeForTests();
  private readonly storage: NodeStorage;
  private readonly ctx: AgentContext;
  /** Sessions, locks and transactions; the session TTL timers while this node leads (coord). */
  readonly coord: CoordinationService;
  /** Same-turn batching of single KV writes on the leader (coord). */
  private readonly batcher: WriteBatcher;
  /** scale: relaying the committed log to client agents, and their node health on the leader (clients.ts). */
  readonly clients: ClientDuties;

  constructor(options: AgentOptions) {
    this.cfg = options.config;
    this.storage = options.storage;
    this.nodeId = options.config.nodeId;
    this.state = options.state;
    this.logger = options.logger;
    if (this.unsafe) {
      this.logger.warn({ unsafe: this.unsafe }, `UNSAFE, FOR TESTS ONLY: KONSUL_UNSAFE_FOR_TESTS=${this.unsafe}; konsul's consistency guarantees are off`);
      process.stderr.write(`konsul: WARNING: KONSUL_UNSAFE_FOR_TESTS=${this.unsafe} is set: consistency guarantees are OFF (test-only setting)\n`);
    }
    this.onExit = options.onExit;
    this.metricsRegistry = new AgentMetrics({
      nodeId: this.nodeId,
      defaultMetrics: true,
      logSizeBytes: () => {
        try {
          return statSync(join(raftDir(options.config.dataDir ?? ''), 'data.mdb')).size;
        } catch {
          return 0;
        }
      },
    });
    this.driver = new RaftDriver({
      config: options.config,
      storage: options.storage,
      state: options.state,
      metrics: this.metricsRegistry,
      logger: options.logger,
      events: {
        removed: () => {
          if (this.membership.leaving) return;
          this.logger.warn({ member: this.nodeId }, 'this node was removed from the cluster configuration; stopping');
          this.exit('removed from the cluster', 0);
        },
        leaderChanged: (leader) => {
          this.autopilot.leaderChanged(leader);
          this.clients.leaderChanged(leader);
          this.forwarder.leaderChanged();
          this.coord.leadershipChanged(leader === this.nodeId);
        },
        fatal: (error) => this.exit(error instanceof CommandTooNewError ? error.message : `storage failed: ${error.message}`, 1),
        request: (method, body, from) => servePeerRequest(this.peerHandlers, method, body, from),
      },
    });
    this.forwarder = new Forwarder({
      driver: this.driver, proposalTimeoutMs: this.cfg.proposalTimeoutMs, electionTimeoutMs: this.cfg.electionTimeoutMs,
    });
    this.ctx = {
      nodeId: this.nodeId, cfg: this.cfg, driver: this.driver, state: this.state, logger: this.logger, forwarder: this.forwarder,
      knownLeader: () => this.knownLeader(),
    };
    this.membership = new Membership({
      ctx: this.ctx,
      info: () => this.info(),
      status: () => this.status(),
      added: (id) => this.autopilot.forget(id),
      beforeLeave: async () => {
        this.local.stop();
        // Out of the catalog first, so its services stop being answered at once (best effort: the leader removes it anyway).
        try {
          await this.write({ type: 'catalog', op: { op: 'deregister-node', node: this.nodeId } });
        } catch (error) {
          this.logger.debug({ err: (error as Error).message }, 'could not deregister this node from the catalog before leaving');
        }
      },
      // Let the HTTP answer go out before the process stops.
      left: () => void setTimeout(() => this.exit('left the cluster', 0), 100),
    });
    this.batcher = new WriteBatcher((bytes) => this.driver.propose(bytes), this.state);
    this.clients = new ClientDuties({
      ctx: this.ctx, storage: this.storage, raftAddress: () => this.raftAddress, propose: (bytes) => this.batcher.propose(bytes),
    });
    this.autopilot = new Autopilot(this.ctx, this.membership, this.clients);
    this.coord = new CoordinationService({
      nodeId: this.nodeId,
      state: this.state,
      propose: (cmd) => this.proposeCommand(cmd),
      barrier: (consistency) => this.barrier(consistency),
      renewOnLeader: (id, local) => this.forwarder.onLeader('session-renew', { id }, async () => ({ session: (await local()) ?? null }))
        .then((r) => r.session ?? undefined),
      isLeader: () => this.driver.raft.role === Role.Leader,
      logger: this.logger,
    });
    this.local = new LocalServices({
      dataDir: options.config.dataDir ?? '',
      node: () => this.catalogNode(),
      catalog: this.state.catalog,
      write: async (op) => {
        await this.write({ type: 'catalog', op });
      },
      // Only a member that knows a leader writes (its node must be in the configuration, or the leader would remove it again).
      ready: () => !this.membership.leaving && this.httpAddress !== '' && findMember(this.driver.raft.conf(), this.nodeId) !== undefined
        && this.knownLeader() !== '',
      antiEntropyIntervalMs: options.config.antiEntropyIntervalMs,
      logger: options.logger,
      // As Consul lists its servers: the `consul` service on each server (DNS: consul.service.consul), at the raft port.
      builtinServices: () => (options.config.server ? [{
        id: 'consul', service: 'consul', tags: [], address: '', port: Number(this.raftAddress.split(':').pop()) || 0, meta: {},
        weights: { passing: 1, warning: 1 }, enableTagOverride: false,
      }] : []),
      // scale: incremental catalog commands need protocol 2; a cluster still at 1 gets full syncs.
      incremental: () => this.state.clusterVersion() >= 2,
    });
    // A restore replaced the catalog: put this node's entry back now rather than at the next anti-entropy round.
    this.state.onRestore((index) => {
      this.logger.info({ index }, 'state restored from a snapshot archive');
      this.local.resync();
    });
  }

  /** What this node answers to each peer request (peer-requests.ts). */
  private readonly peerHandlers: PeerHandlers = {
    info: async () => this.info(),
    propose: async (command) => {
      if (this.driver.raft.role !== Role.Leader) throw new NotLeaderError(this.driver.raft.leader);
      return this.batcher.propose(command);
    },
    // ---- coord: a renewal resets the leader's TTL timer
    'session-renew': ({ id }) => this.forwarder.onLeader('session-renew', { id }, async () => ({ session: (await this.coord.renewOnLeader(id)) ?? null })),
    // Membership requests may reach any member: pass them on to the leader.
    join: (info, from: { nodeId: string; address: string; version?: number; role?: 'server' | 'client' }) => {
      // sec: with mutual TLS, a client certificate joins only itself, and only as a client; servers
      // (which forward joins to the leader) may add any node.
      if (from.role === 'client' && (info.server || info.id !== from.nodeId)) {
        return Promise.reject(new KonsulError('KONSUL_ERR_PERMISSION_DENIED', `node '${from.nodeId}' holds a client certificate: it may join only itself, as a client`, 'forbidden'));
      }
      // ---- ops: a node that cannot speak the cluster's protocol version could never exchange a Raft message with it.
      refuseOlderJoiner(info.id, from.version, this.state.clusterVersion());
      return this.forwarder.onLeader('join', info, () => this.membership.joinOnLeader(info));
    },
    remove: ({ id }) => this.forwarder.onLeader('remove', { id }, async () => {
      await this.membership.removeOnLeader(id);
      return { ok: true };
    }),
    transfer: ({ id }) => this.forwarder.onLeader('transfer', { id }, async () => ({ leader: await this.membership.transferOnLeader(id) })),
    // ---- scale: client agents' requests, answered by clients.ts
    'relay-pull': (request, from) => this.clients.handlers['relay-pull'](request, from),
    'relay-snapshot': (request, from) => this.clients.handlers['relay-snapshot'](request, from),
    'relay-report': (request, from) => this.clients.handlers['relay-report'](request, from),
    'relay-hello': (request, from) => this.clients.handlers['relay-hello'](request, from),
    'client-join': (request, from) => this.clients.handlers['client-join'](request, from),
    'client-propose': (request, from) => this.clients.handlers['client-propose'](request, from),
    'client-read-index': (request, from) => this.clients.handlers['client-read-index'](request, from),
  };

  /** Start the parts in order (the driver first: the others act through it); undo them in reverse on failure. */
  async start(): Promise<void> {
    await this.driver.start();
    this.local.start();
    this.clients.start();
    this.autopilot.start();
  }

  async stop(): Promise<void> {
    this.coord.stop();
    this.autopilot.stop();
    this.clients.stop();
    this.local.stop();
    await this.driver.stop();
  }

  /** This node in the catalog: its name is the node id, its address the host peers dial. */
  catalogNode(): NodeInput {
    const host = parseHostPort(this.raftAddress, 0)?.host ?? '127.0.0.1';
    return {
      id: nodeUuid(this.nodeId), node: this.nodeId, address: host, datacenter: this.cfg.datacenter,
      taggedAddresses: { lan: host, wan: host }, meta: { ...this.cfg.nodeMeta },
    };
  }

  setDnsAddress(address: string): void {
    this.dnsAddress = address;
  }

  self(): AgentSelf {
    return {
      nodeId: this.nodeId,
      nodeUuid: nodeUuid(this.nodeId),
      datacenter: this.cfg.datacenter,
      server: this.cfg.server,
      raftAddress: this.raftAddress,
      httpAddress: this.httpAddress,
      dnsAddress: this.dnsAddress,
      domain: this.cfg.dns.domain,
      version: packageVersion(),
      protocolVersion: PROTOCOL_VERSION,
      nodeHealthTimeoutMs: this.cfg.nodeHealthTimeoutMs,
      scriptChecksEnabled: this.cfg.enableScriptChecks,
    };
  }

  /** The HTTP address other agents and tools should use for this one (set once HTTP listens). */
  setHttpAddress(address: string): void {
    this.httpAddress = address;
  }

  get raftAddress(): string {
    return this.driver.advertise;
  }

  info(): NodeInfo {
    return { id: this.nodeId, raftAddress: this.raftAddress, httpAddress: this.httpAddress, server: this.cfg.server };
  }

  private exit(reason: string, code: number): void {
    if (this.exited) return;
    this.exited = true;
    this.onExit?.(reason, code);
  }

  // ------------------------------------------------------------ writes

  private async write(cmd: Command): Promise<boolean> {
    return (await this.proposeCommand(cmd)).result !== false;
  }

  private async proposeCommand(cmd: Command): Promise<ProposalResult> {
    const bytes = encodeCommand(cmd);
    const r = await this.forwarder.onLeader('propose', bytes, () => this.batcher.propose(bytes));
    // Read-your-writes on this agent: answer once applied here too.
    if (this.unsafe !== 'ack-before-commit') await this.driver.waitApplied(r.index);
    return r;
  }

  kvPut(key: string, value: Uint8Array, options: KvPutOptions = {}): Promise<boolean> {
    return this.write({ type: 'kv-set', key, value, flags: options.flags ?? 0, cas: options.cas });
  }

  kvDelete(key: string, options: KvDeleteOptions = {}): Promise<boolean> {
    return this.write({ type: 'kv-delete', key, recurse: options.recurse, cas: options.cas });
  }

  async fireEvent(event: UserEvent): Promise<void> {
    await this.write({ type: 'event-fire', event });
  }

  catalogWrite(op: CatalogOp): Promise<boolean> {
    return this.write({ type: 'catalog', op });
  }

  // sec
  aclApply(op: AclOp): Promise<boolean> {
    return this.write({ type: 'acl', op });
  }

  // api branch (issue 18)
  async preparedQueryApply(op: PreparedQueryOp): Promise<void> {
    const r = await this.proposeCommand({ type: 'prepared-query', op });
    if (r.result === false) throw new BadRequestError(this.state.queries.outcome(r.index) ?? 'the prepared query was refused');
  }

  // ---- ops2: autopilot
  autopilotHealth(): HealthReport | undefined {
    return this.autopilot.health();
  }

  autopilotConfig(): AutopilotConfigRecord {
    return effectiveAutopilotConfig(this.ctx);
  }

  setAutopilotConfig(config: AutopilotConfig, cas?: number): Promise<boolean> {
    return this.write(cas === undefined ? { type: 'autopilot-config', config } : { type: 'autopilot-config', config, cas });
  }

  // ------------------------------------------------------------ reads

  async barrier(consistency: Consistency): Promise<ReadMeta> {
    if (consistency === 'default' && this.unsafe === 'stale-default-reads') return this.readMeta();
    if (consistency !== 'stale') await this.driver.readBarrier(consistency === 'default');
    return this.readMeta();
  }

  private readMeta(): ReadMeta {
    const contact = this.driver.lastContactMs();
    return { knownLeader: this.knownLeader() !== '', lastContactMs: contact < 0 ? 0 : contact };
  }

  /**
   * The leader this node believes in, or '' when it has none or has not heard
   * from it for two election timeouts (a non-voter never campaigns, so its
   * core keeps the last leader it saw).
   */
  knownLeader(): string {
    const raft = this.driver.raft;
    if (raft.role === Role.Leader) return raft.leader;
    const contact = this.driver.lastContactMs();
    if (raft.leader === '' || contact < 0 || contact > 2 * this.cfg.electionTimeoutMs) return '';
    return raft.leader;
  }

  // ------------------------------------------------------------ membership (membership.ts)

  join(request: { id: string; raftAddress: string; httpAddress?: string; server: boolean }): Promise<ClusterStatus> {
    return this.membership.join(request);
  }

  /** Ask the members at `addresses` (any of them) to let this node in. Resolves with the cluster's status. */
  joinVia(addresses: string[]): Promise<ClusterStatus> {
    return this.membership.joinVia(addresses);
  }

  removeMember(id: string): Promise<void> {
    return this.membership.removeMember(id);
  }

  transferLeader(id?: string): Promise<string> {
    return this.membership.transferLeader(id);
  }

  // ------------------------------------------------------------ views (status.ts, archives.ts)

  status(): ClusterStatus {
    return clusterStatus(this.ctx, this.httpAddress);
  }

  stats(): ClusterStats {
    return {
      ...clusterStats(this.ctx, this.status(), this.startedAt), batching: { enabled: this.batcher.enabled, ...this.batcher.counters },
      relaying: this.clients.relay.relay.stats(),
    };
  }

  snapshot(): Promise<{ index: number; term: number }> {
    return this.driver.takeSnapshot({ trailing: 0 });
  }

  async snapshotArchive(consistency: Consistency): Promise<SnapshotArchiveStream> {
    // The leader's read index (unless stale): the image holds every write acknowledged before the request.
    await this.barrier(consistency);
    return openArchive(this.ctx, this.storage);
  }

  restoreArchive(state: Buffer): Promise<{ index: number }> {
    return restoreArchive(this.ctx, state);
  }

  metrics(): Promise<string> {
    return this.metricsRegistry.text();
  }

  get metricsContentType(): string {
    return this.metricsRegistry.contentType;
  }
}
