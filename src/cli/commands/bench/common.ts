// What `konsul bench write|read|dns|failover|self-test` share: the load
// flags (--concurrency, --duration, --requests, --timeout), their checks, the
// progress line on a terminal, and how a result is printed and exits.

import { Option, UsageError } from '../../clipanion.js';
import { parseDuration } from '../../../duration.js';
import { KonsulCommand } from '../../command.js';
import { AgentUnreachableError, CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import type { ApiName, Consistency } from './apis.js';
import type { Progress } from './http-load.js';
import { formatResult, type BenchResult } from './stats.js';

export function intFlag(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

export function durationFlag(flag: string, text: string | undefined, fallbackMs: number, minMs: number, maxMs: number): number {
  if (text === undefined) return fallbackMs;
  const ms = parseDuration(text.trim());
  if (ms === undefined || ms < minMs || ms > maxMs) {
    throw new UsageError(`${flag} must be a duration from ${minMs}ms to ${maxMs / 1000}s (examples: 500ms, 10s, 2m), got "${text}"`);
  }
  return ms;
}

export function choiceFlag<T extends string>(flag: string, text: string | undefined, fallback: T, choices: readonly T[]): T {
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got "${text}"`);
  return text as T;
}

export const APIS: readonly ApiName[] = ['konsul', 'etcd'];
export const CONSISTENCIES: readonly Consistency[] = ['default', 'consistent', 'stale'];

/** The load flags every load-generating bench command takes. */
export abstract class BenchLoadCommand extends KonsulCommand {
  concurrency = Option.String('--concurrency,-c', { description: 'Requests in flight at once (default 16)' });
  duration = Option.String('--duration,-d', { description: 'How long to run, a duration such as 10s (default 10s, unless --requests is given)' });
  requests = Option.String('--requests,-n', { description: 'Stop after this many requests (with --duration: whichever comes first)' });
  timeout = Option.String('--timeout', { description: 'One request\'s time limit (default 5s); a request past it counts as a "timeout" error' });
  json = Option.Boolean('--json', false, { description: 'Print the result as JSON, for scripts' });

  protected loadBounds(): { concurrency: number; durationMs?: number; requests?: number; timeoutMs: number } {
    const concurrency = intFlag('--concurrency', this.concurrency, 16, 1, 10_000);
    const requests = this.requests === undefined ? undefined : intFlag('--requests', this.requests, 0, 1, 100_000_000);
    const durationMs = this.duration === undefined && requests !== undefined ? undefined : durationFlag('--duration', this.duration, 10_000, 100, 3_600_000);
    const timeoutMs = durationFlag('--timeout', this.timeout, 5000, 10, 600_000);
    return { concurrency, durationMs, requests, timeoutMs };
  }

  /** A live progress line on stderr when it is a terminal; call the returned function to clear it. */
  protected progress(): { onProgress?: (p: Progress) => void; clear: () => void } {
    const stderr = this.context.stderr as { isTTY?: boolean; write: (s: string) => boolean };
    if (stderr.isTTY !== true) return { clear: () => {} };
    return {
      onProgress: (p) => {
        const rate = p.elapsedSeconds > 0 ? (p.ok / p.elapsedSeconds).toFixed(0) : '0';
        stderr.write(`\r\x1b[K${p.elapsedSeconds.toFixed(0)} s  ${p.ok} ok  ${p.errors} errors  ${rate}/s`);
      },
      clear: () => void stderr.write('\r\x1b[K'),
    };
  }

  /** Print one result; exit 1 when nothing succeeded, 3 when the target was never reachable. */
  protected report(result: BenchResult, what: string): number {
    if (this.json) this.printJson(result, 'as-is');
    else this.out(formatResult(result));
    if (result.ok === 0 && result.errorCount > 0) {
      const kinds = Object.keys(result.errors);
      if (kinds.length === 1 && kinds[0] === 'ECONNREFUSED') throw new AgentUnreachableError(result.target, 'connect ECONNREFUSED');
      throw new CliError(`no ${what} succeeded (${kinds.map((k) => `${k}: ${result.errors[k]}`).join(', ')})`);
    }
    return EXIT.ok;
  }
}
