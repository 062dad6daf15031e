// A client agent: a full local replica of the state machine fed with committed
// entries only, pulled from a relay (a server, or a relay client), with no
// Raft instance, no election timer and no tick. Reads (HTTP ?stale, DNS) come
// from the local replica; writes and consistent reads go to a server. Its own
// services reach the catalog through a server like any write; its liveness
// reaches the leader through its relay's reports.

import { BadRequestError, KonsulError, isRetryable } from '../errors.js';
import { packageVersion } from '../version.js';
import type {
  AgentApi, AgentSelf, ClusterStats, ClusterStatus, Consistency, KvDeleteOptions, KvPutOptions, MemberStatus, ReadMeta, SnapshotArchiveStream,
} from '../agent/api.js';
import { nodeUuid } from '../agent/node-uuid.js';
import { parseHostPort, type AgentConfig } from '../agent/config.js';
import { LocalServices } from '../agent/services.js';
import { writeArchive, type ArchiveHeader } from '../state/archive.js';
import { encodeCommand, type Command, type NodeInput, type StateMachine } from '../state/index.js';
import type { LmdbStateStore } from '../storage/index.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, Transport, type TransportLogger } from '../transport/index.js';
import { RelayChooser, ReplicaCursor, type RelayCandidate } from '../relay/cursor.js';
import { EntryWindow, type RelayEntry } from '../relay/feed.js';
import { RELAY_META_KEY, decodePullAnswer, decodeSnapshotChunk } from '../relay/protocol.js';
import { RelayServer } from '../relay/server.js';
import type { RelayReport } from '../relay/tracker.js';
import {
  decodeResponse, encodeRequest, servePeerRequest, type PartialPeerHandlers, type PeerMethod, type PeerRequest, type PeerResponse,
} from '../agent/peer-requests.js';
import type { ProposalResult } from '../agent/driver.js';
import { CoordinationService } from '../agent/sessions.js';
import type { AclOp } from '../state/acl.js';
import type { CatalogOp, PreparedQueryOp, UserEvent } from '../state/index.js';
import type { AutopilotConfig, AutopilotConfigRecord } from '../state/autopilot-config.js';
import { effectiveAutopilotConfig } from '../agent/autopilot-defaults.js';

/** How long a relay may hold a pull with nothing new: the client's heartbeat to its relay. */
export const PULL_WAIT_MS = 1000;
/** A pull unanswered this long past its wait means the relay is gone or cut off: try another. */
const PULL_GRACE_MS = 2000;
/** A relay that failed is skipped this long. */
const RELAY_AVOID_MS = 5000;
/**
 * Under sustained writes (an answer that was not held, i.e. entries were
 * already waiting when the pull came, and carried several) the next pull
 * waits this long, so each pull carries a batch: a client's cost follows the
 * pull rate, not the write rate. A write that woke a held pull is fresh: the
 * next pull goes out at once, so the writes after it are not delayed.
 */
const PULL_LINGER_MS = 100;
/** Refused by every relay (full) for this long, a client asks to be taken past a relay's fan-out (`overflow`). */
const OVERFLOW_AFTER_MS = 2000;
/** After a "full" answer, the next relay is tried after this long (so a client refused everywhere does not spin). */
const FULL_RETRY_MS = 50;
/** How long reads wait after a start for the replica to catch up with a relay before serving what it has. */
const CATCH_UP_WAIT_MS = 5000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const RETRYABLE = new Set(['KONSUL_ERR_NOT_LEADER', 'KONSUL_ERR_PROPOSAL_DROPPED', 'KONSUL_ERR_PEER_UNREACHABLE', 'KONSUL_ERR_HANDSHAKE_REJECTED']);

interface AppliedWaiter {
  index: number;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export interface ClientAgentOptions {
  config: AgentConfig;
  store: LmdbStateStore;
  state: StateMachine;
  logger: TransportLogger;
  /** This client feeds other clients too (a relay client). */
  relay?: boolean;
  onExit?: (reason: string, code: number) => void;
}

export class ClientAgent implements AgentApi {
  readonly nodeId: string;
  readonly state: StateMachine;
  readonly local: LocalServices;
  /** Sessions, locks and transactions; renewals go to the leader through a server (coord). */
  readonly coord: CoordinationService;
  readonly metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';
  /** Since when every relay asked answered "full" (undefined: subscribed), for OVERFLOW_AFTER_MS. */
  private refusedSince: number | undefined;
  readonly counters = { pulls: 0, entriesApplied: 0, snapshotsInstalled: 0, relaySwitches: 0, writes: 0 };
  private readonly cfg: AgentConfig;
  private readonly store: LmdbStateStore;
  private readonly logger: TransportLogger;
  private readonly onExit: ClientAgentOptions['onExit'];
  private readonly isRelay: boolean;
  private transport!: Transport;
  private advertise: string;
  private httpAddress = '';
  private dnsAddress = '';
  private readonly cursor: ReplicaCursor;
  private readonly chooser: RelayChooser;
  private readonly window: EntryWindow | undefined;
  private relayServer: RelayServer | undefined;
  private current: RelayCandidate | undefined;
  /** The relay this client last asked for entries, and the epoch of that subscription (see PullRequest.epoch). */
  private subscribedTo: string | undefined;
  private epoch = 0;
  private leader: { id: string; address: string } | undefined;
  private commitSeen = 0;
  private lastPullOk = 0;
  private lastRelayList = -Infinity;
  private registered = false;
  private leaving = false;
  private stopped = false;
  private exited = false;
  private waiters: AppliedWaiter[] = [];
  private servingWaiters: Array<() => void> = [];
  private readonly startedAt = Date.now();
  private readonly loops: Promise<void>[] = [];
  private syncTimer: NodeJS.Timeout | undefined;

  constructor(options: ClientAgentOptions) {
    this.cfg = options.config;
    this.nodeId = options.config.nodeId;
    this.store = options.store;
    this.state = options.state;
    this.logger = options.logger;
    this.onExit = options.onExit;
    this.isRelay = options.relay === true;
    this.advertise = options.config.advertise;
    this.cursor = new ReplicaCursor(this.state.appliedIndex());
    // A relay client hangs off servers only (the tree is two levels below the servers: no cycles).
    this.chooser = new RelayChooser(this.nodeId, this.isRelay ? 0 : 1, RELAY_AVOID_MS, !this.isRelay);
    this.window = this.isRelay ? new EntryWindow(this.state.appliedIndex(), 8 * 1024 * 1024) : undefined;
    this.local = new LocalServices({
      dataDir: options.config.dataDir ?? '',
      node: () => this.catalogNode(),
      catalog: this.state.catalog,
      // Answered once this replica applied it: the next round compares the service with the catalog
      // here, which must not be behind this agent's own writes (a register then a deregister sent
      // while the register was still on its way back through the relay found nothing to delete).
      write: async (op) => {
        await this.write({ type: 'catalog', op });
      },
      ready: () => !this.leaving && this.registered && this.httpAddress !== '' && this.cursor.serving,
      antiEntropyIntervalMs: options.config.antiEntropyIntervalMs,
      logger: options.logger,
      incremental: () => this.state.clusterVersion() >= 2,
    });
    this.state.onRestore(() => this.local.resync());
    this.coord = new CoordinationService({
      nodeId: this.nodeId,
      state: this.state,
      propose: (cmd) => this.proposeCommand(cmd),
      barrier: (consistency) => this.barrier(consistency),
      renewOnLeader: async (id) => (await this.toServer('session-renew', { id })).session ?? undefined,
      isLeader: () => false,
      logger: this.logger,
    });
  }

  async start(): Promise<void> {
    this.transport = new Transport({
      nodeId: this.nodeId,
      clusterId: this.cfg.clusterId,
      listen: this.cfg.raftAddr,
      token: this.cfg.token,
      tls: this.cfg.tls ? { ...this.cfg.tls, verifyHostname: false } : undefined,
      resolve: () => undefined,
      // A client takes no Raft messages.
      onMessage: () => undefined,
      onRequest: (method, body, from) => this.onRequest(method, body, from),
      logger: this.logger,
    });
    await this.transport.start();
    if (this.advertise.endsWith(':0')) this.advertise = `${this.advertise.slice(0, -2)}:${this.transport.address.port}`;
    if (this.window) {
      this.relayServer = new RelayServer({
        view: this.window,
        fanout: this.cfg.relayFanout,
        silenceMs: this.cfg.relaySilenceMs,
        snapshot: () => this.store.snapshot(),
        leader: () => this.leader,
        relays: () => [],
        report: (r) => this.reportUp({ ...r, relay: this.nodeId, full: false }),
        logger: this.logger,
      });
      this.relayServer.start();
    }
    this.local.start();
    // The state store commits without fsync (a lost tail is pulled again); flushed now and then so a
    // machine crash loses at most a few seconds of it.
    this.syncTimer = setInterval(() => void this.store.sync().catch(() => undefined), 5000);
    this.syncTimer.unref();
    for (const address of this.cfg.join) this.chooser.add({ id: `join:${address}`, address, level: 0 });
    // A restart without --join finds the servers in its own replica.
    this.addKnownRelays();
    this.loops.push(this.pullLoop(), this.registerLoop());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.syncTimer);
    this.coord.stop();
    this.local.stop();
    this.relayServer?.stop();
    const error = new KonsulError('KONSUL_ERR_STOPPED', 'agent stopped', 'unavailable');
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.waiters = [];
    await this.transport?.close();
    await Promise.allSettled(this.loops);
  }

  get raftAddress(): string {
    return this.advertise;
  }

  setHttpAddress(address: string): void {
    this.httpAddress = address;
  }

  setDnsAddress(address: string): void {
    this.dnsAddress = address;
  }

  catalogNode(): NodeInput {
    const host = parseHostPort(this.advertise, 0)?.host ?? '127.0.0.1';
    return {
      id: nodeUuid(this.nodeId), node: this.nodeId, address: host, datacenter: this.cfg.datacenter,
      taggedAddresses: { lan: host, wan: host }, meta: this.isRelay ? { ...this.cfg.nodeMeta, [RELAY_META_KEY]: this.advertise } : { ...this.cfg.nodeMeta },
    };
  }

  private exit(reason: string, code: number): void {
    if (this.exited) return;
    this.exited = true;
    this.onExit?.(reason, code);
  }

  // ------------------------------------------------------------ the feed

  /**
   * The peer requests a client answers (the table in peer-requests.ts; the
   * transport checked the peer's secret or certificate first): who it is, the
   * relay requests when it relays, and membership requests, passed on to a server.
   */
  private readonly peerHandlers: PartialPeerHandlers = {
    info: async () => this.info(),
    'relay-pull': async (req, from) => {
      if (!this.relayServer) throw new KonsulError('KONSUL_ERR_BAD_REQUEST', `client agent ${this.nodeId} does not relay (start it with --relay)`, 'invalid');
      if (req.id !== from.nodeId) {
        throw new KonsulError('KONSUL_ERR_PERMISSION_DENIED', `a relay pull for '${req.id}' from node '${from.nodeId}': a node subscribes only as itself`, 'forbidden');
      }
      return this.relayServer.pull(req);
    },
    'relay-snapshot': async (session) => {
      if (!this.relayServer) throw new KonsulError('KONSUL_ERR_BAD_REQUEST', `client agent ${this.nodeId} does not relay`, 'invalid');
      return this.relayServer.snapshotChunk(session);
    },
    // Membership requests that reach a client (a server joining via any agent's address) go on to a server.
    join: (info) => this.toServer('join', info),
    remove: (request) => this.toServer('remove', request),
    transfer: (request) => this.toServer('transfer', request),
  };

  private onRequest(method: string, body: Buffer, from: { nodeId: string; address: string; version?: number; role?: 'server' | 'client' }): Promise<Uint8Array> {
    return servePeerRequest(this.peerHandlers, method, body, from);
  }

  /** One typed peer request to the node at `address`. */
  private async call<M extends PeerMethod>(address: string, method: M, request: PeerRequest<M>, timeoutMs: number): Promise<PeerResponse<M>> {
    return decodeResponse(method, await this.transport.request({ address }, method, encodeRequest(method, request), timeoutMs));
  }

  info(): { id: string; raftAddress: string; httpAddress: string; server: boolean } {
    return { id: this.nodeId, raftAddress: this.advertise, httpAddress: this.httpAddress, server: false };
  }

  /** sec: rotated certificates take effect on SIGHUP. */
  reloadTls(tls: NonNullable<AgentConfig['tls']>): void {
    this.transport.reloadTls(tls);
  }

  /** The relays this replica knows of: the servers in its member records, and the relay clients in its catalog. */
  private addKnownRelays(): void {
    for (const m of this.state.members()) if (m.server) this.chooser.add({ id: m.id, address: m.raftAddress, level: 0 });
    if (this.isRelay) return;
    for (const node of this.state.catalog.nodes()) {
      const at = node.meta[RELAY_META_KEY];
      if (at !== undefined && at !== '' && node.node !== this.nodeId) this.chooser.add({ id: node.node, address: at, level: 1 });
    }
  }

  private async reportUp(report: RelayReport): Promise<void> {
    const to = this.current;
    if (!to) throw new KonsulError('KONSUL_ERR_NOT_LEADER', 'no relay to report to', 'unavailable');
    await this.call(to.address, 'relay-report', { reports: [report] }, 2000);
  }

  /** Pull committed entries from the chosen relay for as long as the agent runs. */
  private async pullLoop(): Promise<void> {
    let backoff = 50;
    let lastServeCheck = performance.now();
    while (!this.stopped) {
      const now = performance.now();
      if (!this.cursor.serving && now - lastServeCheck > CATCH_UP_WAIT_MS) {
        // No relay caught us up in time: serve what the replica holds (reads say no leader is known).
        this.cursor.serveStale();
        this.wakeServing();
      }
      const relay = this.chooser.choose(now);
      if (!relay) {
        await sleep(500);
        continue;
      }
      try {
        const { taken, held } = await this.pullOnce(relay);
        backoff = 50;
        if (taken > 1 && !held) await this.pause(PULL_LINGER_MS);
        lastServeCheck = performance.now();
      } catch (error) {
        if (this.stopped) return;
        this.chooser.failed(relay.id, performance.now());
        if (this.current?.id === relay.id) this.current = undefined;
        // Whatever the last relay list missed (a server that joined after it), the replica knows.
        this.addKnownRelays();
        this.logger.debug({ relay: relay.id, err: (error as Error).message }, 'relay pull failed; trying another');
        await sleep(backoff);
        backoff = Math.min(1000, backoff * 2);
      }
    }
  }

  /**
   * The linger between pulls, cut short when someone here waits for an index (a write through this
   * agent, answered once its replica has it): the agent's own writes never wait for the linger.
   */
  private pause(ms: number): Promise<void> {
    if (this.waiters.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.endPause = undefined;
        resolve();
      }, ms);
      this.endPause = () => {
        clearTimeout(timer);
        this.endPause = undefined;
        resolve();
      };
    });
  }

  private endPause: (() => void) | undefined;

  /** One pull from `relay`; resolves with how many entries it applied, and whether the relay held the pull (a fresh write). */
  private async pullOnce(relay: RelayCandidate): Promise<{ taken: number; held: boolean }> {
    const now = performance.now();
    const wantRelays = this.current?.id !== relay.id || now - this.lastRelayList > 30_000;
    if (this.subscribedTo !== relay.address) {
      // A new subscription: a larger epoch than any before, across restarts too (the wall clock, in µs), so
      // the leader keeps this relay's word over a late report from the last one.
      this.epoch = Math.max(this.epoch + 1, Date.now() * 1000);
      this.subscribedTo = relay.address;
    }
    const overflow = this.refusedSince !== undefined && now - this.refusedSince >= OVERFLOW_AFTER_MS;
    const request = {
      id: this.nodeId, address: this.advertise, from: this.cursor.applied + 1, waitMs: PULL_WAIT_MS, wantRelays, epoch: this.epoch,
      ...(overflow ? { overflow: true } : {}),
    };
    this.counters.pulls++;
    const answer = decodePullAnswer(Buffer.from(await this.call(relay.address, 'relay-pull', request, PULL_WAIT_MS + PULL_GRACE_MS)));
    const { header } = answer;
    // The relay's view of the leader, none included (a cluster without quorum has none).
    this.leader = header.leader;
    if (header.relays) {
      this.lastRelayList = performance.now();
      this.chooser.setCandidates(header.relays);
      // The join addresses' placeholder ids give way to the real ids (the relay that answered stays).
      if (!header.relays.some((r) => r.id === relay.id || r.address === relay.address)) this.chooser.add(relay);
    }
    if (header.kind === 'full') {
      this.chooser.failed(relay.id, performance.now());
      this.refusedSince ??= now;
      await sleep(FULL_RETRY_MS);
      return { taken: 0, held: false };
    }
    this.refusedSince = undefined;
    if (this.current?.id !== relay.id) {
      if (this.current) this.counters.relaySwitches++;
      this.logger.info({ relay: relay.id, address: relay.address }, 'subscribed to a relay');
      this.current = relay;
    }
    this.chooser.succeeded(relay.id);
    this.lastPullOk = performance.now();
    this.commitSeen = Math.max(this.commitSeen, header.commit);
    if (header.kind === 'snapshot') {
      await this.installSnapshot(relay);
      return { taken: 0, held: false };
    }
    const take = this.cursor.accept(header.commit, answer.entries);
    if (take.length > 0) this.applyEntries(take);
    if (this.cursor.serving) this.wakeServing();
    return { taken: take.length, held: header.held === true };
  }

  private applyEntries(entries: RelayEntry[]): void {
    this.state.apply(entries.map((e) => ({ index: e.index, command: e.data.length > 0 ? e.data : undefined })));
    const last = entries[entries.length - 1]!.index;
    this.cursor.advanced(last);
    this.counters.entriesApplied += entries.length;
    this.window?.push(entries);
    this.relayServer?.notify();
    this.serveWaiters();
  }

  /** Fetches the relay's snapshot image chunk by chunk and replaces the replica with it (only if it does not go back). */
  private async installSnapshot(relay: RelayCandidate): Promise<void> {
    let session = '';
    const fetch = (s: string): Promise<Uint8Array> => this.call(relay.address, 'relay-snapshot', s, 30_000);
    const cursor = this.cursor;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (;;) {
        const a = decodeSnapshotChunk(Buffer.from(await fetch(session)));
        if (session === '' && !cursor.snapshotAcceptable(a.index)) {
          throw new KonsulError('KONSUL_ERR_SNAPSHOT', `the relay's snapshot at ${a.index} is behind this replica (${cursor.applied})`, 'conflict');
        }
        session = a.session;
        if (a.chunk.length > 0) yield a.chunk;
        if (a.done) return;
      }
    }
    const restored = await this.store.restoreSnapshot(chunks());
    this.state.reset();
    this.cursor.advanced(restored.appliedIndex);
    this.window?.reset(restored.appliedIndex);
    this.counters.snapshotsInstalled++;
    this.logger.info({ index: restored.appliedIndex, records: restored.records, relay: relay.id }, 'installed a snapshot from the relay');
    this.relayServer?.notify();
    this.serveWaiters();
  }

  /** Registers this client's member record (no Raft membership) until a server accepts it. */
  private async registerLoop(): Promise<void> {
    let delay = 200;
    while (!this.stopped && !this.registered) {
      if (this.httpAddress !== '') {
        try {
          await this.toServer('client-join', { id: this.nodeId, raftAddress: this.advertise, httpAddress: this.httpAddress });
          this.registered = true;
          this.logger.info({ leader: this.leader?.id }, 'joined the cluster as a client');
          this.local.resync();
          return;
        } catch (error) {
          this.logger.warn({ err: (error as Error).message, retryInMs: delay }, 'could not join yet; retrying');
        }
      }
      await sleep(delay);
      delay = Math.min(5000, delay * 2);
    }
  }

  // ------------------------------------------------------------ servers

  /** The servers to send writes to: the current relay if it is one, then the other known servers. */
  private servers(): Array<{ address: string }> {
    const out: Array<{ address: string }> = [];
    if (this.current?.level === 0) out.push(this.current);
    if (this.leader) out.push(this.leader);
    for (const address of this.cfg.join) out.push({ address });
    for (const m of this.state.members()) if (m.server) out.push({ address: m.raftAddress });
    return out.filter((s, i) => out.findIndex((o) => o.address === s.address) === i);
  }

  /** Calls a method on a server, trying the next one while the call surely did not run, up to the proposal timeout. */
  private async toServer<M extends PeerMethod>(method: M, request: PeerRequest<M>): Promise<PeerResponse<M>> {
    const deadline = performance.now() + this.cfg.proposalTimeoutMs;
    // Made only when needed: an error's stack trace costs more than a forwarded write's bookkeeping.
    let lastError: Error | undefined;
    const body = encodeRequest(method, request);
    for (let attempt = 0; performance.now() < deadline && !this.stopped; attempt++) {
      for (const server of this.servers()) {
        let answer: Buffer;
        try {
          answer = await this.transport.request({ address: server.address }, method, body, Math.max(1, deadline - performance.now()));
        } catch (error) {
          lastError = error as Error;
          if (!RETRYABLE.has((error as KonsulError).code) && !isRetryable(error)) throw error;
          continue;
        }
        return decodeResponse(method, answer);
      }
      await sleep(Math.min(500, 20 * 2 ** attempt));
    }
    throw lastError ?? new KonsulError('KONSUL_ERR_NOT_LEADER', 'no server known yet', 'unavailable');
  }

  private async write(cmd: Command, readYourWrite = true): Promise<boolean> {
    return (await this.proposeCommand(cmd, readYourWrite)).result !== false;
  }

  private async proposeCommand(cmd: Command, readYourWrite = true): Promise<ProposalResult> {
    const r = await this.toServer('client-propose', encodeCommand(cmd));
    this.counters.writes++;
    // Read-your-writes: answer once this replica has it too.
    if (readYourWrite) await this.waitApplied(r.index);
    return r;
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

  // api branch (issue 18): a prepared query write, refused with the state machine's reason as a 400.
  async preparedQueryApply(op: PreparedQueryOp): Promise<void> {
    const r = await this.proposeCommand({ type: 'prepared-query', op });
    if (r.result === false) throw new BadRequestError(this.state.queries.outcome(r.index) ?? 'the prepared query was refused');
  }

  // ---- ops2: autopilot. Health is the leader's to tell (the HTTP route asks it); the configuration is in the replica.
  autopilotHealth(): undefined {
    return undefined;
  }

  autopilotConfig(): AutopilotConfigRecord {
    return effectiveAutopilotConfig({ cfg: this.cfg, state: this.state });
  }

  setAutopilotConfig(config: AutopilotConfig, cas?: number): Promise<boolean> {
    return this.write(cas === undefined ? { type: 'autopilot-config', config } : { type: 'autopilot-config', config, cas });
  }

  waitApplied(index: number, timeoutMs = this.cfg.proposalTimeoutMs): Promise<void> {
    if (this.state.appliedIndex() >= index) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: AppliedWaiter = {
        index, resolve, reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new KonsulError('KONSUL_ERR_TIMEOUT', `this client did not receive index ${index} within ${timeoutMs}ms`, 'timeout'));
        }, timeoutMs),
      };
      this.waiters.push(w);
      this.endPause?.();
    });
  }

  private serveWaiters(): void {
    if (this.waiters.length === 0) return;
    const applied = this.state.appliedIndex();
    this.waiters = this.waiters.filter((w) => {
      if (w.index > applied) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }

  private wakeServing(): void {
    const ws = this.servingWaiters;
    this.servingWaiters = [];
    for (const w of ws) w();
  }

  // ------------------------------------------------------------ AgentApi

  async barrier(consistency: Consistency): Promise<ReadMeta> {
    if (!this.cursor.serving) await new Promise<void>((resolve) => this.servingWaiters.push(resolve));
    if (consistency !== 'stale') {
      const { index } = await this.toServer('client-read-index', { consistent: consistency === 'consistent' });
      await this.waitApplied(index);
    }
    return this.readMeta();
  }

  private readMeta(): ReadMeta {
    const contact = this.lastPullOk === 0 ? -1 : Math.round(performance.now() - this.lastPullOk);
    return { knownLeader: this.leader !== undefined && contact >= 0 && contact < PULL_WAIT_MS + PULL_GRACE_MS, lastContactMs: Math.max(0, contact) };
  }

  kvPut(key: string, value: Uint8Array, options: KvPutOptions = {}): Promise<boolean> {
    return this.write({ type: 'kv-set', key, value, flags: options.flags ?? 0, cas: options.cas });
  }

  kvDelete(key: string, options: KvDeleteOptions = {}): Promise<boolean> {
    return this.write({ type: 'kv-delete', key, recurse: options.recurse, cas: options.cas });
  }

  status(): ClusterStatus {
    const members: MemberStatus[] = this.state.members().filter((m) => m.server).map((m) => ({
      id: m.id, raftAddress: m.raftAddress, httpAddress: m.httpAddress, voter: true, leader: m.id === this.leader?.id,
    }));
    const leaderRecord = this.leader ? this.state.member(this.leader.id) : undefined;
    const meta = this.readMeta();
    return {
      nodeId: this.nodeId,
      role: 'client',
      term: 0,
      leader: this.leader && meta.knownLeader
        ? { id: this.leader.id, raftAddress: this.leader.address, httpAddress: leaderRecord?.httpAddress ?? '' } : null,
      commitIndex: this.commitSeen,
      appliedIndex: this.state.appliedIndex(),
      lastLogIndex: this.state.appliedIndex(),
      snapshotIndex: 0,
      members,
      quorum: meta.knownLeader,
      // The version the cluster runs at, as this replica holds it (a client speaks what a server does).
      protocol: { cluster: this.state.clusterVersion(), min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION },
    };
  }

  stats(): ClusterStats {
    const st = this.status();
    return {
      nodeId: this.nodeId, role: st.role, term: 0, commitIndex: st.commitIndex, appliedIndex: st.appliedIndex,
      lastLogIndex: st.lastLogIndex, snapshotIndex: 0, leaderChanges: 0,
      proposals: { committed: this.counters.writes, failed: 0, forwarded: this.counters.writes },
      transport: this.transport.stats(),
      storage: { snapshotsInstalled: this.counters.snapshotsInstalled },
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      client: {
        relay: this.current?.id ?? null,
        relaying: this.relayServer ? this.relayServer.stats() : null,
        ...this.counters,
      },
    };
  }

  join(): Promise<ClusterStatus> {
    return Promise.reject(new KonsulError('KONSUL_ERR_BAD_REQUEST',
      'this agent is a client: members join through a server (konsul cluster join --http-addr <a server>)', 'invalid'));
  }

  async removeMember(id: string): Promise<void> {
    if (id !== this.nodeId) {
      throw new KonsulError('KONSUL_ERR_BAD_REQUEST', 'this agent is a client: remove other members through a server', 'invalid');
    }
    this.leaving = true;
    this.local.stop();
    try {
      await this.write({ type: 'catalog', op: { op: 'deregister-node', node: this.nodeId } });
      await this.write({ type: 'member-delete', id: this.nodeId });
    } catch (error) {
      this.leaving = false;
      throw error;
    }
    this.logger.info({ member: id }, 'left the cluster');
    setTimeout(() => this.exit('left the cluster', 0), 100);
  }

  transferLeader(): Promise<string> {
    return Promise.reject(new KonsulError('KONSUL_ERR_BAD_REQUEST', 'this agent is a client: transfer leadership through a server', 'invalid'));
  }

  snapshot(): Promise<{ index: number; term: number }> {
    return Promise.reject(new KonsulError('KONSUL_ERR_BAD_REQUEST', 'this agent is a client and keeps no Raft log to compact', 'invalid'));
  }

  async snapshotArchive(consistency: Consistency): Promise<SnapshotArchiveStream> {
    await this.barrier(consistency);
    const image = this.store.snapshot();
    const header: ArchiveHeader = {
      index: image.appliedIndex, term: 0, createdAt: new Date().toISOString(), nodeId: this.nodeId, datacenter: this.cfg.datacenter,
    };
    return { header, chunks: writeArchive(header, image), close: () => image.close() };
  }

  async restoreArchive(state: Buffer): Promise<{ index: number }> {
    const { result, index } = await this.proposeCommand({ type: 'restore', state });
    if (result === false) throw new KonsulError('KONSUL_ERR_SNAPSHOT', 'the state machine refused the snapshot; nothing was changed', 'internal');
    return { index };
  }

  async metrics(): Promise<string> {
    const mem = process.memoryUsage();
    const lines = [
      '# TYPE konsul_client_applied_index gauge', `konsul_client_applied_index ${this.state.appliedIndex()}`,
      '# TYPE konsul_client_entries_applied_total counter', `konsul_client_entries_applied_total ${this.counters.entriesApplied}`,
      '# TYPE konsul_client_relay_switches_total counter', `konsul_client_relay_switches_total ${this.counters.relaySwitches}`,
      '# TYPE konsul_client_snapshots_installed_total counter', `konsul_client_snapshots_installed_total ${this.counters.snapshotsInstalled}`,
      '# TYPE konsul_client_relay_subscribers gauge', `konsul_client_relay_subscribers ${this.relayServer?.feed.size ?? 0}`,
      '# TYPE process_resident_memory_bytes gauge', `process_resident_memory_bytes ${mem.rss}`,
      // prom-client's names for the same figures, as a server's /v1/agent/metrics reports them.
      '# TYPE nodejs_heap_size_total_bytes gauge', `nodejs_heap_size_total_bytes ${mem.heapTotal}`,
      '# TYPE nodejs_heap_size_used_bytes gauge', `nodejs_heap_size_used_bytes ${mem.heapUsed}`,
      '# TYPE nodejs_external_memory_bytes gauge', `nodejs_external_memory_bytes ${mem.external}`,
    ];
    return `${lines.join('\n')}\n`;
  }

  self(): AgentSelf {
    return {
      nodeId: this.nodeId, nodeUuid: nodeUuid(this.nodeId), datacenter: this.cfg.datacenter, server: false,
      raftAddress: this.advertise, httpAddress: this.httpAddress, dnsAddress: this.dnsAddress, domain: this.cfg.dns.domain,
      version: packageVersion(), protocolVersion: PROTOCOL_VERSION, nodeHealthTimeoutMs: this.cfg.nodeHealthTimeoutMs,
      scriptChecksEnabled: this.cfg.enableScriptChecks,
    };
  }
}

