// The agent's own controls over HTTP, as Consul has them: PUT /v1/agent/reload
// (what SIGHUP does) and GET /v1/agent/monitor (its log lines, streamed, at a
// chosen level). The agent hands them in as AgentControl (main.ts); a server
// without them (tests, the fuzzers) answers 501.

import { formatLogLine } from '../agent/logging.js';
import { HttpError, badRequest } from './errors.js';
import { aclNeed } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

export interface AgentControl {
  /** Re-read the config files and the environment; ok false (with why) when they do not load. */
  reload(): { ok: boolean; error?: string; applied: string[]; restartNeeded: string[] };
  /** Subscribe to the agent's log lines (pino JSON); returns the unsubscribe function. */
  subscribeLogs(listener: (jsonLine: string) => void): () => void;
  /** The level the agent logs at (lines below it are never produced). */
  logLevel(): string;
}

/** Consul's monitor levels, as pino's numbers. */
const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, err: 50, error: 50 };

function controlOf(ctx: RequestContext): AgentControl {
  if (!ctx.control) throw new HttpError('KONSUL_ERR_HTTP_NOT_IMPLEMENTED', 'this agent does not offer its controls over HTTP', 'not-implemented');
  return ctx.control;
}

function reload(ctx: RequestContext): void {
  const report = controlOf(ctx).reload();
  if (!report.ok) throw new HttpError('KONSUL_ERR_HTTP_RELOAD', `reload failed; the running configuration is kept: ${report.error ?? 'unknown error'}`, 'internal');
  ctx.res.writeHead(200, { 'content-type': 'application/json' });
  ctx.res.end(JSON.stringify({ Applied: report.applied, RestartNeeded: report.restartNeeded }));
}

async function monitor(ctx: RequestContext): Promise<void> {
  const control = controlOf(ctx);
  const name = (ctx.query.get('loglevel') ?? 'info').toLowerCase();
  const level = LEVELS[name];
  if (level === undefined) throw badRequest(`loglevel: "${name}" is not one of trace, debug, info, warn, err`);
  const json = ctx.query.has('logjson');
  const { res } = ctx;
  res.writeHead(200, { 'content-type': json ? 'application/x-ndjson' : 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders(); // the client knows at once that it is connected
  const agentLevel = LEVELS[control.logLevel()] ?? 30;
  if (level < agentLevel) {
    res.write(`note: this agent logs at ${control.logLevel()}: no lines below that are produced (set log_level and reload to see them)\n`);
  }
  const unsubscribe = control.subscribeLogs((line) => {
    let entryLevel = 30;
    try {
      entryLevel = (JSON.parse(line) as { level?: number }).level ?? 30;
    } catch {
      return;
    }
    if (entryLevel < level) return;
    res.write(json ? (line.endsWith('\n') ? line : `${line}\n`) : formatLogLine(line));
  });
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    res.once('close', () => resolve());
  });
  unsubscribe();
}

// ---- issue 15 (cli branch): reload and monitor
export const controlRoutes: readonly RouteSpec[] = [
  { method: 'PUT', path: '/v1/agent/reload', handler: reload, acl: aclNeed('agent', 'write', (i) => i.agent.nodeId), params: [], consulParams: [] },
  { method: 'GET', path: '/v1/agent/monitor', handler: monitor, acl: aclNeed('agent', 'read', (i) => i.agent.nodeId), params: ['loglevel', 'logjson'], consulParams: ['loglevel', 'logjson'] },
];
