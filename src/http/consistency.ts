// Consul's read consistency modes (?stale, ?consistent, default) and the
// headers every read answers with: X-Consul-Index, -KnownLeader, -LastContact.

import type { OutgoingHttpHeaders } from 'node:http';
import type { Consistency, ReadMeta } from '../agent/api.js';
import { badRequest } from './errors.js';
import { flag } from './query.js';

export function parseConsistency(query: URLSearchParams): Consistency {
  const stale = flag(query, 'stale');
  const consistent = flag(query, 'consistent');
  if (stale && consistent) throw badRequest('Cannot specify ?stale with ?consistent, conflicting consistency modes');
  return stale ? 'stale' : consistent ? 'consistent' : 'default';
}

const EFFECTIVE: Readonly<Record<Consistency, string>> = { default: 'leader', consistent: 'consistent', stale: 'stale' };

/** The read headers. The index is never 0: a client blocking on 0 would never block. */
export function readHeaders(index: number, meta: ReadMeta, consistency: Consistency): OutgoingHttpHeaders {
  return {
    'X-Consul-Index': String(Math.max(1, Math.floor(index))),
    'X-Consul-KnownLeader': meta.knownLeader ? 'true' : 'false',
    'X-Consul-LastContact': String(Math.max(0, Math.round(meta.lastContactMs))),
    'X-Consul-Effective-Consistency': EFFECTIVE[consistency],
  };
}
