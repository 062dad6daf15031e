// JSON with integers beyond 2^53 kept exact: Consul's uint64 fields (KV Flags)
// are JSON numbers, which JSON.parse and JSON.stringify would turn into doubles
// or refuse (BigInt). Shared by the HTTP answers and the CLI that reads them.

import { randomBytes } from 'node:crypto';

// A marker no input can contain: a random nonce of this process.
const MARK = `~u64-${randomBytes(12).toString('hex')}~`;
const MARKED_NUMBER = new RegExp(`"${MARK}(\\d+)"`, 'g');
/** A JSON string (skipped as it is) or an integer literal of 16 digits or more (a candidate past 2^53). */
const STRING_OR_LONG_INTEGER = /"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.\deE])/g;

/** JSON.stringify, with bigints written as exact JSON numbers (the plain path first: bigints are rare). */
export function stringifyJsonExact(value: unknown, indent?: number): string {
  try {
    return JSON.stringify(value, null, indent);
  } catch (error) {
    if (!(error instanceof TypeError) || !/BigInt/i.test(error.message)) throw error;
  }
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${MARK}${v.toString()}` : v), indent).replace(MARKED_NUMBER, '$1');
}

/** JSON.parse, with integers beyond Number.MAX_SAFE_INTEGER read as exact bigints. Throws SyntaxError like JSON.parse. */
export function parseJsonExact<T = unknown>(text: string): T {
  let long = false;
  const marked = text.replace(STRING_OR_LONG_INTEGER, (token) => {
    if (token.startsWith('"')) return token;
    const n = BigInt(token);
    if (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)) return token;
    long = true;
    return `"${MARK}${token}"`;
  });
  if (!long) return JSON.parse(text) as T;
  return JSON.parse(marked, (_key, v: unknown) => (typeof v === 'string' && v.startsWith(MARK) ? BigInt(v.slice(MARK.length)) : v)) as T;
}
