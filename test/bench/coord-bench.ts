// `npm run bench:coord`: the coordination targets of issue 14, side by side
// with etcd, in one run, every load driven by `hey` (a Go load generator, so
// no Node process competes with the systems for the two cores):
//   - KV ops/s through /v1/txn with 64 sets per transaction, vs etcd's txn with 64 puts;
//   - c64 single PUTs with same-turn batching off (KONSUL_WRITE_BATCHING=off) and on, vs etcd's put;
//   - session create and lock acquire latency at c1 (p50, p99);
//   - how long a crashed agent's lock stays taken: its node check turning critical
//     (node-health-timeout + lock-delay), and a TTL-only session (2 x TTL + lock-delay).
// Two konsul clusters (batching off / on) and one etcd cluster, 3 members each,
// all on loopback; loads alternate between them, --rounds times.
//
//   npm run bench:coord -- [--seconds 8] [--rounds 2] [--no-etcd] [--no-ttl]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, formCluster, http as harnessHttp, sleep, waitFor, type HttpAnswer } from '../cluster/harness.js';

/** The harness's request, tried again once: a pooled connection may have been closed while hey ran. */
async function http(method: string, url: string, body?: string): Promise<HttpAnswer> {
  try {
    return await harnessHttp(method, url, body);
  } catch {
    await sleep(100);
    return harnessHttp(method, url, body);
  }
}
import { EtcdCluster, ensureEtcd, ensureTool } from './etcd.js';

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number\n`);
    process.exit(2);
  }
  return n;
}

const SECONDS = numberArg('seconds', 8);
const ROUNDS = Math.round(numberArg('rounds', 2));
const WITH_ETCD = !process.argv.includes('--no-etcd');
const WITH_TTL = !process.argv.includes('--no-ttl');

function log(line: string): void {
  process.stderr.write(`[bench:coord ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

interface HeyResult { okPerSec: number; ok: number; other: number; p50Ms: number; p99Ms: number }

/** One `hey` load; throughput counts only 200 answers. */
function hey(args: string[]): HeyResult {
  const r = spawnSync('hey', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`hey ${args.join(' ')}: ${r.stderr}`);
  const out = r.stdout;
  const total = Number(/Total:\s+([\d.]+) secs/.exec(out)?.[1] ?? NaN);
  let ok = 0;
  let other = 0;
  for (const m of out.matchAll(/\[(\d+)\]\s+(\d+) responses/g)) {
    if (m[1] === '200') ok += Number(m[2]);
    else other += Number(m[2]);
  }
  for (const m of out.matchAll(/\[(\d+)\]\s+[A-Z]/g)) other += Number(m[1]);
  const pct = (p: number): number => Number(new RegExp(`${p}%+ in ([\\d.]+) secs`).exec(out)?.[1] ?? NaN) * 1000;
  return { okPerSec: ok / total, ok, other, p50Ms: pct(50), p99Ms: pct(99) };
}

async function konsulCluster(name: string, env: NodeJS.ProcessEnv): Promise<{ c: TestCluster; leaderUrl: string }> {
  const c = new TestCluster({ env });
  await formCluster(c, ['s1', 's2', 's3'], []);
  const leader = await c.leader(['s1', 's2', 's3']);
  log(`konsul cluster "${name}" up, leader ${leader}`);
  return { c, leaderUrl: c.node(leader).url };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function main(): Promise<void> {
  const heyOk = ensureTool('hey', 'hey', log, ['-h']);
  if (!heyOk.ok) throw new Error(`hey is needed (apt-get install -y hey): ${heyOk.reason}`);
  const dir = mkdtempSync(join(tmpdir(), 'konsul-coord-bench-'));
  const rows: string[] = [];
  const off = await konsulCluster('batching off', { KONSUL_WRITE_BATCHING: 'off' });
  const on = await konsulCluster('batching on', {});
  let etcd: EtcdCluster | undefined;
  let etcdUrl = '';
  if (WITH_ETCD) {
    const e = ensureEtcd(log);
    if (e.version) {
      etcd = new EtcdCluster(join(dir, 'etcd'));
      await etcd.start();
      etcdUrl = etcd.url(await etcd.leader());
      log(`etcd ${e.version} up`);
    } else log(`no etcd: ${e.reason}`);
  }
  try {
    // ---- bodies
    const value = Buffer.from('x'.repeat(64)).toString('base64');
    const txnBody = join(dir, 'txn.json');
    writeFileSync(txnBody, JSON.stringify(Array.from({ length: 64 }, (_, i) => ({ KV: { Verb: 'set', Key: `bench/txn/${i}`, Value: value } }))));
    const etcdTxnBody = join(dir, 'etcd-txn.json');
    writeFileSync(etcdTxnBody, JSON.stringify({
      success: Array.from({ length: 64 }, (_, i) => ({ requestPut: { key: Buffer.from(`bench/txn/${i}`).toString('base64'), value } })),
    }));
    const etcdPutBody = JSON.stringify({ key: Buffer.from('bench/put').toString('base64'), value });
    const putValue = 'x'.repeat(64);

    const d = `${SECONDS}s`;
    const txnOps = { off: [] as number[], on: [] as number[], etcd: [] as number[] };
    const put = { off: [] as number[], on: [] as number[], etcd: [] as number[] };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, url] of [['off', off.leaderUrl], ['on', on.leaderUrl]] as const) {
        const t = hey(['-z', d, '-c', '16', '-m', 'PUT', '-D', txnBody, `${url}/v1/txn`]);
        txnOps[name].push(t.okPerSec * 64);
        log(`round ${round} konsul (batching ${name}) txn x64 c16: ${(t.okPerSec * 64).toFixed(0)} KV ops/s (${t.okPerSec.toFixed(0)} txn/s, p50 ${t.p50Ms.toFixed(1)} ms, ${t.other} not 200)`);
        const p = hey(['-z', d, '-c', '64', '-m', 'PUT', '-d', putValue, `${url}/v1/kv/bench/put`]);
        put[name].push(p.okPerSec);
        log(`round ${round} konsul (batching ${name}) PUT c64: ${p.okPerSec.toFixed(0)}/s (p50 ${p.p50Ms.toFixed(1)} ms, ${p.other} not 200)`);
      }
      if (etcd) {
        const t = hey(['-z', d, '-c', '16', '-m', 'POST', '-D', etcdTxnBody, `${etcdUrl}/v3/kv/txn`]);
        txnOps.etcd.push(t.okPerSec * 64);
        log(`round ${round} etcd txn x64 c16: ${(t.okPerSec * 64).toFixed(0)} KV ops/s (p50 ${t.p50Ms.toFixed(1)} ms)`);
        const p = hey(['-z', d, '-c', '64', '-m', 'POST', '-d', etcdPutBody, `${etcdUrl}/v3/kv/put`]);
        put.etcd.push(p.okPerSec);
        log(`round ${round} etcd put c64: ${p.okPerSec.toFixed(0)}/s (p50 ${p.p50Ms.toFixed(1)} ms)`);
      }
    }

    // ---- c1 latencies on the batching-on cluster (the default)
    const sessionBody = JSON.stringify({ LockDelay: '0s', NodeChecks: [] });
    const sc = hey(['-n', '400', '-c', '1', '-m', 'PUT', '-d', sessionBody, `${on.leaderUrl}/v1/session/create`]);
    const created = await http('PUT', `${on.leaderUrl}/v1/session/create`, sessionBody);
    const sid = (JSON.parse(created.body) as { ID: string }).ID;
    const la = hey(['-n', '400', '-c', '1', '-m', 'PUT', '-d', 'v', `${on.leaderUrl}/v1/kv/bench/lock?acquire=${sid}`]);
    log(`session create c1: p50 ${sc.p50Ms.toFixed(2)} ms p99 ${sc.p99Ms.toFixed(2)} ms; lock acquire c1: p50 ${la.p50Ms.toFixed(2)} ms p99 ${la.p99Ms.toFixed(2)} ms`);

    // ---- a crashed agent's lock
    const crash = await crashedLock(on.c, 'health');
    const ttl = WITH_TTL ? await crashedLock(on.c, 'ttl') : undefined;

    const m = (xs: number[]): string => (xs.length === 0 ? '-' : median(xs).toFixed(0));
    const ratio = (a: number[], b: number[]): string => (a.length && b.length ? `${(median(a) / median(b)).toFixed(2)}x` : '-');
    rows.push('| figure | konsul | etcd | target | met |', '|---|---|---|---|---|');
    rows.push(`| KV ops/s via /v1/txn, 64 sets per txn, c16 | ${m(txnOps.on)} | ${m(txnOps.etcd)} | >= 50,000 (moonshot 100,000) | ${median(txnOps.on) >= 50_000 ? 'yes' : 'no'} |`);
    rows.push(`| single PUT/s c64, batching off (before) | ${m(put.off)} | ${m(put.etcd)} | | |`);
    rows.push(`| single PUT/s c64, batching on (after) | ${m(put.on)} | ${m(put.etcd)} | >= 1.5x before | ${median(put.on) >= 1.5 * median(put.off) ? 'yes' : 'no'} (${ratio(put.on, put.off)}) |`);
    rows.push(`| session create p50 / p99 c1 (ms) | ${sc.p50Ms.toFixed(2)} / ${sc.p99Ms.toFixed(2)} | | p50 < 2 ms | ${sc.p50Ms < 2 ? 'yes' : 'no'} |`);
    rows.push(`| lock acquire p50 / p99 c1 (ms) | ${la.p50Ms.toFixed(2)} / ${la.p99Ms.toFixed(2)} | | p50 < 2 ms | ${la.p50Ms < 2 ? 'yes' : 'no'} |`);
    rows.push(`| crashed agent's lock free (node check; node-health-timeout 2s + lock-delay 1s) | ${crash.freeMs} ms | | <= ${crash.boundMs} ms | ${crash.freeMs <= crash.boundMs ? 'yes' : 'no'} |`);
    if (ttl) rows.push(`| crashed agent's lock free (TTL 10s only; 2 x TTL + lock-delay 1s), from the last renewal (from the kill) | ${ttl.freeMs} ms (${ttl.fromKillMs} ms) | | <= ${ttl.boundMs} ms | ${ttl.freeMs <= ttl.boundMs ? 'yes' : 'no'} |`);
    const shared = `load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')} on a 2-core machine shared with other work`;
    process.stdout.write(`${rows.join('\n')}\n\nLoad generator: hey for every row (no Node generator). ${ROUNDS} rounds x ${SECONDS}s, medians; ${shared}.\n`);
  } finally {
    await off.c.cleanup();
    await on.c.cleanup();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A client agent takes a lock and is killed (kill -9). How long until another
 * session gets the lock: its node check (default) or, with `ttl`, a session
 * with only a 10 s TTL and no checks.
 */
async function crashedLock(c: TestCluster, kind: 'health' | 'ttl'): Promise<{ freeMs: number; boundMs: number; fromKillMs: number }> {
  const id = `c-${kind}`;
  await c.add({ id, server: false, join: [c.node('s1').raftAddress] });
  await c.start(id);
  const url = c.node(id).url;
  // TTL only: the session belongs to s1 (alive) with no checks, so nothing but its lapsed TTL can end it.
  const body = kind === 'ttl' ? { TTL: '10s', NodeChecks: [], Node: 's1', LockDelay: '1s' } : { LockDelay: '1s' };
  let createdAt = 0;
  const session = await waitFor(`a session on ${id}`, async () => {
    createdAt = Date.now();
    const r = await http('PUT', `${url}/v1/session/create`, JSON.stringify(body));
    return r.status === 200 ? (JSON.parse(r.body) as { ID: string }).ID : undefined;
  }, 20_000, 100);
  const key = `bench/crash-${kind}`;
  const got = await http('PUT', `${url}/v1/kv/${key}?acquire=${session}`, id);
  if (got.body !== 'true') throw new Error(`${id} could not take the lock: ${got.body}`);
  const s1 = c.node('s1').url;
  const other = (JSON.parse((await http('PUT', `${s1}/v1/session/create`, JSON.stringify({ NodeChecks: [] }))).body) as { ID: string }).ID;
  const killed = Date.now();
  await c.kill(id);
  const free = await waitFor('the lock to be free', async () => {
    const r = await http('PUT', `${s1}/v1/kv/${key}?acquire=${other}`, 's1');
    return r.body === 'true' ? Date.now() : undefined;
  }, 60_000, 50);
  // The TTL counts from the last renewal (here: the creation); the node check from the crash.
  const freeMs = free - (kind === 'ttl' ? createdAt : killed);
  // The bounds: node-health-timeout (2s here) + lock-delay; 2 x TTL + lock-delay.
  const boundMs = kind === 'ttl' ? 2 * 10_000 + 1000 : 2000 + 1000;
  log(`crashed agent (${kind}): lock free ${freeMs} ms after ${kind === 'ttl' ? 'the last renewal' : 'kill -9'} (bound ${boundMs} ms)`);
  await sleep(10);
  return { freeMs, boundMs, fromKillMs: free - killed };
}

main().then(() => process.exit(0), (error) => {
  process.stderr.write(`bench:coord: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
