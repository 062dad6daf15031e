// ?filter and ?node-meta: the two ways Consul narrows a list answer. Both are
// checked before any data is read (a bad filter is a 400 with Consul's
// message) and applied to the JSON objects the endpoint answers with.

import type { CatalogNode } from '../state/index.js';
import { badRequest } from './errors.js';
import { compileFilter, FilterError, type FieldType, type Filter } from './filter/evaluate.js';
import type { RequestContext } from './types.js';

/** The route's ?filter compiled against its answer's shape, or undefined when absent or empty. */
export function filterParam(ctx: RequestContext, schema: FieldType): Filter | undefined {
  const text = ctx.query.get('filter');
  if (text === null || text.trim() === '') return undefined;
  try {
    return compileFilter(text, schema);
  } catch (error) {
    if (error instanceof FilterError) throw badRequest(error.message);
    throw error;
  }
}

/** Keep the items the filter matches (all of them without one). */
export function applyFilter<T>(items: T[], filter: Filter | undefined): T[] {
  return filter ? items.filter((item) => filter.matches(item)) : items;
}

/** ?node-meta=key:value, repeatable: every pair must be on the node (Consul: a pair without ':' wants an empty value). */
export function nodeMetaParam(ctx: RequestContext): Array<[string, string]> {
  return ctx.query.getAll('node-meta').map((pair) => {
    const at = pair.indexOf(':');
    return at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
  });
}

export function nodeMetaMatches(node: CatalogNode, pairs: ReadonlyArray<readonly [string, string]>): boolean {
  return pairs.every(([k, v]) => Object.prototype.hasOwnProperty.call(node.meta, k) && node.meta[k] === v);
}
