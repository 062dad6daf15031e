// The CLI's HTTP client for the local agent (undici): the address from
// --http-addr or KONSUL_HTTP_ADDR, errors turned into one line a user can act on.

import { Agent, request } from 'undici';
import { KonsulError } from '../errors.js';
import { EXIT } from './exit-codes.js';

export class CliError extends KonsulError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed) {
    super('KONSUL_ERR_CLI', message, 0);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  json<T>(): T;
}

/** http://host:port from "host:port", "http://host:port" or "https://...". */
export function baseUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw = (flag ?? env.KONSUL_HTTP_ADDR ?? '') || '127.0.0.1:8500';
  const withScheme = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`--http-addr: "${raw}" is not host:port or a URL`, EXIT.usage);
  }
  return `${url.protocol}//${url.host}`;
}

const dispatcher = new Agent({ keepAliveTimeout: 1000, connect: { timeout: 5000 } });

export class AgentClient {
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: Buffer | string, timeoutMs = 60_000): Promise<Answer> {
    let res;
    try {
      res = await request(`${this.base}${path}`, {
        method: method as 'GET', body, dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new CliError(
        `cannot reach the agent at ${this.base} (${code}); is \`konsul agent\` running? set --http-addr or KONSUL_HTTP_ADDR`,
        EXIT.unreachable,
      );
    }
    const buf = Buffer.from(await res.body.arrayBuffer());
    return {
      status: res.statusCode,
      headers: res.headers,
      body: buf,
      text: () => buf.toString('utf8'),
      json: <T>() => JSON.parse(buf.toString('utf8')) as T,
    };
  }

  /** The call, failing with the agent's own message unless the status is 2xx (or allowed). */
  async ok(method: string, path: string, body?: Buffer | string, allow: number[] = []): Promise<Answer> {
    const a = await this.call(method, path, body);
    if ((a.status < 200 || a.status > 299) && !allow.includes(a.status)) {
      const msg = a.text().trim().split('\n')[0] || `HTTP ${a.status}`;
      throw new CliError(`${msg} (HTTP ${a.status})`);
    }
    return a;
  }
}

/** Percent-encode each path segment of a key, keeping the slashes. */
export function keyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
