// Query parameters, route by route: each route names the parameters it
// honours, and any other one is a 400 that names it, never silently ignored.
// The same table says which parameters Consul documents for the endpoint, so
// the README's compatibility table is generated from what the server checks.

import { HttpError, badRequest } from './errors.js';
import type { RequestContext, RouteSpec } from './types.js';

/** Consistency modes and blocking queries, honoured together by the catalog, health and KV reads. */
export const READ_PARAMS = ['stale', 'consistent', 'index', 'wait'] as const;
/** Consul Enterprise and peering scopes, and Consul's agent cache: documented on most reads, not served by konsul. */
export const ENTERPRISE_PARAMS = ['ns', 'partition'] as const;

/**
 * Parameters every /v1 route accepts: the ACL token (ACLs are not enforced
 * yet, issue 17; taking the token keeps Consul clients that always send one
 * working) and `pretty`, which only changes the layout of the JSON.
 */
export const UNIVERSAL_V1_PARAMS: readonly string[] = ['token', 'pretty'];

/** The parameters a route takes, `dc` included when it has it; undefined means none. */
export function routeParams(spec: RouteSpec): readonly string[] {
  const own = spec.params ?? [];
  return spec.path.startsWith('/v1/') ? [...UNIVERSAL_V1_PARAMS, ...own] : own;
}

/** Parameters Consul documents for the route that konsul does not serve. */
export function unsupportedConsulParams(spec: RouteSpec): string[] {
  const ours = new Set(routeParams(spec));
  return (spec.consulParams ?? []).filter((p) => !ours.has(p));
}

/**
 * 400 for a parameter the route does not take; 500 "No path to datacenter"
 * (Consul's answer for a datacenter it does not know) for a `dc` other than
 * this agent's, on the routes that take `dc`.
 */
export function checkQuery(ctx: RequestContext, spec: RouteSpec): void {
  const allowed = routeParams(spec);
  for (const name of new Set(ctx.query.keys())) {
    if (allowed.includes(name)) continue;
    const consul = spec.consulParams?.includes(name);
    const what = `${spec.method} ${spec.path}`;
    throw badRequest(consul
      ? `unsupported query parameter ?${name}: konsul does not serve it on ${what} (see the compatibility table in the README)`
      : `unknown query parameter ?${name} for ${what}; it takes ${allowed.length > 0 ? allowed.map((p) => `?${p}`).join(', ') : 'no parameters'}`);
  }
  if (allowed.includes('dc')) {
    const dc = ctx.query.get('dc');
    if (dc !== null && dc !== '' && dc.toLowerCase() !== ctx.agent.self().datacenter.toLowerCase()) {
      throw new HttpError('KONSUL_ERR_NO_PATH', 'No path to datacenter', 'internal');
    }
  }
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * A boolean parameter as Consul reads `?passing`: absent is false, present
 * without a value is true, otherwise Go's strconv.ParseBool; anything else is a 400.
 */
export function boolParam(query: URLSearchParams, name: string): boolean {
  const text = query.get(name);
  if (text === null) return false;
  if (text === '' || TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  throw badRequest(`Invalid value for ?${name}: "${text}" is not true or false`);
}
