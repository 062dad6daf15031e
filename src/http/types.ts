// Shared shapes of the HTTP layer: the logger it accepts, its resolved limits,
// and what a route handler receives.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentApi } from '../agent/api.js';

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
}

export type RouteHandler = (ctx: RequestContext) => Promise<void> | void;

/** One row of the routing table. Patterns: literal segments, `:name` (one segment), `*name` (the rest, last only). */
export interface RouteSpec {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  handler: RouteHandler;
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
