// The deterministic simulator: many Raft nodes in one process on a simulated
// network and clock, with faults, a client workload, and safety checks.

import {
  ConfChangeType,
  MessageType,
  RaftNode,
  Role,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type Snapshot,
  type UnsafeKnobs,
  bootstrapSnapshot,
  isVoter,
} from '../../src/raft/index.js';
import { Prng } from './prng.js';
import { KvStateMachine, decodeCommand, encodeCommand, type KvCommand } from './model.js';
import type { Operation } from '../lin/types.js';

/** A client operation as the simulator records it; converted for the checker at the end. */
export interface SimOp {
  process: number;
  key: string;
  f: 'read' | 'write' | 'cas' | 'delete';
  input: string | null | [string | null, string];
  output: string | null | boolean;
  call: number;
  ret: number;
  status: 'pending' | 'ok' | 'fail' | 'unknown';
}

export function toCheckerOperation(op: SimOp): Operation {
  const timing = { process: op.process, key: op.key, call: op.call, ret: op.ret };
  switch (op.f) {
    case 'read':
      return { ...timing, f: 'read', output: op.output as string | null };
    case 'write':
      return { ...timing, f: 'write', input: op.input as string };
    case 'cas':
      return { ...timing, f: 'cas', input: op.input as [string | null, string], output: op.output as boolean };
    case 'delete':
      return { ...timing, f: 'delete' };
  }
}

/** Simulated time units per Raft tick. */
export const TICK = 10;
export const ELECTION_TICKS = 10;

export interface FaultRates {
  drop: number;
  duplicate: number;
  /** Chance a message takes a long detour (and so arrives out of order). */
  reorder: number;
  /** Time units between nemesis actions. */
  nemesisEvery: number;
  crash: number;
  partition: number;
  membership: number;
  transfer: number;
  /** Chance that a new leader crashes within a few ticks of its election (figure 8 needs this). */
  leaderChurn: number;
}

export interface SimOptions {
  seed: number;
  voters?: number;
  learners?: number;
  /** Time units with faults. */
  duration?: number;
  /** Time units without faults at the end, in which the cluster must make progress. */
  calm?: number;
  clients?: number;
  keys?: number;
  faults?: Partial<FaultRates>;
  /** Bytes of entries per append message (drawn from the seed when not given). */
  maxSizePerMsg?: number;
  /** Deliberately broken core behaviours (tests prove the simulator catches them). */
  unsafe?: UnsafeKnobs;
  trace?: boolean;
  /** Stop at the first violation (the default): later ones are usually its echoes. */
  stopOnViolation?: boolean;
  /**
   * Clocks that disagree (ops). drift: each node's clock runs at a rate drawn
   * from 1 ± drift (and redrawn now and then), so its ticks come faster or
   * slower than real time; the leader lease is shortened by that bound, as a
   * deployment with such clocks must. jumps: a node's clock also jumps forward
   * (several ticks at once) or back (no ticks for a while); no lease survives
   * that, so lease reads are off and everything else must stay safe.
   * Drawn from its own stream, so runs without it replay exactly as before.
   */
  clock?: { drift: number; jumps?: boolean };
  /**
   * A lease and a vote-refusal window shorter than the election timeout (ops:
   * the agent's setting, which lets a follower that lost its leader's
   * connection campaign sooner). Default: lease electionTicks-1, refusal electionTicks.
   */
  lease?: { leaseTicks: number; voteRefusalTicks: number };
}

interface PendingWrite {
  op: SimOp;
  index: number;
  term: number;
}

interface PendingRead {
  op: SimOp;
  index: number;
}

interface Disk {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

class SimNode {
  raft: RaftNode | undefined;
  disk: Disk;
  sm: KvStateMachine;
  inflight: { rd: Ready; doneAt: number } | undefined;
  /** Written without an fsync (Ready.mustSync false): in the page cache until the next synced write; a crash loses it. */
  cache: Array<{ hardState?: HardState; entries: Entry[] }> = [];
  /** Promises this node made that a crash must not break: appends it acknowledged, votes it granted. */
  promises: { acked: Array<{ index: number; term: number }>; votes: Array<{ term: number; to: NodeId }> } = { acked: [], votes: [] };
  writes = new Map<number, PendingWrite>();
  reads = new Map<string, SimOp>();
  readsWaiting: PendingRead[] = [];
  knownCommitted = 0;
  leaderCheckedTerm = -1;
  compactEvery: number;
  /** Clock faults (SimOptions.clock): tick rate, the sub-tick time accumulated, ticks a backward jump swallows. */
  rate = 1;
  clockAcc = 0;
  skipTicks = 0;

  constructor(
    readonly id: NodeId,
    readonly phase: number,
    readonly prng: Prng,
    disk: Disk,
    compactEvery: number,
  ) {
    this.disk = disk;
    this.sm = KvStateMachine.fromImage(disk.snapshot.data, disk.snapshot.meta.index);
    this.compactEvery = compactEvery;
  }

  get alive(): boolean {
    return this.raft !== undefined;
  }
}

export interface SimResult {
  seed: number;
  violations: string[];
  operations: SimOp[];
  stats: {
    time: number;
    messages: number;
    dropped: number;
    elections: number;
    crashes: number;
    confChanges: number;
    transfers: number;
    snapshotsSent: number;
    commits: number;
    okOps: number;
  };
  trace: string[];
}

export class Simulation {
  readonly prng: Prng;
  readonly opts: Required<Omit<SimOptions, 'faults' | 'unsafe' | 'maxSizePerMsg' | 'clock' | 'lease'>> & {
    faults: FaultRates;
    unsafe: UnsafeKnobs;
  };
  readonly nodes = new Map<NodeId, SimNode>();
  now = 0;
  private seq = 0;
  private readonly inFlight = new Map<number, Message[]>();
  private readonly blocked = new Set<string>();
  private readonly keys: string[];
  private nextNodeNumber = 0;
  private nextOpId = 0;
  private clientsBusy: Array<SimOp | undefined>;
  readonly operations: SimOp[] = [];
  readonly violations: string[] = [];
  readonly trace: string[] = [];
  private readonly termLeaders = new Map<number, NodeId>();
  private readonly committedTerms = new Map<number, number>();
  private maxCommitted = 0;
  private readonly appliedEntries = new Map<number, Entry>();
  private readonly appendedEntries = new Map<string, { prevTerm: number | undefined; data: Uint8Array }>();
  private nextNemesisAt: number;
  private scheduledCrashes: Array<{ at: number; id: NodeId }> = [];
  /** Small caps split appends into many messages, which opens the windows that figure 8 needs. */
  private readonly maxSizePerMsg: number;
  private calm = false;
  /** SimOptions.clock: its own random stream, so the other draws stay what they were. */
  private readonly clock: { drift: number; jumps: boolean; rng: Prng } | undefined;
  private readonly leaseOpts: SimOptions['lease'];
  readonly stats: SimResult['stats'] = {
    time: 0, messages: 0, dropped: 0, elections: 0, crashes: 0, confChanges: 0,
    transfers: 0, snapshotsSent: 0, commits: 0, okOps: 0,
  };

  constructor(options: SimOptions) {
    this.prng = new Prng(options.seed);
    this.leaseOpts = options.lease;
    if (options.clock && (options.clock.drift > 0 || options.clock.jumps)) {
      if (!(options.clock.drift >= 0 && options.clock.drift < 0.5)) throw new RangeError('clock.drift must be in [0, 0.5)');
      this.clock = { drift: options.clock.drift, jumps: options.clock.jumps ?? false, rng: new Prng(options.seed ^ 0x0c10c) };
    }
    const p = this.prng;
    const faults: FaultRates = {
      drop: p.pick([0, 0.01, 0.05, 0.15]),
      duplicate: p.pick([0, 0.01, 0.05]),
      reorder: p.pick([0, 0.05, 0.2]),
      nemesisEvery: p.pick([60, 120, 250]),
      crash: p.pick([0.1, 0.25, 0.4]),
      partition: p.pick([0.1, 0.25, 0.4]),
      membership: p.pick([0, 0.15, 0.3]),
      transfer: p.pick([0, 0.1, 0.2]),
      leaderChurn: p.pick([0, 0.1, 0.3]),
      ...options.faults,
    };
    this.opts = {
      seed: options.seed,
      voters: options.voters ?? p.pick([3, 3, 5, 5, 7]),
      learners: options.learners ?? p.pick([0, 0, 1, 2]),
      duration: options.duration ?? 2500,
      calm: options.calm ?? 1500,
      clients: options.clients ?? p.int(2, 6),
      keys: options.keys ?? p.int(1, 4),
      faults,
      unsafe: options.unsafe ?? {},
      trace: options.trace ?? false,
      stopOnViolation: options.stopOnViolation ?? true,
    };
    this.maxSizePerMsg = options.maxSizePerMsg ?? p.pick([1, 1, 128, 4096]);
    this.keys = Array.from({ length: this.opts.keys }, (_, i) => `k${i}`);
    this.clientsBusy = new Array<SimOp | undefined>(this.opts.clients).fill(undefined);
    this.nextNemesisAt = faults.nemesisEvery;

    const ids = Array.from({ length: this.opts.voters + this.opts.learners }, () => this.newNodeId());
    const meta = bootstrapSnapshot(ids.map((id, i) => ({ id, address: id, voter: i < this.opts.voters })));
    const image = new KvStateMachine().image();
    for (const id of ids) {
      this.addNode(id, { hardState: { term: 1, vote: '', commit: 1 }, snapshot: { meta, data: image }, entries: [] });
    }
    this.log(`start: ${this.opts.voters} voters, ${this.opts.learners} learners, ${this.opts.clients} clients, keys ${this.keys.join(',')}, faults ${JSON.stringify(faults)}`);
  }

  // ---------------------------------------------------------------- the run

  run(): SimResult {
    const end = this.opts.duration + this.opts.calm;
    for (this.now = 1; this.now <= end; this.now++) {
      if (!this.calm && this.now > this.opts.duration) this.beginCalm();
      this.step();
      if (this.opts.stopOnViolation && this.violations.length > 0) break;
    }
    if (this.violations.length === 0) this.checkEnd();
    // Whatever is still outstanding may yet take effect: its outcome is unknown.
    for (const op of this.clientsBusy) if (op) this.finishUnknown(op);
    this.stats.time = this.now;
    return {
      seed: this.opts.seed,
      violations: this.violations,
      operations: this.operations,
      stats: this.stats,
      trace: this.trace,
    };
  }

  private step(): void {
    const due = this.inFlight.get(this.now);
    if (due) {
      this.inFlight.delete(this.now);
      for (const m of this.prng.shuffle(due)) this.deliver(m);
    }
    if (this.clock) this.clockTicks();
    else {
      for (const node of this.nodes.values()) {
        if (node.raft && (this.now + node.phase) % TICK === 0) node.raft.tick();
      }
    }
    if (!this.calm && this.scheduledCrashes.length > 0) {
      for (const c of this.scheduledCrashes.filter((c) => c.at <= this.now)) this.crash(this.nodes.get(c.id)!);
      this.scheduledCrashes = this.scheduledCrashes.filter((c) => c.at > this.now);
    }
    if (!this.calm && this.now >= this.nextNemesisAt) {
      this.nemesis();
      this.nextNemesisAt = this.now + this.opts.faults.nemesisEvery;
    }
    this.clients();
    for (const node of this.nodes.values()) this.drive(node);
    this.checkStep();
  }

  private beginCalm(): void {
    this.calm = true;
    this.blocked.clear();
    for (const node of this.nodes.values()) if (!node.raft) this.restart(node);
    this.log('calm: partitions healed, every node restarted, no more drops');
  }

  // ---------------------------------------------------------------- nodes

  private newNodeId(): NodeId {
    return `n${++this.nextNodeNumber}`;
  }

  /** Each node's clock at its own rate: a tick per TICK units of its time; a backward jump swallows some. */
  private clockTicks(): void {
    for (const node of this.nodes.values()) {
      node.clockAcc += node.rate;
      while (node.clockAcc >= TICK) {
        node.clockAcc -= TICK;
        if (node.skipTicks > 0) node.skipTicks--;
        else node.raft?.tick();
      }
    }
  }

  private drawRate(): number {
    const c = this.clock!;
    return 1 + (c.rng.next() * 2 - 1) * c.drift;
  }

  /** A clock fault now and then: a node's rate redrawn, or (jumps) its clock jumping forward or back. */
  private clockFault(alive: SimNode[]): void {
    const c = this.clock;
    if (!c || alive.length === 0) return;
    const node = alive[Math.floor(c.rng.next() * alive.length)]!;
    if (c.drift > 0 && c.rng.next() < 0.3) {
      node.rate = this.drawRate();
      this.log(`clock: ${node.id} now runs at ${node.rate.toFixed(3)}`);
    }
    if (c.jumps && c.rng.next() < 0.3) {
      const n = 1 + Math.floor(c.rng.next() * 2 * ELECTION_TICKS);
      if (c.rng.next() < 0.5) {
        this.log(`clock: ${node.id} jumps ${n} ticks forward`);
        for (let i = 0; i < n; i++) node.raft?.tick();
      } else {
        this.log(`clock: ${node.id} jumps back: no ticks for ${n}`);
        node.skipTicks += n;
      }
    }
  }

  private addNode(id: NodeId, disk: Disk): SimNode {
    const node = new SimNode(id, this.prng.int(0, TICK - 1), this.prng.fork(), disk, this.prng.pick([8, 20, 50, 1000]));
    if (this.clock) {
      node.rate = this.drawRate();
      node.clockAcc = node.phase;
    }
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  private start(node: SimNode): void {
    node.raft = new RaftNode({
      id: node.id,
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      random: () => node.prng.next(),
      hardState: node.disk.hardState,
      snapshot: node.disk.snapshot.meta,
      snapshotData: node.disk.snapshot.data,
      entries: node.disk.entries.slice(),
      applied: node.sm.applied,
      maxSizePerMsg: this.maxSizePerMsg,
      maxInflightMsgs: 4,
      // A lease must end before any other clock can have counted an election timeout: shorten it by the drift bound.
      ...(this.leaseOpts ?? {}),
      ...(this.clock ? { leaseTicks: Math.max(1, Math.floor((ELECTION_TICKS - 1) * (1 - this.clock.drift) / (1 + this.clock.drift))) } : {}),
      unsafe: this.opts.unsafe,
    });
    node.knownCommitted = Math.max(node.knownCommitted, 0);
    node.leaderCheckedTerm = -1;
  }

  private crash(node: SimNode): void {
    if (!node.raft) return;
    this.checkPromisesDurable(node);
    // As the transport does when a process dies: its connections close, and its followers hear of it.
    for (const other of this.nodes.values()) if (other !== node && other.raft?.leader === node.id) other.raft.leaderUnreachable();
    node.raft = undefined;
    node.inflight = undefined;
    // A power loss: what was not fsynced (an in-flight persist, page-cache writes) is gone.
    node.cache = [];
    for (const w of node.writes.values()) this.finishUnknown(w.op);
    node.writes.clear();
    for (const r of node.reads.values()) this.finishUnknown(r);
    node.reads.clear();
    for (const r of node.readsWaiting) this.finishUnknown(r.op);
    node.readsWaiting = [];
    this.stats.crashes++;
    this.log(`crash ${node.id}`);
  }

  private restart(node: SimNode): void {
    // The state machine is durable with its applied index (as in LMDB); the rest comes from disk.
    this.start(node);
    this.log(`restart ${node.id} (term ${node.disk.hardState.term}, vote ${node.disk.hardState.vote || '-'}, ${node.disk.entries.length} entries, applied ${node.sm.applied})`);
  }

  /**
   * Hand the node's Ready to the (simulated) disk and network, as Ready's
   * contract says and as the agent's driver does: the core decides what may
   * leave before the persist and whether it needs an fsync; this only obeys.
   */
  private drive(node: SimNode): void {
    for (let rounds = 0; rounds < 8 && node.raft; rounds++) {
      if (node.inflight) {
        if (node.inflight.doneAt > this.now) return;
        const { rd } = node.inflight;
        node.inflight = undefined;
        this.complete(node, rd);
      }
      const raft = node.raft;
      if (!raft || !raft.hasReady()) return;
      const rd = raft.ready();
      this.onReady(node, rd);
      this.sendAll(node, rd.messagesBeforePersist);
      node.inflight = { rd, doneAt: this.now + this.prng.pick([0, 0, 1, 2]) };
    }
  }

  private complete(node: SimNode, rd: Ready): void {
    const raft = node.raft!;
    const disk = node.disk;
    if (rd.mustSync) {
      // An fsync makes every earlier write durable too.
      for (const w of node.cache) this.writeToDisk(disk, w);
      node.cache = [];
    }
    if (rd.snapshot) {
      disk.snapshot = rd.snapshot;
      disk.entries = [];
      node.sm = KvStateMachine.fromImage(rd.snapshot.data, rd.snapshot.meta.index);
      // Writes proposed here that the snapshot covers will never be applied here one by one.
      for (const [index, w] of node.writes) {
        if (index <= rd.snapshot.meta.index) {
          node.writes.delete(index);
          this.finishUnknown(w.op);
        }
      }
      this.log(`${node.id} installs snapshot at ${rd.snapshot.meta.index}`);
    }
    const write = { hardState: rd.hardState, entries: rd.entries };
    if (rd.mustSync) {
      this.writeToDisk(disk, write);
      // Everything promised so far rested on writes that are durable now.
      node.promises = { acked: [], votes: [] };
    }
    else if (write.hardState || write.entries.length > 0) node.cache.push(write);
    this.sendAll(node, rd.messages);
    for (const e of rd.committedEntries) this.apply(node, e);
    for (const rs of rd.readStates) {
      const op = node.reads.get(rs.context);
      if (!op) continue;
      node.reads.delete(rs.context);
      node.readsWaiting.push({ op, index: rs.index });
    }
    this.serveReads(node);
    raft.advance(rd);
    if (node.sm.applied - disk.snapshot.meta.index >= node.compactEvery) {
      const image = node.sm.image();
      raft.compact(node.sm.applied, image);
      disk.snapshot = { meta: raft.log.snapshot, data: image };
      disk.entries = disk.entries.filter((e) => e.index > node.sm.applied);
    }
  }

  private writeToDisk(disk: Disk, w: { hardState?: HardState; entries: Entry[] }): void {
    if (w.entries.length > 0) {
      const from = w.entries[0].index;
      disk.entries = disk.entries.filter((e) => e.index < from && e.index > disk.snapshot.meta.index);
      disk.entries.push(...w.entries);
    }
    if (w.hardState) disk.hardState = w.hardState;
  }

  private apply(node: SimNode, e: Entry): void {
    if (e.index <= node.sm.applied) return;
    const seen = this.appliedEntries.get(e.index);
    if (seen) {
      if (seen.term !== e.term || !sameBytes(seen.data, e.data)) {
        this.violation(`state machine safety: ${node.id} applies index ${e.index} term ${e.term}, another node applied term ${seen.term}`);
      }
    } else {
      this.appliedEntries.set(e.index, e);
    }
    if (e.index !== node.sm.applied + 1) {
      this.violation(`${node.id} applies index ${e.index} after ${node.sm.applied}: a gap`);
    }
    let result: { ok: boolean } = { ok: true };
    if (e.type === 0 && e.data.length > 0) result = node.sm.apply(e.index, decodeCommand(e.data));
    else node.sm.applied = e.index;
    const w = node.writes.get(e.index);
    if (w) {
      node.writes.delete(e.index);
      if (w.term !== e.term) this.finish(w.op, 'fail');
      else {
        if (w.op.f === 'cas') w.op.output = result.ok;
        this.finish(w.op, 'ok');
      }
    }
  }

  private serveReads(node: SimNode): void {
    const still: PendingRead[] = [];
    for (const r of node.readsWaiting) {
      if (node.sm.applied >= r.index) {
        r.op.output = node.sm.get(r.op.key);
        this.finish(r.op, 'ok');
      } else {
        still.push(r);
      }
    }
    node.readsWaiting = still;
  }

  // ---------------------------------------------------------------- network

  private sendAll(node: SimNode, messages: Message[]): void {
    for (const m of messages) {
      this.recordPromise(node, m);
      this.send(m);
    }
  }

  /** What a message promises about this node's disk: an acknowledged entry, a granted vote. */
  private recordPromise(node: SimNode, m: Message): void {
    if (m.type === MessageType.AppResp && !m.reject && m.index > 0) {
      const term = node.raft?.log.term(m.index);
      if (term !== undefined) node.promises.acked.push({ index: m.index, term });
    } else if (m.type === MessageType.VoteResp && !m.reject) {
      node.promises.votes.push({ term: m.term, to: m.to });
    }
  }

  /**
   * At a crash: every append this node acknowledged (and still holds) and
   * every vote it granted must be on its disk; anything else was a promise
   * resting on an fsync that had not happened.
   */
  private checkPromisesDurable(node: SimNode): void {
    const disk = node.disk;
    const diskTerm = (index: number): number | undefined =>
      index === disk.snapshot.meta.index ? disk.snapshot.meta.term : disk.entries.find((e) => e.index === index)?.term;
    for (const a of node.promises.acked) {
      if (a.index < disk.snapshot.meta.index || node.raft?.log.term(a.index) !== a.term) continue;
      if (diskTerm(a.index) !== a.term) {
        this.violation(`durability: ${node.id} acknowledged index ${a.index} (term ${a.term}) but a crash loses it: it was not on disk`);
        return;
      }
    }
    for (const v of node.promises.votes) {
      const hs = disk.hardState;
      if (hs.term < v.term || (hs.term === v.term && hs.vote !== v.to)) {
        this.violation(`durability: ${node.id} granted its vote in term ${v.term} to ${v.to} but a crash loses it (disk: term ${hs.term}, vote ${hs.vote || '-'})`);
        return;
      }
    }
    node.promises = { acked: [], votes: [] };
  }

  private send(m: Message): void {
    this.stats.messages++;
    if (m.type === MessageType.Snap) this.stats.snapshotsSent++;
    const f = this.opts.faults;
    const lossy = !this.calm;
    if (this.blocked.has(`${m.from}>${m.to}`) || (lossy && this.prng.chance(f.drop))) {
      this.stats.dropped++;
      if (m.type === MessageType.Snap) this.later(m.from, (raft) => raft.reportSnapshot(m.to, false));
      return;
    }
    const copies = lossy && this.prng.chance(f.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = lossy && this.prng.chance(f.reorder) ? this.prng.int(5, 40) : this.prng.int(1, 3);
      const at = this.now + delay;
      let bucket = this.inFlight.get(at);
      if (!bucket) this.inFlight.set(at, (bucket = []));
      bucket.push(m);
    }
  }

  private readonly pendingCallbacks: Array<{ at: number; node: NodeId; fn: (raft: RaftNode) => void }> = [];

  private later(nodeId: NodeId, fn: (raft: RaftNode) => void): void {
    this.pendingCallbacks.push({ at: this.now + 3, node: nodeId, fn });
  }

  private deliver(m: Message): void {
    const node = this.nodes.get(m.to);
    if (!node?.raft || this.blocked.has(`${m.from}>${m.to}`)) {
      if (m.type === MessageType.Snap) this.later(m.from, (raft) => raft.reportSnapshot(m.to, false));
      return;
    }
    if (m.type === MessageType.VoteResp && !m.reject) this.log(`${m.from} votes for ${m.to} in term ${m.term}`);
    node.raft.step(m);
    if (m.type === MessageType.Snap) this.later(m.from, (raft) => raft.reportSnapshot(m.to, true));
    this.runCallbacks();
  }

  private runCallbacks(): void {
    for (let i = 0; i < this.pendingCallbacks.length; ) {
      const cb = this.pendingCallbacks[i];
      if (cb.at <= this.now) {
        this.pendingCallbacks.splice(i, 1);
        const raft = this.nodes.get(cb.node)?.raft;
        if (raft) cb.fn(raft);
      } else {
        i++;
      }
    }
  }

  // ---------------------------------------------------------------- faults

  private nemesis(): void {
    const f = this.opts.faults;
    const p = this.prng;
    const nodes = [...this.nodes.values()];
    const alive = nodes.filter((n) => n.alive);
    const dead = nodes.filter((n) => !n.alive);
    const leader = this.leader();

    this.clockFault(alive);
    if (dead.length > 0 && p.chance(0.5)) this.restart(p.pick(dead));
    if (p.chance(f.crash) && alive.length > 0) {
      this.crash(leader && p.chance(0.4) ? leader : p.pick(alive));
    }
    if (p.chance(f.partition)) this.partition();
    else if (this.blocked.size > 0 && p.chance(0.5)) {
      this.blocked.clear();
      this.log('heal');
    }
    if (leader?.raft && p.chance(f.membership)) this.changeMembership(leader);
    if (leader?.raft && p.chance(f.transfer)) {
      const voters = leader.raft.conf().members.filter((m) => m.voter && m.id !== leader.id);
      if (voters.length > 0) {
        const target = p.pick(voters).id;
        try {
          leader.raft.transferLeader(target);
          this.stats.transfers++;
          this.log(`transfer leadership ${leader.id} -> ${target}`);
        } catch {
          // not possible right now
        }
      }
    }
  }

  private partition(): void {
    const p = this.prng;
    const ids = [...this.nodes.keys()];
    this.blocked.clear();
    const cut = (a: NodeId[], b: NodeId[], oneWay = false): void => {
      for (const x of a) for (const y of b) {
        this.blocked.add(`${x}>${y}`);
        if (!oneWay) this.blocked.add(`${y}>${x}`);
      }
    };
    const kind = p.pick(['one', 'leader', 'majority', 'bridge', 'oneway']);
    const shuffled = p.shuffle(ids.slice());
    const leader = this.leader();
    switch (kind) {
      case 'one':
      case 'leader': {
        const victim = kind === 'leader' && leader ? leader.id : shuffled[0];
        cut([victim], ids.filter((id) => id !== victim));
        this.log(`partition: ${victim} isolated`);
        break;
      }
      case 'majority': {
        const half = Math.floor(ids.length / 2);
        cut(shuffled.slice(0, half), shuffled.slice(half));
        this.log(`partition: [${shuffled.slice(0, half)}] | [${shuffled.slice(half)}]`);
        break;
      }
      case 'bridge': {
        // Two halves that cannot talk, and one node that talks to both: overlapping majorities.
        const bridge = shuffled[0];
        const rest = shuffled.slice(1);
        const half = Math.floor(rest.length / 2);
        cut(rest.slice(0, half), rest.slice(half));
        this.log(`partition: bridge ${bridge} between [${rest.slice(0, half)}] and [${rest.slice(half)}]`);
        break;
      }
      case 'oneway': {
        const victim = leader && p.chance(0.5) ? leader.id : shuffled[0];
        cut([victim], ids.filter((id) => id !== victim), true);
        this.log(`partition: ${victim} can receive but not send`);
        break;
      }
    }
    // A cut link may close its connection (a write timeout does), and a connection may close for no
    // reason at all while the leader lives: followers hear of either; neither may cost safety.
    for (const node of this.nodes.values()) {
      const r = node.raft;
      if (!r || r.leader === '') continue;
      if (this.blocked.has(`${r.leader}>${node.id}`) || p.chance(0.1)) r.leaderUnreachable();
    }
  }

  private changeMembership(leader: SimNode): void {
    const raft = leader.raft!;
    const p = this.prng;
    const conf = raft.conf();
    const voters = conf.members.filter((m) => m.voter);
    const learners = conf.members.filter((m) => !m.voter);
    const choice = p.pick(['add', 'promote', 'demote', 'remove']);
    try {
      if (choice === 'add' && this.nodes.size < 12) {
        const id = this.newNodeId();
        raft.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: id, address: id });
        this.addNode(id, { hardState: { term: 0, vote: '', commit: 0 }, snapshot: { meta: { index: 0, term: 0, conf: { members: [] } } }, entries: [] });
        this.log(`add learner ${id}`);
      } else if (choice === 'promote' && learners.length > 0 && voters.length < 7) {
        const id = p.pick(learners).id;
        raft.proposeConfChange({ type: ConfChangeType.Promote, nodeId: id, address: '' });
        this.log(`promote ${id}`);
      } else if (choice === 'demote' && voters.length > 2) {
        const id = p.pick(voters).id;
        raft.proposeConfChange({ type: ConfChangeType.Demote, nodeId: id, address: '' });
        this.log(`demote ${id}`);
      } else if (choice === 'remove' && conf.members.length > 3 && voters.length > 2) {
        const id = p.pick(conf.members).id;
        raft.proposeConfChange({ type: ConfChangeType.Remove, nodeId: id, address: '' });
        this.log(`remove ${id}`);
      } else {
        return;
      }
      this.stats.confChanges++;
    } catch {
      // A change already pending, or none allowed yet: the nemesis tries again later.
    }
  }

  // ---------------------------------------------------------------- clients

  private clients(): void {
    if (this.calm) return;
    const p = this.prng;
    for (let c = 0; c < this.clientsBusy.length; c++) {
      if (this.clientsBusy[c]) {
        const op = this.clientsBusy[c]!;
        if (this.now * 1e6 - op.call > 600 * 1e6) this.finishUnknown(op);
        continue;
      }
      if (!p.chance(0.05)) continue;
      const leader = this.leader();
      const alive = [...this.nodes.values()].filter((n) => n.alive);
      if (alive.length === 0) continue;
      const node = leader && p.chance(0.7) ? leader : p.pick(alive);
      const raft = node.raft!;
      const key = p.pick(this.keys);
      const roll = p.next();
      const id = ++this.nextOpId;
      if (roll < 0.4) {
        const op = this.invoke(c, 'read', key, null);
        const lease = raft.role === Role.Leader && p.chance(0.5) && !this.clock?.jumps;
        if (!raft.readIndex(`r${id}`, { lease })) {
          this.finish(op, 'fail');
          continue;
        }
        node.reads.set(`r${id}`, op);
        continue;
      }
      let cmd: KvCommand;
      let op: SimOp;
      if (roll < 0.7) {
        const value = `v${id}`;
        op = this.invoke(c, 'write', key, value);
        cmd = { op: 'put', key, value };
      } else if (roll < 0.9) {
        const expected = p.chance(0.3) ? null : this.recentValue(node, key);
        const value = `v${id}`;
        op = this.invoke(c, 'cas', key, [expected, value]);
        cmd = { op: 'cas', key, expected, value };
      } else {
        op = this.invoke(c, 'delete', key, null);
        cmd = { op: 'delete', key };
      }
      try {
        const { index, term } = raft.propose(encodeCommand(cmd));
        node.writes.set(index, { op, index, term });
        this.log(`client ${c}: ${op.f} ${key} ${JSON.stringify(op.input)} proposed at ${node.id} as ${index}/${term}`);
      } catch {
        this.finish(op, 'fail');
      }
    }
  }

  private recentValue(node: SimNode, key: string): string | null {
    return node.sm.get(key);
  }

  private invoke(client: number, f: SimOp['f'], key: string, input: SimOp['input']): SimOp {
    const op: SimOp = {
      process: client, key, f, input, output: null,
      call: this.now * 1e6 + ++this.seq, ret: Infinity, status: 'pending',
    };
    this.clientsBusy[client] = op;
    return op;
  }

  private finish(op: SimOp, outcome: 'ok' | 'fail'): void {
    if (op.status !== 'pending') return;
    op.ret = this.now * 1e6 + ++this.seq;
    op.status = outcome;
    this.log(`client ${op.process}: ${op.f} ${op.key} ${JSON.stringify(op.input)} -> ${outcome} ${JSON.stringify(op.output)}`);
    if (outcome === 'ok') {
      this.operations.push(op);
      this.stats.okOps++;
    }
    if (this.clientsBusy[op.process] === op) this.clientsBusy[op.process] = undefined;
  }

  /** The outcome is unknown: a write may take effect at any later time; a read constrains nothing. */
  private finishUnknown(op: SimOp): void {
    if (op.status !== 'pending') return;
    op.status = 'unknown';
    op.ret = Infinity;
    if (op.f !== 'read') this.operations.push(op);
    if (this.clientsBusy[op.process] === op) this.clientsBusy[op.process] = undefined;
  }

  // ---------------------------------------------------------------- checks

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.raft?.role === Role.Leader && (!best || n.raft.term > best.raft!.term)) best = n;
    }
    return best;
  }

  /** Checks on each Ready as it is produced: log matching over every appended entry. */
  private onReady(node: SimNode, rd: Ready): void {
    const raft = node.raft!;
    if (rd.softState?.role === Role.Leader) {
      this.stats.elections++;
      if (!this.calm && this.prng.chance(this.opts.faults.leaderChurn)) {
        this.scheduledCrashes.push({ at: this.now + this.prng.int(1, 3 * TICK), id: node.id });
      }
      const voters = raft.conf().members.filter((m) => m.voter).map((m) => m.id);
      this.log(`${node.id} is leader of term ${raft.term} (voters ${voters.join(',')}; last ${raft.log.lastIndex()}/${raft.log.lastTerm()})`);
    }
    for (const e of rd.entries) {
      const key = `${e.index}/${e.term}`;
      const prevTerm = raft.log.term(e.index - 1);
      const seen = this.appendedEntries.get(key);
      if (!seen) {
        this.appendedEntries.set(key, { prevTerm, data: e.data });
        continue;
      }
      if (!sameBytes(seen.data, e.data)) {
        this.violation(`log matching: two different entries at index ${e.index} term ${e.term}`);
      }
      if (prevTerm !== undefined && seen.prevTerm !== undefined && prevTerm !== seen.prevTerm) {
        this.violation(`log matching: entry ${key} follows term ${prevTerm} on ${node.id} but term ${seen.prevTerm} elsewhere`);
      }
    }
  }

  private checkStep(): void {
    for (const node of this.nodes.values()) {
      const raft = node.raft;
      if (!raft) continue;
      // Every committed entry is recorded, and no index is ever committed with two terms.
      const committed = raft.log.committed;
      for (let i = Math.max(node.knownCommitted, raft.log.snapshot.index) + 1; i <= committed; i++) {
        const term = raft.log.term(i);
        if (term === undefined) continue;
        const seen = this.committedTerms.get(i);
        if (seen === undefined) {
          this.committedTerms.set(i, term);
          this.stats.commits++;
        } else if (seen !== term) {
          this.violation(`committed entry changed: index ${i} committed with term ${seen}, ${node.id} commits term ${term}`);
        }
      }
      node.knownCommitted = Math.max(node.knownCommitted, committed);
      if (committed > this.maxCommitted) this.maxCommitted = committed;

      if (raft.role !== Role.Leader) continue;
      const other = this.termLeaders.get(raft.term);
      if (other === undefined) this.termLeaders.set(raft.term, node.id);
      else if (other !== node.id) this.violation(`election safety: ${other} and ${node.id} are both leaders of term ${raft.term}`);
      if (!isVoter(raft.conf(), node.id) && raft.log.committed >= raft.log.latestConfIndex()) {
        this.violation(`${node.id} leads term ${raft.term} without being a voter`);
      }
      if (node.leaderCheckedTerm !== raft.term) {
        node.leaderCheckedTerm = raft.term;
        this.checkLeaderCompleteness(node);
      }
    }
  }

  private checkLeaderCompleteness(node: SimNode): void {
    const log = node.raft!.log;
    if (log.lastIndex() < this.maxCommitted) {
      this.violation(`leader completeness: ${node.id} leads term ${node.raft!.term} with last index ${log.lastIndex()} < committed ${this.maxCommitted}`);
      return;
    }
    for (let i = log.snapshot.index + 1; i <= this.maxCommitted; i++) {
      const want = this.committedTerms.get(i);
      if (want !== undefined && log.term(i) !== want) {
        this.violation(`leader completeness: ${node.id} leads term ${node.raft!.term} without committed entry ${i} (term ${want}, has ${log.term(i)})`);
        return;
      }
    }
  }

  /** After the calm: a leader, a write that commits, and identical replicas. */
  private checkEnd(): void {
    const leader = this.leader();
    if (!leader) {
      this.violation(`liveness: no leader ${this.opts.calm} time units after the faults stopped`);
      return;
    }
    const raft = leader.raft!;
    const marker = `end-${this.opts.seed}`;
    let proposed: { index: number; term: number } | undefined;
    const deadline = this.now + 40 * TICK;
    const voters = () => raft.conf().members.filter((m) => m.voter).map((m) => this.nodes.get(m.id)!);
    for (; this.now < deadline; this.now++) {
      if (!proposed && raft.role === Role.Leader) {
        try {
          proposed = raft.propose(encodeCommand({ op: 'put', key: '__end', value: marker }));
        } catch {
          // a transfer or a change still settling: try on the next step
        }
      }
      this.step();
      if (this.violations.length > 0) return;
      if (proposed && voters().every((n) => n.sm.applied >= proposed!.index)) break;
    }
    if (!proposed || !voters().every((n) => n.sm.applied >= proposed!.index)) {
      const lag = voters().map((n) => `${n.id}:${n.alive ? `applied ${n.sm.applied} commit ${n.raft!.log.committed} last ${n.raft!.log.lastIndex()} ${n.raft!.role}` : 'down'}`);
      const prs = raft.status().progress.map((p) => `${p.id}:${p.state}/m${p.match}/n${p.next}`);
      this.violation(`liveness: a write after the faults stopped (at ${proposed?.index}) did not reach every voter within 40 ticks: ${lag.join(', ')}; leader ${leader.id} progress ${prs.join(' ')}`);
      return;
    }
    const images = new Map<number, string>();
    for (const n of voters()) {
      const image = JSON.stringify([...n.sm.data].sort());
      const seen = images.get(n.sm.applied);
      if (seen === undefined) images.set(n.sm.applied, image);
      else if (seen !== image) this.violation(`replicas differ at applied index ${n.sm.applied}`);
    }
  }

  private violation(what: string): void {
    this.violations.push(`t=${this.now}: ${what}`);
    this.log(`VIOLATION ${what}`);
  }

  private log(line: string): void {
    if (this.opts.trace) this.trace.push(`t=${String(this.now).padStart(5)} ${line}`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
