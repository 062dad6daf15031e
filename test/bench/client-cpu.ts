// npm run client-cpu -- --clients N: where the CPU goes when client agents
// share one machine with the servers. Starts 3 servers and N client agents
// (real processes), waits until every client is fed by a relay, then writes
// 100-byte values at c16 to the leader for --seconds and reports, from /proc
// and each agent's /cluster/stats: writes/s, CPU seconds of each server and
// of all clients together, the clients' pulls per second, entries per pull
// and CPU per applied entry, and each server's relay counters. Prints JSON.
//
// Flags: --clients N (20; at most 200), --seconds S (8; at most 60),
// --interval-ms M (0: the c16 load; else one write at a time, the next M ms
// after the last returned: what an isolated write costs each client),
// --catalog (each write registers a service instance on the leader's agent,
// a catalog write through its sync round, instead of a KV PUT).

import { Agent as UndiciAgent, request } from 'undici';
import { TestCluster, http, startClients, startServers, waitFor } from '../cluster/harness.js';
import { cpuSeconds } from './proc.js';

function arg(name: string, dflt: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1 || v > max) {
    process.stderr.write(`--${name}: expected a whole number from 1 to ${max}, got ${process.argv[i + 1]}\n`);
    process.exit(2);
  }
  return v;
}

const CLIENTS = arg('clients', 20, 200);
const SECONDS = arg('seconds', 8, 60);
const INTERVAL_MS = process.argv.includes('--interval-ms') ? arg('interval-ms', 0, 10_000) : 0;
const CATALOG = process.argv.includes('--catalog');
const SERVERS = ['s1', 's2', 's3'];

interface ClientCounters { relay: string | null; pulls: number; entriesApplied: number }

async function main(): Promise<void> {
  const c = new TestCluster({ flags: ['--log-level', 'warn'] });
  const pool = new UndiciAgent({ connections: 16 });
  try {
    await startServers(c, SERVERS);
    const ids = Array.from({ length: CLIENTS }, (_, i) => `c${i + 1}`);
    await startClients(c, ids, SERVERS);
    const counters = async (id: string): Promise<ClientCounters> =>
      (JSON.parse((await http('GET', `${c.node(id).url}/cluster/stats`)).body) as { client: ClientCounters }).client;
    await waitFor('every client fed by a relay', async () => {
      for (const id of ids) if (!(await counters(id)).relay) return undefined;
      return true;
    }, 180_000, 500);
    await new Promise((r) => setTimeout(r, 3000));
    const leader = await c.leader(SERVERS);
    const all = [...SERVERS, ...ids];
    const pid = (id: string): number => c.node(id).proc!.pid!;
    const cpu0 = new Map(all.map((id) => [id, cpuSeconds(pid(id))]));
    const before = new Map(await Promise.all(ids.map(async (id) => [id, await counters(id)] as const)));
    const url = c.node(leader).url;
    const value = 'x'.repeat(100);
    const until = performance.now() + SECONDS * 1000;
    let writes = 0;
    let n = 0;
    await Promise.all(Array.from({ length: INTERVAL_MS > 0 ? 1 : 16 }, async () => {
      while (performance.now() < until) {
        if (INTERVAL_MS > 0 && writes > 0) await new Promise((r) => setTimeout(r, INTERVAL_MS));
        const i = n++ % 1000;
        const r = CATALOG
          ? await request(`${url}/v1/agent/service/register`, {
            method: 'PUT', body: JSON.stringify({ Name: 'load', ID: `load-${i % 16}`, Port: 20_000 + i }), dispatcher: pool, headersTimeout: 15_000, bodyTimeout: 15_000,
          })
          : await request(`${url}/v1/kv/load/${i}`, { method: 'PUT', body: value, dispatcher: pool, headersTimeout: 15_000, bodyTimeout: 15_000 });
        await r.body.text();
        if (r.statusCode === 200) writes++;
      }
    }));
    const used = (id: string): number => cpuSeconds(pid(id)) - cpu0.get(id)!;
    const after = new Map(await Promise.all(ids.map(async (id) => [id, await counters(id)] as const)));
    const clientCpu = ids.reduce((sum, id) => sum + used(id), 0);
    const pulls = ids.reduce((sum, id) => sum + after.get(id)!.pulls - before.get(id)!.pulls, 0);
    const applied = ids.reduce((sum, id) => sum + after.get(id)!.entriesApplied - before.get(id)!.entriesApplied, 0);
    const relays = Object.fromEntries(await Promise.all(SERVERS.map(async (id) =>
      [id, (JSON.parse((await http('GET', `${c.node(id).url}/cluster/stats`)).body) as { relaying?: unknown }).relaying] as const)));
    const r2 = (x: number): number => Math.round(x * 100) / 100;
    process.stdout.write(`${JSON.stringify({
      clients: CLIENTS, seconds: SECONDS, load: `${INTERVAL_MS > 0 ? `one write every ${INTERVAL_MS} ms` : 'c16'}${CATALOG ? ', service registrations' : ''}`, leader, writes, writesPerSecond: Math.round(writes / SECONDS),
      serverCpuSeconds: Object.fromEntries(SERVERS.map((id) => [id, r2(used(id))])),
      clientsCpuSeconds: r2(clientCpu),
      pullsPerClientPerSecond: r2(pulls / CLIENTS / SECONDS),
      entriesPerPull: r2(applied / Math.max(1, pulls)),
      clientCpuUsPerEntry: r2((clientCpu / Math.max(1, applied)) * 1e6),
      clientCpuUsPerWrite: r2((clientCpu / CLIENTS / Math.max(1, writes)) * 1e6),
      relays,
    }, null, 2)}\n`);
    // Under KONSUL_AGENT_NODE_ARGS="--cpu-prof ...", a clean stop writes each agent's profile.
    if (process.env.KONSUL_AGENT_NODE_ARGS?.includes('--cpu-prof')) await Promise.all(all.map((id) => c.kill(id, 'SIGTERM')));
  } finally {
    await c.stopAll();
    await pool.close();
    await c.cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
