// What the HTTP and DNS layers may ask of a running agent: reads at a chosen
// consistency, writes (forwarded to the leader when this node is not it), and
// the cluster's state. Nothing here exposes Raft internals.

import type { AclOp } from '../state/acl.js';
import type { AutopilotConfig, AutopilotConfigRecord } from '../state/autopilot-config.js';
import type { HealthReport } from './server-health.js';
import type { ArchiveHeader } from '../state/archive.js';
import type { CatalogOp, HealthStatus, PreparedQueryOp, StateMachine, UserEvent } from '../state/index.js';
import type { CheckDefinition, ServiceDefinition } from './local/definitions.js';
import type { CoordinationService } from './sessions.js';

/** `default`: the leader answers under its lease; `consistent`: ReadIndex; `stale`: this agent's replica as it is. */
export type Consistency = 'default' | 'consistent' | 'stale';

/** Facts for the X-Consul-KnownLeader and X-Consul-LastContact headers. */
export interface ReadMeta {
  knownLeader: boolean;
  /** Milliseconds since this agent last heard from the leader; 0 on the leader itself. */
  lastContactMs: number;
}

export type MemberRole = 'leader' | 'follower' | 'candidate' | 'pre-candidate' | 'learner' | 'client';

export interface MemberStatus {
  id: string;
  /** Raft (peer transport) address, host:port. */
  raftAddress: string;
  /** HTTP address of that agent, host:port, when it has registered one. */
  httpAddress: string;
  voter: boolean;
  leader: boolean;
  /** Only known on the leader: is the member answering, its replicated index, ms since it was heard. */
  healthy?: boolean;
  matchIndex?: number;
  lastContactMs?: number;
  /** The protocol version this node and that member speak to each other (the last handshake's); absent when unknown. */
  protocolVersion?: number;
}

export interface ClusterStatus {
  nodeId: string;
  role: MemberRole;
  term: number;
  leader: { id: string; raftAddress: string; httpAddress: string } | null;
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  snapshotIndex: number;
  members: MemberStatus[];
  /** The leader knows a quorum of voters is answering (false when this node cannot tell). */
  quorum: boolean;
  /** Protocol versions: the one the cluster runs at (replicated), and the range this node speaks. */
  protocol?: { cluster: number; min: number; max: number };
}

export interface ClusterStats {
  nodeId: string;
  role: MemberRole;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  snapshotIndex: number;
  leaderChanges: number;
  proposals: { committed: number; failed: number; forwarded: number };
  /** Same-turn batching of single KV writes on the leader: log entries proposed and the writes they carried. */
  batching?: { enabled: boolean; entries: number; writes: number };
  transport: unknown;
  storage: unknown;
  uptimeSeconds: number;
  /** scale: a client agent's feed (its relay, what it applied, what it relays). */
  client?: unknown;
  /** scale: a server's relay: the client agents it feeds now and its counters. */
  relaying?: unknown;
}

export interface SnapshotArchiveStream {
  header: ArchiveHeader;
  chunks: AsyncIterable<Buffer>;
  close(): void;
}

export interface KvPutOptions { flags?: number | bigint; cas?: number }
export interface KvDeleteOptions { recurse?: boolean; cas?: number }

/** What /v1/agent/self reports. */
export interface AgentSelf {
  nodeId: string;
  nodeUuid: string;
  datacenter: string;
  server: boolean;
  raftAddress: string;
  httpAddress: string;
  dnsAddress: string;
  domain: string;
  version: string;
  protocolVersion: number;
  nodeHealthTimeoutMs: number;
  /** Whether services registered over HTTP may carry script checks. */
  scriptChecksEnabled: boolean;
}

/** This agent's own services and checks (the /v1/agent/service and /v1/agent/check endpoints). */
export interface LocalServicesApi {
  /** Resolves once the catalog has it, or once a sync failed (it is retried; the registration is kept). */
  registerService(service: ServiceDefinition, checks: CheckDefinition[]): Promise<void>;
  deregisterService(id: string): Promise<boolean>;
  registerCheck(check: CheckDefinition): Promise<void>;
  deregisterCheck(id: string): Promise<boolean>;
  /** 404 for an unknown check, 400 for one that is not a TTL check. */
  updateTtl(id: string, status: HealthStatus, output?: string): Promise<void>;
  listServices(): ServiceDefinition[];
  service(id: string): ServiceDefinition | undefined;
  listChecks(): Array<{ definition: CheckDefinition; status: HealthStatus; output: string }>;
  /** Maintenance mode for the node (serviceId '') or one service; false for an unknown service. */
  setMaintenance(serviceId: string, enable: boolean, reason: string): Promise<boolean>;
}

export interface AgentApi {
  readonly nodeId: string;
  /** The local replica: read it after `barrier()` resolved. */
  readonly state: StateMachine;
  /**
   * Wait until this agent may serve a read at `consistency` from its replica.
   * On a follower, `default` and `consistent` ask the leader for a read index
   * and wait until applied up to it. Rejects with NotLeaderError (503) when no
   * leader is known (except for `stale`, which never waits).
   */
  barrier(consistency: Consistency): Promise<ReadMeta>;
  /** Propose through Raft (forwarded to the leader from any node); resolves once applied here. false = cas failed. */
  kvPut(key: string, value: Uint8Array, options?: KvPutOptions): Promise<boolean>;
  kvDelete(key: string, options?: KvDeleteOptions): Promise<boolean>;
  /** A user event through Raft to every agent (PUT /v1/event/fire). */
  fireEvent(event: UserEvent): Promise<void>;
  /** A catalog operation through Raft (PUT /v1/catalog/register|deregister); false when it changed nothing. */
  catalogWrite(op: CatalogOp): Promise<boolean>;
  status(): ClusterStatus;
  stats(): ClusterStats;
  /** Add a member (as a non-voter; servers are promoted once caught up). Any node forwards to the leader. */
  join(request: { id: string; raftAddress: string; httpAddress?: string; server: boolean }): Promise<ClusterStatus>;
  /** Remove a member from the configuration (itself when id is this node). */
  removeMember(id: string): Promise<void>;
  /** Hand leadership to `id`, or to the most caught-up voter when omitted. Resolves with the new leader's id. */
  transferLeader(id?: string): Promise<string>;
  /** Take a snapshot now: compact the log up to the applied index. */
  snapshot(): Promise<{ index: number; term: number }>;
  /**
   * A point-in-time archive of the whole replicated state (GET /v1/snapshot),
   * taken after barrier(consistency). Iterate `chunks` to the end, or close().
   */
  snapshotArchive(consistency: Consistency): Promise<SnapshotArchiveStream>;
  /**
   * Replace the KV store and the catalog with a snapshot's state through Raft
   * (PUT /v1/snapshot); this cluster's members stay. `state` is a checked
   * archive's body. Resolves once applied here, with the restore's index.
   */
  restoreArchive(state: Buffer): Promise<{ index: number }>;
  /** The prom-client registry's text (the agent owns the registry). */
  metrics(): Promise<string>;
  readonly metricsContentType: string;
  readonly local: LocalServicesApi;
  self(): AgentSelf;
  /** Sessions, locks and transactions (coord). */
  readonly coord: CoordinationService;
  /** sec: an ACL token or policy change through Raft; resolves once applied here. false: the state machine refused it. */
  aclApply(op: AclOp): Promise<boolean>;
  /** api: a prepared query create, update or delete through Raft; a 400 naming why when the state machine refused it. */
  preparedQueryApply(op: PreparedQueryOp): Promise<void>;
  // ---- ops2: autopilot
  /** The servers' health as this node sees them as the leader; undefined on any other node (ask the leader). */
  autopilotHealth(): HealthReport | undefined;
  /** The autopilot configuration in force: the replicated one, or this agent's defaults (indexes 0) before one was set. */
  autopilotConfig(): AutopilotConfigRecord;
  /** Replace it through Raft (any node forwards); with cas, only if its ModifyIndex is cas. false: the cas failed. */
  setAutopilotConfig(config: AutopilotConfig, cas?: number): Promise<boolean>;
}
