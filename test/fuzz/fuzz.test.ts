// Runs every fuzz target for its fixed number of cases with a fixed seed, so a
// failure replays: the message carries fast-check's seed and counterexample
// path. KONSUL_FUZZ_SEED picks another seed; `npm run fuzz` runs long campaigns.

import { describe, it } from 'node:test';
import { runTarget } from './runner.js';
import { TARGETS } from './targets.js';

const SEED = process.env.KONSUL_FUZZ_SEED === undefined ? 20261123 : Number(process.env.KONSUL_FUZZ_SEED);

describe('fuzz targets (fixed seed, bounded runs)', () => {
  for (const target of TARGETS) {
    it(`${target.name}: ${target.description}`, async (t) => {
      const outcome = await runTarget(target, { seed: SEED, numRuns: target.testRuns });
      t.diagnostic(`${outcome.runs} cases, seed ${outcome.seed}, ${outcome.ms} ms`);
    });
  }
});
