// The HTTP load generator behind `konsul bench write|read`: a closed loop of
// `concurrency` workers over one undici Pool with as many keep-alive
// connections, bounded by a duration or a request count. No per-request
// timers: undici's own headers/body timeouts bound each request.

import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { LatencyRecorder, buildResult, type BenchResult } from './stats.js';

export interface HttpOp {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  body?: Buffer | string;
  headers?: Record<string, string>;
}

/** `true` when the answer counts as a success, else the kind of error to count it under. */
export type AnswerCheck = (status: number, body: string) => true | string;

export interface Progress {
  elapsedSeconds: number;
  ok: number;
  errors: number;
}

export interface HttpLoadOptions {
  workload: string;
  origin: string;
  concurrency: number;
  /** Stop after this long (ms)... */
  durationMs?: number;
  /** ...or after this many requests, whichever comes first. At least one of the two. */
  requests?: number;
  /** One request's time limit. */
  timeoutMs: number;
  /** The n-th request to send (n counts from 0 across all workers). */
  next: (n: number) => HttpOp;
  check: AnswerCheck;
  onProgress?: (p: Progress) => void;
}

/** The error code of a failed request: undici's or the socket's code, else the message. */
export function errorKind(error: unknown): string {
  const e = error as { code?: unknown; errors?: Array<{ code?: unknown }>; message?: unknown };
  let code = typeof e.code === 'string' ? e.code : e.errors?.find((x) => typeof x.code === 'string')?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') code = 'timeout';
  if (typeof code === 'string') return code;
  return typeof e.message === 'string' ? e.message.split('\n')[0] : String(error);
}

export function httpPool(origin: string, connections: number, timeoutMs: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    connect: { timeout: Math.min(timeoutMs, 5000) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

/** One request through `pool`; resolves to true or the kind of error. Never throws. */
export async function send(pool: Pool, op: HttpOp, check: AnswerCheck, timeoutMs: number): Promise<true | string> {
  try {
    const res = await pool.request({
      method: op.method, path: op.path, body: op.body, headers: op.headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    return check(res.statusCode, text);
  } catch (error) {
    return errorKind(error);
  }
}

export async function runHttpLoad(options: HttpLoadOptions): Promise<BenchResult> {
  const { concurrency, durationMs, requests } = options;
  if (durationMs === undefined && requests === undefined) throw new Error('a duration or a request count is needed');
  const pool = httpPool(options.origin, concurrency, options.timeoutMs);
  const latencies = new LatencyRecorder();
  const errors: Record<string, number> = {};
  let errorCount = 0;
  let issued = 0;
  const start = performance.now();
  const end = durationMs === undefined ? Infinity : start + durationMs;
  const limit = requests ?? Infinity;
  const progress = options.onProgress
    ? setInterval(() => options.onProgress!({ elapsedSeconds: (performance.now() - start) / 1000, ok: latencies.count, errors: errorCount }), 1000)
    : undefined;
  progress?.unref();
  const worker = async (): Promise<void> => {
    while (issued < limit && performance.now() < end) {
      const op = options.next(issued++);
      const t0 = performance.now();
      const outcome = await send(pool, op, options.check, options.timeoutMs);
      if (outcome === true) latencies.add(performance.now() - t0);
      else {
        errors[outcome] = (errors[outcome] ?? 0) + 1;
        errorCount++;
        // A refused connection answers at once: do not spin on it.
        if (outcome === 'ECONNREFUSED') await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    if (progress) clearInterval(progress);
    await pool.destroy().catch(() => {});
  }
  const seconds = (performance.now() - start) / 1000;
  return buildResult(options.workload, options.origin, concurrency, latencies, errors, seconds);
}
