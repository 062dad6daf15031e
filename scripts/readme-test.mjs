#!/usr/bin/env node
// Runs the README's shell blocks, so the README cannot rot: every ```sh block
// runs, in order, in one bash script (set -euo pipefail), unless the line
// before it is `<!-- readme-test: skip REASON -->`. Needs a build (npm run build).
//
// What it adapts so the README's commands run here without clashing with
// anything else on the machine (each adaptation is printed):
//   - `npx konsul ...` runs this checkout's bin/konsul.js;
//   - every 127.0.0.1:PORT and `-p PORT` gets a free port (the same port for the
//     same number everywhere), and a dev agent's default addresses come from
//     KONSUL_HTTP_BIND_ADDR / KONSUL_DNS_ADDR / KONSUL_RAFT_BIND_ADDR set to free
//     ports (and the CLI's from KONSUL_HTTP_ADDR, the same HTTP port);
//   - /tmp/ becomes a fresh temporary directory;
//   - a line ending in `&` runs in the background with its output in a log file.
//     Nothing waits for it: a block that needs a background agent waits as the
//     README tells the user to (`konsul cluster leader --wait 30s`), so a README
//     that forgets to say so fails here as it would for a user;
//   - `command   #=> TEXT` fails unless the command's output contains TEXT.
// Every process the script started is stopped at the end (its process group).
//
//   node scripts/readme-test.mjs [README.md]     exit 0 when every block ran

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const readmePath = process.argv[2] ?? join(root, 'README.md');
const bin = join(root, 'bin', 'konsul.js');

/** The ```sh blocks, with their line numbers and whether (and why) they are skipped. */
export function readmeBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```sh') continue;
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const skip = /^<!--\s*readme-test:\s*skip\s*(.*?)\s*-->$/.exec(lines[before]?.trim() ?? '');
    const body = [];
    let j = i + 1;
    for (; j < lines.length && lines[j].trim() !== '```'; j++) body.push({ line: j + 1, text: lines[j] });
    blocks.push({ line: i + 1, body, skip: skip ? skip[1] || 'marked skip' : null });
    i = j;
  }
  return blocks;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const shq = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

async function main() {
  const blocks = readmeBlocks(readFileSync(readmePath, 'utf8'));
  const work = mkdtempSync(join(tmpdir(), 'konsul-readme-'));
  const ports = new Map();
  const portFor = async (n) => {
    if (!ports.has(n)) ports.set(n, await freePort());
    return ports.get(n);
  };
  // A dev agent's defaults: HTTP 8500, DNS 8600, raft 7000.
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KONSUL_'))),
    KONSUL_HTTP_ADDR: `127.0.0.1:${await portFor('8500')}`,
    KONSUL_HTTP_BIND_ADDR: `127.0.0.1:${await portFor('8500')}`,
    KONSUL_DNS_ADDR: `127.0.0.1:${await portFor('8600')}`,
    KONSUL_RAFT_BIND_ADDR: `127.0.0.1:${await portFor('7000')}`,
  };

  const script = [
    'set -euo pipefail',
    `npx() { if [[ \${1-} == konsul ]]; then shift; node ${shq(bin)} "$@"; else command npx "$@"; fi; }`,
    'konsul() { node ' + shq(bin) + ' "$@"; }',
    '__readme_expect() { local want=$1 out; shift; out=$(eval "$1"); printf \'%s\\n\' "$out"; [[ $out == *"$want"* ]] || { echo "README: expected output containing: $want" >&2; return 1; }; }',
  ];
  let background = 0;
  for (const block of blocks) {
    if (block.skip) {
      console.log(`README.md:${block.line}: skipped (${block.skip})`);
      continue;
    }
    console.log(`README.md:${block.line}: runs (${block.body.filter((l) => l.text.trim() !== '').length} lines)`);
    for (const { line, text } of block.body) {
      if (text.trim() === '' || text.trim().startsWith('#')) continue;
      let cmd = text;
      for (const m of [...cmd.matchAll(/127\.0\.0\.1:(\d{4,5})\b/g), ...cmd.matchAll(/-p (\d{4,5})\b/g)]) await portFor(m[1]);
      cmd = cmd.replace(/127\.0\.0\.1:(\d{4,5})\b/g, (_m, n) => `127.0.0.1:${ports.get(n)}`)
        .replace(/-p (\d{4,5})\b/g, (_m, n) => `-p ${ports.get(n)}`)
        .replace(/\/tmp\//g, `${work}/`);
      const expect = /^(.*?)\s+#=>\s*(.+)$/.exec(cmd);
      if (expect === null) cmd = cmd.replace(/\s+#(?!=>).*$/, '');
      script.push(`printf '%s\\n' ${shq(`$ ${text.trim()}`)}`);
      if (/&\s*$/.test(cmd)) {
        background++;
        const log = join(work, `background-${background}.log`);
        script.push(`${cmd.replace(/&\s*$/, '')} >>${shq(log)} 2>&1 &`);
      } else if (expect !== null) {
        script.push(`__readme_expect ${shq(expect[2].trim())} ${shq(expect[1])} || { echo "README.md:${line} failed" >&2; exit 1; }`);
      } else {
        script.push(`{ ${cmd}\n} || { echo "README.md:${line} failed" >&2; exit 1; }`);
      }
    }
  }
  const scriptPath = join(work, 'readme.sh');
  writeFileSync(scriptPath, `${script.join('\n')}\n`);
  console.log(`ports: ${[...ports].map(([from, to]) => `${from}->${to}`).join(' ')}; /tmp/ -> ${work}/`);

  // Its own process group, so every agent it started in the background is stopped with it.
  const child = spawn('bash', [scriptPath], { cwd: work, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  const code = await new Promise((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  const stopGroup = async () => {
    for (const [signal, waitMs] of [['SIGTERM', 10_000], ['SIGKILL', 0]]) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        return; // the group is gone
      }
      for (let t = 0; t < waitMs; t += 100) {
        try {
          process.kill(-child.pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  await stopGroup();
  rmSync(work, { recursive: true, force: true });
  console.log(code === 0 ? 'README: every runnable block ran' : `README: failed (exit ${code})`);
  process.exit(code === 0 ? 0 : 1);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
