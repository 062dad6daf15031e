// Shared pieces of the check runner tests: a runner whose status changes are
// recorded, a wait for a condition with a generous deadline, and a loopback
// HTTP server whose answers a test scripts request by request.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { CheckDefinition } from '../../../src/agent/local/definitions.js';
import { CheckRunner, type CheckResult, type CheckRunnerOptions } from '../../../src/agent/local/runner.js';

/** Polls `probe` until it returns something truthy; fails the test after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(10);
  }
}

export interface Watched {
  runner: CheckRunner;
  /** Every onChange call, in order. */
  changes: CheckResult[];
  /** Waits until the runner's status is `status`, and returns its result. */
  until(status: CheckResult['status'], what?: string): Promise<CheckResult>;
}

/** A runner for `def` whose onChange calls are recorded; stopped when the test ends. Not started. */
export function watch(t: TestContext, def: CheckDefinition, options?: CheckRunnerOptions): Watched {
  const changes: CheckResult[] = [];
  const runner = new CheckRunner(def, (status, output) => changes.push({ status, output }), options);
  t.after(() => runner.stop());
  return {
    runner,
    changes,
    until: (status, what = `check ${def.id} to be ${status}`) => waitFor(what, () => runner.status().status === status && runner.status()),
  };
}

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Answer this much later (a slow server). */
  delayMs?: number;
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ProbeServer {
  url: string;
  requests: SeenRequest[];
  /** The most requests the server held unanswered at one moment. */
  maxConcurrent: number;
  /** Requests whose connection closed before an answer was sent (a client that gave up). */
  abandoned: number;
}

/**
 * An HTTP server on 127.0.0.1:0. `answer(n, req)` decides the n-th request's
 * reply (n from 1); 'hang' never answers. Closed when the test ends.
 */
export async function startProbeServer(t: TestContext, answer: (n: number, req: IncomingMessage) => Reply | 'hang'): Promise<ProbeServer> {
  const server = createServer();
  const state: ProbeServer = { url: '', requests: [], maxConcurrent: 0, abandoned: 0 };
  let open = 0;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    open++;
    state.maxConcurrent = Math.max(state.maxConcurrent, open);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const reply = answer(state.requests.length, req);
      if (reply === 'hang') return;
      const send = (): void => void res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
    // 'finish': the whole answer is written, before the client can have read it.
    res.on('finish', () => open--);
    res.on('close', () => {
      if (res.writableFinished) return;
      open--;
      state.abandoned++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

/** Whether a process is gone (a zombie nobody reaped yet counts as gone). */
export function processGone(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (existsSync('/proc/self/stat')) {
    try {
      // The state is the field after the parenthesised command name.
      return readFileSync(stat, 'utf8').replace(/^.*\) /s, '').startsWith('Z');
    } catch {
      return true;
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
