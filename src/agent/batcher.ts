// Same-turn batching of single KV writes on the leader: kv-set and kv-delete
// proposals that arrive in one event-loop turn (local HTTP requests and writes
// forwarded by followers alike) become one `batch` log entry. Each write keeps
// its own result: the state machine applies them one after another, in
// arrival order, exactly as separate entries at one index would be. All of
// them were in flight together, so any order is a linearizable one.
// KONSUL_WRITE_BATCHING=off turns it off (for before/after measurements).

import { encodeCommand } from '../state/index.js';
import type { StateMachine } from '../state/index.js';
import type { ProposalResult } from './driver.js';

/** Command tags that may share an entry (kv-set, kv-delete; see state/command.ts). */
const BATCHABLE_TAGS: ReadonlySet<number> = new Set([1, 2]);
const MAX_BATCH_COMMANDS = 256;
const MAX_BATCH_BYTES = 1024 * 1024;

interface Queued {
  bytes: Uint8Array;
  resolve(r: ProposalResult): void;
  reject(e: Error): void;
}

export function batchingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.KONSUL_WRITE_BATCHING ?? '').trim().toLowerCase();
  return !(v === 'off' || v === '0' || v === 'false' || v === 'no');
}

export class WriteBatcher {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  /** Entries proposed and writes carried (for stats and the benchmark). */
  readonly counters = { entries: 0, writes: 0 };

  constructor(
    private readonly proposeRaw: (bytes: Uint8Array) => Promise<ProposalResult>,
    private readonly state: StateMachine,
    readonly enabled = batchingEnabled(),
  ) {}

  propose(bytes: Uint8Array): Promise<ProposalResult> {
    // ops: a cluster still at protocol 1 (a rolling upgrade from the first release) has members that do not know `batch`.
    if (!this.enabled || bytes.length === 0 || !BATCHABLE_TAGS.has(bytes[0]!) || bytes.length > MAX_BATCH_BYTES / 4
      || this.state.clusterVersion() < 2) {
      this.counters.entries++;
      this.counters.writes++;
      return this.proposeRaw(bytes);
    }
    return new Promise<ProposalResult>((resolve, reject) => {
      if (this.queue.length >= MAX_BATCH_COMMANDS || this.queuedBytes + bytes.length > MAX_BATCH_BYTES) this.flush();
      this.queue.push({ bytes, resolve, reject });
      this.queuedBytes += bytes.length;
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after the poll phase: every request read in this turn is in the queue by then.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    if (queue.length === 0) return;
    this.counters.entries++;
    this.counters.writes += queue.length;
    if (queue.length === 1) {
      const q = queue[0]!;
      this.proposeRaw(q.bytes).then(q.resolve, q.reject);
      return;
    }
    this.proposeRaw(encodeCommand({ type: 'batch', commands: queue.map((q) => q.bytes) })).then((r) => {
      const results = this.state.coord.outcome(r.index);
      queue.forEach((q, i) => q.resolve({ result: Array.isArray(results) ? (results[i] as boolean) : r.result, index: r.index }));
    }, (error: Error) => {
      for (const q of queue) q.reject(error);
    });
  }
}
