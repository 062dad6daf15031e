// The CLI's HTTP client for one agent: the address from --http-addr /
// KONSUL_HTTP_ADDR, time limits, and non-2xx answers as errors. It uses
// node:http (built in, a few ms to load) rather than undici (~90 ms to load):
// a CLI command makes one or a few requests, and its start-up time is what a
// script calling it in a loop pays.

import { parseJsonExact } from '../json-exact.js';
import { UsageError } from './clipanion.js';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type { Pool } from 'undici';
import { AgentHttpError, AgentUnreachableError, CliError } from './errors.js';
import { EXIT } from './exit-codes.js';

export const DEFAULT_AGENT_ADDRESS = '127.0.0.1:8500';
export const DEFAULT_TIMEOUT_MS = 30_000;

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface AgentAnswer {
  status: number;
  /** The response headers (lower-case names): X-Consul-Index for blocking queries. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  /** The body parsed as JSON; an answer that is not JSON fails with a CliError (exit 1). */
  json<T>(): T;
  /** A response header (lower-case name), or undefined. */
  header(name: string): string | undefined;
}

export interface CallOptions {
  body?: Buffer | string;
  /** Statuses outside 2xx that the caller handles itself (404 for a missing key, 503 for no leader). */
  allow?: readonly number[];
  /** This request's time limit, instead of the client's (a blocking query waits longer). */
  timeoutMs?: number;
}

/**
 * The agent's origin (`http://host:port`) from the flag, else KONSUL_HTTP_ADDR,
 * else 127.0.0.1:8500. Accepts host:port, :port, a bare host (port 8500) or an
 * http(s) URL; anything else is a usage error naming where it came from.
 */
export function agentOrigin(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const fromEnv = env.KONSUL_HTTP_ADDR !== undefined && env.KONSUL_HTTP_ADDR !== '';
  const source = flag !== undefined ? '--http-addr' : fromEnv ? 'KONSUL_HTTP_ADDR' : 'the default address';
  const raw = (flag ?? (fromEnv ? env.KONSUL_HTTP_ADDR : undefined) ?? DEFAULT_AGENT_ADDRESS).trim();
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  const bad = (): UsageError =>
    new UsageError(`${source}: "${raw}" is not host:port or an http(s):// URL (example: 127.0.0.1:8500)`);
  let url: URL;
  try {
    url = new URL(hasScheme ? raw : `http://${raw.startsWith(':') ? `127.0.0.1${raw}` : raw}`);
  } catch {
    throw bad();
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.username !== '') throw bad();
  if (!hasScheme && url.port === '') url.port = '8500';
  return url.origin;
}

/** Percent-encode each segment of a KV key, keeping the slashes that make it a path. */
export function keyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function errorCode(error: unknown): string {
  const e = error as { code?: unknown; errors?: Array<{ code?: unknown }>; message?: unknown };
  if (typeof e.code === 'string') return e.code;
  // Happy eyeballs (several addresses for one name) fails with an AggregateError of the attempts.
  const inner = e.errors?.find((x) => typeof x.code === 'string')?.code;
  if (typeof inner === 'string') return inner;
  return typeof e.message === 'string' ? e.message : String(error);
}

function unreachableReason(code: string): string {
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found, ${code}`;
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'socket hang up':
      return `connection closed, ${code}`;
    default:
      return `connect ${code}`;
  }
}

/** sec: TLS settings for an https:// agent: its CA, and a client certificate when it verifies clients. */
export interface ClientTls { ca?: Buffer; cert?: Buffer; key?: Buffer }

/**
 * sec: the token (--token, else KONSUL_HTTP_TOKEN) and TLS files (--ca-file/KONSUL_CACERT,
 * --client-cert/KONSUL_CLIENT_CERT, --client-key/KONSUL_CLIENT_KEY); an unreadable file is a usage error naming it.
 */
export function clientSecurity(
  flags: { token?: string; caFile?: string; clientCert?: string; clientKey?: string }, env: NodeJS.ProcessEnv,
): { token?: string; tls?: ClientTls } {
  const pick = (flag: string | undefined, name: string): { value: string; source: string } | undefined => {
    if (flag !== undefined && flag !== '') return { value: flag, source: name };
    return undefined;
  };
  const fromEnv = (variable: string): { value: string; source: string } | undefined =>
    env[variable] !== undefined && env[variable] !== '' ? { value: env[variable]!, source: variable } : undefined;
  const token = pick(flags.token, '--token') ?? fromEnv('KONSUL_HTTP_TOKEN');
  const read = (file: { value: string; source: string } | undefined): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file.value);
    } catch (error) {
      throw new UsageError(`${file.source}: cannot read ${file.value} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const ca = read(pick(flags.caFile, '--ca-file') ?? fromEnv('KONSUL_CACERT'));
  const cert = read(pick(flags.clientCert, '--client-cert') ?? fromEnv('KONSUL_CLIENT_CERT'));
  const key = read(pick(flags.clientKey, '--client-key') ?? fromEnv('KONSUL_CLIENT_KEY'));
  const tls = ca || cert || key ? { ca, cert, key } : undefined;
  return { token: token?.value, tls };
}

/** One agent's HTTP API. close() it when done so no socket keeps the process alive. */
export class AgentClient {
  readonly origin: string;
  readonly timeoutMs: number;
  private readonly agent: http.Agent;
  private https: typeof import('node:https') | undefined;
  /** sec: the ACL token sent as X-Consul-Token with every request. */
  private readonly token: string | undefined;
  /** sec: the CA and client certificate for an https:// agent. */
  private readonly tls: ClientTls | undefined;
  /** An undici pool with the same TLS settings, made on first use (snapshot save streams through it). */
  private pool: Pool | undefined;

  constructor(origin: string, options: { timeoutMs?: number; token?: string; tls?: ClientTls } = {}) {
    this.origin = origin;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.token = options.token;
    this.tls = options.tls;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  /** The raw response of one request (for streams: monitor); the caller reads or destroys it. timeoutMs 0: no idle limit. */
  async stream(method: HttpMethod, path: string, options: { body?: Buffer | string; timeoutMs?: number } = {}): Promise<http.IncomingMessage> {
    const url = new URL(`${this.origin}${path}`);
    const secure = url.protocol === 'https:';
    if (secure) this.https ??= await import('node:https');
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return await new Promise<http.IncomingMessage>((resolve, reject) => {
      const send = secure ? this.https!.request : http.request;
      const req = send(url, {
        method, agent: secure ? undefined : this.agent, timeout: timeoutMs, headers: this.headers,
        ...(secure && this.tls ? { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key } : {}),
      }, resolve);
      // A connection that takes over 5 s is as good as unreachable.
      const connectTimer = setTimeout(() => req.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), Math.min(timeoutMs || 5000, 5000));
      req.once('socket', (socket) => {
        if (!socket.connecting) clearTimeout(connectTimer);
        else socket.once('connect', () => clearTimeout(connectTimer));
      });
      req.once('response', () => clearTimeout(connectTimer));
      req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'KONSUL_TIMEOUT' })));
      req.once('error', (error) => {
        clearTimeout(connectTimer);
        reject(error);
      });
      req.end(options.body);
    });
  }

  /** One request; a status outside 2xx (and not in `allow`) throws AgentHttpError with the agent's text. */
  async call(method: HttpMethod, path: string, options: CallOptions = {}): Promise<AgentAnswer> {
    let status: number;
    let body: Buffer;
    let headers: AgentAnswer['headers'];
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    try {
      const res = await this.stream(method, path, { body: options.body, timeoutMs });
      status = res.statusCode ?? 0;
      headers = res.headers;
      const chunks: Buffer[] = [];
      res.setTimeout(timeoutMs, () => res.destroy(Object.assign(new Error('timeout'), { code: 'KONSUL_TIMEOUT' })));
      for await (const chunk of res) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'KONSUL_TIMEOUT') {
        const maybe = method === 'GET' ? '' : '; the change may still take effect';
        throw new CliError(`the agent at ${this.origin} did not answer ${method} ${path} within ${timeoutMs / 1000}s${maybe}`);
      }
      // sec: a TLS failure is not an absent agent: say what to fix.
      if (/CERT|SSL|TLS|UNABLE_TO_VERIFY|ERR_SSL|alert/i.test(code)) {
        throw new CliError(`TLS with the agent at ${this.origin} failed (${code}): pass the CA that signed its certificate (--ca-file or KONSUL_CACERT), and --client-cert/--client-key if it verifies clients`, EXIT.unreachable);
      }
      throw new AgentUnreachableError(this.origin, unreachableReason(code));
    }
    if ((status < 200 || status > 299) && !(options.allow ?? []).includes(status)) {
      throw new AgentHttpError(status, body.toString('utf8'));
    }
    const origin = this.origin;
    return {
      status,
      headers,
      body,
      text: () => body.toString('utf8'),
      header: (name) => {
        const v = headers[name.toLowerCase()];
        return Array.isArray(v) ? v.join(', ') : v;
      },
      json: <T>(): T => {
        try {
          // api: integers past 2^53 (Consul's uint64 KV Flags) stay exact, as bigints.
          return parseJsonExact<T>(body.toString('utf8'));
        } catch {
          throw new CliError(`the agent at ${origin} answered ${method} ${path} with something that is not JSON`, EXIT.failed);
        }
      },
    };
  }

  /** For requests made outside call() with undici (snapshot save): a pool with the TLS settings. */
  get dispatcher(): Pool {
    // undici is loaded on first use: it is ~20 MB of resident memory, which most commands never need.
    const undici = createRequire(import.meta.url)('undici') as typeof import('undici');
    return (this.pool ??= new undici.Pool(this.origin, {
      connections: 1,
      connect: { timeout: Math.min(this.timeoutMs, 5000), ...this.tls },
      keepAliveTimeout: 1000,
    }));
  }

  /** The headers every request carries (the ACL token). */
  get headers(): Record<string, string> | undefined {
    return this.token === undefined ? undefined : { 'x-consul-token': this.token };
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.pool?.close();
  }
}
