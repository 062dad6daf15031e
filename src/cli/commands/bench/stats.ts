// Latency percentiles and the summary every `konsul bench` workload prints:
// throughput, p50/p90/p99/max, errors by kind.

/** Nearest-rank percentile of an ascending array: the smallest value with at least p% of the values at or below it. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0];
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Latencies in milliseconds, appended as they come; grows without copying on every push. */
export class LatencyRecorder {
  private values = new Float64Array(1024);
  private n = 0;

  get count(): number {
    return this.n;
  }

  add(ms: number): void {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }

  /** The recorded values, ascending (a copy). */
  sorted(): Float64Array {
    return this.values.slice(0, this.n).sort();
  }
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

function round(n: number, digits: number): number {
  return Number.isFinite(n) ? Number(n.toFixed(digits)) : n;
}

/** Percentiles of `sorted` (ascending, ms), rounded to microseconds; NaN fields when there are none. */
export function summarize(sorted: ArrayLike<number>): LatencySummary {
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return {
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    max: round(sorted.length === 0 ? NaN : sorted[sorted.length - 1], 3),
    mean: round(sorted.length === 0 ? NaN : sum / sorted.length, 3),
  };
}

/** What one bench run reports (the --json shape of write, read and dns). */
export interface BenchResult {
  workload: string;
  target: string;
  concurrency: number;
  /** Completed operations that succeeded. */
  ok: number;
  /** Operations that failed, by kind ("HTTP 503", "timeout", "ECONNREFUSED", "NXDOMAIN", ...). */
  errors: Record<string, number>;
  errorCount: number;
  seconds: number;
  /** Successful operations per second. */
  throughput: number;
  /** Latency of successful operations, milliseconds. */
  latencyMs: LatencySummary;
}

export function buildResult(
  workload: string, target: string, concurrency: number, latencies: LatencyRecorder, errors: Record<string, number>, seconds: number,
): BenchResult {
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    workload, target, concurrency, ok: latencies.count, errors, errorCount,
    seconds: round(seconds, 3),
    throughput: round(seconds > 0 ? latencies.count / seconds : 0, 1),
    latencyMs: summarize(latencies.sorted()),
  };
}

function ms(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** The human form of a result: a few aligned lines. */
export function formatResult(r: BenchResult): string {
  const errors = r.errorCount === 0 ? '0' : `${r.errorCount} (${Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(', ')})`;
  return [
    `${r.workload} against ${r.target}, concurrency ${r.concurrency}, ${r.seconds.toFixed(1)} s`,
    `  throughput  ${r.throughput.toFixed(1)} ops/s (${r.ok} ok)`,
    `  latency     p50 ${ms(r.latencyMs.p50)} ms  p90 ${ms(r.latencyMs.p90)} ms  p99 ${ms(r.latencyMs.p99)} ms  max ${ms(r.latencyMs.max)} ms`,
    `  errors      ${errors}`,
  ].join('\n');
}
