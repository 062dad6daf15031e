// The rolling upgrade, on real processes: a cluster of the previous release
// (3 servers, 2 client agents; built from this repository's history, see
// release.ts) under the fault suite's read/write/cas load, each node replaced
// in turn by the current build (followers, then the leader after handing its
// leadership to an upgraded server, then the client agents), then the checks:
// the history is linearizable, every acknowledged write is on every replica,
// no request failed except through the node being restarted (or while the
// leader handed over), and every member runs at the new protocol version.
// Then the way back: the previous release refuses a data dir the current
// build has used, with one line, and the node comes back on the current build.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROTOCOL_VERSION } from '../../src/transport/codec.js';
import { checkLinearizable } from '../jepsen/checks.js';
import { Clients, KEY_PREFIX } from '../jepsen/client.js';
import { call, JCluster, sleep, tail } from '../jepsen/cluster.js';
import { HistoryWriter } from '../jepsen/history.js';
import { BIN } from '../cluster/harness.js';
import { createNetwork } from '../jepsen/net.js';
import { Rng } from '../jepsen/rng.js';
import { compareReplicas, finalReads, waitVoters } from '../jepsen/run.js';
import { failuresOutsideRestarts, missingAckedWrites, type RestartWindow } from './checks.js';
import { buildRelease, haveCommit, previousRelease } from './release.js';

export interface UpgradeOptions {
  seed: number;
  /** Load between two restarts (ms). */
  settleMs: number;
  clients: number;
  keys: number;
  dir?: string;
  log?: (line: string) => void;
}

export interface UpgradeResult {
  valid: boolean;
  problems: string[];
  from: string;
  ops: number;
  failed: number;
  excused: number;
  duringHandoff: number;
  acked: number;
  dir: string;
  /** The previous release's words when it met a data dir of the current build. */
  downgradeRefusal?: string;
  /** Why the run could not happen (no git history, say); then valid is false too. */
  skipped?: string;
}

const ACK_PREFIX = `${KEY_PREFIX}ack-`;

/** Writes keys once each, one after another, through random running members: the acknowledged-write check's subjects. */
class Appender {
  private stopped = false;
  private done: Promise<void> | undefined;
  private n = 0;
  constructor(private readonly cluster: JCluster, private readonly history: HistoryWriter, private readonly rng: Rng) {}
  start(): void {
    this.done = this.loop();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
  private async loop(): Promise<void> {
    let process = this.history.freshProcess();
    while (!this.stopped) {
      const members = this.cluster.members();
      const node = members[this.rng.int(members.length)]!;
      const key = `${ACK_PREFIX}${++this.n}`;
      const value = String(this.n);
      this.history.append({ process, type: 'invoke', f: 'write', key, value, node: node.id });
      let outcome: { type: 'ok' | 'fail' | 'info'; error?: string };
      try {
        const a = await call('PUT', `${node.url}/v1/kv/${key}`, value, 2_000);
        outcome = a.status === 200 && a.body.trim() === 'true' ? { type: 'ok' } : { type: 'info', error: `HTTP ${a.status} ${a.body.slice(0, 100)}` };
      } catch (error) {
        const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code ?? String(error);
        outcome = { type: code === 'ECONNREFUSED' ? 'fail' : 'info', error: code };
      }
      this.history.append({ process, type: outcome.type, f: 'write', key, value, node: node.id, ...(outcome.error ? { error: outcome.error } : {}) });
      if (outcome.type === 'info') process = this.history.freshProcess();
      await sleep(15);
    }
  }
}

export async function runUpgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const release = previousRelease();
  const from = `${release.version} (${release.commit.slice(0, 12)})`;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'konsul-upgrade-'));
  const base: UpgradeResult = { valid: false, problems: [], from, ops: 0, failed: 0, excused: 0, duringHandoff: 0, acked: 0, dir };
  if (!haveCommit(release.commit)) {
    return { ...base, skipped: `commit ${release.commit} of release ${release.version} is not in this clone (a shallow clone?): fetch the history` };
  }
  const built = buildRelease(release, log);
  const problems: string[] = [];
  const servers = ['n1', 'n2', 'n3'];
  const clientIds = ['c1', 'c2'];
  const ids = [...servers, ...clientIds];
  // Loopback: the upgrade needs no network faults, and old and new agents run side by side on 127.0.0.1.
  const net = createNetwork(ids, false);
  const history = new HistoryWriter(join(dir, 'history.jsonl'));
  const cluster = await JCluster.create({
    dir, net, ids, clientIds, env: {},
    flags: ['--snapshot-threshold', '200'],
  });
  for (const n of cluster.nodes.values()) n.bin = built.bin;
  const rng = new Rng(o.seed);
  const windows: RestartWindow[] = [];
  let clients: Clients | undefined;
  let appender: Appender | undefined;
  let downgradeRefusal: string | undefined;
  let loadEnd = Number.POSITIVE_INFINITY;
  try {
    await cluster.start('n1', { bootstrap: true });
    await cluster.leader();
    const join = [cluster.node('n1').raftAddress];
    await Promise.all(ids.slice(1).map((id) => cluster.start(id, { join })));
    await waitVoters(cluster, servers.length, 30_000);
    const before = await cluster.status('n1');
    if (before.protocol !== undefined) problems.push(`the previous release reports a protocol (${JSON.stringify(before.protocol)}): is it really the previous release?`);
    log(`upgrade: ${servers.length} servers and ${clientIds.length} client agents of konsul ${from} up; load starts`);

    clients = new Clients(cluster, history, rng, { keys: o.keys, timeoutMs: 2_000, thinkMs: 10 });
    clients.start(o.clients);
    appender = new Appender(cluster, history, rng);
    appender.start();
    await sleep(o.settleMs);

    const leader = await cluster.leader();
    const order = [...servers.filter((s) => s !== leader), leader, ...clientIds];
    for (const id of order) {
      const n = cluster.node(id);
      const isLeader = id === leader;
      const window: RestartWindow = { node: id, start: history.now(), end: Number.POSITIVE_INFINITY, leader: isLeader };
      windows.push(window);
      if (isLeader) {
        // Hand leadership to an upgraded server first, so the cluster never waits out an election timeout.
        const target = servers.find((s) => s !== leader)!;
        const r = await call('POST', `${n.url}/cluster/transfer-leader?id=${target}`, '', 5_000);
        if (r.status !== 200) problems.push(`leadership transfer from ${id} to ${target}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      }
      // Servers stop on SIGTERM without leaving; a client agent would leave on SIGTERM, so it gets SIGINT.
      await cluster.stop(id, n.server ? 'SIGTERM' : 'SIGINT');
      n.bin = BIN;
      await cluster.start(id);
      await caughtUp(cluster, id, servers.length);
      window.end = history.now();
      log(`upgrade: ${id}${isLeader ? ' (the leader, after handing over)' : ''} runs the current build (${((window.end - window.start) / 1e6).toFixed(0)} ms)`);
      await sleep(o.settleMs);
    }

    // Every member speaks the new version now: the leader raises the cluster's.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const sts = await Promise.all(ids.map((id) => cluster.status(id).catch(() => undefined)));
      if (sts.every((st) => st?.protocol?.cluster === PROTOCOL_VERSION)) {
        const l = await cluster.leader();
        const st = await cluster.status(l);
        const behind = st.members.filter((m) => m.protocolVersion !== PROTOCOL_VERSION);
        if (behind.length > 0) problems.push(`the leader sees members at another version: ${behind.map((m) => `${m.id}=${m.protocolVersion}`).join(', ')}`);
        log(`upgrade: every member runs at protocol version ${PROTOCOL_VERSION}`);
        break;
      }
      if (Date.now() > deadline) {
        problems.push(`the cluster did not move to protocol version ${PROTOCOL_VERSION} within 15 s: ${sts.map((st, i) => `${ids[i]}=${st?.protocol?.cluster ?? '?'}`).join(' ')}`);
        break;
      }
      await sleep(200);
    }
    await sleep(o.settleMs);
    await appender.stop();
    await clients.stop();
    loadEnd = history.now();

    await finalReads(cluster, history, clients, o.keys, problems);
    const dumps = await compareReplicas(cluster, problems, log);
    const acked = dumps ? missingAckedWrites(history.events, ACK_PREFIX, dumps) : { acked: 0, missing: ['no replica dumps'] };
    base.acked = acked.acked;
    if (acked.missing.length > 0) problems.push(`${acked.missing.length} acknowledged write(s) missing: ${acked.missing.slice(0, 3).join('; ')}`);

    // The way back is closed: the previous release refuses n2's data dir (format 3; its applied-index record is version 2), in one line.
    downgradeRefusal = await tryDowngrade(cluster, 'n2', built.bin, problems);
    await cluster.start('n2');
    await caughtUp(cluster, 'n2', servers.length);
  } catch (error) {
    problems.push(`harness: ${(error as Error).message}`);
  } finally {
    await appender?.stop().catch(() => undefined);
    await clients?.stop().catch(() => undefined);
    await cluster.stopAll();
    net.destroy();
    history.close();
  }

  const lin = checkLinearizable(history.events, 60_000);
  if (lin.valid === false) problems.push(`not linearizable: ${lin.detail.join('\n')}`);
  if (lin.valid === 'unknown') problems.push(`linearizability undecided: ${lin.detail[0]}`);
  // The final reads are the harness's, after the load: only the clients' operations are judged.
  const judged = history.events.filter((e) => e.time <= loadEnd);
  const failures = failuresOutsideRestarts(judged, windows);
  if (failures.outside.length > 0) problems.push(`${failures.outside.length} request(s) failed outside their node's restart: ${failures.outside.slice(0, 5).join('; ')}`);
  const ops = history.events.filter((e) => typeof e.process === 'number' && e.type !== 'invoke').length;
  const result: UpgradeResult = {
    ...base, valid: problems.length === 0, problems, ops, failed: failures.failed, excused: failures.excused, duringHandoff: failures.duringHandoff,
    ...(downgradeRefusal ? { downgradeRefusal } : {}),
  };
  writeFileSync(join(dir, 'verdict.json'), `${JSON.stringify({ ...result, windows, failuresOutside: failures.outside }, null, 2)}\n`);
  if (result.valid) rmSync(join(dir, 'data'), { recursive: true, force: true });
  return result;
}

/** The node serves, every server is a voter again, and it applied what the leader had committed when it came back. */
async function caughtUp(cluster: JCluster, id: string, voters: number): Promise<void> {
  await waitVoters(cluster, voters, 30_000);
  const leader = await cluster.leader();
  const target = (await cluster.status(leader)).commitIndex;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const st = await cluster.status(id).catch(() => undefined);
    if (st && st.appliedIndex >= target && st.leader !== null) return;
    if (Date.now() > deadline) throw new Error(`${id} did not catch up to ${target} within 20 s: ${tail(cluster.node(id).logPath, 5)}`);
    await sleep(100);
  }
}

/** Stops the node and starts the previous release on its data dir: it must exit non-zero with one line saying why. */
async function tryDowngrade(cluster: JCluster, id: string, oldBin: string, problems: string[]): Promise<string | undefined> {
  const n = cluster.node(id);
  await cluster.stop(id, 'SIGTERM');
  const r = spawnSync(process.execPath, [
    oldBin, 'agent', '--server', '--node-id', id, '--data-dir', n.dataDir,
    '--raft-addr', n.raftAddress, '--http-addr', `${n.ip}:${n.httpPort}`, '--dns-addr', `${n.ip}:${n.dnsPort}`,
  ], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KONSUL_HTTP_ADDR: '' } });
  const said = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim();
  if (r.status === 0 || r.status === null) {
    problems.push(`the previous release ran on a data dir of the current build (exit ${String(r.status)} ${String(r.signal)}): ${said.slice(0, 300)}`);
    return undefined;
  }
  const lines = said.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1 || !/format version 2/.test(lines[0]!)) {
    problems.push(`the previous release's refusal is not one line naming the format: ${JSON.stringify(said.slice(0, 400))}`);
  }
  return lines[0];
}
