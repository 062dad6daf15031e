// Shared shapes of the HTTP layer: the logger it accepts, its resolved limits,
// and what a route handler receives.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentApi } from '../agent/api.js';
import type { AclNeed, Authorizer } from '../acl/authorizer.js';
import type { AclResolver, ResolvedToken } from '../acl/resolver.js';
import type { AclResource } from '../acl/rules.js';

/** pino-compatible: an object of fields, then the message. */
export interface HttpLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface HttpLimits {
  /** Largest KV value accepted by PUT /v1/kv. */
  maxValueBytes: number;
  /** Largest JSON request body (POST /cluster/join, ...). */
  maxBodyBytes: number;
  /** Blocking query wait when ?wait is absent or 0. */
  defaultWaitMs: number;
  /** Longest blocking query wait (before jitter); longer ?wait values are cut to it. */
  maxWaitMs: number;
}

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly agent: AgentApi;
  /** The agent process's controls (reload, logs), when it gives them (src/http/control.ts). */
  readonly control?: import('./control.js').AgentControl;
  readonly limits: HttpLimits;
  /** Path parameters from the route pattern, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Aborted when the client disconnects before its response is complete (created on first use). */
  readonly signal: AbortSignal;
  /** The request's token's rights (everything when ACLs are off); list endpoints filter with it. */
  readonly authz: Authorizer;
  readonly token: ResolvedToken;
  readonly acl: AclResolver;
  /** The JSON body when the route's ACL declaration needed it (`body: true`). */
  readonly body?: Record<string, unknown>;
}

export type RouteHandler = (ctx: RequestContext) => Promise<void> | void;

/** One row of the routing table. Patterns: literal segments, `:name` (one segment), `*name` (the rest, last only). */
export interface RouteSpec {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  handler: RouteHandler;
  /**
   * What the route needs from the request's token, checked in one place (the server) before the
   * handler runs. A route that leaves it out needs operator:write (closed unless declared).
   */
  acl?: RouteAcl;
  /**
   * The query parameters this route honours (`token` and `pretty` come with
   * every /v1 route). Any other is a 400 naming it: never silently ignored.
   * `dc` listed here is checked before the handler runs (another datacenter
   * is Consul's 500 "No path to datacenter").
   */
  params?: readonly string[];
  /** The parameters Consul's API documentation lists for this endpoint (for the compatibility table). */
  consulParams?: readonly string[];
  /** One line for the compatibility table: what differs from Consul, if anything. */
  note?: string;
}

/** One right a request needs: `need` on `resource` named `name`; `subtree`: on everything under it too. */
export interface AclRequirement {
  resource: AclResource;
  need: AclNeed;
  name: string;
  subtree?: boolean;
}

/** What a route's request is checked against, from its path parameters and query. */
export interface AclRouteInput {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** For a lookup the right depends on (a service id's name). */
  readonly agent: AgentApi;
  /** The JSON body, read before the check for routes that declare `body: true`. */
  readonly body?: Record<string, unknown>;
}

/**
 * `public`: no rights (status, the bootstrap itself); `list`: a list endpoint whose handler filters
 * the items by `resource` read (Consul answers lists filtered, never 403); `check`: the requirements,
 * all of which must hold (null: this request is a list, filtered by its handler); `per-operation`: the
 * handler checks each operation of its body with `enforce` before it acts (a transaction).
 */
export type RouteAcl =
  | { kind: 'public' }
  | { kind: 'list'; resource: AclResource }
  | { kind: 'check'; body?: boolean | 'optional'; require: (input: AclRouteInput) => AclRequirement | readonly AclRequirement[] | null }
  | { kind: 'per-operation'; resource: AclResource };
