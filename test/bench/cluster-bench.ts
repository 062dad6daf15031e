// Measures a real 3-server cluster on loopback: failover time after kill -9
// and after SIGSTOP of the leader (from the signal to the first write that
// succeeds again, median and worst of N), and write throughput with latency
// percentiles. Bounded: `--rounds` (default 10) and `--seconds` (default 10).
//
//   npm run bench:cluster -- --rounds 10 --seconds 10 [--json]

import { performance } from 'node:perf_hooks';
import { TestCluster, http, sleep, waitFor } from '../cluster/harness.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function form(c: TestCluster): Promise<void> {
  await c.add({ id: 'b1', server: true, bootstrap: true });
  await c.start('b1');
  await c.leader(['b1']);
  for (const id of ['b2', 'b3']) await c.add({ id, server: true, join: [c.node('b1').raftAddress] });
  await Promise.all(['b2', 'b3'].map((id) => c.start(id)));
  await waitFor('3 voters', async () => ((await c.status('b1')).members.filter((m) => m.voter).length === 3 ? true : undefined), 30_000);
}

/** From the signal to the first acknowledged write through a survivor. */
async function failover(c: TestCluster, signal: 'SIGKILL' | 'SIGSTOP'): Promise<number> {
  const leader = await c.leader();
  const survivors = ['b1', 'b2', 'b3'].filter((id) => id !== leader);
  // Warm keep-alive connections.
  for (const id of survivors) await c.put(id, 'bench/warm', 'x');
  let seq = 0;
  const t0 = performance.now();
  if (signal === 'SIGKILL') await c.kill(leader, 'SIGKILL');
  else c.signal(leader, 'SIGSTOP');
  const stopAt = t0 + 10_000;
  let done = -1;
  // Two writers, one per survivor, each bounded by time.
  await Promise.all(survivors.map(async (id) => {
    while (done < 0 && performance.now() < stopAt) {
      try {
        const r = await http('PUT', `${c.node(id).url}/v1/kv/bench/failover`, String(seq++), 2000);
        if (r.status === 200 && r.body === 'true' && done < 0) done = performance.now() - t0;
      } catch {
        // keep trying
      }
      if (done < 0) await sleep(2);
    }
  }));
  if (signal === 'SIGSTOP') c.signal(leader, 'SIGCONT');
  else await c.start(leader);
  await c.leader();
  // Let the returning node catch up before the next round.
  await sleep(500);
  return done;
}

async function leaderChanges(c: TestCluster): Promise<number> {
  let total = 0;
  for (const id of ['b1', 'b2', 'b3']) {
    const r = await http('GET', `${c.node(id).url}/cluster/stats`);
    total += (JSON.parse(r.body) as { leaderChanges: number }).leaderChanges;
  }
  return total;
}

async function throughput(c: TestCluster, seconds: number, concurrency: number): Promise<{ ops: number; p50: number; p99: number; errors: number; elections: number }> {
  const leader = await c.leader();
  const changesBefore = await leaderChanges(c);
  const url = c.node(leader).url;
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  let seq = 0;
  const value = 'x'.repeat(100);
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const r = await http('PUT', `${url}/v1/kv/tp/${seq++ % 10_000}`, value, 5000);
        if (r.status === 200) latencies.push(performance.now() - t);
        else errors++;
      } catch {
        errors++;
      }
    }
  }));
  latencies.sort((a, b) => a - b);
  const elections = (await leaderChanges(c)) - changesBefore;
  return { ops: latencies.length / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), errors, elections };
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 10);
  const seconds = arg('seconds', 10);
  const json = process.argv.includes('--json');
  const c = new TestCluster();
  try {
    await form(c);
    const out: Record<string, unknown> = {};
    for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
      const times: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const ms = await failover(c, signal);
        times.push(ms);
        if (!json) process.stderr.write(`${signal} round ${i + 1}/${rounds}: ${ms < 0 ? 'no write within 10 s' : `${ms.toFixed(0)} ms`}\n`);
      }
      const ok = times.filter((t) => t >= 0).sort((a, b) => a - b);
      out[signal] = { rounds, failed: times.length - ok.length, medianMs: Math.round(pct(ok, 50)), worstMs: Math.round(ok[ok.length - 1]) };
    }
    for (const conc of [1, 16, 64]) {
      const r = await throughput(c, seconds, conc);
      out[`writes_c${conc}`] = {
        opsPerSec: Math.round(r.ops), p50Ms: +r.p50.toFixed(2), p99Ms: +r.p99.toFixed(2), errors: r.errors,
        leaderChangesDuringLoad: r.elections,
      };
    }
    if (json) console.log(JSON.stringify(out));
    else {
      for (const [k, v] of Object.entries(out)) console.log(`${k}: ${JSON.stringify(v)}`);
    }
  } finally {
    await c.cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
