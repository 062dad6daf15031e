// Starts createHttpServer on 127.0.0.1:0 over a FakeAgent and gives tests a
// small undici client; everything is torn down when the test ends.

import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { Agent, request } from 'undici';
import { createHttpServer, type HttpServerOptions } from '../../src/http/index.js';
import type { AgentControl } from '../../src/http/control.js';
import { FakeAgent } from './fake-agent.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = unknown>(): T;
  header(name: string): string | undefined;
}

/**
 * The agent's log stream and reload as a test drives them: the real monitor
 * route reads what emit() sends, as the agent's logger would send it.
 */
export class TestControl implements AgentControl {
  readonly listeners = new Set<(line: string) => void>();
  subscribeLogs(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(jsonLine: string): void {
    for (const l of this.listeners) l(jsonLine);
  }
  logLevel(): string {
    return 'debug';
  }
  reload(): { ok: boolean; applied: string[]; restartNeeded: string[] } {
    return { ok: true, applied: [], restartNeeded: [] };
  }
}

export interface TestServer {
  agent: FakeAgent;
  url: string;
  /** The controls the server was given (startServer's options.control), for the monitor and reload routes. */
  control?: TestControl;
  call(method: string, path: string, options?: { body?: string | Buffer | Readable; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Answer>;
}

export async function startServer(t: TestContext, options: Omit<HttpServerOptions, 'agent'> = {}): Promise<TestServer> {
  const agent = new FakeAgent();
  const server = createHttpServer({ agent, ...options });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const dispatcher = new Agent({ keepAliveTimeout: 10_000 });
  t.after(async () => {
    // Cut connections first: a failed test may leave a blocking query in flight.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await dispatcher.destroy();
    await closed;
    await agent.close();
  });

  const call: TestServer['call'] = async (method, path, opts = {}) => {
    const res = await request(url + path, {
      method: method as 'GET', body: opts.body, headers: opts.headers, signal: opts.signal, dispatcher,
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const headers = res.headers;
    return {
      status: res.statusCode,
      headers,
      body,
      text: body.toString('utf8'),
      json<T>() {
        return JSON.parse(body.toString('utf8')) as T;
      },
      header(name: string) {
        const value = headers[name.toLowerCase()];
        return Array.isArray(value) ? value.join(', ') : value;
      },
    };
  };
  return { agent, url, call, ...(options.control instanceof TestControl ? { control: options.control } : {}) };
}

export interface KvJson {
  LockIndex: number;
  Key: string;
  Flags: number;
  Value: string | null;
  CreateIndex: number;
  ModifyIndex: number;
}

export function decodeValue(entry: KvJson): string {
  return entry.Value === null ? '' : Buffer.from(entry.Value, 'base64').toString('utf8');
}
