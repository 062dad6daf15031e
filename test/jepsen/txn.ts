// Multi-key transactions in the linearizability workload. A group of keys is
// only ever written whole, by one /v1/txn that sets every key to one new
// value; reads read every key in one read-only txn (default, ?consistent or
// ?stale); a cas reads the group, then sets it whole only if key 0's
// ModifyIndex is unchanged (check-index). So the group acts as one register:
// its ops go into the history under the group's name for the linearizability
// checker, and atomicity is checked on its own: a read must never see the
// keys of one read holding different values (a torn read).

import { call, type JCluster } from './cluster.js';
import type { HistoryWriter, JEvent, Mode } from './history.js';
import type { Rng } from './rng.js';

export const TXN_GROUP = 'jepsen/txn';
export const TXN_KEYS = 3;
const keyOf = (i: number): string => `${TXN_GROUP}/${i}`;

export interface TxnOptions {
  /** false: the BROKEN variant that writes the keys one PUT at a time (to prove the atomicity check catches it). */
  atomic: boolean;
  timeoutMs: number;
}

export interface AtomicityVerdict {
  reads: number;
  torn: string[];
}

/** Every ok read of the group saw one value on all its keys. */
export function checkTxnAtomicity(events: readonly JEvent[]): AtomicityVerdict {
  let reads = 0;
  const torn: string[] = [];
  for (const e of events) {
    if (e.type !== 'ok' || e.f !== 'read' || e.values === undefined) continue;
    reads++;
    if (new Set(e.values.map((v) => JSON.stringify(v))).size > 1) {
      torn.push(`torn read of ${e.key} on ${e.node} at ${e.time} ns: ${JSON.stringify(e.values)}`);
    }
  }
  return { reads, torn };
}

type Read = { ok: true; values: Array<string | null>; index: number } | { ok: false; error: string };

export class TxnWorkload {
  private stopped = false;
  private readonly running: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly cluster: JCluster,
    private readonly history: HistoryWriter,
    private readonly rng: Rng,
    private readonly opts: TxnOptions,
  ) {}

  start(count: number): void {
    for (let i = 0; i < count; i++) this.running.push(this.loop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private async loop(): Promise<void> {
    let process = this.history.freshProcess();
    let last: string | undefined;
    while (!this.stopped) {
      const members = this.cluster.members();
      const node = members[this.rng.int(members.length)]!;
      const r = this.rng.next();
      if (r < 0.45) {
        const mode = (['default', 'consistent', 'stale'] as const)[this.rng.int(3)];
        await this.recordRead(process, node.id, node.url, mode);
      } else if (r < 0.8 || last === undefined) {
        const value = `t${++this.seq}`;
        this.history.append({ process, type: 'invoke', f: 'write', key: TXN_GROUP, value, node: node.id });
        const out = await this.write(node.url, value);
        this.history.append({ process, type: out.type, f: 'write', key: TXN_GROUP, value, node: node.id, error: out.error });
        if (out.type === 'info') process = this.history.freshProcess();
        if (out.type === 'ok') last = value;
      } else {
        const next = `t${++this.seq}`;
        const value = [last, next];
        this.history.append({ process, type: 'invoke', f: 'cas', key: TXN_GROUP, value, node: node.id });
        const out = await this.cas(node.url, last, next);
        this.history.append({ process, type: out.type, f: 'cas', key: TXN_GROUP, value, node: node.id, error: out.error });
        if (out.type === 'info') process = this.history.freshProcess();
        if (out.type === 'ok') last = next;
      }
      await new Promise((resolve) => setTimeout(resolve, this.rng.int(10)));
    }
  }

  /** One read of the whole group, recorded (also used for the final read after recovery). */
  async recordRead(process: number, nodeId: string, url: string, mode: Mode): Promise<boolean> {
    this.history.append({ process, type: 'invoke', f: 'read', key: TXN_GROUP, value: null, mode, node: nodeId });
    const out = await this.read(url, mode);
    if (out.ok) {
      this.history.append({ process, type: 'ok', f: 'read', key: TXN_GROUP, value: out.values[0], values: out.values, mode, node: nodeId });
      return true;
    }
    // A read changes nothing: a failed one is a definite fail.
    this.history.append({ process, type: 'fail', f: 'read', key: TXN_GROUP, value: null, mode, node: nodeId, error: out.error });
    return false;
  }

  private async read(url: string, mode: Mode): Promise<Read> {
    const ops = Array.from({ length: TXN_KEYS }, (_, i) => ({ KV: { Verb: 'get-or-empty', Key: keyOf(i) } }));
    const q = mode === 'default' ? '' : `?${mode}`;
    try {
      const a = await call('PUT', `${url}/v1/txn${q}`, JSON.stringify(ops), this.opts.timeoutMs);
      if (a.status !== 200) return { ok: false, error: `HTTP ${a.status} ${a.body.slice(0, 120)}` };
      const results = (JSON.parse(a.body) as { Results: Array<{ KV: { Key: string; Value: string | null; ModifyIndex: number } }> }).Results ?? [];
      const byKey = new Map(results.map((x) => [x.KV.Key, x.KV]));
      const values = Array.from({ length: TXN_KEYS }, (_, i) => {
        const kv = byKey.get(keyOf(i));
        return kv === undefined ? null : Buffer.from(kv.Value ?? '', 'base64').toString();
      });
      return { ok: true, values, index: byKey.get(keyOf(0))?.ModifyIndex ?? 0 };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  private async write(url: string, value: string): Promise<{ type: JEvent['type']; error?: string }> {
    const b64 = Buffer.from(value).toString('base64');
    if (!this.opts.atomic) {
      // BROKEN on purpose: key by key, so a read can land between the PUTs.
      for (let i = 0; i < TXN_KEYS; i++) {
        const out = await this.send('PUT', `${url}/v1/kv/${keyOf(i)}`, value);
        if (out.type !== 'ok') return i === 0 ? out : { type: 'info', error: out.error };
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return { type: 'ok' };
    }
    const ops = Array.from({ length: TXN_KEYS }, (_, i) => ({ KV: { Verb: 'set', Key: keyOf(i), Value: b64 } }));
    return this.send('PUT', `${url}/v1/txn`, JSON.stringify(ops));
  }

  private async cas(url: string, expected: string, next: string): Promise<{ type: JEvent['type']; error?: string }> {
    const read = await this.read(url, 'consistent');
    if (!read.ok) return { type: 'fail', error: `cas read: ${read.error}` };
    if (read.values.some((v) => v !== expected)) return { type: 'fail', error: `cas: group is ${JSON.stringify(read.values)}` };
    const b64 = Buffer.from(next).toString('base64');
    const ops = [
      { KV: { Verb: 'check-index', Key: keyOf(0), Index: read.index } },
      ...Array.from({ length: TXN_KEYS }, (_, i) => ({ KV: { Verb: 'set', Key: keyOf(i), Value: b64 } })),
    ];
    return this.send('PUT', `${url}/v1/txn`, JSON.stringify(ops));
  }

  private async send(method: string, url: string, body: string): Promise<{ type: JEvent['type']; error?: string }> {
    try {
      const a = await call(method, url, body, this.opts.timeoutMs);
      if (a.status === 200 && (a.body.trim() === 'true' || a.body.startsWith('{'))) return { type: 'ok' };
      // 409: the transaction was rolled back, nothing applied.
      if (a.status === 409) return { type: 'fail', error: a.body.slice(0, 160) };
      return { type: 'info', error: `HTTP ${a.status} ${a.body.slice(0, 120)}` };
    } catch (error) {
      const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code;
      return code === 'ECONNREFUSED' ? { type: 'fail', error: code } : { type: 'info', error: (error as Error).message };
    }
  }
}
