// The one place a request's token is read and checked against what its route
// declares (RouteSpec.acl), and the helpers routes declare it with.

import type { IncomingMessage } from 'node:http';
import type { AclNeed } from '../acl/authorizer.js';
import type { AclResolver, ResolvedToken } from '../acl/resolver.js';
import type { AclResource, NamedResource } from '../acl/rules.js';
import { HttpError } from './errors.js';
import type { AclRequirement, AclRouteInput, RouteAcl } from './types.js';

export const ACL_PUBLIC: RouteAcl = { kind: 'public' };

/** A list endpoint: every token may call it; the handler keeps only the items `resource` read allows. */
export function aclList(resource: AclResource): RouteAcl {
  return { kind: 'list', resource };
}

/** `need` on `resource`, named by a fixed name or a function of the request. */
export function aclNeed(resource: AclResource, need: AclNeed, name: string | ((input: AclRouteInput) => string) = ''): RouteAcl {
  return {
    kind: 'check',
    require: (input) => ({ resource, need, name: typeof name === 'function' ? name(input) : name }),
  };
}

/** `need` on `resource` named by a path parameter. */
export function aclParam(resource: AclResource, need: AclNeed, param: string): RouteAcl {
  return aclNeed(resource, need, (input) => input.params[param] ?? '');
}

/**
 * Rights that depend on the JSON body (the body is read first and handed to the handler as ctx.body);
 * `optional`: an empty body is `{}` (session create).
 */
export function aclBody(
  require: (input: AclRouteInput & { body: Record<string, unknown> }) => AclRequirement | readonly AclRequirement[],
  options: { optional?: boolean } = {},
): RouteAcl {
  return { kind: 'check', body: options.optional === true ? 'optional' : true, require: (input) => require({ ...input, body: input.body ?? {} }) };
}

/**
 * A route whose handler checks one right per operation of its body, before it acts, with
 * `enforce` (PUT /v1/txn: key read or write per operation, as Consul checks a transaction).
 */
export function aclPerOperation(resource: AclResource): RouteAcl {
  return { kind: 'per-operation', resource };
}

/** The default for a route that declares nothing: management rights only. */
export const ACL_UNDECLARED: RouteAcl = aclNeed('operator', 'write');

/** Consul's order: ?token, then X-Consul-Token, then Authorization: Bearer. */
export function requestToken(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const q = query.get('token');
  if (q) return q;
  const header = req.headers['x-consul-token'];
  if (typeof header === 'string' && header !== '') return header.trim();
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}

export function aclNotFound(): HttpError {
  return new HttpError('KONSUL_ERR_ACL_NOT_FOUND', 'ACL not found', 'forbidden');
}

/** Consul's words, so clients that look for "Permission denied" recognise it. */
export function permissionDenied(token: ResolvedToken, requirement: AclRequirement): HttpError {
  const what = `'${requirement.resource}:${requirement.need}'`;
  const on = requirement.name === '' && !isNamed(requirement.resource) ? '' : ` on ${JSON.stringify(requirement.name)}`;
  const who = token.anonymous
    ? 'anonymous token'
    : `token with AccessorID '${token.accessorId}'`;
  const hint = token.anonymous ? '. The anonymous token is used implicitly when a request does not specify a token.' : '';
  return new HttpError('KONSUL_ERR_PERMISSION_DENIED', `Permission denied: ${who} lacks permission ${what}${on}${hint}`, 'forbidden');
}

function isNamed(resource: AclResource): resource is NamedResource {
  return !['operator', 'acl', 'keyring', 'mesh', 'peering'].includes(resource);
}

/**
 * Resolves the request's token and checks the route's declaration; throws 403 ("ACL not found" for an
 * unknown secret, "Permission denied" for a missing right).
 */
export function authorize(acl: AclResolver, declared: RouteAcl | undefined, req: IncomingMessage, input: AclRouteInput): ResolvedToken {
  const secret = requestToken(req, input.query);
  const rule = declared ?? ACL_UNDECLARED;
  const token = acl.resolve(secret) ?? (rule.kind === 'public' ? acl.resolve(undefined) : undefined);
  if (!token) throw aclNotFound();
  if (rule.kind !== 'check') return token;
  const requirement = rule.require(input);
  if (requirement === null) return token;
  enforce(token, requirement);
  return token;
}

/** Throws 403 "Permission denied" naming the first requirement the token lacks (all must hold). */
export function enforce(token: ResolvedToken, requirements: AclRequirement | readonly AclRequirement[]): void {
  const { authorizer } = token;
  if (authorizer.management) return;
  for (const requirement of Array.isArray(requirements) ? requirements as readonly AclRequirement[] : [requirements as AclRequirement]) {
    const ok = requirement.subtree && isNamed(requirement.resource)
      ? authorizer.allowedPrefixWrite(requirement.resource, requirement.name)
      : authorizer.allowed(requirement.resource, requirement.name, requirement.need);
    if (!ok) throw permissionDenied(token, requirement);
  }
}
