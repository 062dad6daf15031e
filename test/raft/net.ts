// A tiny synchronous network for scripted Raft scenarios: nodes persist at once,
// messages are delivered in order until none are left, and links can be cut.

import { Prng } from '../sim/prng.js';
import {
  RaftNode,
  Role,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftOptions,
  type ReadState,
  type SnapshotMeta,
  EntryType,
} from '../../src/raft/index.js';

export interface NodeSpec {
  id: NodeId;
  /** Terms of log entries from index 1 (so [1, 1, 4] is three entries). */
  terms?: number[];
  hardState?: HardState;
  options?: Partial<RaftOptions>;
}

export class Net {
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly applied = new Map<NodeId, Entry[]>();
  /** Every read state each node's Ready has handed out, in order. */
  readonly reads = new Map<NodeId, ReadState[]>();
  readonly blocked = new Set<string>();
  readonly delivered: Message[] = [];
  private queue: Message[] = [];
  /** Drop every message for which this returns true (in addition to cut links). */
  dropIf: (m: Message) => boolean = () => false;

  constructor(specs: NodeSpec[], voters: NodeId[], learners: NodeId[] = []) {
    const conf = {
      members: [
        ...voters.map((id) => ({ id, address: id, voter: true })),
        ...learners.map((id) => ({ id, address: id, voter: false })),
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
    const snapshot: SnapshotMeta = { index: 0, term: 0, conf };
    let seed = 1;
    for (const spec of specs) {
      const prng = new Prng(seed++);
      const entries: Entry[] = (spec.terms ?? []).map((term, i) => ({
        term, index: i + 1, type: EntryType.Normal, data: new TextEncoder().encode(`${spec.id}@${i + 1}`),
      }));
      this.add(spec.id, {
        snapshot,
        entries,
        hardState: spec.hardState ?? { term: entries.at(-1)?.term ?? 0, vote: '', commit: 0 },
        random: () => prng.next(),
        ...spec.options,
      });
    }
  }

  add(id: NodeId, options: Omit<RaftOptions, 'id'>): RaftNode {
    const node = new RaftNode({ id, ...options });
    this.nodes.set(id, node);
    this.applied.set(id, []);
    this.reads.set(id, []);
    return node;
  }

  node(id: NodeId): RaftNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Cut both directions between `a` and each of `others`. */
  cut(a: NodeId, ...others: NodeId[]): void {
    for (const b of others) {
      this.blocked.add(`${a}>${b}`);
      this.blocked.add(`${b}>${a}`);
    }
  }

  isolate(a: NodeId): void {
    this.cut(a, ...[...this.nodes.keys()].filter((id) => id !== a));
  }

  heal(): void {
    this.blocked.clear();
  }

  /** Persist and collect every node's Ready (persisting is instant here). */
  private collect(): void {
    for (const [id, node] of this.nodes) {
      while (node.hasReady()) {
        const rd = node.ready();
        this.applied.get(id)!.push(...rd.committedEntries);
        this.reads.get(id)!.push(...rd.readStates);
        this.queue.push(...rd.messagesBeforePersist, ...rd.messages);
        node.advance(rd);
      }
    }
  }

  /** Deliver messages until the network is quiet. Returns how many were delivered. */
  settle(limit = 10_000): number {
    let count = 0;
    this.collect();
    while (this.queue.length > 0) {
      if (++count > limit) throw new Error('network did not settle');
      const m = this.queue.shift()!;
      const to = this.nodes.get(m.to);
      if (!to || this.blocked.has(`${m.from}>${m.to}`) || this.dropIf(m)) continue;
      this.delivered.push(m);
      to.step(m);
      this.collect();
    }
    return count;
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).tick();
      this.settle();
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.settle();
    }
  }

  /**
   * Campaign from `id` right away and let the election finish. The campaign is
   * forced (as in a leadership transfer) so that scripted set-ups need not wait
   * out the start-up lease that check-quorum nodes keep.
   */
  elect(id: NodeId): RaftNode {
    this.node(id).campaignNow(true);
    this.settle();
    return this.node(id);
  }

  leaders(): NodeId[] {
    return [...this.nodes].filter(([, n]) => n.role === Role.Leader).map(([id]) => id);
  }

  logTerms(id: NodeId): number[] {
    const log = this.node(id).log;
    const terms: number[] = [];
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) terms.push(log.term(i)!);
    return terms;
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
