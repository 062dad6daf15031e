// Query-string helpers with Consul's conventions: a flag is on when present
// (`?recurse`, `?raw`), numbers are unsigned integers, durations use Go's
// format (`10s`, `1m30s`, `250ms`). Bad values are 400s that name the parameter.

import { badRequest } from './errors.js';

/** Consul flags are "present or not": `?recurse`, `?recurse=`, `?recurse=true` are all on. */
export function flag(query: URLSearchParams, name: string): boolean {
  return query.has(name);
}

/** An unsigned integer parameter, or undefined when absent. `?cas=abc` is a 400 naming `cas`. */
export function uintParam(query: URLSearchParams, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  if (!/^\d{1,16}$/.test(text)) throw badRequest(`invalid ?${name}: "${text}" is not a non-negative integer`);
  const n = Number(text);
  if (n > max) throw badRequest(`invalid ?${name}: ${n} is larger than ${max}`);
  return n;
}

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parse a Go duration (`300ms`, `1.5h`, `2h45m`, `0`) into milliseconds.
 * Returns undefined when the text is not one.
 */
export function parseDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  let at = 0;
  while (at < rest.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    at = DURATION_PART.lastIndex;
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

/** A duration parameter in ms, or undefined when absent; a bad value is a 400 naming the parameter. */
export function durationParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) throw badRequest(`invalid ?${name}: "${text}" is not a duration (examples: 100ms, 10s, 5m)`);
  return ms;
}
