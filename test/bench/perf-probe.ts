// A quick A/B probe for the hot paths: forms a 3-server cluster and measures
// writes at the given concurrencies and reads (default, stale, consistent)
// against the leader, each for a bounded time. No failover rounds, so it runs
// in well under a minute; with KONSUL_AGENT_NODE_ARGS="--cpu-prof
// --cpu-prof-dir=DIR" the agents are stopped with SIGTERM at the end so their
// profiles are written.
//
//   node dist/test/bench/perf-probe.js [--seconds 5] [--conc 1,16,64] [--reads] [--keep]

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { TestCluster, http, waitFor } from '../cluster/harness.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function load(seconds: number, concurrency: number, op: (seq: number) => Promise<boolean>): Promise<Record<string, number>> {
  const latencies: number[] = [];
  let errors = 0;
  let seq = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        if (await op(seq++)) latencies.push(performance.now() - t);
        else errors++;
      } catch {
        errors++;
      }
    }
  }));
  latencies.sort((a, b) => a - b);
  return {
    opsPerSec: Math.round(latencies.length / seconds), p50Ms: +pct(latencies, 50).toFixed(2),
    p99Ms: +pct(latencies, 99).toFixed(2), errors,
  };
}

/** CPU time (user + system, ms) the agents' processes have used so far: robust to a busy machine, unlike wall time. */
function agentCpuMs(c: TestCluster): number {
  let ticks = 0;
  for (const n of c.nodes.values()) {
    if (!n.proc?.pid) continue;
    // Fields after the command name: state is field 3, utime 14, stime 15 (1-based).
    const stat = readFileSync(`/proc/${n.proc.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** Leaders elected so far, summed over the agents' own counts. */
async function leaderChanges(c: TestCluster): Promise<number> {
  let total = 0;
  for (const n of c.nodes.values()) {
    const r = await http('GET', `${n.url}/cluster/stats`);
    total += (JSON.parse(r.body) as { leaderChanges: number }).leaderChanges;
  }
  return total;
}

async function measured(c: TestCluster, seconds: number, concurrency: number, op: (seq: number) => Promise<boolean>): Promise<Record<string, number>> {
  const cpu0 = agentCpuMs(c);
  const changes0 = await leaderChanges(c);
  const r = await load(seconds, concurrency, op);
  const ops = r.opsPerSec * seconds;
  return {
    ...r,
    // CPU of all three agents per operation, in microseconds.
    agentCpuUsPerOp: ops > 0 ? Math.round(((agentCpuMs(c) - cpu0) * 1000) / ops) : NaN,
    leaderChangesDuringLoad: (await leaderChanges(c)) - changes0,
  };
}

async function main(): Promise<void> {
  const seconds = Number(arg('seconds', '5'));
  const concs = arg('conc', '1,16,64').split(',').filter((s) => s !== '').map(Number);
  const reads = process.argv.includes('--reads');
  const c = new TestCluster();
  const out: Record<string, unknown> = {};
  try {
    await c.add({ id: 'p1', server: true, bootstrap: true });
    await c.start('p1');
    await c.leader(['p1']);
    for (const id of ['p2', 'p3']) await c.add({ id, server: true, join: [c.node('p1').raftAddress] });
    await Promise.all(['p2', 'p3'].map((id) => c.start(id)));
    await waitFor('3 voters', async () => ((await c.status('p1')).members.filter((m) => m.voter).length === 3 ? true : undefined), 30_000);
    const leader = await c.leader();
    const url = c.node(leader).url;
    const value = 'x'.repeat(100);
    // Warm up connections and the JIT.
    await load(1, 4, async (s) => (await http('PUT', `${url}/v1/kv/tp/${s % 10_000}`, value, 5000)).status === 200);
    for (const conc of concs) {
      out[`writes_c${conc}`] = await measured(c, seconds, conc, async (s) => (await http('PUT', `${url}/v1/kv/tp/${s % 10_000}`, value, 5000)).status === 200);
      process.stderr.write(`writes_c${conc}: ${JSON.stringify(out[`writes_c${conc}`])}\n`);
    }
    if (reads) {
      // The keys the reads ask for, all present (a 404 would count as an error).
      await Promise.all(Array.from({ length: 100 }, (_, i) => http('PUT', `${url}/v1/kv/rd/${i}`, value, 5000)));
      for (const [name, q] of [['default', ''], ['stale', '&stale'], ['consistent', '&consistent']] as const) {
        for (const conc of [1, 64]) {
          out[`reads_${name}_c${conc}`] = await measured(c, seconds, conc, async (s) => (await http('GET', `${url}/v1/kv/rd/${s % 100}?raw${q}`, undefined, 5000)).status === 200);
          process.stderr.write(`reads_${name}_c${conc}: ${JSON.stringify(out[`reads_${name}_c${conc}`])}\n`);
        }
      }
    }
    out.leader = leader;
    if (process.env.KONSUL_AGENT_NODE_ARGS) {
      // A clean exit writes the profiles.
      for (const id of ['p1', 'p2', 'p3']) await c.kill(id, 'SIGINT');
    }
    console.log(JSON.stringify(out));
  } finally {
    // --keep: leave the data dirs and agent logs for a look afterwards.
    if (process.argv.includes('--keep')) process.stderr.write(`kept ${c.dir}\n`);
    await c.cleanup(process.argv.includes('--keep'));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
