#!/usr/bin/env node
// How fast the konsul CLI answers, as whole processes (what a script calling it
// in a loop pays): `konsul version`, `konsul kv get` against a running dev
// agent, and `konsul __complete keys` (one TAB of a completion). Prints the
// median and the spread of N runs of each; uses hyperfine when installed,
// else times the runs itself. Targets (issue 15): version and kv get under
// 150 ms, a completion under 200 ms. Needs a build (npm run build).
//
//   node scripts/cli-speed.mjs [--runs 20]

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Math.max(3, Math.min(200, Number(values.runs) || 20));
const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin', 'konsul.js');

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const [http, dns, raft] = [await freePort(), await freePort(), await freePort()];
const addr = `127.0.0.1:${http}`;
const work = mkdtempSync(join(tmpdir(), 'konsul-cli-speed-'));
const agent = spawn(process.execPath, [bin, 'agent', '--dev', '--data-dir', join(work, 'data'), '--http-addr', addr, '--dns-addr', `127.0.0.1:${dns}`, '--raft-addr', `127.0.0.1:${raft}`, '--log-level', 'warn'], { stdio: 'ignore' });
const env = { ...process.env, KONSUL_HTTP_ADDR: addr };
try {
  let up = false;
  for (let i = 0; i < 150 && !up; i++) {
    up = spawnSync(process.execPath, [bin, 'kv', 'put', 'speed/key', 'value'], { env }).status === 0;
    if (!up) await new Promise((r) => setTimeout(r, 200));
  }
  if (!up) throw new Error('the dev agent did not come up in 30 s');

  const commands = [
    ['bare node (the floor)', [process.execPath, '-e', '0']],
    ['konsul version', [process.execPath, bin, 'version']],
    ['konsul kv get', [process.execPath, bin, 'kv', 'get', 'speed/key']],
    ['konsul __complete keys (one TAB)', [process.execPath, bin, '__complete', 'keys', 'speed/']],
  ];
  const hyperfine = spawnSync('hyperfine', ['--version']).status === 0;
  console.log(`${runs} runs each, ${hyperfine ? 'timed by hyperfine' : 'timed by this script'}; agent at ${addr}`);
  for (const [name, argv] of commands) {
    let times;
    if (hyperfine) {
      const out = join(work, 'h.json');
      const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
      const r = spawnSync('hyperfine', ['-N', '--warmup', '2', '--runs', String(runs), '--export-json', out, argv.map(q).join(' ')], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`hyperfine failed: ${r.stderr}`);
      times = JSON.parse(readFileSync(out, 'utf8')).results[0].times.map((t) => t * 1000);
    } else {
      times = [];
      for (let i = 0; i < runs + 2; i++) {
        const t0 = process.hrtime.bigint();
        spawnSync(argv[0], argv.slice(1), { env, stdio: 'ignore' });
        if (i >= 2) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(`${name.padEnd(34)} median ${median.toFixed(1)} ms  (min ${times[0].toFixed(1)}, max ${times[times.length - 1].toFixed(1)})`);
  }
} finally {
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
