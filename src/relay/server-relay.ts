// A server's relay: feeds client agents the committed log (a RelayServer over
// the Raft log, the leader stepping aside while other servers can), passes
// relays' liveness reports on to the leader, and keeps the leader's
// ClientTracker from them. A client is never a Raft member: it is a member
// record (server=false) and a catalog node, nothing more. The requests come
// typed from the agent's peer-request table (src/agent/peer-requests.ts); the
// agent's client duties (src/agent/clients.ts) wire this in.

import { KonsulError } from '../errors.js';
import { EntryType, type RaftNode } from '../raft/index.js';
import type { StateMachine } from '../state/index.js';
import type { StateSnapshot } from '../storage/index.js';
import type { TransportLogger } from '../transport/index.js';
import type { RelayCandidate } from './cursor.js';
import type { CommittedView, RelayEntry } from './feed.js';
import type { PullRequest } from './protocol.js';
import { RelayServer } from './server.js';
import { RELAY_META_KEY } from './protocol.js';
import { ClientTracker, type RelayReport } from './tracker.js';

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
  /** Sends reports to the leader (a relay-report request); rejects when it could not. */
  sendReports: (leader: string, reports: RelayReport[]) => Promise<void>;
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
      report: (r) => this.report({ ...r, relay: options.selfId, full: false }),
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

  /** relay-pull: committed entries for a subscriber. */
  pull(req: PullRequest): Promise<Uint8Array> {
    return this.relay.pull(req);
  }

  /** relay-snapshot: the next chunk of a snapshot session. */
  snapshotChunk(session: string): Promise<Uint8Array> {
    return this.relay.snapshotChunk(session);
  }

  /** relay-hello: where a client may subscribe, and the leader. */
  hello(): { relays: RelayCandidate[]; leader: { id: string; address: string } | null } {
    return { relays: this.relays(), leader: this.leader() ?? null };
  }

  /** relay-report from relay clients (or, on the leader, from servers): applied here on the leader, passed on otherwise. */
  receiveReports(reports: RelayReport[]): void {
    if (this.opts.raft().leader === this.opts.selfId) {
      const now = performance.now();
      for (const r of reports) this.tracker.apply(r, now);
    } else {
      this.childReports.push(...reports);
    }
  }

  /** This server's own report, with the ones relay clients sent it, to the leader (or applied here on the leader). */
  private async report(own: RelayReport): Promise<void> {
    const raft = this.opts.raft();
    const leader = raft.leader;
    if (leader === '') throw new KonsulError('KONSUL_ERR_NOT_LEADER', 'no leader to report to', 'unavailable');
    // A new leader knows nothing yet: tell it every subscriber.
    if (leader !== this.lastReportedLeader) {
      const epochs: Record<string, number> = { ...own.epochs };
      for (const sub of this.relay.feed.subscribers.values()) epochs[sub.id] = sub.epoch;
      own = { ...own, alive: [...this.relay.feed.subscribers.keys()], full: true, epochs };
    }
    const reports = [own, ...this.childReports.splice(0)];
    if (leader === this.opts.selfId) {
      const now = performance.now();
      for (const r of reports) this.tracker.apply(r, now);
      this.lastReportedLeader = leader;
      return;
    }
    try {
      await this.opts.sendReports(leader, reports);
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
