// `node dist/test/lin/bench.js`: how long the checker takes on generated
// histories shaped like the simulator's and like a Jepsen run, valid and broken.

import { checkOperations } from './checker.js';
import { breakOneRead, generateHistory, seededRandom, type GenerateOptions } from './generate.js';
import { checkHistory } from './history.js';
import type { CheckResult } from './types.js';

interface Shape extends Omit<GenerateOptions, 'seed'> {
  name: string;
}

// A crash or timeout leaves about one op in a hundred unacknowledged; a few percent are refused.
const faults = { unknownRate: 0.01, failRate: 0.05 };
const shapes: Shape[] = [
  { name: 'simulator: 3k ops, 4 keys, 8 clients', ops: 3_000, keys: 4, processes: 8, ...faults, unknownRate: 0.05 },
  { name: 'big test: 5k ops, 5 keys, 8 clients', ops: 5_000, keys: 5, processes: 8, ...faults },
  { name: 'jepsen: 100k ops, 5 keys, 10 clients', ops: 100_000, keys: 5, processes: 10, ...faults },
  { name: 'jepsen: 100k ops, 1 key, 10 clients', ops: 100_000, keys: 1, processes: 10, ...faults },
  { name: 'jepsen: 100k ops, 1 key, values 0-4', ops: 100_000, keys: 1, processes: 10, values: 5, unknownRate: 0.01 },
];

const seeds = Number(process.argv[2] ?? 3);

function time(check: () => CheckResult): { ms: number; verdict: string; states: number } {
  const started = performance.now();
  const result = check();
  const ms = performance.now() - started;
  const states = result.valid === true ? result.states : result.valid === 'unknown' ? result.states : 0;
  return { ms, verdict: String(result.valid), states };
}

console.log(`${seeds} seeds per shape; times are the worst seed`);
for (const shape of shapes) {
  let worstOps = 0;
  let worstEvents = 0;
  let worstBroken = 0;
  let states = 0;
  const verdicts = new Set<string>();
  for (let seed = 1; seed <= seeds; seed++) {
    const run = generateHistory({ ...shape, seed });
    const ops = time(() => checkOperations(run.operations));
    const events = time(() => checkHistory(run.events));
    worstOps = Math.max(worstOps, ops.ms);
    worstEvents = Math.max(worstEvents, events.ms);
    states = Math.max(states, ops.states);
    verdicts.add(`${ops.verdict}/${events.verdict}`);
    if (shape.values === undefined) {
      const broken = breakOneRead(run.operations.slice(0, 5_000), seededRandom(seed));
      if (broken !== undefined) {
        const failed = time(() => checkOperations(broken.operations));
        worstBroken = Math.max(worstBroken, failed.ms);
        verdicts.add(`broken:${failed.verdict}`);
      }
    }
  }
  console.log(
    `${shape.name.padEnd(40)} operations ${worstOps.toFixed(0).padStart(6)} ms (${states} states)  ` +
      `events ${worstEvents.toFixed(0).padStart(6)} ms  ` +
      (worstBroken > 0 ? `broken read (first 5k ops, with shrinking) ${worstBroken.toFixed(0)} ms  ` : '') +
      `[${[...verdicts].join(', ')}]`,
  );
}
