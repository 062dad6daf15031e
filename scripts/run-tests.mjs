#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's test runner and
// ends with the line "N passed, N failed" that CI reads.
import { existsSync, readdirSync, statSync } from 'node:fs';
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
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
