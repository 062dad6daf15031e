// npm run fuzz -- [--runs N] [--seconds S] [--seed N] [--target NAME[,NAME]] [--list]
// A long fuzz campaign: every target (or the named ones) in turn, each for S
// seconds or N cases, with a fresh seed unless one is given. Prints one line per
// target and a total; exits 1 on the first failure, printing fast-check's
// report (seed and counterexample path) so the case replays with --seed and
// KONSUL_FUZZ_SEED. Defaults are bounded: 20 seconds per target.

import { parseArgs } from 'node:util';
import { FuzzFailure, runTarget } from './runner.js';
import { TARGETS } from './targets.js';

/** Heap kept after a target's run, after a full GC, beyond which the run fails. */
const MAX_HEAP_GROWTH = 32 * 2 ** 20;

function usage(message: string): never {
  process.stderr.write(`fuzz: ${message}\nusage: npm run fuzz -- [--runs N] [--seconds S] [--seed N] [--target NAME[,NAME]] [--list]\n`);
  process.exit(2);
}

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) <= 0) usage(`--${name} must be a positive whole number, got "${text}"`);
  return Number(text);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        runs: { type: 'string' }, seconds: { type: 'string' }, seed: { type: 'string' }, target: { type: 'string' },
        list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    usage((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${[
      'Runs the fuzz targets for a bounded campaign.',
      '',
      '  --seconds S   time per target (default 20; with --runs, whichever ends first)',
      '  --runs N      cases per target (default: unbounded within --seconds)',
      '  --seed N      fast-check seed (default: random, printed)',
      '  --target A,B  only these targets (see --list)',
      '  --list        print the targets and exit',
      '',
      'Examples:',
      '  npm run fuzz                                  # every target, 20 s each',
      '  npm run fuzz -- --seconds 120 --target http-api',
      '  npm run fuzz -- --runs 100000 --seed 42 --target frame-payload',
    ].join('\n')}\n`);
    return;
  }
  if (values.list) {
    for (const t of TARGETS) process.stdout.write(`${t.name.padEnd(20)} ${t.description}\n`);
    return;
  }
  const runs = positive('runs', values.runs);
  let seconds = positive('seconds', values.seconds);
  if (seconds === undefined && runs === undefined) seconds = 20;
  const seedText = values.seed;
  if (seedText !== undefined && !/^-?\d+$/.test(seedText)) usage(`--seed must be an integer, got "${seedText}"`);
  const seed = seedText === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(seedText);
  let targets = TARGETS;
  if (values.target !== undefined) {
    const names = values.target.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
    if (unknown.length > 0) usage(`unknown target ${unknown.join(', ')} (see --list)`);
    targets = TARGETS.filter((t) => names.includes(t.name));
  }

  let total = 0;
  const started = Date.now();
  // With --expose-gc (npm run fuzz passes it) heap figures are after a full collection:
  // growth across a target's run is memory the code under test kept.
  const gc = (globalThis as { gc?: () => void }).gc;
  for (const target of targets) {
    try {
      const outcome = await runTarget(target, { seed, numRuns: runs ?? Number.MAX_SAFE_INTEGER, seconds });
      total += outcome.runs;
      const { heapBefore, heapAfter } = outcome;
      if (gc !== undefined && heapAfter - heapBefore > MAX_HEAP_GROWTH) {
        throw new Error(`heap grew by ${((heapAfter - heapBefore) / 2 ** 20).toFixed(0)} MiB over the run (limit ${MAX_HEAP_GROWTH / 2 ** 20} MiB): unbounded memory?`);
      }
      process.stdout.write(
        `${target.name.padEnd(20)} ${String(outcome.runs).padStart(9)} cases  ${(outcome.ms / 1000).toFixed(1).padStart(6)} s  ` +
        `seed ${seed}  heap ${(heapBefore / 2 ** 20).toFixed(0)} -> ${(heapAfter / 2 ** 20).toFixed(0)} MiB  rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB  ok\n`,
      );
    } catch (error) {
      process.stdout.write(`${target.name.padEnd(20)} FAILED\n`);
      process.stderr.write(`${error instanceof FuzzFailure ? error.message : String((error as Error)?.stack ?? error)}\n`);
      process.stderr.write(`replay: npm run fuzz -- --seed ${seed} --target ${target.name}${runs ? ` --runs ${runs}` : ''}\n`);
      process.exitCode = 1;
      return;
    }
  }
  process.stdout.write(`total ${total} cases in ${((Date.now() - started) / 1000).toFixed(1)} s, 0 failures\n`);
}

await main();
