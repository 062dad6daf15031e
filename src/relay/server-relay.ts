// A server's duties toward client agents: feed them the committed log (a
// RelayServer over the Raft log, the leader stepping aside while other servers
// can), carry their requests to the leader (registration, writes, read
// indexes), and keep the leader's ClientTracker from the relays' liveness
// reports. A client is never a Raft member: it is a member record
// (server=false) and a catalog node, nothing more.

import { KonsulError } from '../errors.js';
import { EntryType, type RaftNode } from '../raft/index.js';
import type { StateMachine } from '../state/index.js';
import type { StateSnapshot } from '../storage/index.js';
import type { TransportLogger } from '../transport/index.js';
import type { RelayCandidate } from './cursor.js';
import type { CommittedView, RelayEntry } from './feed.js';
import { RELAY_HELLO, RELAY_REPORT, encodeJson } from './protocol.js';
import { RelayServer } from './server.js';
import { ClientTracker, type RelayReport } from './tracker.js';

/** Catalog node meta naming a client that relays to other clients, and where. */
export const RELAY_META_KEY = 'konsul-relay';

export const CLIENT_JOIN = 'client-join';
export const CLIENT_PROPOSE = 'client-propose';
export const CLIENT_READ_INDEX = 'client-read-index';

export interface ServerRelayOptions {
  selfId: string;
  raft: () => RaftNode;
  state: StateMachine;
  snapshot: () => StateSnapshot;
  fanout: number;
  silenceMs: number;
  /** ms a client whose relay vanished keeps counting as alive while it moves. */
  graceMs: number;
  logger: TransportLogger;
  /** The leader's peer address, as this server knows it. */
  addressOf: (id: string) => string | undefined;
  /** Is this server heard from recently (for the leader: is that relay alive)? */
  recentlyHeard: (id: string) => boolean;
  /** Calls a method on the leader (here when this server leads). */
  onLeader: (method: string, body: Buffer) => Promise<Uint8Array>;
  /** Sends a request to a node. */
  request: (nodeId: string, method: string, body: Uint8Array, timeoutMs: number) => Promise<Buffer>;
  /** The handlers of the client requests that run on the leader. */
  leaderHandlers: {
    join(info: { id: string; raftAddress: string; httpAddress: string }): Promise<void>;
    propose(body: Buffer): Promise<Uint8Array>;
    readIndex(consistent: boolean): Promise<number>;
  };
}

/** The Raft log's committed (and applied) part, as a relay sees it. */
class RaftLogView implements CommittedView {
  constructor(private readonly raft: () => RaftNode, private readonly state: StateMachine) {}

  firstIndex(): number {
    return this.raft().log.firstIndex();
  }

  commitIndex(): number {
    return Math.min(this.raft().log.committed, this.state.appliedIndex());
  }

  entries(lo: number, hi: number, maxBytes: number): RelayEntry[] {
    const empty = new Uint8Array(0);
    return this.raft().log.slice(lo, hi + 1, maxBytes).map((e) => ({ index: e.index, data: e.type === EntryType.Normal ? e.data : empty }));
  }
}

export class ServerRelay {
  readonly relay: RelayServer;
  readonly tracker: ClientTracker;
  private readonly opts: ServerRelayOptions;
  private readonly childReports: RelayReport[] = [];
  private lastReportedLeader = '';

  constructor(options: ServerRelayOptions) {
    this.opts = options;
    this.tracker = new ClientTracker(options.graceMs);
    this.relay = new RelayServer({
      view: new RaftLogView(options.raft, options.state),
      fanout: options.fanout,
      silenceMs: options.silenceMs,
      snapshot: options.snapshot,
      leader: () => this.leader(),
      relays: () => this.relays(),
      report: (r) => this.report({ relay: options.selfId, alive: r.alive, gone: r.gone, full: false }),
      logger: options.logger,
      // The leader feeds clients only while it is the only server: its cost must not grow with clients.
      accepting: () => this.opts.raft().leader !== this.opts.selfId || this.serverCount() <= 1,
    });
    options.state.onApplied(() => this.relay.notify());
  }

  start(): void {
    this.relay.start();
  }

  stop(): void {
    this.relay.stop();
  }

  private leader(): { id: string; address: string } | undefined {
    const id = this.opts.raft().leader;
    if (id === '') return undefined;
    const address = this.opts.addressOf(id);
    return address === undefined ? undefined : { id, address };
  }

  /** Servers first (level 0), then the clients that relay (level 1), from the member records and the catalog. */
  relays(): RelayCandidate[] {
    const out: RelayCandidate[] = [];
    const raft = this.opts.raft();
    const servers = this.opts.state.members().filter((m) => m.server);
    for (const m of servers) {
      if (m.id === raft.leader && servers.length > 1) continue;
      out.push({ id: m.id, address: m.raftAddress, level: 0 });
    }
    for (const node of this.opts.state.catalog.nodes()) {
      const at = node.meta[RELAY_META_KEY];
      if (at === undefined || at === '') continue;
      const critical = this.opts.state.catalog.nodeChecks(node.node).some((c) => c.checkId === 'serfHealth' && c.status === 'critical');
      if (!critical) out.push({ id: node.node, address: at, level: 1 });
    }
    return out;
  }

  /** Handles the client-facing requests, or returns undefined for other methods. */
  handle(method: string, body: Buffer): Promise<Uint8Array> | undefined {
    const raft = this.opts.raft();
    const leading = raft.leader === this.opts.selfId;
    const relayed = this.relay.handle(method, body);
    if (relayed) return relayed;
    switch (method) {
      case RELAY_HELLO:
        return Promise.resolve(encodeJson({ relays: this.relays(), leader: this.leader() ?? null }));
      case RELAY_REPORT:
        return this.onReport(body);
      case CLIENT_JOIN:
        return leading ? this.opts.leaderHandlers.join(parseJson(body)).then(() => encodeJson({ ok: true })) : this.opts.onLeader(method, body);
      case CLIENT_PROPOSE:
        return leading ? this.opts.leaderHandlers.propose(body) : this.opts.onLeader(method, body);
      case CLIENT_READ_INDEX: {
        const { consistent } = parseJson<{ consistent?: boolean }>(body);
        return this.opts.leaderHandlers.readIndex(consistent === true).then((index) => encodeJson({ index }));
      }
      default:
        return undefined;
    }
  }

  /** Reports from relay clients (or, on the leader, from servers): applied here on the leader, passed on otherwise. */
  private async onReport(body: Buffer): Promise<Uint8Array> {
    const { reports } = parseJson<{ reports: RelayReport[] }>(body);
    if (!Array.isArray(reports)) throw new KonsulError('KONSUL_ERR_BAD_REQUEST', 'malformed relay report', 400);
    for (const r of reports) {
      if (typeof r?.relay !== 'string' || !Array.isArray(r.alive) || !Array.isArray(r.gone)) {
        throw new KonsulError('KONSUL_ERR_BAD_REQUEST', 'malformed relay report', 400);
      }
    }
    if (this.opts.raft().leader === this.opts.selfId) {
      const now = performance.now();
      for (const r of reports) this.tracker.apply(r, now);
    } else {
      this.childReports.push(...reports);
    }
    return encodeJson({ ok: true });
  }

  /** This server's own report, with the ones relay clients sent it, to the leader (or applied here on the leader). */
  private async report(own: RelayReport): Promise<void> {
    const raft = this.opts.raft();
    const leader = raft.leader;
    if (leader === '') throw new KonsulError('KONSUL_ERR_NOT_LEADER', 'no leader to report to', 503);
    // A new leader knows nothing yet: tell it every subscriber.
    if (leader !== this.lastReportedLeader) {
      own = { relay: own.relay, alive: [...this.relay.feed.subscribers.keys()], gone: own.gone, full: true };
    }
    const reports = [own, ...this.childReports.splice(0)];
    if (leader === this.opts.selfId) {
      const now = performance.now();
      for (const r of reports) this.tracker.apply(r, now);
      this.lastReportedLeader = leader;
      return;
    }
    try {
      await this.opts.request(leader, RELAY_REPORT, encodeJson({ reports }), 2000);
      this.lastReportedLeader = leader;
    } catch (error) {
      this.childReports.unshift(...reports.slice(1));
      throw error;
    }
  }

  private serverCount(): number {
    let n = 0;
    for (const m of this.opts.state.members()) if (m.server) n++;
    return n;
  }

  /** Once per node-health round on the leader: clients reported by a server that went silent are unconfirmed. */
  checkRelays(): void {
    const now = performance.now();
    const servers = new Set(this.opts.state.members().filter((m) => m.server).map((m) => m.id));
    for (const relay of this.tracker.relays()) {
      if (relay !== this.opts.selfId && servers.has(relay) && !this.opts.recentlyHeard(relay)) this.tracker.relayGone(relay, now);
    }
  }

  /** The leader's view of a client node: alive, dead, or undefined when no relay reported it since this leader began. */
  clientAlive(id: string): boolean | undefined {
    return this.tracker.alive(id, performance.now());
  }
}

function parseJson<T>(body: Buffer): T {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new KonsulError('KONSUL_ERR_BAD_REQUEST', 'malformed client request', 400);
  }
}
