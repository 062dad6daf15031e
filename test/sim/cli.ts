// `npm run sim -- --seeds N [--start S]` runs N seeds and reports violations;
// `npm run sim -- --seed S --trace` replays one seed and prints its story.
// `--clock-drift F` (each node's clock at 1 ± F) and `--clock-jumps` add clock faults (see SimOptions.clock).

import { runSeed } from './run.js';
import type { SimOptions } from './cluster.js';

function usage(message: string): never {
  process.stderr.write(`sim: ${message}\nusage: npm run sim -- [--seeds N] [--start S] | --seed S [--trace]  [--clock-drift F] [--clock-jumps]\n`);
  process.exit(2);
}

function intFlag(args: string[], name: string): number | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 0) usage(`${name} needs a whole number, got ${args[i + 1] ?? 'nothing'}`);
  return value;
}

const args = process.argv.slice(2);
const known = new Set(['--seeds', '--start', '--seed', '--trace', '--duration', '--clock-drift', '--clock-jumps']);
const switches = new Set(['--trace', '--clock-jumps']);
for (let i = 0; i < args.length; i++) {
  if (!known.has(args[i])) usage(`unknown option ${args[i]}`);
  if (!switches.has(args[i])) i++;
}

const single = intFlag(args, '--seed');
const duration = intFlag(args, '--duration');
const base: Partial<SimOptions> = duration !== undefined ? { duration } : {};
const driftAt = args.indexOf('--clock-drift');
const drift = driftAt < 0 ? 0 : Number(args[driftAt + 1]);
if (!(drift >= 0 && drift < 0.5)) usage(`--clock-drift needs a fraction from 0 to 0.5, got ${args[driftAt + 1] ?? 'nothing'}`);
if (drift > 0 || args.includes('--clock-jumps')) base.clock = { drift, jumps: args.includes('--clock-jumps') };

if (single !== undefined) {
  const result = runSeed({ ...base, seed: single, trace: args.includes('--trace') });
  for (const line of result.trace) console.log(line);
  console.log(JSON.stringify(result.stats));
  for (const v of result.violations) console.log(v);
  console.log(`sim: seed ${single}, ${result.violations.length === 0 ? '0 violations' : 'VIOLATION'}`);
  process.exit(result.violations.length === 0 ? 0 : 1);
}

const seeds = intFlag(args, '--seeds') ?? 300;
const start = intFlag(args, '--start') ?? 1;
const failing: number[] = [];
const began = Date.now();
let ops = 0;
let unknown = 0;
for (let seed = start; seed < start + seeds; seed++) {
  const result = runSeed({ ...base, seed });
  ops += result.operations.length;
  if (result.linearizable === 'unknown') unknown++;
  if (result.violations.length > 0) {
    failing.push(seed);
    console.log(`seed ${seed}: ${result.violations[0]}`);
  }
}
const seconds = (Date.now() - began) / 1000;
console.log(`sim: ${ops} operations checked, ${unknown} histories undecided, ${(seeds / (seconds / 60)).toFixed(0)} seeds/minute`);
if (failing.length === 0) {
  console.log(`sim: ${seeds} seeds, 0 violations`);
} else {
  console.log(`sim: ${seeds} seeds, ${failing.length} violations: seeds ${failing.join(' ')}`);
  console.log(`replay one with: npm run sim -- --seed ${failing[0]} --trace`);
  process.exit(1);
}
