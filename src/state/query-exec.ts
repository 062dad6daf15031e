// Executing a prepared query against a catalog replica: the instances of its
// service that pass its health, tag and metadata filters, shuffled, with the
// node it is "near" moved to the front, cut to a limit. Shared by the HTTP
// execute endpoint and DNS (NAME.query.<domain>), which read the same replica.
//
// konsul keeps no network coordinates, so "near" orders as Consul does
// without them: the results are shuffled and the near node, if among the
// first ten, is swapped to the front.

import type { CatalogReader, ServiceInstance } from './catalog-types.js';
import type { PreparedQuery } from './prepared-queries.js';

export interface ExecuteOptions {
  /** The node to sort near: a node name, or '' (the query's own Near is used then). '_agent' means agentNode. */
  near?: string;
  /** This agent's node name (for '_agent'). */
  agentNode: string;
  /** The node name that '_ip' resolves to, if the caller found one for its source address. */
  ipNode?: string;
  /** 0: no limit. */
  limit?: number;
  /** For tests: a source of randomness in [0, 1). */
  random?: () => number;
}

/** Does the instance pass the query's health filter (Consul's filterFailing, IgnoreCheckIDs honoured)? */
function healthy(i: ServiceInstance, q: PreparedQuery): boolean {
  const ignore = new Set(q.service.ignoreCheckIds);
  for (const c of i.checks) {
    if (ignore.has(c.checkId)) continue;
    if (c.status === 'critical' || (q.service.onlyPassing && c.status === 'warning')) return false;
  }
  return true;
}

/** Every required tag present and no excluded ("!tag") one, case-insensitively (Consul's tagFilter). */
function tagsMatch(i: ServiceInstance, tags: readonly string[]): boolean {
  if (tags.length === 0) return true;
  const have = new Set(i.service.tags.map((t) => t.toLowerCase()));
  for (const raw of tags) {
    const tag = raw.toLowerCase();
    if (tag.startsWith('!')) {
      if (have.has(tag.slice(1))) return false;
    } else if (!have.has(tag)) return false;
  }
  return true;
}

function metaMatch(have: Record<string, string>, want: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) return false;
  return true;
}

/** The query's instances, filtered, shuffled, near node first, limited. */
export function executeQuery(catalog: CatalogReader, q: PreparedQuery, options: ExecuteOptions): ServiceInstance[] {
  const s = q.service;
  const out = catalog.instances(s.service).filter((i) => healthy(i, q) && tagsMatch(i, s.tags)
    && metaMatch(i.node.meta, s.nodeMeta) && metaMatch(i.service.meta, s.serviceMeta));
  const random = options.random ?? Math.random;
  for (let n = out.length - 1; n > 0; n--) {
    const k = Math.floor(random() * (n + 1));
    [out[n], out[k]] = [out[k]!, out[n]!];
  }
  let near = options.near || s.near;
  if (near === '_agent') near = options.agentNode;
  else if (near === '_ip') near = options.ipNode ?? '';
  if (near !== '') {
    const lower = near.toLowerCase();
    const at = out.findIndex((i, n) => n < 10 && i.node.node.toLowerCase() === lower);
    if (at > 0) [out[0], out[at]] = [out[at]!, out[0]!];
  }
  const limit = options.limit ?? 0;
  return limit > 0 && out.length > limit ? out.slice(0, limit) : out;
}
