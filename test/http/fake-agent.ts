// A test AgentApi over a REAL StateMachine on a real LMDB store in a temp dir:
// writes are encoded and applied directly (no Raft), membership is a list, and
// every call is recorded so tests can check what the HTTP layer asked for.

import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  AgentApi, AgentSelf, ClusterStats, ClusterStatus, Consistency, KvDeleteOptions, KvPutOptions, MemberStatus, ReadMeta,
  SnapshotArchiveStream,
} from '../../src/agent/api.js';
import { KonsulError } from '../../src/errors.js';
import { ConfChangeError } from '../../src/raft/index.js';
import { writeArchive } from '../../src/state/archive.js';
import { restoreProblem } from '../../src/state/machine.js';
import { STATE_TABLES, StateMachine, encodeCommand, type CatalogOp, type Command, type PreparedQueryOp, type UserEvent } from '../../src/state/index.js';
import { BadRequestError } from '../../src/errors.js';
import { CoordinationService } from '../../src/agent/sessions.js';
import { LocalServices } from '../../src/agent/services.js';
import { LmdbStateStore } from '../../src/storage/index.js';
import type { AclOp } from '../../src/state/acl.js';
import type { AutopilotConfig, AutopilotConfigRecord } from '../../src/state/index.js';
import { defaultAutopilotConfig, failureTolerance, type HealthReport, type ServerHealth } from '../../src/agent/server-health.js';
import type { AgentConfig } from '../../src/agent/config.js';

export interface WaitCall {
  prefix: string;
  afterIndex: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

/** Emits 'wait' (WaitCall) when the HTTP layer starts a blocking wait on the state machine. */
export class FakeAgent extends EventEmitter implements AgentApi {
  readonly nodeId = 'n1';
  readonly state: StateMachine;
  readonly metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';
  scriptChecksEnabled = false;
  /** When set, barrier() rejects with it (a follower without a leader, say). */
  barrierError: Error | undefined;
  readonly barrierCalls: Consistency[] = [];
  readonly putCalls: Array<{ key: string; value: Buffer; options: KvPutOptions }> = [];
  readonly deleteCalls: Array<{ key: string; options: KvDeleteOptions }> = [];
  readonly joinCalls: Array<Parameters<AgentApi['join']>[0]> = [];
  readonly removed: string[] = [];
  readonly waits: WaitCall[] = [];
  members: MemberStatus[] = [
    { id: 'n1', raftAddress: '127.0.0.1:7001', httpAddress: '127.0.0.1:8501', voter: true, leader: true },
    { id: 'n2', raftAddress: '127.0.0.1:7002', httpAddress: '127.0.0.1:8502', voter: true, leader: false },
    { id: 'c1', raftAddress: '127.0.0.1:7003', httpAddress: '', voter: false, leader: false },
  ];
  /** The real local-services manager, writing its catalog syncs straight into the state machine. */
  readonly local: LocalServices;
  /** The real coordination service, proposing straight into the state machine as a one-node leader. */
  readonly coord: CoordinationService;
  private readonly store: LmdbStateStore;
  private readonly dir: string;
  private index: number;

  constructor() {
    super();
    this.dir = mkdtempSync(join(tmpdir(), 'konsul-http-'));
    this.store = LmdbStateStore.open(this.dir, { tables: STATE_TABLES, mapSize: 64 * 1024 * 1024 });
    this.state = new StateMachine(this.store);
    this.index = this.state.appliedIndex();
    const waitKv = this.state.waitKv.bind(this.state);
    this.state.waitKv = (prefix, afterIndex, timeoutMs, signal) => {
      const pending = waitKv(prefix, afterIndex, timeoutMs, signal);
      const call: WaitCall = { prefix, afterIndex, timeoutMs, signal };
      this.waits.push(call);
      this.emit('wait', call);
      return pending;
    };
    this.local = new LocalServices({
      dataDir: this.dir,
      node: () => ({ id: '5f0c5f57-0000-5000-8000-000000000001', node: 'n1', address: '127.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} }),
      catalog: this.state.catalog,
      write: async (op) => {
        this.apply({ type: 'catalog', op });
      },
      ready: () => true,
      antiEntropyIntervalMs: 60_000,
      logger: { debug() {}, info() {}, warn() {}, error() {} } as never,
    });
    this.local.start();
    this.coord = new CoordinationService({
      nodeId: this.nodeId,
      state: this.state,
      propose: async (command) => {
        const index = ++this.index;
        const [result] = this.state.apply([{ index, command: encodeCommand(command) }]);
        return { result, index };
      },
      barrier: (consistency) => this.barrier(consistency),
      renewOnLeader: (_id, local) => local(),
      isLeader: () => true,
      logger: { info() {}, warn() {} },
    });
    this.coord.leadershipChanged(true);
  }

  self(): AgentSelf {
    return {
      nodeId: 'n1', nodeUuid: '5f0c5f57-0000-5000-8000-000000000001', datacenter: 'dc1', server: true,
      raftAddress: '127.0.0.1:7001', httpAddress: '127.0.0.1:8501', dnsAddress: '127.0.0.1:8601', domain: 'consul.',
      version: '0.0.0-test', protocolVersion: 1, nodeHealthTimeoutMs: 2000,
      scriptChecksEnabled: this.scriptChecksEnabled,
    };
  }

  /** Apply one command as the next log entry, as the agent does once it is committed. */
  apply(command: Command): boolean {
    const [result] = this.state.apply([{ index: ++this.index, command: encodeCommand(command) }]);
    return result !== false;
  }

  async barrier(consistency: Consistency): Promise<ReadMeta> {
    this.barrierCalls.push(consistency);
    if (this.barrierError) throw this.barrierError;
    return { knownLeader: true, lastContactMs: 0 };
  }

  async aclApply(op: AclOp): Promise<boolean> {
    return this.apply({ type: 'acl', op });
  }

  async preparedQueryApply(op: PreparedQueryOp): Promise<void> {
    const index = this.index + 1;
    if (!this.apply({ type: 'prepared-query', op })) throw new BadRequestError(this.state.queries.outcome(index) ?? 'refused');
  }

  // ---- ops2: autopilot, from the members list (healthy unless a test set healthy: false)
  autopilotHealth(): HealthReport | undefined {
    const config = this.autopilotConfig();
    const servers: ServerHealth[] = this.members.filter((m) => m.voter).map((m) => ({
      id: m.id, address: m.raftAddress, voter: m.voter, leader: m.leader, healthy: m.healthy !== false, alive: m.healthy !== false,
      lastContactMs: m.lastContactMs ?? 0, lastTerm: 1, lastIndex: m.matchIndex ?? 0, stableSince: m.healthy === false ? undefined : 0, zone: '',
    }));
    return { healthy: servers.every((s) => s.healthy), failureTolerance: failureTolerance(servers), leader: this.nodeId, servers, config };
  }

  autopilotConfig(): AutopilotConfigRecord {
    return this.state.autopilotConfig() ?? {
      ...defaultAutopilotConfig({ electionTimeoutMs: 300, stabilizationMs: 5000 } as AgentConfig), createIndex: 0, modifyIndex: 0,
    };
  }

  async setAutopilotConfig(config: AutopilotConfig, cas?: number): Promise<boolean> {
    return this.apply(cas === undefined ? { type: 'autopilot-config', config } : { type: 'autopilot-config', config, cas });
  }

  async kvPut(key: string, value: Uint8Array, options: KvPutOptions = {}): Promise<boolean> {
    this.putCalls.push({ key, value: Buffer.from(value), options });
    return this.apply({ type: 'kv-set', key, value, flags: options.flags ?? 0, cas: options.cas });
  }

  async fireEvent(event: UserEvent): Promise<void> {
    this.apply({ type: 'event-fire', event });
  }

  async catalogWrite(op: CatalogOp): Promise<boolean> {
    return this.apply({ type: 'catalog', op });
  }

  async kvDelete(key: string, options: KvDeleteOptions = {}): Promise<boolean> {
    this.deleteCalls.push({ key, options });
    return this.apply({ type: 'kv-delete', key, recurse: options.recurse, cas: options.cas });
  }

  status(): ClusterStatus {
    const leader = this.members.find((m) => m.leader);
    const applied = this.state.appliedIndex();
    return {
      nodeId: this.nodeId,
      role: leader?.id === this.nodeId ? 'leader' : 'follower',
      term: 3,
      leader: leader ? { id: leader.id, raftAddress: leader.raftAddress, httpAddress: leader.httpAddress } : null,
      commitIndex: applied,
      appliedIndex: applied,
      lastLogIndex: applied,
      snapshotIndex: 0,
      members: this.members.map((m) => ({ ...m })),
      quorum: leader !== undefined,
    };
  }

  stats(): ClusterStats {
    const applied = this.state.appliedIndex();
    return {
      nodeId: this.nodeId, role: 'leader', term: 3, commitIndex: applied, appliedIndex: applied, lastLogIndex: applied,
      snapshotIndex: 0, leaderChanges: 1, proposals: { committed: this.putCalls.length, failed: 0, forwarded: 0 },
      transport: { peers: 2 }, storage: { engine: 'lmdb' }, uptimeSeconds: 12,
    };
  }

  async join(request: Parameters<AgentApi['join']>[0]): Promise<ClusterStatus> {
    this.joinCalls.push(request);
    this.members.push({ id: request.id, raftAddress: request.raftAddress, httpAddress: request.httpAddress ?? '', voter: false, leader: false });
    return this.status();
  }

  async removeMember(id: string): Promise<void> {
    if (!this.members.some((m) => m.id === id)) throw new ConfChangeError(`"${id}" is not a member`);
    this.removed.push(id);
    this.members = this.members.filter((m) => m.id !== id);
  }

  async transferLeader(id?: string): Promise<string> {
    const target = id ?? this.members.find((m) => m.voter && !m.leader)?.id;
    const member = this.members.find((m) => m.id === target);
    if (!member || !member.voter) throw new ConfChangeError(`cannot hand leadership to "${String(target)}"`);
    for (const m of this.members) m.leader = m.id === member.id;
    return member.id;
  }

  async snapshot(): Promise<{ index: number; term: number }> {
    return { index: this.state.appliedIndex(), term: 3 };
  }

  readonly restoreCalls: number[] = [];

  async snapshotArchive(consistency: Consistency): Promise<SnapshotArchiveStream> {
    await this.barrier(consistency);
    const image = this.store.snapshot({ chunkBytes: 4096 });
    const header = { index: image.appliedIndex, term: 3, createdAt: new Date().toISOString(), nodeId: 'n1', datacenter: 'dc1' };
    return { header, chunks: writeArchive(header, image), close: () => image.close() };
  }

  async restoreArchive(state: Buffer): Promise<{ index: number }> {
    const problem = restoreProblem(state);
    if (problem) throw new KonsulError('KONSUL_ERR_BAD_SNAPSHOT', `the snapshot cannot be restored: ${problem}`, 'invalid');
    if (!this.apply({ type: 'restore', state })) throw new KonsulError('KONSUL_ERR_SNAPSHOT', 'refused', 'internal');
    this.restoreCalls.push(this.index);
    return { index: this.index };
  }

  async metrics(): Promise<string> {
    return '# HELP konsul_test_total A test counter.\n# TYPE konsul_test_total counter\nkonsul_test_total 7\n';
  }

  async close(): Promise<void> {
    this.local.stop();
    this.coord.stop();
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
