// A real `konsul agent` process with a config directory: the start-up summary
// on stderr and JSON logs on stdout, then SIGHUP reloads (services added,
// changed and removed, API registrations kept, log level applied, restart-only
// settings reported, a broken file ignored), and a restart that drops a
// service the config no longer defines.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const BIN = new URL('../../../bin/konsul.js', import.meta.url).pathname;

interface Proc { child: ChildProcess; out: string[]; err: string[]; exited: Promise<number | null> }

function startAgent(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, 'agent', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KONSUL_HTTP_ADDR: '', KONSUL_HTTP_BIND_ADDR: '', KONSUL_LOG_LEVEL: '', KONSUL_LOG_FORMAT: '', KONSUL_CONFIG_FILE: '' },
  });
  const p: Proc = { child, out: [], err: [], exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => p.out.push(s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => p.err.push(s));
  return p;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Log entries on stdout, each line parsed (every line must be JSON: stdout is not a terminal). */
function entries(p: Proc): Array<Record<string, unknown>> {
  return p.out.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function services(http: string): Promise<Record<string, { Port: number }>> {
  const r = await fetch(`http://${http}/v1/agent/services`);
  assert.equal(r.status, 200);
  return (await r.json()) as Record<string, { Port: number }>;
}

describe('konsul agent: config directory, summary, SIGHUP reload', () => {
  const root = mkdtempSync(join(tmpdir(), 'konsul-reload-'));
  const confDir = join(root, 'konsul.d');
  const dataDir = join(root, 'data');
  const write = (name: string, body: unknown): void => writeFileSync(join(confDir, name), typeof body === 'string' ? body : JSON.stringify(body));
  const procs: Proc[] = [];
  const args = ['--server', '--bootstrap', '--node-id', 'r1', '--data-dir', dataDir, '--config', confDir,
    '--raft-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', '--dns-addr', '127.0.0.1:0'];

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  /** Starts the agent and returns its HTTP address, read from the start-up summary. */
  async function start(): Promise<{ p: Proc; http: string; summary: string }> {
    const p = startAgent(args);
    procs.push(p);
    const summary = await waitFor('the start-up summary', () => {
      if (p.child.exitCode !== null) throw new Error(`agent exited: ${p.err.join('')}`);
      const text = p.err.join('');
      return /\n {2}logs .*\n/.test(text) ? text : undefined;
    });
    const http = /\n {2}http +(\S+)\n/.exec(summary)![1];
    return { p, http, summary };
  }

  let first: Awaited<ReturnType<typeof start>>;

  it('prints the summary on stderr before any log line, logs JSON on stdout, registers the config\'s services', async () => {
    rmSync(confDir, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(confDir, { recursive: true });
    write('00-base.json', { log_level: 'info' });
    write('10-web.json', { service: { name: 'web', port: 8080, check: { name: 'web alive', ttl: '30s' } } });
    first = await start();
    const { summary, http, p } = first;
    assert.match(summary, /^konsul agent r1 \(server, datacenter dc1\): bootstrapped a new cluster\n/);
    assert.match(summary, /\n {2}raft +127\.0\.0\.1:\d+\n/);
    assert.match(summary, new RegExp(`\\n {2}data dir +${dataDir}\\n`));
    assert.ok(summary.includes(`  config    ${join(confDir, '00-base.json')}, ${join(confDir, '10-web.json')} (1 service, 0 checks)`), summary);
    await waitFor('web from the config dir', async () => ((await services(http)).web?.Port === 8080 ? true : undefined));
    const logs = entries(p);
    assert.ok(logs.length > 0, 'some log lines');
    assert.ok(logs.some((e) => e.msg === 'konsul agent running' && e.http === http));
    assert.ok(!p.out.join('').includes('konsul agent r1'), 'the summary is not on stdout');
  });

  it('SIGHUP adds, updates and keeps services; applies log_level; reports settings that need a restart', async () => {
    const { p, http } = first;
    const scriptService = JSON.stringify({ Name: 'scripted', Port: 1, Check: { Name: 'sh', Args: ['/bin/true'], Interval: '10s' } });
    const refused = await fetch(`http://${http}/v1/agent/service/register`, { method: 'PUT', body: scriptService });
    assert.equal(refused.status, 400, 'script checks are off at start');
    const api = await fetch(`http://${http}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'from-api', Port: 7000 }) });
    assert.equal(api.status, 200);
    write('10-web.json', { service: { name: 'web', port: 8081 } });
    write('20-db.json', { services: [{ id: 'db-1', name: 'db', port: 5432 }] });
    write('00-base.json', { log_level: 'debug', election_timeout: '1s', enable_script_checks: true });
    p.child.kill('SIGHUP');
    const reloaded = await waitFor('the reload log line', () => entries(p).find((e) => e.msg === 'configuration reloaded'));
    assert.deepEqual(reloaded.applied, ['log_level', 'enable_script_checks']);
    assert.deepEqual(reloaded.services, { added: ['db-1'], updated: ['web'], removed: [] });
    const restart = await waitFor('the restart warning', () => entries(p).find((e) => e.level === 40 && Array.isArray(e.settings)));
    assert.ok((restart.settings as string[]).includes('election_timeout'));
    const s = await services(http);
    assert.equal(s.web?.Port, 8081);
    assert.equal(s['db-1']?.Port, 5432);
    assert.equal(s['from-api']?.Port, 7000);
    const allowed = await fetch(`http://${http}/v1/agent/service/register`, { method: 'PUT', body: scriptService });
    assert.equal(allowed.status, 200, 'script checks are on after the reload');
    assert.equal((await fetch(`http://${http}/v1/agent/service/deregister/scripted`, { method: 'PUT' })).status, 200);
    // The web service's TTL check went with its old definition.
    const checks = (await (await fetch(`http://${http}/v1/agent/checks`)).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(checks), []);
  });

  it('a file removed on SIGHUP removes its service; an API registration stays; log_level warn hides info lines', async () => {
    const { p, http } = first;
    rmSync(join(confDir, '10-web.json'));
    write('00-base.json', { log_level: 'warn', election_timeout: '1s', enable_script_checks: true });
    const before = entries(p).length;
    p.child.kill('SIGHUP');
    await waitFor('web to go', async () => ((await services(http)).web === undefined ? true : undefined));
    const s = await services(http);
    assert.ok(s['db-1'] && s['from-api'], JSON.stringify(s));
    // At warn, the next reload's info line is not written, but a warning is.
    write('00-base.json', { log_level: 'warn', election_timeout: '2s', enable_script_checks: true });
    p.child.kill('SIGHUP');
    await waitFor('the second restart warning', () => (entries(p).slice(before).filter((e) => e.level === 40).length >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    // From the first warning on (the level is set before the reload logs anything), no info line; before it,
    // an info line may come from the agent itself (a late election on a busy machine).
    const since = entries(p).slice(before);
    const late = since.slice(since.findIndex((e) => e.level === 40));
    assert.ok(late.length >= 2 && late.every((e) => (e.level as number) >= 40), JSON.stringify(since));
  });

  it('a broken file on SIGHUP is logged with its name and the running config is kept', async () => {
    const { p, http } = first;
    write('00-base.json', { log_level: 'info', enable_script_checks: true });
    write('30-bad.json', '{"service": {"name": "x", "port": ');
    const before = entries(p).length;
    p.child.kill('SIGHUP');
    const failed = await waitFor('the failure log line', () => entries(p).slice(before).find((e) => e.msg === 'config reload failed; the running configuration is kept'));
    assert.match(String(failed.err), /30-bad\.json: not valid JSON/);
    write('30-bad.json', { service: { name: 'x', port: 1 }, colour: 'blue' });
    p.child.kill('SIGHUP');
    await waitFor('the second failure', () => (entries(p).slice(before).filter((e) => e.level === 50).length >= 2 ? true : undefined));
    assert.equal(p.child.exitCode, null, 'still running');
    const s = await services(http);
    assert.deepEqual(Object.keys(s).sort(), ['db-1', 'from-api']);
    rmSync(join(confDir, '30-bad.json'));
  });

  it('after a restart, a service the config no longer defines is removed; API registrations stay', async () => {
    first.p.child.kill('SIGINT');
    assert.equal(await first.p.exited, 0);
    rmSync(join(confDir, '20-db.json'));
    write('40-cache.json', { service: { name: 'cache', port: 6379 } });
    const again = await start();
    assert.match(again.summary, /: restarted from the state in its data dir\n/);
    const s = await waitFor('cache to appear', async () => {
      const now = await services(again.http);
      return now.cache ? now : undefined;
    });
    assert.deepEqual(Object.keys(s).sort(), ['cache', 'from-api']);
    again.p.child.kill('SIGINT');
    assert.equal(await again.p.exited, 0);
  });
});
