#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's test runner and
// ends with the line "N passed, N failed" that CI reads. The tests get a
// temporary directory of their own (TMPDIR): whatever a test leaves there is
// named on stderr (a test must clean up after itself), then removed.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'dist', 'test');
const only = process.argv.slice(2);

function findTests(dir) {
  const found = [];
  if (!existsSync(dir)) return found;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

let files = findTests(testRoot).sort();
if (only.length > 0) files = files.filter((f) => only.some((o) => relative(root, f).includes(o)));
if (files.length === 0) {
  console.error('no test files found under dist/test (did tsc run?)');
  process.exit(1);
}

const testTmp = mkdtempSync(join(tmpdir(), 'konsul-test-run-'));
// A test that waits for a wake-up that never comes fails at this limit instead of
// hanging the run (tests that wait on one event set a much shorter one themselves).
const perTestTimeoutMs = Number(process.env.KONSUL_TEST_TIMEOUT_MS ?? 240_000);

const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=1',
    `--test-timeout=${perTestTimeoutMs}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'summary-reporter.mjs')}`, '--test-reporter-destination=stdout',
    ...files,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, TMPDIR: testTmp } },
);
const left = readdirSync(testTmp);
if (left.length > 0 && result.status === 0) {
  process.stderr.write(`tests left ${left.length} temporary entr${left.length === 1 ? 'y' : 'ies'} (removed now): ${left.join(' ')}\n`);
}
// A failed run keeps what its tests left (cluster logs, data dirs), where the failure messages say.
if (result.status === 0) rmSync(testTmp, { recursive: true, force: true });
process.exit(result.status ?? 1);
