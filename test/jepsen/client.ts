// Concurrent clients: each loops get / put / cas / delete on a handful of keys
// through a random agent and a random read mode, recording every operation.
//
// Outcomes: a definite answer is `ok`; a definite refusal (`fail`) only when
// nothing can have happened: any read that errs, a write whose connection was
// refused, a cas whose check read did not match or whose PUT answered false;
// everything else (timeout, reset, 5xx on a write) is `info`: it may take
// effect at any later time, and the process takes a fresh id, as in Jepsen.
//
// cas [expected, new] is two requests: a ?consistent read giving the value
// and its ModifyIndex, then PUT ?cas=<index> with the new value. The PUT
// applies only while the key is unmodified since that read, so when it applies
// the value is still `expected`: the swap takes effect at the PUT's commit,
// inside the operation's window. A value mismatch at the read is a failed cas.

import { call, type JCluster } from './cluster.js';
import type { F, HistoryWriter, Mode } from './history.js';
import type { Rng } from './rng.js';

export const KEY_PREFIX = 'jepsen/';

export interface ClientOptions {
  keys: number;
  /** Per-request timeout; past it the op is `info`. */
  timeoutMs: number;
  /** Pause between a client's ops, at most (ms). */
  thinkMs: number;
}

type Outcome = { type: 'ok'; value?: unknown } | { type: 'fail' | 'info'; error: string };

function errCode(error: unknown): string {
  const e = error as { code?: string; cause?: { code?: string }; name?: string; message?: string };
  return e.code ?? e.cause?.code ?? e.name ?? String(e.message ?? error);
}

/** Connection never made: the request was not sent. */
function notSent(error: unknown): boolean {
  const code = errCode(error);
  return code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH';
}

export class Clients {
  private stopped = false;
  private readonly running: Promise<void>[] = [];
  private seq = 0;
  ops = 0;

  constructor(
    private readonly cluster: JCluster,
    private readonly history: HistoryWriter,
    private readonly rng: Rng,
    private readonly opts: ClientOptions,
  ) {}

  key(i: number): string {
    return `${KEY_PREFIX}k${i}`;
  }

  start(count: number): void {
    for (let i = 0; i < count; i++) this.running.push(this.loop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private async loop(): Promise<void> {
    let process = this.history.freshProcess();
    const lastSeen = new Map<string, string>();
    while (!this.stopped) {
      const members = this.cluster.members();
      const node = members[this.rng.int(members.length)];
      const key = this.key(this.rng.int(this.opts.keys));
      const r = this.rng.next();
      let f: F;
      let value: unknown = null;
      let mode: Mode | undefined;
      if (r < 0.45) {
        f = 'read';
        mode = (['default', 'consistent', 'stale'] as const)[this.rng.int(3)];
      } else if (r < 0.72) {
        f = 'write';
        value = String(++this.seq);
      } else if (r < 0.9 && lastSeen.has(key)) {
        f = 'cas';
        value = [lastSeen.get(key), String(++this.seq)];
      } else {
        f = 'delete';
      }
      this.history.append({ process, type: 'invoke', f, key, value, mode, node: node.id });
      const out = await this.perform(node.url, f, key, value, mode);
      this.ops++;
      if (out.type === 'ok') {
        this.history.append({ process, type: 'ok', f, key, value: f === 'read' ? out.value : value, mode, node: node.id });
        if (f === 'read' && typeof out.value === 'string') lastSeen.set(key, out.value);
        if (f === 'write') lastSeen.set(key, value as string);
        if (f === 'cas') lastSeen.set(key, (value as string[])[1]);
      } else {
        this.history.append({ process, type: out.type, f, key, value, mode, node: node.id, error: out.error });
        if (out.type === 'info') process = this.history.freshProcess();
      }
      if (this.opts.thinkMs > 0) await new Promise((r2) => setTimeout(r2, this.rng.int(this.opts.thinkMs)));
    }
  }

  async perform(url: string, f: F, key: string, value: unknown, mode?: Mode): Promise<Outcome> {
    const t = this.opts.timeoutMs;
    const path = `${url}/v1/kv/${key}`;
    if (f === 'read') {
      try {
        const q = mode === 'default' || mode === undefined ? '?raw' : `?raw&${mode}`;
        const a = await call('GET', path + q, undefined, t);
        if (a.status === 200) return { type: 'ok', value: a.body };
        if (a.status === 404) return { type: 'ok', value: null };
        return { type: 'fail', error: `HTTP ${a.status} ${a.body.slice(0, 120)}` };
      } catch (error) {
        return { type: 'fail', error: errCode(error) };
      }
    }
    if (f === 'cas') {
      const [expected, next] = value as [string, string];
      let index: number;
      try {
        const a = await call('GET', `${path}?consistent`, undefined, t);
        if (a.status === 404) return { type: 'fail', error: 'cas: key missing' };
        if (a.status !== 200) return { type: 'fail', error: `cas read: HTTP ${a.status} ${a.body.slice(0, 120)}` };
        const [entry] = JSON.parse(a.body) as Array<{ Value: string | null; ModifyIndex: number }>;
        const current = entry.Value === null ? '' : Buffer.from(entry.Value, 'base64').toString();
        if (current !== expected) return { type: 'fail', error: `cas: value is ${JSON.stringify(current)}` };
        index = entry.ModifyIndex;
      } catch (error) {
        return { type: 'fail', error: `cas read: ${errCode(error)}` };
      }
      return this.mutate('PUT', `${path}?cas=${index}`, next, t);
    }
    if (f === 'write') return this.mutate('PUT', path, value as string, t);
    return this.mutate('DELETE', path, undefined, t);
  }

  private async mutate(method: string, url: string, body: string | undefined, t: number): Promise<Outcome> {
    try {
      const a = await call(method, url, body, t);
      if (a.status === 200 && a.body.trim() === 'true') return { type: 'ok' };
      if (a.status === 200 && a.body.trim() === 'false') return { type: 'fail', error: 'cas: index moved' };
      return { type: 'info', error: `HTTP ${a.status} ${a.body.slice(0, 120)}` };
    } catch (error) {
      return notSent(error) ? { type: 'fail', error: errCode(error) } : { type: 'info', error: errCode(error) };
    }
  }
}
