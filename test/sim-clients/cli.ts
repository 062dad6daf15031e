// npm run sim:clients -- [--seeds N] [--seed S] [--clients N] [--duration ms] [--broken variant] [--json]
// Runs the client-replica simulator over seeds and prints each run's figures.

import { runClientSim, type BrokenVariant } from './sim.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seeds = Number(arg('seeds') ?? 5);
const first = Number(arg('seed') ?? 1);
const clients = Number(arg('clients') ?? 1000);
const duration = Number(arg('duration') ?? 20_000);
const broken = arg('broken') as BrokenVariant | undefined;
const json = process.argv.includes('--json');
const proposeEvery = Number(arg('propose-every') ?? 50);
let failed = 0;
const rows = [];
for (let seed = first; seed < first + seeds; seed++) {
  const t0 = performance.now();
  const r = runClientSim({ seed, clients, duration, broken, proposeEvery });
  const ms = Math.round(performance.now() - t0);
  rows.push({ seed, ms, violations: r.violations, ...r.stats });
  if (r.violations.length > 0) failed++;
  if (!json) {
    console.log(`seed ${seed}: ${r.violations.length === 0 ? 'ok' : 'VIOLATION'} (${ms} ms real) committed ${r.stats.committed}, `
      + `leader msgs/entry ${r.stats.leaderMessagesPerEntry.toFixed(2)}, pulls ${r.stats.pulls}, snapshots ${r.stats.snapshots}, `
      + `relay crashes ${r.stats.relayCrashes}, partitions ${r.stats.relayPartitions}, client restarts ${r.stats.clientRestarts}, `
      + `joins ${r.stats.clientJoins}, leaves ${r.stats.clientLeaves}, switches ${r.stats.relaySwitches}, max fan-out ${r.stats.maxFanout}, overflow ${r.stats.maxOverflow}, `
      + `depth ${r.stats.maxDepth}, converged ${r.stats.convergedAfter} ms after the last write`);
    for (const v of r.violations.slice(0, 3)) console.log(`  ${v}`);
  }
}
if (json) console.log(JSON.stringify(rows, null, 2));
process.exit(failed > 0 ? 1 : 0);
