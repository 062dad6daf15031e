// The agent: one node's Raft driver, state machine and peer requests behind the
// AgentApi that HTTP serves. Writes and membership changes made on any node go
// to the leader (proxied over the peer transport); a leader-side loop promotes
// caught-up servers and removes members that stayed dead too long.

import { unsafeForTests } from './unsafe.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { KonsulError, NotLeaderError } from '../errors.js';
import { ConfChangeType, ProgressState, Role, findMember, isVoter, type NodeId } from '../raft/index.js';
import {
  NODE_ALIVE_OUTPUT, NODE_DEAD_OUTPUT, NODE_HEALTH_CHECK_ID, encodeCommand,
  type CatalogOp, type Command, type NodeInput, type StateMachine,
} from '../state/index.js';
import { raftDir, type NodeStorage } from '../storage/index.js';
import { PROTOCOL_VERSION, type TransportLogger } from '../transport/index.js';
import { packageVersion } from '../cli/version.js';
import type {
  AgentApi, AgentSelf, ClusterStats, ClusterStatus, Consistency, KvDeleteOptions, KvPutOptions, MemberRole, MemberStatus, ReadMeta, SnapshotArchiveStream,
} from './api.js';
import { parseHostPort, type AgentConfig } from './config.js';
import { RaftDriver, type ProposalResult } from './driver.js';
import { AgentMetrics } from './metrics.js';
import { LocalServices } from './services.js';
import { writeArchive, type ArchiveHeader } from '../state/archive.js';
import { restoreProblem } from '../state/machine.js';
import { CLIENT_PROPOSE, ServerRelay } from '../relay/server-relay.js';

/** What a node says about itself when asked, and what it sends when it joins. */
export interface NodeInfo {
  id: string;
  raftAddress: string;
  httpAddress: string;
  server: boolean;
}

// Errors that guarantee the request did not run, so sending it again (perhaps elsewhere) is safe.
const RETRYABLE = new Set(['KONSUL_ERR_NOT_LEADER', 'KONSUL_ERR_PROPOSAL_DROPPED', 'KONSUL_ERR_PEER_UNREACHABLE']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function parseJson<T>(body: Buffer, what: string): T {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new KonsulError('KONSUL_ERR_BAD_REQUEST', `malformed ${what} request`, 400);
  }
}

function encodeResult(r: ProposalResult): Buffer {
  const out = Buffer.alloc(9);
  out[0] = r.result === undefined ? 2 : r.result ? 1 : 0;
  out.writeDoubleBE(r.index, 1);
  return out;
}

function decodeResult(b: Buffer): ProposalResult {
  if (b.length !== 9) throw new KonsulError('KONSUL_ERR_BAD_RESPONSE', 'malformed answer from the leader', 502);
  return { result: b[0] === 2 ? undefined : b[0] === 1, index: b.readDoubleBE(1) };
}

export interface AgentOptions {
  config: AgentConfig;
  storage: NodeStorage;
  state: StateMachine;
  logger: TransportLogger;
  /** Called once when this agent must stop: it left, was removed, or its storage failed. */
  onExit?: (reason: string, code: number) => void;
}

export { nodeUuid } from './node-uuid.js';
import { nodeUuid } from './node-uuid.js';

export class Agent implements AgentApi {
  readonly nodeId: string;
  readonly state: StateMachine;
  readonly driver: RaftDriver;
  readonly metricsRegistry: AgentMetrics;
  /** This agent's own services and checks, kept in the catalog by anti-entropy. */
  readonly local: LocalServices;
  /** scale: feeds client agents the committed log and tracks their liveness (src/relay). */
  readonly clients: ServerRelay;
  private dnsAddress = '';
  private readonly cfg: AgentConfig;
  private readonly logger: TransportLogger;
  private readonly onExit: AgentOptions['onExit'];
  private readonly startedAt = Date.now();
  private httpAddress = '';
  private autopilotTimer: NodeJS.Timeout | undefined;
  private readonly healthySince = new Map<NodeId, number>();
  /** scale: since when (leader's clock) each client has counted as dead. */
  private readonly clientDeadSince = new Map<string, number>();
  private leaderSince = 0;
  private autopilotBusy = false;
  private registering = false;
  private leaderWaiters: Array<() => void> = [];
  private leaving = false;
  private exited = false;
  /** TEST ONLY: see unsafe.ts. */
  private readonly unsafe = unsafeForTests();

  private readonly storage: NodeStorage;

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
          if (this.leaving) return;
          this.logger.warn({ member: this.nodeId }, 'this node was removed from the cluster configuration; stopping');
          this.exit('removed from the cluster', 0);
        },
        leaderChanged: (leader) => {
          if (leader === this.nodeId) {
            this.leaderSince = performance.now();
            this.clients.tracker.clear();
          }
          const waiters = this.leaderWaiters;
          this.leaderWaiters = [];
          for (const w of waiters) w();
        },
        fatal: (error) => this.exit(`storage failed: ${error.message}`, 1),
        request: (method, body, from) => this.handleRequest(method, body, from),
      },
    });
    this.local = new LocalServices({
      dataDir: options.config.dataDir ?? '',
      node: () => this.catalogNode(),
      catalog: this.state.catalog,
      write: async (op) => {
        await this.write({ type: 'catalog', op });
      },
      // Only a member that knows a leader writes (its node must be in the configuration, or the leader would remove it again).
      ready: () => !this.leaving && this.httpAddress !== '' && findMember(this.driver.raft.conf(), this.nodeId) !== undefined
        && this.knownLeader() !== '',
      antiEntropyIntervalMs: options.config.antiEntropyIntervalMs,
      logger: options.logger,
    });
    this.clients = new ServerRelay({
      selfId: this.nodeId,
      raft: () => this.driver.raft,
      state: this.state,
      snapshot: () => this.storage.state.snapshot(),
      fanout: options.config.relayFanout,
      silenceMs: options.config.relaySilenceMs,
      // A relay's clients move within a few pulls; a loaded machine must not flap them all critical meanwhile.
      graceMs: Math.max(5000, options.config.nodeHealthTimeoutMs),
      logger: options.logger,
      addressOf: (id) => (id === this.nodeId ? this.raftAddress : undefined) ?? findMember(this.driver.raft.conf(), id)?.address
        ?? this.state.member(id)?.raftAddress ?? this.driver.addressBook.get(id),
      recentlyHeard: (id) => performance.now() - (this.driver.lastHeard.get(id) ?? 0) < this.cfg.nodeHealthTimeoutMs,
      onLeader: (method, body) => this.onLeader(method, body, () => this.clients.handle(method, body)!, (b) => b),
      request: (nodeId, method, body, timeoutMs) => this.driver.transport.request({ nodeId }, method, body, timeoutMs),
      leaderHandlers: {
        join: (info) => this.clientJoinOnLeader(info),
        propose: async (body) => encodeResult(await this.driver.propose(body)),
        readIndex: async (consistent) => {
          await this.driver.readBarrier(!consistent);
          return this.state.appliedIndex();
        },
      },
    });
    // A restore replaced the catalog: put this node's entry back now rather than at the next anti-entropy round.
    this.state.onRestore((index) => {
      this.logger.info({ index }, 'state restored from a snapshot archive');
      this.local.resync();
    });
  }

  async start(): Promise<void> {
    await this.driver.start();
    this.local.start();
    this.clients.start();
    this.autopilotTimer = setInterval(() => void this.autopilot(), 250);
  }

  /** This node in the catalog: its name is the node id, its address the host peers dial. */
  catalogNode(): NodeInput {
    const host = parseHostPort(this.raftAddress, 0)?.host ?? '127.0.0.1';
    return {
      id: nodeUuid(this.nodeId), node: this.nodeId, address: host, datacenter: this.cfg.datacenter,
      taggedAddresses: { lan: host, wan: host }, meta: {},
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

  async stop(): Promise<void> {
    clearInterval(this.autopilotTimer);
    this.clients.stop();
    this.local.stop();
    await this.driver.stop();
  }

  private exit(reason: string, code: number): void {
    if (this.exited) return;
    this.exited = true;
    this.onExit?.(reason, code);
  }

  // ------------------------------------------------------------ leader routing

  private waitForLeader(timeoutMs: number): Promise<void> {
    if (this.driver.raft.leader !== '') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.leaderWaiters = this.leaderWaiters.filter((w) => w !== done);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.leaderWaiters.push(done);
    });
  }

  /**
   * Run `local` on the leader: here if this node leads, else by asking the
   * leader over the transport. Retries while leadership moves (errors that
   * guarantee nothing was applied), up to the proposal timeout.
   */
  private async onLeader<T>(method: string, body: Uint8Array, local: () => Promise<T>, decode: (b: Buffer) => T): Promise<T> {
    const deadline = performance.now() + this.cfg.proposalTimeoutMs;
    // Made only when needed: an Error captures a stack, a cost every write would pay.
    let lastError: Error | undefined;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0 || this.driver.isStopped) throw lastError ?? new NotLeaderError('');
      const raft = this.driver.raft;
      try {
        if (raft.role === Role.Leader) return await local();
        if (raft.leader === '') {
          await this.waitForLeader(Math.min(remaining, 2 * this.cfg.electionTimeoutMs));
          if (this.driver.raft.leader === '') lastError = new NotLeaderError('');
          continue;
        }
        this.driver.counters.forwarded++;
        const answer = await this.untilLeaderMoves(
          this.driver.transport.request({ nodeId: raft.leader }, method, body, Math.max(1, remaining)), raft.leader);
        return decode(answer);
      } catch (error) {
        const code = (error as KonsulError).code;
        // A write may have reached the old leader: its outcome is unknown, so only idempotent requests go again.
        const retry = RETRYABLE.has(code) || (code === 'KONSUL_ERR_LEADER_CHANGED' && method !== 'propose' && method !== CLIENT_PROPOSE);
        if (!retry) throw error;
        lastError = error as Error;
        await this.pauseBeforeRetry(Math.min(200, 10 * 2 ** Math.min(attempt, 4)));
      }
    }
  }

  /**
   * The backoff between attempts, cut short when a leader becomes known: a
   * write that failed against a dead leader goes to the new one as soon as it
   * is elected rather than after the rest of its backoff (up to 160 ms of a failover).
   */
  private pauseBeforeRetry(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.leaderWaiters = this.leaderWaiters.filter((w) => w !== onChange);
        resolve();
      };
      const onChange = (): void => {
        if (this.driver.raft.leader === '') this.leaderWaiters.push(onChange);
        else done();
      };
      const timer = setTimeout(done, ms);
      this.leaderWaiters.push(onChange);
    });
  }

  /**
   * The forwarded call, abandoned when another leader is elected meanwhile: a
   * leader that hangs (SIGSTOP, a partition) keeps its socket open and never answers.
   */
  private untilLeaderMoves<T>(call: Promise<T>, sentTo: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onChange = (): void => {
        const now = this.driver.raft.leader;
        if (now === sentTo || now === '') {
          this.leaderWaiters.push(onChange);
          return;
        }
        reject(new KonsulError('KONSUL_ERR_LEADER_CHANGED',
          `leadership moved from ${sentTo} to ${now} while the request was in flight; a write may or may not have been applied`, 503));
      };
      this.leaderWaiters.push(onChange);
      call.then(resolve, reject).finally(() => {
        this.leaderWaiters = this.leaderWaiters.filter((w) => w !== onChange);
      });
    });
  }

  private async handleRequest(method: string, body: Buffer, from: { nodeId: string; address: string }): Promise<Uint8Array> {
    switch (method) {
      case 'info':
        return json(this.info());
      case 'propose':
        if (this.driver.raft.role !== Role.Leader) throw new NotLeaderError(this.driver.raft.leader);
        return encodeResult(await this.driver.propose(body));
      // Membership requests may reach any member: pass them on to the leader.
      case 'join': {
        const info = parseJson<NodeInfo>(body, 'join');
        return json(await this.onLeader('join', body, () => this.joinOnLeader(info), (b) => parseJson<ClusterStatus>(b, 'join')));
      }
      case 'remove': {
        const { id } = parseJson<{ id: string }>(body, 'remove');
        await this.onLeader('remove', body, () => this.removeOnLeader(id), () => undefined);
        return json({ ok: true });
      }
      case 'transfer': {
        const { id } = parseJson<{ id?: string }>(body, 'transfer');
        return json({ leader: await this.onLeader('transfer', body, () => this.transferOnLeader(id), (b) => parseJson<{ leader: string }>(b, 'transfer').leader) });
      }
      default: {
        const forClients = this.clients.handle(method, body);
        if (forClients) return forClients;
        this.logger.warn({ method, from: from.nodeId || from.address }, 'unknown peer request');
        throw new KonsulError('KONSUL_ERR_BAD_REQUEST', `unknown request "${method}"`, 400);
      }
    }
  }

  /** scale: a client agent registers as a member record (server=false), never as a Raft member. */
  private async clientJoinOnLeader(info: { id: string; raftAddress: string; httpAddress: string }): Promise<void> {
    if (typeof info?.id !== 'string' || info.id === '' || typeof info.raftAddress !== 'string' || typeof info.httpAddress !== 'string') {
      throw new KonsulError('KONSUL_ERR_BAD_REQUEST', 'a client join needs the node id and its addresses', 400);
    }
    if (findMember(this.driver.conf(), info.id)) {
      throw new KonsulError('KONSUL_ERR_CONFLICT', `"${info.id}" is a server of this cluster; a client needs another node id`, 409);
    }
    const record = this.state.member(info.id);
    if (record?.server) throw new KonsulError('KONSUL_ERR_CONFLICT', `"${info.id}" is a server of this cluster`, 409);
    if (record && record.raftAddress === info.raftAddress && record.httpAddress === info.httpAddress) return;
    await this.driver.propose(encodeCommand({ type: 'member-set', id: info.id, raftAddress: info.raftAddress, httpAddress: info.httpAddress, server: false }));
  }

  // ------------------------------------------------------------ writes

  private async write(cmd: Command): Promise<boolean> {
    const bytes = encodeCommand(cmd);
    const r = await this.onLeader('propose', bytes, () => this.driver.propose(bytes), decodeResult);
    // Read-your-writes on this agent: answer once applied here too.
    if (this.unsafe !== 'ack-before-commit') await this.driver.waitApplied(r.index);
    return r.result !== false;
  }

  kvPut(key: string, value: Uint8Array, options: KvPutOptions = {}): Promise<boolean> {
    return this.write({ type: 'kv-set', key, value, flags: options.flags ?? 0, cas: options.cas });
  }

  kvDelete(key: string, options: KvDeleteOptions = {}): Promise<boolean> {
    return this.write({ type: 'kv-delete', key, recurse: options.recurse, cas: options.cas });
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

  // ------------------------------------------------------------ membership

  async join(request: { id: string; raftAddress: string; httpAddress?: string; server: boolean }): Promise<ClusterStatus> {
    let info: NodeInfo = { id: request.id, raftAddress: request.raftAddress, httpAddress: request.httpAddress ?? '', server: request.server };
    if (!info.id) {
      // Joined by address only: ask that node who it is.
      const answer = await this.driver.transport.request({ address: request.raftAddress }, 'info', Buffer.alloc(0), 5000);
      const theirs = parseJson<NodeInfo>(answer, 'info');
      info = { ...theirs, raftAddress: request.raftAddress, server: request.server && theirs.server };
    }
    return this.onLeader('join', json(info), () => this.joinOnLeader(info), (b) => parseJson<ClusterStatus>(b, 'join'));
  }

  /** Ask the members at `addresses` (any of them) to let this node in. Resolves with the cluster's status. */
  async joinVia(addresses: string[]): Promise<ClusterStatus> {
    let lastError: Error = new KonsulError('KONSUL_ERR_JOIN', 'no address to join', 400);
    for (const address of addresses) {
      try {
        const answer = await this.driver.transport.request({ address }, 'join', json(this.info()), this.cfg.proposalTimeoutMs + 2000);
        const status = parseJson<ClusterStatus>(answer, 'join');
        for (const m of status.members) if (m.id !== this.nodeId) this.driver.addressBook.set(m.id, m.raftAddress);
        return status;
      } catch (error) {
        lastError = error as Error;
        this.logger.warn({ address, err: (error as Error).message }, 'join attempt failed');
      }
    }
    throw lastError;
  }

  private async joinOnLeader(info: NodeInfo): Promise<ClusterStatus> {
    if (typeof info?.id !== 'string' || info.id === '' || typeof info.raftAddress !== 'string' || info.raftAddress === '') {
      throw new KonsulError('KONSUL_ERR_BAD_REQUEST', 'join needs the node id and its raft address', 400);
    }
    const conf = this.driver.conf();
    const existing = findMember(conf, info.id);
    if (existing && existing.address !== info.raftAddress) {
      throw new KonsulError('KONSUL_ERR_CONFLICT',
        `node "${info.id}" is already a member at ${existing.address}; remove it first (konsul cluster leave --node ${info.id})`, 409);
    }
    const clash = conf.members.find((m) => m.id !== info.id && m.address === info.raftAddress);
    if (clash) {
      throw new KonsulError('KONSUL_ERR_CONFLICT', `${info.raftAddress} is already the address of member "${clash.id}"`, 409);
    }
    if (!existing) {
      this.driver.addressBook.set(info.id, info.raftAddress);
      await this.confChange({ type: ConfChangeType.AddLearner, nodeId: info.id, address: info.raftAddress });
      this.healthySince.delete(info.id);
      this.logger.info({ member: info.id, address: info.raftAddress, server: info.server }, 'member added as a non-voter');
    }
    const record = this.state.member(info.id);
    if (!record || record.raftAddress !== info.raftAddress || record.httpAddress !== info.httpAddress || record.server !== info.server) {
      await this.driver.propose(encodeCommand({
        type: 'member-set', id: info.id, raftAddress: info.raftAddress, httpAddress: info.httpAddress, server: info.server,
      }));
    }
    return this.status();
  }

  /** A membership change on the leader, retried while another one is still pending. */
  private async confChange(cc: { type: ConfChangeType; nodeId: NodeId; address: string }): Promise<void> {
    const deadline = performance.now() + this.cfg.proposalTimeoutMs;
    for (;;) {
      try {
        await this.driver.proposeConfChange(cc);
        return;
      } catch (error) {
        const msg = (error as Error).message;
        const transient = (error as KonsulError).code === 'KONSUL_ERR_CONF_CHANGE' && /pending|retry shortly/.test(msg);
        if (!transient || performance.now() > deadline) throw error;
        if (this.driver.raft.role !== Role.Leader) throw new NotLeaderError(this.driver.raft.leader);
        await sleep(20);
      }
    }
  }

  async removeMember(id: string): Promise<void> {
    if (typeof id !== 'string' || id === '') throw new KonsulError('KONSUL_ERR_BAD_REQUEST', 'a node id is needed', 400);
    const self = id === this.nodeId;
    if (self) {
      this.leaving = true;
      this.local.stop();
      // Out of the catalog first, so its services stop being answered at once (best effort: the leader removes it anyway).
      try {
        await this.write({ type: 'catalog', op: { op: 'deregister-node', node: this.nodeId } });
      } catch (error) {
        this.logger.debug({ err: (error as Error).message }, 'could not deregister this node from the catalog before leaving');
      }
    }
    try {
      await this.onLeader('remove', json({ id }), () => this.removeOnLeader(id), () => undefined);
    } catch (error) {
      if (self) this.leaving = false;
      throw error;
    }
    if (self) {
      this.logger.info({ member: id }, 'left the cluster');
      // Let the HTTP answer go out before the process stops.
      setTimeout(() => this.exit('left the cluster', 0), 100);
    }
  }

  private async removeOnLeader(id: string): Promise<void> {
    const conf = this.driver.conf();
    const member = findMember(conf, id);
    if (!member) {
      if (this.state.member(id)) await this.driver.propose(encodeCommand({ type: 'member-delete', id }));
      else throw new KonsulError('KONSUL_ERR_NOT_FOUND', `no member "${id}"`, 404);
      return;
    }
    if (member.voter && conf.members.filter((m) => m.voter).length === 1) {
      throw new KonsulError('KONSUL_ERR_CONFLICT', `"${id}" is the last voter; removing it would leave no one to elect a leader`, 409);
    }
    if (this.state.member(id)) await this.driver.propose(encodeCommand({ type: 'member-delete', id }));
    await this.confChange({ type: ConfChangeType.Remove, nodeId: id, address: '' });
    this.logger.info({ member: id }, 'member removed');
  }

  async transferLeader(id?: string): Promise<string> {
    return this.onLeader('transfer', json({ id }), () => this.transferOnLeader(id), (b) => parseJson<{ leader: string }>(b, 'transfer').leader);
  }

  private async transferOnLeader(id?: string): Promise<string> {
    const raft = this.driver.raft;
    const conf = raft.conf();
    let target = id;
    if (target === undefined || target === '') {
      const now = performance.now();
      const candidates = raft.status().progress
        .filter((p) => p.voter && p.id !== this.nodeId && now - (this.driver.lastHeard.get(p.id) ?? 0) < this.cfg.electionTimeoutMs)
        .sort((a, b) => b.match - a.match);
      if (candidates.length === 0) throw new KonsulError('KONSUL_ERR_CONFLICT', 'no other healthy voter to hand leadership to', 409);
      target = candidates[0].id;
    }
    if (!findMember(conf, target)) throw new KonsulError('KONSUL_ERR_NOT_FOUND', `no member "${target}"`, 404);
    if (!isVoter(conf, target)) throw new KonsulError('KONSUL_ERR_CONFLICT', `"${target}" is not a voter`, 409);
    if (target === this.nodeId) return target;
    raft.transferLeader(target);
    this.driver.poke();
    const deadline = performance.now() + 3 * this.cfg.electionTimeoutMs;
    while (performance.now() < deadline) {
      await sleep(10);
      const leader = this.driver.raft.leader;
      if (leader !== this.nodeId && leader !== '') return leader;
    }
    if (this.driver.raft.leader === target) return target;
    throw new KonsulError('KONSUL_ERR_TIMEOUT', `leadership did not move to "${target}" within ${3 * this.cfg.electionTimeoutMs}ms`, 504);
  }

  /**
   * The leader's housekeeping: promote servers that stayed caught up and
   * healthy for the stabilization time, remove members dead longer than the
   * dead-server timeout (a voter only while the rest keep a healthy majority),
   * and make sure this node's own member record is right.
   */
  private async autopilot(): Promise<void> {
    if (this.autopilotBusy || this.driver.isStopped) return;
    this.autopilotBusy = true;
    try {
      await this.registerSelf();
      const raft = this.driver.raft;
      if (raft.role !== Role.Leader || raft.log.latestConfIndex() > raft.log.committed) return;
      const now = performance.now();
      const st = raft.status();
      const conf = st.conf;
      const heard = (id: NodeId): number => (id === this.nodeId ? now : Math.max(this.driver.lastHeard.get(id) ?? 0, this.leaderSince));
      await this.nodeHealth(now, heard);
      for (const m of conf.members) {
        if (m.voter || m.id === this.nodeId) continue;
        const record = this.state.member(m.id);
        const pr = st.progress.find((p) => p.id === m.id);
        const healthy = record?.server === true && pr !== undefined && pr.state === ProgressState.Replicate
          && pr.match + 64 >= st.commit && now - heard(m.id) < this.cfg.electionTimeoutMs;
        if (!healthy) {
          this.healthySince.delete(m.id);
          continue;
        }
        const since = this.healthySince.get(m.id) ?? now;
        this.healthySince.set(m.id, since);
        if (now - since >= this.cfg.stabilizationMs) {
          await this.confChange({ type: ConfChangeType.Promote, nodeId: m.id, address: '' });
          this.healthySince.delete(m.id);
          this.logger.info({ member: m.id }, 'server promoted to voter after staying healthy for the stabilization time');
          return;
        }
      }
      const voters = conf.members.filter((m) => m.voter);
      for (const m of conf.members) {
        if (m.id === this.nodeId || now - heard(m.id) < this.cfg.deadServerTimeoutMs) continue;
        if (m.voter) {
          const rest = voters.filter((v) => v.id !== m.id);
          const healthyRest = rest.filter((v) => now - heard(v.id) < 2 * this.cfg.electionTimeoutMs).length;
          // Only while the others are a healthy quorum of the current voters: never shrink a cluster that is failing.
          if (rest.length === 0 || healthyRest < Math.floor(voters.length / 2) + 1) continue;
        }
        this.logger.warn({ member: m.id, silentMs: Math.round(now - heard(m.id)) }, 'removing a member that stayed unreachable past the dead-server timeout');
        await this.removeOnLeader(m.id);
        return;
      }
    } catch (error) {
      this.logger.debug({ err: (error as Error).message }, 'autopilot round did not finish');
    } finally {
      this.autopilotBusy = false;
    }
  }

  /**
   * The leader's node check (Consul's serfHealth) for every node in the
   * catalog: critical once the leader has not heard from its agent for the
   * node health timeout, passing again when it has; a node that is no longer
   * a member leaves the catalog. Writes only changes.
   */
  private async nodeHealth(now: number, heard: (id: NodeId) => number): Promise<void> {
    const conf = this.driver.raft.conf();
    const catalog = this.state.catalog;
    // scale: client agents are member records (server=false) outside the configuration; relays vouch for them.
    const clientIds = new Set(this.state.members().filter((m) => !m.server && !findMember(conf, m.id)).map((m) => m.id));
    this.clients.checkRelays();
    const writes: Array<Promise<unknown>> = [];
    for (const node of catalog.nodes()) {
      let op: CatalogOp | undefined;
      if (clientIds.has(node.node)) {
        const alive = this.clients.clientAlive(node.node) ?? now - this.leaderSince < this.cfg.nodeHealthTimeoutMs;
        // A client dead past the dead-server timeout is reaped: its node and its member record go.
        if (alive) this.clientDeadSince.delete(node.node);
        else if (now - (this.clientDeadSince.get(node.node) ?? (this.clientDeadSince.set(node.node, now), now)) > this.cfg.deadServerTimeoutMs) {
          this.logger.warn({ member: node.node }, 'removing a client that stayed unreachable past the dead-server timeout');
          this.clientDeadSince.delete(node.node);
          this.clients.tracker.forget(node.node);
          writes.push(this.driver.propose(encodeCommand({ type: 'catalog', op: { op: 'deregister-node', node: node.node } })));
          writes.push(this.driver.propose(encodeCommand({ type: 'member-delete', id: node.node })));
          continue;
        }
        const status = alive ? 'passing' : 'critical';
        const current = catalog.nodeChecks(node.node).find((c) => c.checkId === NODE_HEALTH_CHECK_ID);
        if (current?.status === status) continue;
        op = { op: 'node-health', node: node.node, status, output: alive ? NODE_ALIVE_OUTPUT : NODE_DEAD_OUTPUT };
        if (current) this.logger.info({ member: node.node, status }, 'client node health changed');
      } else if (!findMember(conf, node.node)) {
        op = { op: 'deregister-node', node: node.node };
        this.logger.info({ member: node.node }, 'removing a node that is no longer a member from the catalog');
      } else {
        const alive = node.node === this.nodeId || now - heard(node.node) < this.cfg.nodeHealthTimeoutMs;
        const status = alive ? 'passing' : 'critical';
        const current = catalog.nodeChecks(node.node).find((c) => c.checkId === NODE_HEALTH_CHECK_ID);
        if (current?.status === status) continue;
        op = { op: 'node-health', node: node.node, status, output: alive ? NODE_ALIVE_OUTPUT : NODE_DEAD_OUTPUT };
        if (current) this.logger.info({ member: node.node, status }, 'node health changed');
      }
      // scale: every change of a round at once (one group commit), not one commit after another.
      writes.push(this.driver.propose(encodeCommand({ type: 'catalog', op })));
    }
    // A client that died before its node reached the catalog is reaped from the member records alike.
    for (const id of clientIds) {
      if (catalog.node(id)) continue;
      const alive = this.clients.clientAlive(id) ?? now - this.leaderSince < this.cfg.nodeHealthTimeoutMs;
      if (alive) this.clientDeadSince.delete(id);
      else if (now - (this.clientDeadSince.get(id) ?? (this.clientDeadSince.set(id, now), now)) > this.cfg.deadServerTimeoutMs) {
        this.logger.warn({ member: id }, 'removing a client that stayed unreachable past the dead-server timeout');
        this.clientDeadSince.delete(id);
        this.clients.tracker.forget(id);
        writes.push(this.driver.propose(encodeCommand({ type: 'member-delete', id })));
      }
    }
    await Promise.all(writes);
  }

  /** Once in the configuration, make the replicated member record match this node (addresses, role). */
  private async registerSelf(): Promise<void> {
    const raft = this.driver.raft;
    if (this.registering || this.leaving || raft.leader === '' || !findMember(raft.conf(), this.nodeId)) return;
    const me = this.info();
    if (me.httpAddress === '') return;
    const record = this.state.member(this.nodeId);
    if (record && record.raftAddress === me.raftAddress && record.httpAddress === me.httpAddress && record.server === me.server) return;
    this.registering = true;
    try {
      await this.onLeader('join', json(me), () => this.joinOnLeader(me), (b) => parseJson<ClusterStatus>(b, 'join'));
    } finally {
      this.registering = false;
    }
  }

  // ------------------------------------------------------------ views

  status(): ClusterStatus {
    const raft = this.driver.raft;
    const st = raft.status();
    const now = performance.now();
    const leaderId = this.knownLeader();
    const members: MemberStatus[] = st.conf.members.map((m) => {
      const record = this.state.member(m.id);
      const out: MemberStatus = {
        id: m.id,
        raftAddress: m.address,
        httpAddress: record?.httpAddress ?? (m.id === this.nodeId ? this.httpAddress : ''),
        voter: m.voter,
        leader: m.id === leaderId,
      };
      if (st.role === Role.Leader) {
        const pr = st.progress.find((p) => p.id === m.id);
        const last = m.id === this.nodeId ? now : this.driver.lastHeard.get(m.id);
        out.lastContactMs = last === undefined ? -1 : Math.round(now - last);
        out.healthy = m.id === this.nodeId || (last !== undefined && now - last < 2 * this.cfg.electionTimeoutMs);
        out.matchIndex = m.id === this.nodeId ? st.lastIndex : pr?.match ?? 0;
      }
      return out;
    });
    let leader: ClusterStatus['leader'] = null;
    if (leaderId !== '') {
      const m = findMember(st.conf, leaderId);
      leader = {
        id: leaderId,
        raftAddress: m?.address ?? this.driver.addressBook.get(leaderId) ?? '',
        httpAddress: this.state.member(leaderId)?.httpAddress ?? '',
      };
    }
    let quorum = false;
    if (st.role === Role.Leader) {
      const voters = members.filter((m) => m.voter);
      quorum = voters.filter((m) => m.healthy).length >= Math.floor(voters.length / 2) + 1;
    } else {
      quorum = leaderId !== '';
    }
    const self = findMember(st.conf, this.nodeId);
    const role: MemberRole = self && !self.voter ? 'learner' : (st.role as MemberRole);
    return {
      nodeId: this.nodeId,
      role,
      term: st.term,
      leader,
      commitIndex: st.commit,
      appliedIndex: this.state.appliedIndex(),
      lastLogIndex: st.lastIndex,
      snapshotIndex: st.snapshotIndex,
      members,
      quorum,
    };
  }

  stats(): ClusterStats {
    const st = this.status();
    const c = this.driver.counters;
    return {
      nodeId: this.nodeId,
      role: st.role,
      term: st.term,
      commitIndex: st.commitIndex,
      appliedIndex: st.appliedIndex,
      lastLogIndex: st.lastLogIndex,
      snapshotIndex: st.snapshotIndex,
      leaderChanges: this.driver.leaderChanges,
      proposals: { committed: c.committed, failed: c.failed, forwarded: c.forwarded },
      transport: this.driver.transport.stats(),
      storage: {
        snapshotsTaken: c.snapshotsTaken, snapshotsSent: c.snapshotsSent, snapshotsInstalled: c.snapshotsInstalled,
      },
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }

  snapshot(): Promise<{ index: number; term: number }> {
    return this.driver.takeSnapshot({ trailing: 0 });
  }

  async snapshotArchive(consistency: Consistency): Promise<SnapshotArchiveStream> {
    // The leader's read index (unless stale): the image holds every write acknowledged before the request.
    await this.barrier(consistency);
    const image = this.storage.state.snapshot();
    const index = image.appliedIndex;
    const header: ArchiveHeader = {
      index,
      term: this.driver.raft.log.term(index) ?? 0,
      createdAt: new Date().toISOString(),
      nodeId: this.nodeId,
      datacenter: this.cfg.datacenter,
    };
    return { header, chunks: writeArchive(header, image), close: () => image.close() };
  }

  async restoreArchive(state: Buffer): Promise<{ index: number }> {
    const problem = restoreProblem(state);
    if (problem) throw new KonsulError('KONSUL_ERR_BAD_SNAPSHOT', `the snapshot cannot be restored: ${problem}`, 400);
    const bytes = encodeCommand({ type: 'restore', state });
    const r = await this.onLeader('propose', bytes, () => this.driver.propose(bytes), decodeResult);
    await this.driver.waitApplied(r.index);
    if (r.result === false) throw new KonsulError('KONSUL_ERR_SNAPSHOT', 'the state machine refused the snapshot; nothing was changed', 500);
    this.logger.info({ index: r.index, bytes: state.length }, 'snapshot restored through Raft');
    return { index: r.index };
  }

  metrics(): Promise<string> {
    return this.metricsRegistry.text();
  }

  get metricsContentType(): string {
    return this.metricsRegistry.contentType;
  }
}

