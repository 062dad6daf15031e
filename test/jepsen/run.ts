// One run of the fault suite: form a cluster of real agents, run clients and
// the nemesis for --time seconds, heal everything, check recovery, read every
// key back, compare the replicas, and check the history.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLinearizable, checkStaleReads, replicaDifferences, type ReplicaDump } from './checks.js';
import { Clients, KEY_PREFIX } from './client.js';
import { spawnSync } from 'node:child_process';
import { call, FAKETIME_LIB, JCluster, sleep } from './cluster.js';
import { HistoryWriter } from './history.js';
import { NEMESES, Scheduler, type Nemesis } from './nemesis.js';
import { createNetwork, isRoot, type Network } from './net.js';
import { Rng } from './rng.js';
import { LockWorkload, checkMutualExclusion, type MutexVerdict } from './lock.js';
import { TxnWorkload, checkTxnAtomicity } from './txn.js';

export interface RunOptions {
  timeS: number;
  nemeses: Nemesis[];
  servers: number;
  /** Client agents (non-voters holding a replica) the clients also go through. */
  clientAgents?: number;
  clients: number;
  keys: number;
  seed: number;
  dir?: string;
  /** Faults stopped, how long the cluster may take to have a leader, every server a voter, and a write done. */
  recoveryS: number;
  /** Extra agent flags (every node). */
  agentFlags?: string[];
  /** Extra environment for the agents (the unsafe test-only setting). */
  agentEnv?: NodeJS.ProcessEnv;
  /** Use namespaces when root (default true). */
  namespaces?: boolean;
  quietMs?: [number, number];
  holdMs?: [number, number];
  combineEvery?: number;
  linTimeoutMs?: number;
  /** Keep going past timeS until every chosen fault ran at least once. */
  cover?: boolean;
  log?: (line: string) => void;
  /** Processes of the lock workload (lock.ts); 0 for none. */
  lockClients?: number;
  /** false: the BROKEN lock workload that writes without its fencing token (the checker must catch it). */
  lockFence?: boolean;
  /** Clients doing multi-key transactions (txn.ts); 0 for none. */
  txnClients?: number;
  /** false: the BROKEN txn workload that writes a group key by key (the atomicity check must catch it). */
  txnAtomic?: boolean;
}

export interface RunResult {
  valid: boolean;
  dir: string;
  ops: number;
  linOps: number;
  staleReads: number;
  faults: Record<string, number>;
  skipped: string[];
  problems: string[];
  recoveryMs?: number;
  /** Per fault kind: how long after it ended every member named the same leader (max and median ms). */
  heal: Record<string, { n: number; medianMs: number; maxMs: number }>;
  /** From the agents' logs: what the faults made the cluster do. */
  events: Record<string, number>;
  verdict: string;
  /** The lock workload's mutual-exclusion check (when it ran). */
  lock?: MutexVerdict;
  /** Multi-key transaction reads checked for atomicity. */
  txnReads: number;
}

const LOG_EVENTS: Record<string, string> = {
  'snapshot installs': 'installed a snapshot from the leader',
  'log compactions': 'log compacted behind a snapshot',
  'promotions to voter': 'server promoted to voter',
  'leader elections won': '"role":"leader"',
  'disk-full episodes': 'disk full:',
  'disk space freed': 'disk space is back',
};

function countLogEvents(cluster: JCluster): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of cluster.nodes.values()) {
    let text = '';
    try {
      text = readFileSync(n.logPath, 'utf8');
    } catch {
      continue;
    }
    for (const [name, needle] of Object.entries(LOG_EVENTS)) out[name] = (out[name] ?? 0) + text.split(needle).length - 1;
  }
  return out;
}

function healSummary(m: Map<string, number[]>): RunResult['heal'] {
  const out: RunResult['heal'] = {};
  for (const [k, v] of m) {
    const s = [...v].sort((a, b) => a - b);
    out[k] = { n: s.length, medianMs: s[Math.floor((s.length - 1) / 2)], maxMs: s[s.length - 1] };
  }
  return out;
}

function countFaults(ran: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of ran) out[r] = (out[r] ?? 0) + 1;
  return out;
}

export function verdictLine(r: Pick<RunResult, 'valid' | 'ops' | 'faults' | 'problems'>): string {
  const faults = Object.entries(r.faults).map(([k, v]) => `${k}x${v}`).join(' ') || 'none';
  if (r.valid) return `jepsen: valid, ${r.ops} ops, faults: ${faults}`;
  return `jepsen: INVALID, ${r.problems.join('; ')}; ${r.ops} ops, faults: ${faults}`;
}

let active: { cluster?: JCluster; net?: Network } = {};

/** ops2: a 256 MiB sparse ext4 image per server, loop-mounted on its data dir; a reason when that failed (all undone). */
function mountImages(cluster: JCluster, ids: string[], dir: string): string | undefined {
  for (const id of ids) {
    const n = cluster.node(id);
    const image = join(dir, `${id}.img`);
    mkdirSync(n.dataDir, { recursive: true });
    const steps: Array<[string, string[]]> = [['truncate', ['-s', '256M', image]], ['mkfs.ext4', ['-q', '-F', image]], ['mount', ['-o', 'loop', image, n.dataDir]]];
    for (const [cmd, args] of steps) {
      const r = spawnSync(cmd, args, { encoding: 'utf8' });
      if (r.status !== 0) {
        unmountImages(cluster);
        rmSync(image, { force: true });
        return `${cmd} failed: ${(r.stderr || String(r.error)).trim()}`;
      }
    }
    n.image = image;
    n.mounted = true;
  }
  return undefined;
}

function unmountImages(cluster: JCluster): void {
  for (const n of cluster.nodes.values()) {
    if (n.image === undefined) continue;
    spawnSync('umount', ['-l', n.dataDir]);
    rmSync(n.image, { force: true });
    rmSync(`${n.image}.cut`, { force: true });
    n.image = undefined;
    n.mounted = false;
  }
}

/** Kills the agents and removes the network of the run in progress (for signal handlers). */
export async function abortActive(): Promise<void> {
  const { cluster, net } = active;
  active = {};
  await cluster?.stopAll().catch(() => undefined);
  for (const n of cluster?.nodes.values() ?? []) if (n.mounted) spawnSync('umount', ['-l', n.dataDir]);
  net?.destroy();
}

export async function runJepsen(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'konsul-jepsen-'));
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(o.seed);
  const serverIds = Array.from({ length: o.servers }, (_, i) => `n${i + 1}`);
  const clientIds = Array.from({ length: o.clientAgents ?? 0 }, (_, i) => `c${i + 1}`);
  const ids = [...serverIds, ...clientIds];
  const skipped: string[] = [];
  const problems: string[] = [];

  const net = createNetwork(ids, o.namespaces ?? true);
  active.net = net;
  let nemeses = o.nemeses;
  const noClock = FAKETIME_LIB ? undefined : 'libfaketime is not installed (apt-get install faketime)';
  const noDisk = isRoot() ? undefined : 'a small filesystem of its own for one data dir needs root (mount -t tmpfs)';
  const noPower = isRoot() ? undefined : 'data dirs on loop-mounted ext4 images need root (mount -o loop)';
  // Where tc netem is missing, the delay fault runs through delaying proxies (delay-proxy.ts) instead.
  const proxies = nemeses.some((n) => n.needsDelay) && net.noDelay !== undefined;
  if (proxies) log('jepsen: tc netem is missing: the delay fault goes through a delaying proxy in front of each node');
  for (const n of nemeses) {
    const why = n.needsDelay && net.noDelay && !proxies ? net.noDelay : n.needsNet && net.noFaults && !(n.needsDelay && proxies) ? net.noFaults
      : n.needsClock && noClock ? noClock : n.needsDisk && noDisk ? noDisk : n.needsPowerLoss && noPower ? noPower : undefined;
    if (why) {
      skipped.push(`${n.name} (${why})`);
      log(`jepsen: skipping ${n.name}: ${why}`);
    }
  }
  nemeses = nemeses.filter((n) => (n.needsDelay && proxies) || (!(n.needsNet && net.noFaults) && !(n.needsDelay && net.noDelay))
    && !(n.needsClock && noClock) && !(n.needsDisk && noDisk) && !(n.needsPowerLoss && noPower));
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify({
    timeS: o.timeS, nemeses: nemeses.map((n) => n.name), servers: o.servers, clients: o.clients, keys: o.keys,
    clientAgents: clientIds.length, seed: o.seed, network: net.kind, agentEnv: o.agentEnv ?? {}, started: new Date().toISOString(),
  }, null, 2)}\n`);

  const history = new HistoryWriter(join(dir, 'history.jsonl'));
  const cluster = await JCluster.create({
    dir, net, ids, clientIds, env: o.agentEnv ?? {}, proxies,
    // Low snapshot threshold: logs compact often, so restarted followers catch up by snapshot install.
    flags: ['--snapshot-threshold', '200', ...(o.agentFlags ?? [])],
  });
  active.cluster = cluster;
  // The disk-full fault's victim: the last server's data dir is a 64 MiB tmpfs of its own.
  let diskVictim: string | undefined;
  if (nemeses.some((n) => n.needsDisk)) {
    diskVictim = serverIds[serverIds.length - 1];
    const node = cluster.node(diskVictim);
    mkdirSync(node.dataDir, { recursive: true });
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', node.dataDir], { encoding: 'utf8' });
    if (m.status !== 0) {
      skipped.push(`disk-full (mount failed: ${m.stderr.trim()})`);
      nemeses = nemeses.filter((n) => !n.needsDisk);
      diskVictim = undefined;
    } else {
      node.mounted = true;
    }
  }
  // ops2, the power-loss fault: every other server's data dir is an ext4 filesystem on an image file of its own.
  if (nemeses.some((n) => n.needsPowerLoss)) {
    const problem = mountImages(cluster, serverIds.filter((id) => id !== diskVictim), dir);
    if (problem) {
      skipped.push(`power-loss (${problem})`);
      nemeses = nemeses.filter((n) => !n.needsPowerLoss);
    }
  }
  let recoveryMs: number | undefined;
  let clients: Clients | undefined;
  let scheduler: Scheduler | undefined;
  let locks: LockWorkload | undefined;
  let txns: TxnWorkload | undefined;
  try {
    await cluster.start(ids[0], { bootstrap: true });
    await cluster.leader();
    const join = [cluster.node(ids[0]).raftAddress];
    await Promise.all(ids.slice(1).map((id) => cluster.start(id, { join })));
    await waitVoters(cluster, o.servers, 30_000);
    log(`jepsen: ${o.servers} servers${clientIds.length ? ` and ${clientIds.length} client agents` : ''} up (${net.kind}), ${o.clients} clients, ${o.timeS}s, nemeses: ${nemeses.map((n) => n.name).join(',') || 'none'}`);

    clients = new Clients(cluster, history, rng, { keys: o.keys, timeoutMs: 2_000, thinkMs: 10 });
    clients.start(o.clients);
    if ((o.lockClients ?? 0) > 0) {
      // Their own random streams: the nemesis plan of a seed stays what it was without them.
      locks = new LockWorkload(cluster, new Rng(o.seed + 1), { fence: o.lockFence ?? true, lockDelay: '500ms', timeoutMs: 2_000 });
      locks.start(o.lockClients!);
    }
    if ((o.txnClients ?? 0) > 0) {
      txns = new TxnWorkload(cluster, history, new Rng(o.seed + 2), { atomic: o.txnAtomic ?? true, timeoutMs: 2_000 });
      txns.start(o.txnClients!);
    }
    scheduler = new Scheduler({ cluster, net, rng, log, problems, diskVictim, proxies }, history, nemeses, {
      quietMs: o.quietMs ?? [1_000, 2_000], holdMs: o.holdMs ?? [2_000, 4_000], combineEvery: o.combineEvery ?? 4,
      healBoundMs: o.recoveryS * 1000,
    });
    // Runs at least --time; with cover, until every chosen fault ran once too.
    await scheduler.start(Date.now() + o.timeS * 1000, o.cover ?? false);
    await clients.stop();
    await locks?.stop();
    await txns?.stop();
    for (const e of scheduler.errors) log(`jepsen: nemesis error: ${e}`);

    // Heal everything; every member back up.
    net.heal();
    const t0 = Date.now();
    for (const n of cluster.members()) cluster.resume(n.id);
    for (const n of cluster.members()) if (!n.running) await cluster.start(n.id);
    // A removed node whose re-join failed during the run: join it now.
    for (const n of cluster.nodes.values()) {
      if (n.member) continue;
      await cluster.kill(n.id);
      cluster.wipe(n.id);
      await cluster.start(n.id, { join: cluster.servers().map((m) => m.raftAddress) });
      n.member = true;
    }
    try {
      await recover(cluster, o.servers, o.recoveryS * 1000);
      recoveryMs = Date.now() - t0;
      log(`jepsen: recovered in ${recoveryMs} ms`);
    } catch (error) {
      problems.push(`no recovery within ${o.recoveryS}s after the faults stopped (${(error as Error).message})`);
    }

    if (recoveryMs !== undefined) {
      await finalReads(cluster, history, clients, o.keys, problems);
      if (txns) {
        let done = false;
        for (let attempt = 0; attempt < 10 && !done; attempt++) {
          const l = (await cluster.leaderNow()) ?? cluster.members()[0].id;
          done = await txns.recordRead(history.freshProcess(), l, cluster.node(l).url, 'consistent');
          if (!done) await sleep(200);
        }
        if (!done) problems.push('final read of the transaction group failed 10 times');
      }
      await compareReplicas(cluster, problems, log);
    }
  } catch (error) {
    problems.push(`harness: ${(error as Error).message}`);
    await clients?.stop().catch(() => undefined);
    await locks?.stop().catch(() => undefined);
    await txns?.stop().catch(() => undefined);
    await scheduler?.stop().catch(() => undefined);
  } finally {
    await cluster.stopAll();
    if (diskVictim) spawnSync('umount', ['-l', cluster.node(diskVictim).dataDir]);
    unmountImages(cluster);
    net.destroy();
    active = {};
    history.close();
  }

  const lin = checkLinearizable(history.events, o.linTimeoutMs ?? 60_000);
  if (lin.valid === false) problems.push(`not linearizable: ${lin.detail[0]}`);
  if (lin.valid === 'unknown') problems.push(`linearizability undecided: ${lin.detail[0]}`);
  const stale = checkStaleReads(history.events);
  if (stale.bad.length > 0) problems.push(`${stale.bad.length} stale read(s) of values never written: ${stale.bad[0]}`);
  const atomicity = checkTxnAtomicity(history.events);
  if (atomicity.torn.length > 0) problems.push(`${atomicity.torn.length} torn transaction read(s): ${atomicity.torn[0]}`);
  const lock = locks ? checkMutualExclusion(locks.records) : undefined;
  if (locks) writeFileSync(join(dir, 'lock-history.jsonl'), locks.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  if (lock && !lock.valid) problems.push(`lock: mutual exclusion violated by ${lock.violations.length} accepted write(s): ${lock.violations[0]}`);
  const ops = history.events.filter((e) => typeof e.process === 'number' && e.type !== 'invoke').length;
  for (const u of scheduler?.unrecovered ?? []) problems.push(`no recovery after ${u}`);
  if (o.cover && scheduler && scheduler.missing().length > 0) problems.push(`faults that never ran: ${scheduler.missing().join(', ')}`);
  const heal = healSummary(scheduler?.healMs ?? new Map());
  const faults = countFaults(scheduler?.ran ?? []);
  const events = countLogEvents(cluster);
  const valid = problems.length === 0;
  const result: RunResult = {
    valid, dir, ops, linOps: lin.ops, staleReads: stale.reads, faults, skipped, problems, recoveryMs, heal, events,
    verdict: verdictLine({ valid, ops, faults, problems }), lock, txnReads: atomicity.reads,
  };
  writeFileSync(join(dir, 'verdict.json'), `${JSON.stringify({ ...result, linDetail: lin.detail, staleBad: stale.bad }, null, 2)}\n`);
  if (!valid) writeFileSync(join(dir, 'anomaly.txt'), `${[...problems, '', ...lin.detail, ...stale.bad].join('\n')}\n`);
  // Keep the data dirs only for a failed run (to look at); the logs and history always stay.
  if (valid) rmSync(join(dir, 'data'), { recursive: true, force: true });
  return result;
}

export async function waitVoters(cluster: JCluster, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = await cluster.leaderNow();
    if (l) {
      const st = await cluster.status(l).catch(() => undefined);
      // Client agents are no Raft members (they are fed by relays): the configuration holds the servers.
      // (The first release's clients are non-voting members: the upgrade test runs them, so count servers by id.)
      const ids = new Set(st?.members.map((m) => m.id));
      if (st && st.members.filter((m) => m.voter).length === n && cluster.servers().every((s) => ids.has(s.id))) return;
    }
    if (Date.now() > deadline) throw new Error(`the cluster did not reach ${n} voters within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A leader all agree on, every server a voter, and a write acknowledged. */
async function recover(cluster: JCluster, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await waitVoters(cluster, n, timeoutMs);
  for (;;) {
    const l = await cluster.leaderNow(true);
    if (l) {
      const r = await call('PUT', `${cluster.node(l).url}/v1/kv/${KEY_PREFIX}recovered`, 'yes', 2_000).catch(() => undefined);
      if (r?.status === 200 && r.body.trim() === 'true') return;
    }
    if (Date.now() > deadline) throw new Error('no write acknowledged');
    await sleep(100);
  }
}

/** Reads every key (?consistent, through the leader) into the history, so a lost write shows as a non-linearizable read. */
export async function finalReads(cluster: JCluster, history: HistoryWriter, clients: Clients, keys: number, problems: string[]): Promise<void> {
  for (let k = 0; k < keys; k++) {
    const key = clients.key(k);
    let done = false;
    for (let attempt = 0; attempt < 10 && !done; attempt++) {
      const l = (await cluster.leaderNow()) ?? cluster.members()[0].id;
      const process = history.freshProcess();
      history.append({ process, type: 'invoke', f: 'read', key, value: null, mode: 'consistent', node: l });
      const out = await clients.perform(cluster.node(l).url, 'read', key, null, 'consistent');
      if (out.type === 'ok') {
        history.append({ process, type: 'ok', f: 'read', key, value: out.value, mode: 'consistent', node: l });
        done = true;
      } else {
        history.append({ process, type: 'fail', f: 'read', key, value: null, mode: 'consistent', node: l, error: out.error });
        await sleep(200);
      }
    }
    if (!done) problems.push(`final read of ${key} failed 10 times`);
  }
}

/** After a write through the leader, every member applies up to it; their ?stale dumps must be identical. */
export async function compareReplicas(cluster: JCluster, problems: string[], log: (l: string) => void): Promise<ReplicaDump | undefined> {
  // A write acknowledged by a node is applied there; every entry before it is committed.
  let target = 0;
  const deadline = Date.now() + 10_000;
  while (target === 0) {
    const l = await cluster.leader(10_000);
    const r = await call('PUT', `${cluster.node(l).url}/v1/kv/${KEY_PREFIX}recovered`, 'yes', 2_000).catch(() => undefined);
    if (r?.status === 200 && r.body.trim() === 'true') target = (await cluster.status(l)).appliedIndex;
    else if (Date.now() > deadline) throw new Error('no write acknowledged before comparing replicas');
    else await sleep(100);
  }
  const dumps: ReplicaDump = new Map();
  for (const n of cluster.members()) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const st = await cluster.status(n.id).catch(() => undefined);
      if (st && st.appliedIndex >= target) break;
      if (Date.now() > deadline) {
        problems.push(`${n.id} did not apply up to ${target} within 20 s (applied ${st?.appliedIndex})`);
        return undefined;
      }
      await sleep(100);
    }
    const r = await call('GET', `${n.url}/v1/kv/${KEY_PREFIX}?recurse&stale`, undefined, 5_000);
    const entries = r.status === 404 ? [] : (JSON.parse(r.body) as Array<{ Key: string; Value: string | null }>);
    dumps.set(n.id, new Map(entries.map((e) => [e.Key, e.Value])));
  }
  const diff = replicaDifferences(dumps);
  if (diff.length > 0) problems.push(`replicas differ: ${diff.slice(0, 5).join('; ')}`);
  else log(`jepsen: ${dumps.size} replicas identical (${[...dumps.values()][0]?.size ?? 0} keys under ${KEY_PREFIX})`);
  return dumps;
}

export { NEMESES };
