// The lock workload: processes take one lock (a session and ?acquire) through
// random agents and, while they believe they hold it, write to a register
// through /v1/txn with the lock's fencing token ([check-fence, set]). Some
// writes come after a "pause" (as a GC pause would), and a session killer
// destroys the holder's session now and then, so stale holders keep trying to
// write after another process took the lock. The checker then proves mutual
// exclusion for every write the register accepted.
//
// Fencing tokens are Raft indexes (the index of the acquiring write), and an
// accepted write's result carries the index it was applied at. So a write
// with token t applied at index i came from a superseded holder exactly when
// some acquisition with token g was granted with t < g < i. The check is sound
// (it never accuses a correct run); acquisitions whose answer was lost are not
// known, so it may miss a violation that only they would show.

import { call, type JCluster } from './cluster.js';
import type { Rng } from './rng.js';

export const LOCK_PREFIX = 'jepsen-lock/';
const LOCK_KEY = `${LOCK_PREFIX}.lock`;
const REGISTER_KEY = `${LOCK_PREFIX}register`;

export type LockRecord =
  | { kind: 'acquire'; process: number; token: number; time: number }
  | { kind: 'write'; process: number; token: number; type: 'ok' | 'fail' | 'info'; index?: number; time: number; error?: string }
  | { kind: 'kill'; session: string; time: number };

export interface LockOptions {
  /** false: the BROKEN variant that writes without the fencing check (to prove the checker catches it). */
  fence: boolean;
  lockDelay: string;
  timeoutMs: number;
}

export interface MutexVerdict {
  valid: boolean;
  acquisitions: number;
  acceptedWrites: number;
  refusedWrites: number;
  violations: string[];
}

/** Mutual exclusion: no accepted write from a holder whose token was superseded before the write applied. */
export function checkMutualExclusion(records: readonly LockRecord[]): MutexVerdict {
  const grants: Array<{ token: number; process: number }> = [];
  for (const r of records) if (r.kind === 'acquire') grants.push({ token: r.token, process: r.process });
  grants.sort((a, b) => a.token - b.token);
  const violations: string[] = [];
  let accepted = 0;
  let refused = 0;
  for (const r of records) {
    if (r.kind !== 'write') continue;
    if (r.type === 'fail') refused++;
    if (r.type !== 'ok') continue;
    accepted++;
    if (r.index === undefined) {
      violations.push(`write by process ${r.process} (token ${r.token}) was accepted without an index`);
      continue;
    }
    const own = grants.find((g) => g.token === r.token);
    if (own && own.process !== r.process) violations.push(`process ${r.process} wrote with token ${r.token}, which was granted to process ${own.process}`);
    const newer = grants.find((g) => g.token > r.token && g.token < r.index!);
    if (newer) {
      violations.push(`process ${r.process} wrote with token ${r.token} at index ${r.index}, after process ${newer.process} acquired the lock with token ${newer.token}`);
    }
  }
  return { valid: violations.length === 0, acquisitions: grants.length, acceptedWrites: accepted, refusedWrites: refused, violations };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class LockWorkload {
  readonly records: LockRecord[] = [];
  private stopped = false;
  private readonly running: Promise<void>[] = [];
  private nextProcess = 1_000_000;
  private readonly t0 = performance.now();

  constructor(private readonly cluster: JCluster, private readonly rng: Rng, private readonly opts: LockOptions) {}

  private now(): number {
    return Math.round((performance.now() - this.t0) * 1000);
  }

  start(processes: number): void {
    for (let i = 0; i < processes; i++) this.running.push(this.loop());
    this.running.push(this.killer());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private url(): string {
    const members = this.cluster.members();
    return members[this.rng.int(members.length)]!.url;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const process = this.nextProcess++;
      let session: string | undefined;
      try {
        const created = await call('PUT', `${this.url()}/v1/session/create`, JSON.stringify({ TTL: '10s', LockDelay: this.opts.lockDelay }), this.opts.timeoutMs);
        if (created.status !== 200) throw new Error(`create: ${created.status}`);
        session = (JSON.parse(created.body) as { ID: string }).ID;
        const token = await this.acquire(session, process);
        if (token !== undefined) await this.hold(session, process, token);
      } catch {
        await sleep(100);
      } finally {
        if (session) {
          await call('PUT', `${this.url()}/v1/kv/${LOCK_KEY}?release=${session}`, '', this.opts.timeoutMs).catch(() => undefined);
          await call('PUT', `${this.url()}/v1/session/destroy/${session}`, '', this.opts.timeoutMs).catch(() => undefined);
        }
      }
    }
  }

  /** Tries for a while; the token once acquired. */
  private async acquire(session: string, process: number): Promise<number | undefined> {
    for (let attempt = 0; attempt < 40 && !this.stopped; attempt++) {
      const url = this.url();
      const r = await call('PUT', `${url}/v1/kv/${LOCK_KEY}?acquire=${session}`, String(process), this.opts.timeoutMs).catch(() => undefined);
      if (r?.status === 200 && r.body.trim() === 'true') {
        const token = Number(r.headers['x-konsul-fencing-token']);
        if (!Number.isSafeInteger(token) || token <= 0) return undefined;
        this.records.push({ kind: 'acquire', process, token, time: this.now() });
        return token;
      }
      if (r?.status === 400 && /invalid session/.test(r.body)) return undefined;
      await sleep(50 + this.rng.int(150));
    }
    return undefined;
  }

  private async hold(session: string, process: number, token: number): Promise<void> {
    const writes = 3 + this.rng.int(6);
    for (let seq = 0; seq < writes && !this.stopped; seq++) {
      // Now and then a long pause, as a GC pause would be: the session may end meanwhile and another take the lock.
      if (this.rng.next() < 0.25) await sleep(1000 + this.rng.int(1500));
      else await sleep(20 + this.rng.int(80));
      await call('PUT', `${this.url()}/v1/session/renew/${session}`, '', this.opts.timeoutMs).catch(() => undefined);
      const set = { KV: { Verb: 'set', Key: REGISTER_KEY, Value: Buffer.from(`${process}:${token}:${seq}`).toString('base64') } };
      const ops = this.opts.fence ? [{ KV: { Verb: 'check-fence', Key: LOCK_KEY, Index: token } }, set] : [set];
      const r = await call('PUT', `${this.url()}/v1/txn`, JSON.stringify(ops), this.opts.timeoutMs).catch((e: Error) => e);
      if (r instanceof Error) {
        this.records.push({ kind: 'write', process, token, type: 'info', time: this.now(), error: r.message });
        return;
      }
      if (r.status === 200) {
        const results = (JSON.parse(r.body) as { Results: Array<{ KV: { Key: string; ModifyIndex: number } }> }).Results;
        const index = results.find((x) => x.KV.Key === REGISTER_KEY)?.KV.ModifyIndex;
        this.records.push({ kind: 'write', process, token, type: 'ok', index, time: this.now() });
      } else if (r.status === 409) {
        // Refused, nothing applied: this holder lost the lock.
        this.records.push({ kind: 'write', process, token, type: 'fail', time: this.now(), error: r.body.slice(0, 160) });
        return;
      } else {
        this.records.push({ kind: 'write', process, token, type: 'info', time: this.now(), error: `HTTP ${r.status}` });
        return;
      }
    }
  }

  /** Ends the holder's session every second or two (as a lapsed TTL or a failed check would). */
  private async killer(): Promise<void> {
    while (!this.stopped) {
      await sleep(800 + this.rng.int(1200));
      if (this.stopped) break;
      const url = this.url();
      const r = await call('GET', `${url}/v1/kv/${LOCK_KEY}?stale`, undefined, this.opts.timeoutMs).catch(() => undefined);
      const session = r?.status === 200 ? (JSON.parse(r.body) as Array<{ Session?: string }>)[0]?.Session : undefined;
      if (!session) continue;
      const d = await call('PUT', `${url}/v1/session/destroy/${session}`, '', this.opts.timeoutMs).catch(() => undefined);
      if (d?.status === 200) this.records.push({ kind: 'kill', session, time: this.now() });
    }
  }
}
