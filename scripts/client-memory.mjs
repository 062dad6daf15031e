#!/usr/bin/env node
// npm run client-memory: where an idle client agent's memory goes, in one run.
// Starts one server and, one after another, an idle client agent per variant
// (the agent as built; under node flags: a 1 MB semi-space,
// --lite-mode; and, with --base DIR, another checkout's build, e.g. the
// commit before a change), each joined and fed by the server; after
// --idle seconds reads each one's RSS, PSS, anonymous and file-backed RSS
// (/proc/PID/smaps_rollup) and prints a table (or JSON with --json), next to
// the baselines: a bare `node` idling, and a node that only imported the
// client's start-up modules. Everything runs on 127.0.0.1 with free ports, in
// temp dirs removed at the end. Flags: --idle S (8), --base DIR, --json.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'konsul.js');
const argValue = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0 || v > 600) {
    process.stderr.write(`--${name}: expected a number of seconds in (0, 600], got ${process.argv[i + 1]}\n`);
    process.exit(2);
  }
  return v;
};
const IDLE = argValue('idle', 8);
const JSON_ONLY = process.argv.includes('--json');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];
const dirs = [];

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function memory(pid) {
  const kb = (text, key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const r = (x) => Math.round(x * 10) / 10;
  return {
    rssMb: r(kb(status, 'VmRSS')), pssMb: r(kb(rollup, 'Pss')),
    anonMb: r(kb(status, 'RssAnon')), fileMb: r(kb(status, 'RssFile')),
  };
}

const baseAt = process.argv.indexOf('--base');
const BASE = baseAt < 0 ? undefined : process.argv[baseAt + 1];

function start(args, nodeArgs = [], binPath = bin, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-mem-'));
  dirs.push(dir);
  const p = spawn(process.execPath, [...nodeArgs, binPath, 'agent', '--data-dir', dir, '--log-level', 'warn', ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'ignore'],
  });
  procs.push(p);
  return p;
}

async function get(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
}

async function waitFor(what, fn, ms = 60_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if (await fn()) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function idleBaseline(code) {
  const p = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(p);
  await new Promise((resolve) => p.stdout.once('data', resolve));
  await sleep(1500);
  const m = memory(p.pid);
  p.kill('SIGKILL');
  return m;
}

async function main() {
  const rows = [];
  rows.push({ what: 'bare node, idle', ...(await idleBaseline('setInterval(() => {}, 1000); console.log("up");')) });
  const imports = ['cli/main.js', 'main/client.js'].map((f) => `await import(${JSON.stringify(new URL(`../dist/src/${f}`, import.meta.url).href)});`).join(' ');
  rows.push({ what: 'node + the client start-up modules, idle', ...(await idleBaseline(`${imports} setInterval(() => {}, 1000); console.log("up");`)) });

  const [raft, http, dns] = [await freePort(), await freePort(), await freePort()];
  start(['--server', '--bootstrap', '--node-id', 'mem-s1', '--raft-addr', `127.0.0.1:${raft}`, '--http-addr', `127.0.0.1:${http}`, '--dns-addr', `127.0.0.1:${dns}`]);
  await waitFor('the server to lead', async () => (await get(`http://127.0.0.1:${http}/v1/status/leader`)).body.length > 4);

  const variants = [
    ...(BASE ? [[`client agent, build in ${BASE}`, [], join(BASE, 'bin', 'konsul.js')]] : []),
    ['client agent (as built)', [], bin],
    ['client agent, node --max-semi-space-size=1', ['--max-semi-space-size=1'], bin],
    ['client agent, node --lite-mode', ['--lite-mode'], bin],
    ['client agent, node with both', ['--max-semi-space-size=1', '--lite-mode'], bin],
  ];
  for (const [what, nodeArgs, binPath, env] of variants) {
    const [craft, chttp, cdns] = [await freePort(), await freePort(), await freePort()];
    const id = `mem-c${rows.length}`;
    const p = start(['--join', `127.0.0.1:${raft}`, '--node-id', id, '--raft-addr', `127.0.0.1:${craft}`, '--http-addr', `127.0.0.1:${chttp}`, '--dns-addr', `127.0.0.1:${cdns}`], nodeArgs, binPath, env);
    await waitFor(`${id} fed by the server`, async () => {
      const s = JSON.parse((await get(`http://127.0.0.1:${chttp}/cluster/stats`)).body);
      return s.client?.relay != null;
    });
    // A few reads, as an application beside it would make, then idle.
    for (let i = 0; i < 20; i++) await get(`http://127.0.0.1:${chttp}/v1/kv/x?stale`);
    await sleep(IDLE * 1000);
    rows.push({ what, ...memory(p.pid) });
    p.kill('SIGKILL');
  }

  if (JSON_ONLY) {
    process.stdout.write(`${JSON.stringify({ idleSeconds: IDLE, rows })}\n`);
    return;
  }
  const head = ['', 'RSS MB', 'PSS MB', 'anon MB', 'file MB'];
  const lines = [head, ...rows.map((r) => [r.what, r.rssMb, r.pssMb, r.anonMb, r.fileMb].map(String))];
  const w = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) process.stdout.write(`${l.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')}\n`);
  process.stdout.write(`${JSON.stringify({ idleSeconds: IDLE, rows })}\n`);
}

try {
  await main();
} finally {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await sleep(200);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
