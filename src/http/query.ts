// Query-string helpers with Consul's conventions: a flag is on when present
// (`?recurse`, `?raw`), numbers are unsigned integers, durations use Go's
// format (`10s`, `1m30s`, `250ms`). Bad values are 400s that name the parameter.

import { parseDuration } from '../duration.js';
import { badRequest } from './errors.js';

export { parseDuration };

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

/** A duration parameter in ms, or undefined when absent; a bad value is a 400 naming the parameter. */
export function durationParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) throw badRequest(`invalid ?${name}: "${text}" is not a duration (examples: 100ms, 10s, 5m)`);
  return ms;
}
