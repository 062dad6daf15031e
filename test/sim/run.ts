// One simulation run from a seed, ending with the linearizability check of its
// client history: the unit that `npm run sim` repeats and that tests replay.

import { checkOperations } from '../lin/checker.js';
import { Simulation, toCheckerOperation, type SimOptions, type SimResult } from './cluster.js';

export interface SeedResult extends SimResult {
  linearizable: boolean | 'unknown';
}

export function runSeed(options: SimOptions): SeedResult {
  const result = new Simulation(options).run();
  let linearizable: boolean | 'unknown' = true;
  if (result.violations.length === 0) {
    const check = checkOperations(result.operations.map(toCheckerOperation), { maxStates: 2_000_000, shrink: true });
    if (check.valid === false) {
      linearizable = false;
      result.violations.push(`linearizability: ${check.reason}`);
      for (const op of check.witness) {
        result.violations.push(`  ${JSON.stringify({ process: op.process, f: op.f, key: op.key, input: op.input, output: op.output, call: op.call, ret: op.ret })}`);
      }
    } else if (check.valid === 'unknown') {
      linearizable = 'unknown';
    }
  }
  return { ...result, linearizable };
}
