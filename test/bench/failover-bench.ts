// `npm run bench:failover -- [--rounds 20] [--stability-seconds 20] [--no-etcd]`:
// failover of a 3-member konsul cluster and a 3-member etcd cluster in one run,
// side by side: kill -9 of the leader, then SIGSTOP of the leader, N rounds
// each, timed from the fault to the first acknowledged write through a
// survivor (FailoverRunner, as `konsul bench failover`). Before that, a write
// load (`konsul bench write -c 64`) for the stability time, counting leader
// changes (there should be none under load). Prints the figures; asserts none.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailoverRunner, type FailoverResult } from '../../src/cli/commands/bench/failover.js';
import type { BenchResult } from '../../src/cli/commands/bench/stats.js';
import { BIN, TestCluster, waitFor } from '../cluster/harness.js';
import { EtcdCluster, ensureEtcd } from './etcd.js';

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number, got ${process.argv[i + 1]}\n`);
    process.exit(2);
  }
  return n;
}

const ROUNDS = Math.round(numberArg('rounds', 20));
const STABILITY_S = numberArg('stability-seconds', 20);
const log = (line: string): void => { process.stderr.write(`${line}\n`); };

async function konsulBench(args: string[]): Promise<BenchResult> {
  const child = spawn(process.execPath, [BIN, 'bench', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KONSUL_HTTP_ADDR: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (out.trim() === '') throw new Error(`konsul bench ${args.join(' ')} exited with ${code}: ${err.trim()}`);
  return JSON.parse(out) as BenchResult;
}

const dir = mkdtempSync(join(tmpdir(), 'konsul-failover-bench-'));
const etcdState = process.argv.includes('--no-etcd') ? { reason: 'skipped with --no-etcd', version: undefined } : ensureEtcd(log);
const konsul = new TestCluster({ flags: ['--log-level', process.argv.includes('--keep') ? 'info' : 'warn'] });
const etcd = new EtcdCluster(join(dir, 'etcd'));
mkdirSync(join(dir, 'etcd'), { recursive: true });
const results: Array<{ system: string; fault: string; r: FailoverResult }> = [];
const stability: string[] = [];
try {
  await konsul.add({ id: 'k1', server: true, bootstrap: true });
  await konsul.start('k1');
  await konsul.leader(['k1']);
  for (const id of ['k2', 'k3']) await konsul.add({ id, server: true, join: [konsul.node('k1').raftAddress] });
  await Promise.all(['k2', 'k3'].map((id) => konsul.start(id)));
  await waitFor('3 konsul voters', async () => ((await konsul.status('k1')).members.filter((m) => m.voter).length === 3 ? true : undefined), 30_000);
  const etcdOn = etcdState.version !== undefined;
  if (etcdOn) await etcd.start();
  log(`konsul: 3 servers up${etcdOn ? `; etcd ${etcdState.version}: 3 members up` : `; etcd side skipped: ${etcdState.reason}`}`);

  // Leader changes under full write load.
  const leaderUrl = async (): Promise<string> => konsul.node(await konsul.leader()).url;
  const termBefore = (await konsul.status(await konsul.leader())).term;
  const kr = await konsulBench(['write', '--http-addr', await leaderUrl(), '-c', '64', '--key-count', '1000', '-d', `${STABILITY_S}s`]);
  const termAfter = (await konsul.status(await konsul.leader())).term;
  stability.push(`konsul: ${Math.round(kr.throughput)} writes/s for ${STABILITY_S} s at 64 concurrent, ${termAfter - termBefore} term changes (leader elections)`);
  if (etcdOn) {
    const eb = await etcd.term();
    const er = await konsulBench(['write', '--api', 'etcd', '--http-addr', etcd.url(await etcd.leader()), '-c', '64', '--key-count', '1000', '-d', `${STABILITY_S}s`]);
    stability.push(`etcd:   ${Math.round(er.throughput)} writes/s for ${STABILITY_S} s at 64 concurrent, ${(await etcd.term()) - eb} term changes`);
  }
  for (const l of stability) log(l);

  const failover = async (system: 'konsul' | 'etcd', signal: 'SIGKILL' | 'SIGSTOP'): Promise<FailoverResult> => new FailoverRunner({
    api: system,
    origin: system === 'konsul' ? konsul.node('k1').url : etcd.url(etcd.members[0]),
    rounds: ROUNDS, roundTimeoutMs: 10_000, settleMs: 1000, faultName: signal === 'SIGKILL' ? 'kill -9' : 'SIGSTOP',
    fault: async (leader) => {
      if (system === 'konsul') {
        if (signal === 'SIGKILL') await konsul.kill(leader.id, 'SIGKILL');
        else konsul.signal(leader.id, 'SIGSTOP');
      } else {
        const m = etcd.byOrigin(leader.origin);
        if (signal === 'SIGKILL') await etcd.kill(m);
        else m.proc?.kill('SIGSTOP');
      }
    },
    heal: async (leader) => {
      if (system === 'konsul') {
        if (signal === 'SIGKILL') await konsul.start(leader.id);
        else konsul.signal(leader.id, 'SIGCONT');
      } else {
        const m = etcd.byOrigin(leader.origin);
        if (signal === 'SIGKILL') await etcd.restart(m);
        else m.proc?.kill('SIGCONT');
      }
    },
    onRound: (r) => log(`${system} ${signal} round ${r.round}: ${r.ms === null ? 'no write within 10 s' : `${r.ms} ms`} (leader ${r.leader})`),
  }).run();
  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    results.push({ system: 'konsul', fault: signal, r: await failover('konsul', signal) });
    if (etcdOn) results.push({ system: 'etcd', fault: signal, r: await failover('etcd', signal) });
  }
} finally {
  // --keep: leave the agents' logs (to see what a slow round did).
  if (process.argv.includes('--keep')) {
    await konsul.stopAll();
    log(`konsul logs kept in ${konsul.dir}`);
  } else {
    await konsul.cleanup();
  }
  await etcd.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (v: number | null): string => (v === null ? '-' : `${Math.round(v)}`);
const out = [
  `failover, ${ROUNDS} rounds each (ms from the fault to the first acknowledged write through a survivor):`,
  '  system  fault     median   p90  worst  failed',
  ...results.map(({ system, fault, r }) => `  ${system.padEnd(7)} ${(fault === 'SIGKILL' ? 'kill -9' : 'SIGSTOP').padEnd(8)} ${fmt(r.medianMs).padStart(7)} ${fmt(r.p90Ms).padStart(5)} ${fmt(r.worstMs).padStart(6)} ${String(r.failed).padStart(7)}`),
  'under load:',
  ...stability.map((l) => `  ${l}`),
];
process.stdout.write(`${out.join('\n')}\n`);
