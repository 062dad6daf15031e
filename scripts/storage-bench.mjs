#!/usr/bin/env node
// Measures this disk's fsync time (env.sync after a small commit) and the raft
// log's persist() throughput by batch size and writes in flight. Needs `npx tsc -p .` first.
//
//   node scripts/storage-bench.mjs [--dir /path/on/the/disk/to/test] [--seconds 2]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { LmdbLogStore } = await import(new URL('../dist/src/storage/index.js', import.meta.url).href);
const { openEnv, indexKey } = await import(new URL('../dist/src/storage/lmdb.js', import.meta.url).href);

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    seconds: { type: 'string', default: '2' },
    entry: { type: 'string', default: '100' },
  },
});
const seconds = Number(args.seconds);
const payload = Buffer.alloc(Number(args.entry), 0x61);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function fmt(ms) {
  return `${ms.toFixed(3)} ms`;
}

async function fsyncTime() {
  const dir = mkdtempSync(join(args.dir, 'konsul-bench-'));
  const { env, release } = openEnv(dir, 1024 ** 3, 2);
  const dbi = env.openDbi({ name: 'x', create: true, keyIsBuffer: true });
  const times = [];
  for (let i = 1; i <= 50; i++) {
    const txn = env.beginTxn();
    txn.putBinary(dbi, indexKey(i), payload);
    txn.commit();
    const t0 = performance.now();
    await new Promise((resolve, reject) => env.sync((err) => (err ? reject(err) : resolve())));
    times.push(performance.now() - t0);
  }
  release();
  rmSync(dir, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  console.log(`fsync after a small commit (50 runs): median ${fmt(percentile(times, 0.5))}, p90 ${fmt(percentile(times, 0.9))}, min ${fmt(times[0])}, max ${fmt(times[times.length - 1])}`);
}

async function persistThroughput(batch, inFlight) {
  const dir = mkdtempSync(join(args.dir, 'konsul-bench-'));
  const log = LmdbLogStore.open(dir);
  let index = 0;
  let persists = 0;
  const latencies = [];
  const deadline = performance.now() + seconds * 1000;
  async function writer() {
    while (performance.now() < deadline) {
      const entries = [];
      for (let i = 0; i < batch; i++) entries.push({ index: ++index, term: 1, type: 0, data: payload });
      const t0 = performance.now();
      await log.persist({ entries, hardState: { term: 1, vote: 'n1', commit: index } });
      latencies.push(performance.now() - t0);
      persists++;
    }
  }
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, writer));
  const elapsed = (performance.now() - start) / 1000;
  const stats = log.stats();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  console.log(
    `batch ${String(batch).padStart(4)} x ${String(inFlight).padStart(3)} in flight: ` +
    `${Math.round(index / elapsed).toString().padStart(8)} entries/s, ${Math.round(persists / elapsed).toString().padStart(6)} persists/s, ` +
    `${(persists / stats.commits).toFixed(1).padStart(5)} persists/txn, ${(stats.commits / stats.syncsFinished).toFixed(1).padStart(4)} txns/fsync, ` +
    `latency p50 ${fmt(percentile(latencies, 0.5))} p99 ${fmt(percentile(latencies, 0.99))}`,
  );
}

/**
 * Open loop: proposals arrive at `rate` entries/s whether or not earlier ones
 * are done; each turn persists those that arrived since the last (at least `batch`).
 */
async function openLoop(batch, rate = Infinity) {
  const dir = mkdtempSync(join(args.dir, 'konsul-bench-'));
  const log = LmdbLogStore.open(dir);
  let index = 0;
  const latencies = [];
  const pending = new Set();
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < deadline) {
    const due = rate === Infinity ? batch : Math.floor(((performance.now() - start) / 1000) * rate) - index;
    if (due <= 0) {
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    const entries = [];
    for (let i = 0; i < due; i++) entries.push({ index: ++index, term: 1, type: 0, data: payload });
    const t0 = performance.now();
    const p = log.persist({ entries, hardState: { term: 1, vote: 'n1', commit: index } }).then(() => {
      latencies.push(performance.now() - t0);
      pending.delete(p);
    });
    pending.add(p);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  const stats = log.stats();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  console.log(
    `open loop, ${rate === Infinity ? `batch ${batch} every turn` : `${rate} entries/s offered`}: ${Math.round(index / elapsed)} entries/s, ` +
    `${stats.batches} persists, ${stats.commits} txns, ${stats.syncsFinished} fsyncs, latency p50 ${fmt(percentile(latencies, 0.5))} p99 ${fmt(percentile(latencies, 0.99))}`,
  );
}

console.log(`disk: ${args.dir}; entries of ${payload.length} bytes; ${seconds}s per run`);
await fsyncTime();
for (const [batch, inFlight] of [[1, 1], [1, 16], [1, 256], [10, 1], [10, 64], [100, 1], [100, 16], [1000, 4]]) {
  await persistThroughput(batch, inFlight);
}
await openLoop(1);
await openLoop(10);
for (const rate of [5000, 20000, 50000]) await openLoop(1, rate);
