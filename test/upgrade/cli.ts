// npm run upgrade -- [--seed N] [--settle-ms MS] [--clients N] [--keys N] [--dir DIR] [--json]
// The rolling upgrade from the previous release (releases.json) to this tree,
// on real processes; prints the verdict and exits 0 only when every check held.

import { runUpgrade } from './upgrade.js';

function usage(message: string): never {
  process.stderr.write(`upgrade: ${message}\nusage: npm run upgrade -- [--seed N] [--settle-ms MS] [--clients N] [--keys N] [--dir DIR] [--json]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opts = { seed: Math.floor(Math.random() * 2 ** 31), settleMs: 2_000, clients: 6, keys: 4, dir: undefined as string | undefined, json: false };
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const num = (): number => {
    const v = Number(args[++i]);
    if (!Number.isInteger(v) || v < 0) usage(`${a} takes a non-negative integer`);
    return v;
  };
  if (a === '--seed') opts.seed = num();
  else if (a === '--settle-ms') opts.settleMs = num();
  else if (a === '--clients') opts.clients = Math.max(1, num());
  else if (a === '--keys') opts.keys = Math.max(1, num());
  else if (a === '--dir') opts.dir = args[++i] ?? usage('--dir takes a directory');
  else if (a === '--json') opts.json = true;
  else usage(`unknown option ${a}`);
}

process.stderr.write(`upgrade: seed ${opts.seed}\n`);
const started = Date.now();
const r = await runUpgrade(opts);
// A valid run in a temp dir leaves nothing behind; an invalid one, or one given --dir, keeps its history and logs.
const removeDir = r.valid && !r.skipped && opts.dir === undefined && r.dir !== undefined;
if (opts.json) process.stdout.write(`${JSON.stringify(removeDir ? { ...r, dir: null, dirRemoved: true } : r, null, 2)}\n`);
else if (r.skipped) process.stdout.write(`upgrade: SKIPPED: ${r.skipped}\n`);
else {
  process.stdout.write([
    `upgrade from konsul ${r.from} to this tree: ${r.valid ? 'VALID' : 'INVALID'} (${((Date.now() - started) / 1000).toFixed(0)} s, seed ${opts.seed})`,
    `  ${r.ops} operations; ${r.failed} failed or unknown: ${r.excused - r.duringHandoff} through the node being restarted, ${r.duringHandoff} through others while the leader handed over, ${r.failed - r.excused} otherwise`,
    `  ${r.acked} acknowledged appends, all on every replica: ${r.problems.some((p) => p.includes('acknowledged')) ? 'NO' : 'yes'}`,
    `  downgrade refused by the previous release with: ${r.downgradeRefusal ?? '(no refusal)'}`,
    ...r.problems.map((p) => `  problem: ${p}`),
    removeDir ? '  history and logs: removed (the run was valid; --dir D keeps them)' : `  history and logs: ${r.dir}`,
  ].join('\n') + '\n');
}
if (removeDir) {
  const { rmSync } = await import('node:fs');
  rmSync(r.dir!, { recursive: true, force: true });
}
process.exit(r.valid ? 0 : r.skipped ? 0 : 1);
