// konsul's HTTP API on node:http: the Consul-compatible /v1 subset (KV,
// catalog, health, agent services and checks, status, operator raft, metrics) and the /cluster endpoints, served from an AgentApi.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { ACL_DISABLED, AclResolver, type AclSettings } from '../acl/resolver.js';
import { aclRoutes } from './acl.js';
import { authorize } from './acl-check.js';
import { readJsonObject } from './body.js';
import type { AgentApi } from '../agent/api.js';
import { agentRoutes } from './agent.js';
import { catalogRoutes } from './catalog.js';
import { clusterRoutes } from './cluster.js';
import { controlRoutes, type AgentControl } from './control.js';
import { methodNotAllowed, notFound, sendError } from './errors.js';
import { kvRoutes } from './kv.js';
import { metricsRoutes } from './metrics.js';
import { operatorRoutes } from './operator.js';
// ---- ops
import { autopilotRoutes } from './autopilot.js';
import { apiRoutes } from './api-routes.js';
import { eventRoutes } from './events.js';
import { preparedQueryRoutes } from './prepared-query.js';
import { checkQuery } from './params.js';
import { markPretty } from './respond.js';
import { Router } from './router.js';
import { snapshotRoutes } from './snapshot.js';
import { statusRoutes } from './status.js';
// ---- coord
import { sessionRoutes } from './session.js';
import { txnRoutes } from './txn.js';
import type { HttpLimits, HttpLogger, RequestContext, RouteSpec } from './types.js';

export { HttpError } from './errors.js';
export { parseDuration } from './query.js';
export { Router } from './router.js';
export type { HttpLimits, HttpLogger, RequestContext, RouteAcl, RouteHandler, RouteSpec } from './types.js';

export interface HttpServerOptions {
  agent: AgentApi;
  /** Largest KV value (PUT /v1/kv body). Default 512 KiB. */
  maxValueBytes?: number;
  /** Largest JSON request body. Default 64 KiB. */
  maxBodyBytes?: number;
  logger?: HttpLogger;
  /** Blocking query wait when ?wait is absent. Default 5 minutes. */
  defaultWaitMs?: number;
  /** Longest blocking query wait, before up to 1/16 jitter. Default 10 minutes. */
  maxWaitMs?: number;
  /** The route table (default allRoutes()); the conformance tests swap a route for a deliberately broken one. */
  routes?: readonly RouteSpec[];
  /** Called once per finished or aborted response (the agent counts requests by method and status). */
  onResponse?: (method: string, statusCode: number) => void;
  /** ACLs (sec): off unless enabled; tokens and policies come from the agent's replica. */
  acl?: AclSettings;
  /** Serve HTTPS with this certificate and key; with `ca` and `verifyIncoming`, clients must present a certificate it signed. */
  tls?: HttpsOptions;
  /** PUT /v1/agent/reload and GET /v1/agent/monitor; without it they answer 501. */
  control?: AgentControl;
}

export interface HttpsOptions {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  verifyIncoming?: boolean;
}

/** Every route konsul serves, in matching order (the compatibility table and the ACL matrix test walk it). */
export function allRoutes(): RouteSpec[] {
  return [
    // ---- sec
    ...aclRoutes,
    ...kvRoutes, ...catalogRoutes, ...agentRoutes, ...statusRoutes, ...operatorRoutes, ...clusterRoutes, ...metricsRoutes,
    ...snapshotRoutes,
    // ---- cli: reload and monitor
    ...controlRoutes,
    // ---- coord
    ...sessionRoutes, ...txnRoutes,
    // api branch (issue 18): Consul endpoints added for API fidelity.
    ...apiRoutes,
    ...eventRoutes,
    ...preparedQueryRoutes,
    // ---- ops
    ...autopilotRoutes,
  ];
}

/** Every route the API serves, in match order. */
export const ROUTES: readonly RouteSpec[] = allRoutes();

const KiB = 1024;
// Longer than the idle timeout of common clients' pools (undici 4 s, curl none),
// short enough that idle sockets do not pile up.
const KEEP_ALIVE_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 40_000;

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`createHttpServer: ${name} must be a positive whole number, got ${String(value)}`);
  }
  return value;
}

function resolveLimits(options: HttpServerOptions): HttpLimits {
  const limits: HttpLimits = {
    maxValueBytes: positiveInt('maxValueBytes', options.maxValueBytes, 512 * KiB),
    maxBodyBytes: positiveInt('maxBodyBytes', options.maxBodyBytes, 64 * KiB),
    defaultWaitMs: positiveInt('defaultWaitMs', options.defaultWaitMs, 5 * 60_000),
    maxWaitMs: positiveInt('maxWaitMs', options.maxWaitMs, 10 * 60_000),
  };
  if (limits.defaultWaitMs > limits.maxWaitMs) {
    throw new TypeError(`createHttpServer: defaultWaitMs (${limits.defaultWaitMs}) must not exceed maxWaitMs (${limits.maxWaitMs})`);
  }
  return limits;
}

/** The request target with any ?token= value replaced (for logs). */
export function redactToken(target: string): string {
  return target.replace(/([?&]token=)[^&#]*/gi, '$1<hidden>');
}

/** Split an origin-form (or absolute-form) request target into path and query. */
function splitTarget(target: string): { path: string; rawQuery: string } {
  let rest = target;
  if (!rest.startsWith('/')) {
    const scheme = /^https?:\/\/[^/?#]*/i.exec(rest);
    rest = scheme ? rest.slice(scheme[0].length) || '/' : '/' + rest;
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, rawQuery: '' } : { path: rest.slice(0, q), rawQuery: rest.slice(q + 1) };
}

/** An AbortSignal that fires when the response closes before it was finished (the client left). */
function clientGoneSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (res.destroyed && !res.writableFinished) controller.abort();
  else {
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
  }
  return controller.signal;
}

/** The HTTP (or, given `tls`, HTTPS) server, not yet listening: the caller calls `listen`. */
export function createHttpServer(options: HttpServerOptions, routes?: readonly RouteSpec[]): Server {
  const { agent, logger, onResponse } = options;
  if (agent === undefined || agent === null) throw new TypeError('createHttpServer: agent is required');
  const limits = resolveLimits(options);
  const router = new Router(routes ?? options.routes ?? ROUTES);
  const acl = new AclResolver(agent.state.acl, options.acl ?? ACL_DISABLED);

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    if (onResponse) res.once('close', () => onResponse(method, res.writableFinished ? res.statusCode : 499));
    try {
      const { path, rawQuery } = splitTarget(url);
      const match = router.match(method, path);
      if (match.kind === 'not-found') throw notFound(`no such endpoint: ${path}`);
      if (match.kind === 'method-not-allowed') throw methodNotAllowed(method, match.allowed);
      let signal: AbortSignal | undefined;
      const query = new URLSearchParams(rawQuery);
      // Unknown query parameters are a 400 naming them before the ACL check reads a body.
      checkQuery({ query, agent } as Pick<RequestContext, 'query' | 'agent'> as RequestContext, match.spec);
      const wantsBody = match.spec.acl?.kind === 'check' ? match.spec.acl.body : undefined;
      const body = wantsBody ? await readJsonObject(req, res, limits.maxBodyBytes, { emptyIsObject: wantsBody === 'optional' }) : undefined;
      const token = authorize(acl, match.spec.acl, req, { params: match.params, query, agent, body });
      const ctx: RequestContext = {
        req, res, agent, limits, acl, token, body, control: options.control,
        authz: token.authorizer,
        params: match.params,
        query,
        get signal() {
          return (signal ??= clientGoneSignal(res));
        },
      };
      if (ctx.query.has('pretty')) markPretty(res);
      await match.handler(ctx);
    } catch (error) {
      // sec: a ?token= secret never reaches a log line.
      sendError(res, error, logger, method, redactToken(url));
    }
  };

  const serverOptions = {
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    headersTimeout: HEADERS_TIMEOUT_MS,
    // requestTimeout bounds receiving the request; keep it clear of the longest blocking query anyway.
    requestTimeout: limits.maxWaitMs + Math.ceil(limits.maxWaitMs / 16) + 60_000,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => void serve(req, res);
  const tls = options.tls;
  const server: Server = tls
    ? createHttpsServer({
      ...serverOptions, cert: tls.cert, key: tls.key, ca: tls.ca,
      requestCert: tls.verifyIncoming === true, rejectUnauthorized: tls.verifyIncoming === true,
    }, onRequest) as unknown as Server
    : createServer(serverOptions, onRequest);
  // Answer `Expect: 100-continue` ourselves: a too-large value is refused before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => void serve(req, res));
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    logger?.debug({ err: error.message, code: error.code }, 'malformed HTTP request');
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  return server;
}
