#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's test runner and
// ends with the line "N passed, N failed" that CI reads. The tests get a
// temporary directory of their own (TMPDIR): whatever a test leaves there is
// named on stderr (a test must clean up after itself), then removed.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

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

// Two lanes: the slowest files that mostly wait on real processes (the fault suite's short runs, the
// README's shell blocks) run beside the rest, so the suite's time on 2 cores is the longer lane's, not
// the sum. Each lane runs its own files one at a time; the second lane's report is printed after the
// first's, and the closing line adds both lanes up.
const SIDE_LANE = ['test/jepsen/jepsen.test.js', 'test/readme/readme.test.js'];
const side = files.filter((f) => SIDE_LANE.some((s) => relative(join(root, 'dist'), f) === s));
const main = files.filter((f) => !side.includes(f));
const lanes = [main, side].filter((l) => l.length > 0);

function runLane(laneFiles, i) {
  const summaryFile = join(testTmp, `.summary-${i}`);
  const specFile = join(testTmp, `.spec-${i}`);
  const first = i === 0;
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--test',
        '--test-concurrency=1',
        `--test-timeout=${perTestTimeoutMs}`,
        '--test-reporter=spec', `--test-reporter-destination=${first ? 'stdout' : specFile}`,
        `--test-reporter=${join(root, 'scripts', 'summary-reporter.mjs')}`, `--test-reporter-destination=${summaryFile}`,
        ...laneFiles,
      ],
      // Each lane hands out ports from its own range (below the ephemeral range), so the lanes' agents never race for one.
      { stdio: ['ignore', 'inherit', 'inherit'], cwd: root, env: { ...process.env, TMPDIR: testTmp, KONSUL_TEST_PORTS: i === 0 ? '20000-25999' : '26000-31999' } },
    );
    child.on('exit', (code, signal) => {
      const summary = existsSync(summaryFile) ? readFileSync(summaryFile, 'utf8') : '';
      const spec = first || !existsSync(specFile) ? '' : readFileSync(specFile, 'utf8');
      rmSync(summaryFile, { force: true });
      rmSync(specFile, { force: true });
      resolve({ status: code ?? (signal ? 1 : 0), summary, spec });
    });
  });
}

const results = await Promise.all(lanes.map((l, i) => runLane(l, i)));
let passed = 0;
let failed = 0;
let skipped = 0;
for (const r of results) {
  if (r.spec) process.stdout.write(r.spec);
  const m = /(\d+) passed, (\d+) failed(?:, (\d+) skipped)?/.exec(r.summary);
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
    skipped += Number(m[3] ?? 0);
  } else if (r.status !== 0) {
    failed++; // a lane that died before its summary
  }
}
const result = { status: results.every((r) => r.status === 0) && failed === 0 ? 0 : 1 };
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
const left = readdirSync(testTmp).filter((n) => !n.startsWith('.s'));
if (left.length > 0 && result.status === 0) {
  process.stderr.write(`tests left ${left.length} temporary entr${left.length === 1 ? 'y' : 'ies'} (removed now): ${left.join(' ')}\n`);
}
// A failed run keeps what its tests left (cluster logs, data dirs), where the failure messages say.
if (result.status === 0) rmSync(testTmp, { recursive: true, force: true });
process.exit(result.status ?? 1);
