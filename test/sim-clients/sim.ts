// The client-replica simulator: 3 Raft voters (the real core) and many client
// replicas fed through a relay tree (the real RelayFeed, EntryWindow,
// RelayChooser and ReplicaCursor), in one process on a simulated clock and
// network. Relays crash, restart and are cut off; clients join, leave and
// restart having lost what they had not synced. After every step it checks
// that a client holds only a prefix of the committed log and that its applied
// index never goes back while it serves; after calm, that every client
// converged (a client every relay refused asks to be taken past a fan-out, as
// the agent does). It counts the messages the leader sends per committed entry.

import { RaftNode, Role, bootstrapSnapshot, type Entry, type HardState, type Message, type NodeId, type Ready, type SnapshotMeta } from '../../src/raft/index.js';
import { EntryWindow, RelayFeed, type CommittedView, type RelayEntry } from '../../src/relay/feed.js';
import { RelayChooser, ReplicaCursor, type RelayCandidate } from '../../src/relay/cursor.js';
import { Prng } from '../sim/prng.js';

/** Deliberately broken variants: the checkers must catch them. */
export type BrokenVariant =
  /** Relays forward entries past their commit index, as if committed. */
  | 'relay-forwards-uncommitted'
  /** Relays send entries past the commit (flagged so), the client keeps them in a log, and after a restart serves that log. */
  | 'client-serves-ahead-after-restart'
  /** Clients refused by every relay never ask to be taken past a fan-out: with too few relays some never get a replica. */
  | 'no-overflow';

export interface ClientSimOptions {
  seed: number;
  clients?: number;
  /** Every relayEvery-th client relays for other clients (0: only servers relay). */
  relayEvery?: number;
  fanout?: number;
  /** Simulated ms with faults, then ms of calm (no faults, everything healed and restarted). */
  duration?: number;
  calm?: number;
  /** ms between the leader's proposals. */
  proposeEvery?: number;
  faults?: boolean;
  broken?: BrokenVariant;
  /** Every client must hold the whole committed log this long after the last proposal. */
  convergeWithin?: number;
  stopOnViolation?: boolean;
}

export interface ClientSimStats {
  committed: number;
  leaderMessages: number;
  leaderMessagesPerEntry: number;
  /** Pull answers the leader sent ("full": go to another relay), once per client that tried it. Not in leaderMessages. */
  leaderRedirects: number;
  leaderChanges: number;
  pulls: number;
  snapshots: number;
  relayCrashes: number;
  relayPartitions: number;
  clientRestarts: number;
  clientLeaves: number;
  clientJoins: number;
  relaySwitches: number;
  maxFanout: number;
  maxDepth: number;
  /** The most subscribers any relay took past its fan-out (overflow) at once. */
  maxOverflow: number;
  /** ms from the last proposal until every client held the whole log (-1: never). */
  convergedAfter: number;
}

export interface ClientSimResult {
  seed: number;
  violations: string[];
  stats: ClientSimStats;
}

const TICK = 10;
const ELECTION_TICKS = 10;
const PULL_WAIT = 1000;
const PULL_GRACE = 2000;
const SILENCE = 2000;
/** As the agent: refused by every relay this long, a client asks to be taken past a fan-out. */
const OVERFLOW_AFTER = 2000;
const SYNC_EVERY = 500;

interface Voter {
  id: NodeId;
  raft: RaftNode | undefined;
  hs: HardState;
  snap: SnapshotMeta;
  snapData: Uint8Array;
  entries: Entry[];
  /** Applied command data by index (the state machine). */
  state: string[];
  feed: RelayFeed;
  waiting: Hold[];
  partitioned: boolean;
}

interface Hold {
  client: SimClient;
  reqId: number;
  from: number;
  deadline: number;
}

interface SimClient {
  id: string;
  isRelay: boolean;
  up: boolean;
  member: boolean;
  partitioned: boolean;
  incarnation: number;
  state: string[];
  durable: number;
  /** Broken variant 2: entries received past the commit, kept "in a log". */
  stash: RelayEntry[];
  cursor: ReplicaCursor;
  chooser: RelayChooser;
  inflight: { relay: string; reqId: number; sentAt: number } | undefined;
  nextPullAt: number;
  lastServed: number;
  lastSync: number;
  current: string | undefined;
  /** Since when every relay it asked answered "full" (for the overflow request, as the agent's OVERFLOW_AFTER_MS). */
  refusedSince: number | undefined;
  feed: RelayFeed | undefined;
  window: EntryWindow | undefined;
  waiting: Hold[];
}

type Event =
  | { kind: 'raft'; m: Message }
  | { kind: 'pull'; client: SimClient; relay: string; reqId: number; from: number; incarnation: number; overflow: boolean }
  | { kind: 'answer'; client: SimClient; relay: string; reqId: number; incarnation: number; payload: AnswerPayload };

type AnswerPayload =
  | { kind: 'entries'; commit: number; entries: RelayEntry[] }
  | { kind: 'snapshot'; index: number; image: string[] }
  | { kind: 'full' };

/** A binary heap of timed events (time, then insertion order: deterministic). */
class EventQueue {
  private heap: Array<{ at: number; seq: number; e: Event }> = [];
  private seq = 0;
  push(at: number, e: Event): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, e });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(h[i]!, h[p]!)) {
        [h[i], h[p]] = [h[p]!, h[i]!];
        i = p;
      } else break;
    }
  }
  peekAt(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.at;
  }
  pop(): Event {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top.e;
  }
  private less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

const text = (d: Uint8Array): string => Buffer.from(d).toString('utf8');

export class ClientSimulation {
  readonly violations: string[] = [];
  readonly stats: ClientSimStats = {
    committed: 0, leaderMessages: 0, leaderMessagesPerEntry: 0, leaderRedirects: 0, leaderChanges: 0, pulls: 0, snapshots: 0, relayCrashes: 0, relayPartitions: 0,
    clientRestarts: 0, clientLeaves: 0, clientJoins: 0, relaySwitches: 0, maxFanout: 0, maxDepth: 0, maxOverflow: 0, convergedAfter: -1,
  };
  private readonly opts: Required<Omit<ClientSimOptions, 'broken'>> & { broken?: BrokenVariant };
  private readonly raftPrng: Prng;
  private readonly netPrng: Prng;
  private readonly raftNetPrng: Prng;
  private readonly faultPrng: Prng;
  private readonly queue = new EventQueue();
  private readonly voters = new Map<NodeId, Voter>();
  private readonly clients: SimClient[] = [];
  private readonly byId = new Map<string, SimClient>();
  /** The committed log as the voters applied it (index -> command text). */
  private readonly committed: string[] = ['', ''];
  private now = 0;
  private reqSeq = 0;
  private proposals = 0;
  private lastProposalAt = 0;
  private nextClientNo: number;

  constructor(options: ClientSimOptions) {
    this.opts = {
      clients: 1000, relayEvery: 25, fanout: 48, duration: 20_000, calm: 10_000, proposeEvery: 50, faults: true,
      convergeWithin: 8000, stopOnViolation: true, ...options,
    };
    const root = new Prng(options.seed);
    // Separate streams: the voters' run does not depend on how many clients there are.
    this.raftPrng = root.fork();
    this.netPrng = root.fork();
    this.faultPrng = root.fork();
    this.raftNetPrng = root.fork();
    const conf = bootstrapSnapshot(['v1', 'v2', 'v3'].map((id) => ({ id, address: id, voter: true })));
    for (const id of ['v1', 'v2', 'v3']) {
      const v: Voter = {
        id, raft: undefined, hs: { term: 1, vote: '', commit: 1 }, snap: conf, snapData: Buffer.from('["",""]'), entries: [],
        state: ['', ''], feed: new RelayFeed({ fanout: this.opts.fanout, silenceMs: SILENCE }), waiting: [], partitioned: false,
      };
      this.voters.set(id, v);
      this.startVoter(v);
    }
    this.nextClientNo = this.opts.clients;
    for (let i = 0; i < this.opts.clients; i++) this.addClient(i);
  }

  run(): ClientSimResult {
    const end = this.opts.duration + this.opts.calm;
    let nextNemesis = 500;
    let nextPropose = 200;
    let calm = false;
    for (this.now = 0; this.now <= end; this.now += TICK) {
      if (!calm && this.now >= this.opts.duration) {
        calm = true;
        this.beginCalm();
      }
      this.deliverUntil(this.now);
      for (const v of this.voters.values()) if (v.raft) v.raft.tick();
      this.driveVoters();
      if (this.opts.faults && !calm && this.now >= nextNemesis) {
        this.nemesis();
        nextNemesis = this.now + 200 + this.faultPrng.int(0, 400);
      }
      const stopProposing = end - this.opts.convergeWithin;
      if (this.now >= nextPropose && this.now < stopProposing) {
        this.propose();
        nextPropose = this.now + this.opts.proposeEvery;
      }
      this.relayHousekeeping();
      this.clientTicks();
      if (this.now >= stopProposing && this.stats.convergedAfter < 0 && this.allConverged()) {
        this.stats.convergedAfter = this.now - this.lastProposalAt;
      }
      if (this.opts.stopOnViolation && this.violations.length > 0) break;
    }
    this.finalCheck();
    this.stats.committed = this.committed.length - 1;
    this.stats.leaderMessagesPerEntry = this.stats.committed === 0 ? 0 : this.stats.leaderMessages / this.stats.committed;
    return { seed: this.opts.seed, violations: this.violations, stats: this.stats };
  }

  // ------------------------------------------------------------ voters

  private startVoter(v: Voter): void {
    v.raft = new RaftNode({
      id: v.id, electionTicks: ELECTION_TICKS, heartbeatTicks: 1, preVote: true, checkQuorum: true,
      random: () => this.raftPrng.next(), hardState: v.hs, snapshot: v.snap, snapshotData: v.snapData,
      entries: v.entries.slice(), applied: v.state.length - 1,
    });
  }

  private leader(): Voter | undefined {
    for (const v of this.voters.values()) if (v.raft?.role === Role.Leader && !v.partitioned) return v;
    return undefined;
  }

  private propose(): void {
    const l = this.leader();
    if (!l?.raft) return;
    try {
      l.raft.propose(Buffer.from(`w${++this.proposals}`));
      this.lastProposalAt = this.now;
    } catch {
      // Dropped (transfer in progress, too much uncommitted): the next one goes.
    }
  }

  private driveVoters(): void {
    for (const v of this.voters.values()) {
      for (let round = 0; round < 4 && v.raft?.hasReady(); round++) this.onReady(v, v.raft.ready());
    }
  }

  /** Persist synchronously (the real driver's ordering is the voters' simulator's business), send, apply. */
  private onReady(v: Voter, rd: Ready): void {
    const raft = v.raft!;
    if (rd.snapshot) {
      v.snap = rd.snapshot.meta;
      v.snapData = rd.snapshot.data ?? Buffer.from('[]');
      v.entries = [];
      v.state = JSON.parse(text(v.snapData)) as string[];
    }
    if (rd.entries.length > 0) {
      const from = rd.entries[0]!.index;
      v.entries = v.entries.filter((e) => e.index < from);
      v.entries.push(...rd.entries);
    }
    if (rd.hardState) v.hs = rd.hardState;
    const leading = raft.role === Role.Leader;
    if (rd.softState && rd.softState.role === Role.Leader) this.stats.leaderChanges++;
    // Both lists: the core puts a leader's appends in messagesBeforePersist (they may leave before its own fsync).
    for (const m of [...rd.messagesBeforePersist, ...rd.messages]) {
      if (leading) this.stats.leaderMessages++;
      this.sendRaft(m);
    }
    for (const e of rd.committedEntries) this.applyVoter(v, e);
    raft.advance(rd);
    // Compact now and then, so clients far behind need a snapshot from their relay.
    const applied = v.state.length - 1;
    if (applied - v.snap.index > 200) {
      const at = applied - 50;
      const image = Buffer.from(JSON.stringify(v.state.slice(0, at + 1)));
      raft.compact(at, image);
      v.snap = raft.log.snapshot;
      v.snapData = image;
      v.entries = v.entries.filter((e) => e.index > at);
    }
    this.notifyHolds(v.id, v.waiting, this.serverView(v));
  }

  private applyVoter(v: Voter, e: Entry): void {
    const index = v.state.length;
    if (e.index !== index) {
      this.violation(`voter ${v.id} applies ${e.index} after ${index - 1}`);
      return;
    }
    const data = e.type === 0 ? text(e.data) : '';
    v.state.push(data);
    if (this.committed.length === index) this.committed.push(data);
    else if (this.committed[index] !== data) this.violation(`voters disagree at ${index}`);
  }

  private sendRaft(m: Message): void {
    const from = this.voters.get(m.from)!;
    const to = this.voters.get(m.to);
    if (!to || from.partitioned || to.partitioned) return;
    this.queue.push(this.now + this.raftNetPrng.int(1, 4), { kind: 'raft', m });
  }

  /** The view a server relay forwards: its committed and applied log (or, broken, everything it holds). */
  private serverView(v: Voter): CommittedView {
    const raft = v.raft!;
    const broken = this.opts.broken === 'relay-forwards-uncommitted';
    return {
      firstIndex: () => raft.log.firstIndex(),
      commitIndex: () => (broken ? raft.log.lastIndex() : Math.min(raft.log.committed, v.state.length - 1)),
      entries: (lo, hi, maxBytes) => raft.log.slice(lo, hi + 1, maxBytes).map((e) => ({ index: e.index, data: e.type === 0 ? e.data : new Uint8Array(0) })),
    };
  }

  // ------------------------------------------------------------ relays

  private relayCandidates(): RelayCandidate[] {
    const out: RelayCandidate[] = [];
    const leader = this.leader();
    for (const v of this.voters.values()) if (v !== leader) out.push({ id: v.id, address: v.id, level: 0 });
    for (const c of this.clients) if (c.isRelay && c.member) out.push({ id: c.id, address: c.id, level: 1 });
    return out;
  }

  private onPull(ev: Extract<Event, { kind: 'pull' }>): void {
    this.stats.pulls++;
    const voter = this.voters.get(ev.relay);
    if (voter) {
      if (!voter.raft || voter.partitioned) return;
      // The leader feeds clients only while no other server can.
      voter.feed.accepting = voter.raft.role !== Role.Leader;
      if (!voter.feed.accepting) voter.feed.sendAway();
      this.answerPull(ev, voter.id, voter.feed, this.serverView(voter), voter.waiting, voter.state, voter.raft.role === Role.Leader);
      return;
    }
    const relay = this.byId.get(ev.relay);
    if (!relay?.up || relay.partitioned || !relay.feed || !relay.window) return;
    this.answerPull(ev, relay.id, relay.feed, relay.window, relay.waiting, relay.state, false);
  }

  private answerPull(
    ev: Extract<Event, { kind: 'pull' }>, relayId: string, feed: RelayFeed, view: CommittedView, waiting: Hold[], image: string[], leading: boolean,
  ): void {
    const known = feed.subscribers.has(ev.client.id);
    const a = feed.pull(ev.client.id, ev.client.id, ev.from, this.now, view, 0, ev.overflow);
    this.stats.maxFanout = Math.max(this.stats.maxFanout, feed.size);
    this.stats.maxOverflow = Math.max(this.stats.maxOverflow, [...feed.subscribers.values()].filter((x) => x.overflow).length);
    if (a.kind === 'entries' && a.entries.length === 0 && known) {
      waiting.push({ client: ev.client, reqId: ev.reqId, from: ev.from, deadline: this.now + PULL_WAIT });
      return;
    }
    let payload: AnswerPayload;
    if (a.kind === 'snapshot') {
      const index = view.commitIndex();
      payload = { kind: 'snapshot', index, image: image.slice(0, index + 1) };
    } else if (a.kind === 'entries') {
      const entries = this.lookahead(relayId, a.entries, ev.from);
      payload = { kind: 'entries', commit: a.commit, entries };
    } else payload = { kind: 'full' };
    this.sendAnswer(ev.client, relayId, ev.reqId, ev.incarnation, payload, leading);
  }

  /** Broken variant 2: a server relay appends a lookahead of entries past its commit (the answer's `commit` still says where it is). */
  private lookahead(relayId: string, entries: RelayEntry[], from: number): RelayEntry[] {
    const raft = this.voters.get(relayId)?.raft;
    if (this.opts.broken !== 'client-serves-ahead-after-restart' || !raft) return entries;
    const last = entries.length > 0 ? entries[entries.length - 1]!.index : from - 1;
    if (last + 1 < raft.log.firstIndex() || last >= raft.log.lastIndex()) return entries;
    return [...entries, ...raft.log.slice(last + 1, raft.log.lastIndex() + 1).map((e) => ({ index: e.index, data: e.type === 0 ? e.data : new Uint8Array(0) }))];
  }

  private sendAnswer(client: SimClient, relayId: string, reqId: number, incarnation: number, payload: AnswerPayload, leading: boolean): void {
    if (leading) {
      if (payload.kind === 'full') this.stats.leaderRedirects++;
      else this.stats.leaderMessages++;
    }
    if (client.partitioned) return;
    this.queue.push(this.now + this.netPrng.int(1, 4), { kind: 'answer', client, relay: relayId, reqId, incarnation, payload });
  }

  /** Held pulls are answered when the relay's commit moves past them or their wait ends. */
  private notifyHolds(relayId: string, waiting: Hold[], view: CommittedView): void {
    if (waiting.length === 0) return;
    const commit = view.commitIndex();
    const leading = this.voters.get(relayId)?.raft?.role === Role.Leader;
    for (let i = 0; i < waiting.length;) {
      const h = waiting[i]!;
      const feed = this.voters.get(relayId)?.feed;
      if (leading && feed) feed.sendAway();
      if (leading && !feed?.subscribers.has(h.client.id)) {
        // A relay that became the leader lets its subscribers go (all but those it took as overflow).
        waiting.splice(i, 1);
        this.sendAnswer(h.client, relayId, h.reqId, h.client.incarnation, { kind: 'full' }, true);
      } else if (h.from <= commit || h.deadline <= this.now) {
        waiting.splice(i, 1);
        const entries = this.lookahead(relayId, h.from <= commit && h.from >= view.firstIndex() ? view.entries(h.from, commit, 512 * 1024) : [], h.from);
        this.sendAnswer(h.client, relayId, h.reqId, h.client.incarnation, { kind: 'entries', commit, entries }, leading);
      } else i++;
    }
  }

  private relayHousekeeping(): void {
    for (const v of this.voters.values()) {
      if (!v.raft || v.partitioned) continue;
      v.feed.expire(this.now);
      this.notifyHolds(v.id, v.waiting, this.serverView(v));
    }
    for (const c of this.clients) {
      if (!c.feed || !c.window || !c.up || c.partitioned) continue;
      c.feed.expire(this.now);
      this.notifyHolds(c.id, c.waiting, c.window);
    }
  }

  // ------------------------------------------------------------ clients

  private addClient(no: number): SimClient {
    const isRelay = this.opts.relayEvery > 0 && no % this.opts.relayEvery === 0;
    const id = `c${no}`;
    const c: SimClient = {
      id, isRelay, up: true, member: true, partitioned: false, incarnation: 0, state: [''], durable: 0, stash: [],
      cursor: new ReplicaCursor(0), chooser: new RelayChooser(id, isRelay ? 0 : 1, 5000, !isRelay),
      inflight: undefined, nextPullAt: this.faultPrng.int(0, 200), lastServed: -1, lastSync: 0, current: undefined, refusedSince: undefined,
      feed: isRelay ? new RelayFeed({ fanout: this.opts.fanout, silenceMs: SILENCE }) : undefined,
      window: isRelay ? new EntryWindow(0, 1 << 20) : undefined, waiting: [],
    };
    c.chooser.setCandidates(this.relayCandidates());
    this.clients.push(c);
    this.byId.set(id, c);
    return c;
  }

  private clientTicks(): void {
    for (const c of this.clients) {
      if (!c.up) continue;
      if (this.now - c.lastSync >= SYNC_EVERY) {
        c.durable = c.state.length - 1;
        c.lastSync = this.now;
      }
      if (c.inflight && this.now - c.inflight.sentAt > PULL_WAIT + PULL_GRACE) {
        c.chooser.failed(c.inflight.relay, this.now);
        if (c.current === c.inflight.relay) c.current = undefined;
        c.inflight = undefined;
        c.nextPullAt = this.now + 50;
      }
      if (!c.inflight && this.now >= c.nextPullAt) this.sendPull(c);
      // A read served now: the applied index must not have gone back in this life.
      if (c.cursor.serving) {
        const applied = c.state.length - 1;
        if (applied < c.lastServed) this.violation(`${c.id} served index ${applied} after serving ${c.lastServed}`);
        c.lastServed = applied;
      }
    }
  }

  private sendPull(c: SimClient): void {
    const relay = c.chooser.choose(this.now);
    if (!relay) {
      c.chooser.setCandidates(this.relayCandidates());
      c.nextPullAt = this.now + 100;
      return;
    }
    const reqId = ++this.reqSeq;
    c.inflight = { relay: relay.id, reqId, sentAt: this.now };
    if (c.partitioned) return;
    const overflow = this.opts.broken !== 'no-overflow' && c.refusedSince !== undefined && this.now - c.refusedSince >= OVERFLOW_AFTER;
    this.queue.push(this.now + this.netPrng.int(1, 4), {
      kind: 'pull', client: c, relay: relay.id, reqId, from: c.cursor.applied + 1, incarnation: c.incarnation, overflow,
    });
  }

  private onAnswer(ev: Extract<Event, { kind: 'answer' }>): void {
    const c = ev.client;
    if (!c.up || c.incarnation !== ev.incarnation || c.inflight?.reqId !== ev.reqId) return;
    c.inflight = undefined;
    c.nextPullAt = this.now;
    const p = ev.payload;
    if (p.kind === 'full') {
      c.chooser.failed(ev.relay, this.now);
      c.chooser.setCandidates(this.relayCandidates());
      c.refusedSince ??= this.now;
      c.nextPullAt = this.now + 50;
      return;
    }
    c.refusedSince = undefined;
    c.chooser.succeeded(ev.relay);
    if (c.current !== ev.relay) {
      if (c.current !== undefined) this.stats.relaySwitches++;
      c.current = ev.relay;
    }
    if (p.kind === 'snapshot') {
      if (!c.cursor.snapshotAcceptable(p.index)) return;
      this.stats.snapshots++;
      c.state = p.image.slice();
      c.cursor.advanced(p.index);
      c.window?.reset(p.index);
      this.checkClient(c, 1);
      return;
    }
    if (this.opts.broken === 'client-serves-ahead-after-restart') {
      // Broken: every entry received goes to a durable log, the lookahead past the commit too.
      for (const e of p.entries) if (e.index >= c.state.length) c.stash.push(e);
      // Its host reboots right after writing that log, now and then.
      if (p.entries.some((e) => e.index > p.commit) && this.faultPrng.chance(0.2)) {
        this.crashClient(c);
        this.restartClient(c);
        return;
      }
    }
    const take = c.cursor.accept(p.commit, p.entries);
    if (take.length === 0) return;
    const first = c.state.length;
    for (const e of take) c.state.push(text(e.data));
    c.cursor.advanced(take[take.length - 1]!.index);
    c.window?.push(take);
    if (c.feed && c.window) this.notifyHolds(c.id, c.waiting, c.window);
    this.checkClient(c, first);
  }

  /** After a client's state changed: it is a prefix of the committed log. */
  private checkClient(c: SimClient, from: number): void {
    for (let i = from; i < c.state.length; i++) {
      if (i >= this.committed.length) {
        this.violation(`${c.id} holds index ${i} ("${c.state[i]}"), which no server has committed (commit ${this.committed.length - 1})`);
        return;
      }
      if (this.committed[i] !== c.state[i]) {
        this.violation(`${c.id} holds "${c.state[i]}" at ${i}; the committed entry there is "${this.committed[i]}"`);
        return;
      }
    }
  }

  private crashClient(c: SimClient): void {
    c.up = false;
    c.inflight = undefined;
    c.waiting = [];
    // What was not synced is lost.
    c.state = c.state.slice(0, c.durable + 1);
  }

  private restartClient(c: SimClient): void {
    c.up = true;
    c.incarnation++;
    c.lastServed = -1;
    c.refusedSince = undefined;
    c.cursor = new ReplicaCursor(c.state.length - 1);
    if (this.opts.broken === 'client-serves-ahead-after-restart') {
      // Broken: replays the kept log past what it applied, commit or no commit, and serves at once.
      // (the latest copy of an index wins, as a log overwrites)
      const byIndex = new Map<number, RelayEntry>();
      for (const e of c.stash) byIndex.set(e.index, e);
      for (let e = byIndex.get(c.state.length); e; e = byIndex.get(c.state.length)) c.state.push(text(e.data));
      c.cursor = new ReplicaCursor(c.state.length - 1, { serveAtOnce: true });
      this.checkClient(c, 1);
    }
    if (this.opts.broken !== 'client-serves-ahead-after-restart') c.stash = [];
    if (c.feed) c.feed = new RelayFeed({ fanout: this.opts.fanout, silenceMs: SILENCE });
    c.window?.reset(c.state.length - 1);
    c.chooser.setCandidates(this.relayCandidates());
    c.nextPullAt = this.now;
    this.stats.clientRestarts++;
  }

  // ------------------------------------------------------------ faults

  private nemesis(): void {
    const r = this.faultPrng;
    const roll = r.next();
    const downVoters = [...this.voters.values()].filter((v) => !v.raft || v.partitioned);
    if (roll < 0.25) {
      // A server relay crashes or comes back (at most one down: the cluster keeps a quorum).
      const down = downVoters[0];
      if (down) {
        if (!down.raft) this.startVoter(down);
        down.partitioned = false;
      } else {
        const v = r.pick([...this.voters.values()]);
        if (r.chance(0.5)) {
          v.raft = undefined;
          v.waiting = [];
          v.feed = new RelayFeed({ fanout: this.opts.fanout, silenceMs: SILENCE });
          this.stats.relayCrashes++;
        } else {
          v.partitioned = true;
          this.stats.relayPartitions++;
        }
      }
    } else if (roll < 0.45) {
      // A relay client crashes, restarts, or is cut off.
      const relays = this.clients.filter((c) => c.isRelay && c.member);
      const c = r.pick(relays);
      if (!c) return;
      if (!c.up) this.restartClient(c);
      else if (c.partitioned) c.partitioned = false;
      else if (r.chance(0.5)) {
        this.crashClient(c);
        this.stats.relayCrashes++;
      } else {
        c.partitioned = true;
        this.stats.relayPartitions++;
      }
    } else if (roll < 0.75) {
      // A few clients crash losing unsynced data, restart, or are cut off and healed.
      for (let i = 0; i < 5; i++) {
        const c = r.pick(this.clients);
        if (!c.member) continue;
        if (!c.up) this.restartClient(c);
        else if (c.partitioned) c.partitioned = false;
        else if (r.chance(0.4)) this.crashClient(c);
        else if (r.chance(0.5)) {
          // Killed and restarted at once by its supervisor.
          this.crashClient(c);
          this.restartClient(c);
        } else c.partitioned = true;
      }
    } else if (roll < 0.9) {
      // A client leaves for good; a new one joins with an empty replica.
      const c = r.pick(this.clients.filter((x) => x.member && !x.isRelay));
      if (c) {
        c.member = false;
        this.crashClient(c);
        this.stats.clientLeaves++;
      }
      this.addClient(this.nextClientNo++);
      this.stats.clientJoins++;
    } else {
      // Heal everything cut off.
      for (const v of this.voters.values()) v.partitioned = false;
      for (const c of this.clients) c.partitioned = false;
    }
  }

  private beginCalm(): void {
    for (const v of this.voters.values()) {
      v.partitioned = false;
      if (!v.raft) this.startVoter(v);
    }
    for (const c of this.clients) {
      c.partitioned = false;
      if (c.member && !c.up) this.restartClient(c);
    }
  }

  private deliverUntil(t: number): void {
    while (this.queue.peekAt() <= t) {
      const ev = this.queue.pop();
      if (ev.kind === 'raft') {
        const v = this.voters.get(ev.m.to)!;
        if (!v.raft || v.partitioned) continue;
        v.raft.step(ev.m);
      } else if (ev.kind === 'pull') this.onPull(ev);
      else this.onAnswer(ev);
      if (this.opts.stopOnViolation && this.violations.length > 0) return;
    }
    this.driveVoters();
  }

  private allConverged(): boolean {
    const commit = this.committed.length - 1;
    for (const c of this.clients) if (c.member && (c.state.length - 1 !== commit || !c.cursor.serving)) return false;
    return true;
  }

  private finalCheck(): void {
    if (this.opts.stopOnViolation && this.violations.length > 0) return;
    const commit = this.committed.length - 1;
    const lagging = this.clients.filter((c) => c.member && (c.state.length - 1 !== commit || !c.cursor.serving));
    if (lagging.length > 0) {
      const c = lagging[0]!;
      this.violation(`${lagging.length} clients did not converge within ${this.opts.convergeWithin} ms of the last write: `
        + `${c.id} at ${c.state.length - 1} of ${commit} (relay ${c.current ?? 'none'}, serving ${c.cursor.serving})`);
    }
    // Tree depth: servers are 1 hop from the leader, relay clients 2, their subscribers 3.
    this.stats.maxDepth = this.clients.some((c) => c.member && !c.isRelay && c.current !== undefined && this.byId.has(c.current)) ? 3 : 2;
  }

  private violation(message: string): void {
    this.violations.push(`t=${this.now}: ${message}`);
  }
}

export function runClientSim(options: ClientSimOptions): ClientSimResult {
  return new ClientSimulation(options).run();
}
