// The fault suite's pieces (history writer, nemesis plan, checks, verdict),
// the checks rejecting hand-written and generated non-linearizable histories,
// and short runs on real agents: one that must come out valid, and one for
// each test-only unsafe setting (src/agent/unsafe.ts) that must come out INVALID.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generateHistory } from '../lin/generate.js';
import { checkLinearizable, checkStaleReads, replicaDifferences } from './checks.js';
import { HistoryWriter, type JEvent } from './history.js';
import { isRoot } from './net.js';
import { NEMESES, parseNemeses, plan } from './nemesis.js';
import { Rng } from './rng.js';
import { runJepsen, verdictLine } from './run.js';
import { checkMutualExclusion, type LockRecord } from './lock.js';
import { checkTxnAtomicity } from './txn.js';

const CLI = new URL('./cli.js', import.meta.url).pathname;

/** A history from a compact description: [process, type, f, key, value, mode?]. */
function h(rows: Array<[number, JEvent['type'], JEvent['f'], string, unknown, JEvent['mode']?]>): JEvent[] {
  return rows.map(([process, type, f, key, value, mode], i) => ({ process, type, f, key, value, mode, time: (i + 1) * 1000 }));
}

describe('history writer', () => {
  test('writes one Jepsen-shaped JSON object per line, with strictly increasing times', () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-jepsen-unit-'));
    try {
      const w = new HistoryWriter(join(dir, 'history.jsonl'));
      const p = w.freshProcess();
      const q = w.freshProcess();
      assert.notEqual(p, q);
      w.append({ process: p, type: 'invoke', f: 'cas', key: 'k', value: ['1', '2'] });
      w.append({ process: p, type: 'ok', f: 'cas', key: 'k', value: ['1', '2'] });
      w.append({ process: q, type: 'invoke', f: 'read', key: 'k', value: null, mode: 'stale' });
      w.close();
      const lines = readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JEvent);
      assert.equal(lines.length, 3);
      assert.deepEqual(lines[0].value, ['1', '2']);
      assert.equal(lines[2].mode, 'stale');
      for (const e of lines) assert.deepEqual(Object.keys(e).filter((k) => ['process', 'type', 'f', 'key', 'value', 'time'].includes(k)).length, 6);
      assert.ok(lines[0].time < lines[1].time && lines[1].time < lines[2].time);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nemesis plan', () => {
  test('every chosen fault runs once before any runs twice, and every 4th step pairs a process fault with a network fault', () => {
    const steps = plan(NEMESES, new Rng(7), NEMESES.length * 2, 4);
    const firstRound = steps.slice(0, NEMESES.length).map((s) => s[0].name);
    assert.deepEqual([...firstRound].sort(), NEMESES.map((n) => n.name).sort());
    for (const [i, step] of steps.entries()) {
      if ((i + 1) % 4 !== 0 || step[0].group === 'member') {
        assert.equal(step.length, 1, `step ${i}`);
      } else {
        assert.equal(step.length, 2, `step ${i}`);
        assert.deepEqual(new Set(step.map((n) => n.group)), new Set(['process', 'net']));
      }
    }
  });

  test('the same seed gives the same plan, another seed another', () => {
    const names = (seed: number) => plan(NEMESES, new Rng(seed), 20, 4).map((s) => s.map((n) => n.name).join('+')).join(' ');
    assert.equal(names(1), names(1));
    assert.notEqual(names(1), names(2));
  });

  test('--nemesis parsing: names, all, none; an unknown name is refused with the menu', () => {
    assert.deepEqual(parseNemeses('kill-leader,partition-one').map((n) => n.name), ['kill-leader', 'partition-one']);
    assert.equal(parseNemeses('all').length, NEMESES.length);
    assert.equal(parseNemeses('none').length, 0);
    assert.throws(() => parseNemeses('kill-leader,flood'), /unknown nemesis "flood"; choose from kill-leader, /);
  });
});

describe('checks reject non-linearizable histories', () => {
  test('a valid history passes', () => {
    const v = checkLinearizable(h([
      [0, 'invoke', 'write', 'x', '1'], [0, 'ok', 'write', 'x', '1'],
      [1, 'invoke', 'read', 'x', null, 'default'], [1, 'ok', 'read', 'x', '1', 'default'],
      [1, 'invoke', 'cas', 'x', ['1', '2']], [1, 'ok', 'cas', 'x', ['1', '2']],
      [0, 'invoke', 'read', 'x', null, 'consistent'], [0, 'ok', 'read', 'x', '2', 'consistent'],
    ]), 5_000);
    assert.equal(v.valid, true);
    assert.equal(v.ops, 4);
  });

  test('stale read: a default read returns a value overwritten before it began', () => {
    const v = checkLinearizable(h([
      [0, 'invoke', 'write', 'x', '1'], [0, 'ok', 'write', 'x', '1'],
      [0, 'invoke', 'write', 'x', '2'], [0, 'ok', 'write', 'x', '2'],
      [1, 'invoke', 'read', 'x', null, 'default'], [1, 'ok', 'read', 'x', '1', 'default'],
    ]), 5_000);
    assert.equal(v.valid, false);
    assert.match(v.detail[0], /key x/);
  });

  test('lost write: an acknowledged write is missing from the final read', () => {
    const v = checkLinearizable(h([
      [0, 'invoke', 'write', 'x', '1'], [0, 'ok', 'write', 'x', '1'],
      [1, 'invoke', 'write', 'x', '2'], [1, 'ok', 'write', 'x', '2'],
      [2, 'invoke', 'read', 'x', null, 'consistent'], [2, 'ok', 'read', 'x', '1', 'consistent'],
    ]), 5_000);
    assert.equal(v.valid, false);
  });

  test('cas on a stale value: a cas [1, 3] succeeds after 2 overwrote 1', () => {
    const v = checkLinearizable(h([
      [0, 'invoke', 'write', 'x', '1'], [0, 'ok', 'write', 'x', '1'],
      [0, 'invoke', 'write', 'x', '2'], [0, 'ok', 'write', 'x', '2'],
      [1, 'invoke', 'cas', 'x', ['1', '3']], [1, 'ok', 'cas', 'x', ['1', '3']],
    ]), 5_000);
    assert.equal(v.valid, false);
  });

  test('an unknown (info) write may take effect later, so reading it afterwards is fine', () => {
    const v = checkLinearizable(h([
      [0, 'invoke', 'write', 'x', '1'], [0, 'info', 'write', 'x', '1'],
      [1, 'invoke', 'read', 'x', null, 'default'], [1, 'ok', 'read', 'x', null, 'default'],
      [2, 'invoke', 'read', 'x', null, 'default'], [2, 'ok', 'read', 'x', '1', 'default'],
    ]), 5_000);
    assert.equal(v.valid, true);
  });

  test('?stale reads are left out of linearizability but must return a value written before they returned', () => {
    const events = h([
      [0, 'invoke', 'write', 'x', '1'], [0, 'ok', 'write', 'x', '1'],
      [0, 'invoke', 'write', 'x', '2'], [0, 'ok', 'write', 'x', '2'],
      [1, 'invoke', 'read', 'x', null, 'stale'], [1, 'ok', 'read', 'x', '1', 'stale'],
      [1, 'invoke', 'read', 'x', null, 'stale'], [1, 'ok', 'read', 'x', null, 'stale'],
    ]);
    assert.equal(checkLinearizable(events, 5_000).valid, true);
    assert.deepEqual(checkStaleReads(events), { reads: 2, bad: [] });

    const never = h([[1, 'invoke', 'read', 'x', null, 'stale'], [1, 'ok', 'read', 'x', '9', 'stale']]);
    assert.match(checkStaleReads(never).bad[0], /never written/);
    const future = h([
      [1, 'invoke', 'read', 'x', null, 'stale'], [1, 'ok', 'read', 'x', '5', 'stale'],
      [0, 'invoke', 'write', 'x', '5'], [0, 'ok', 'write', 'x', '5'],
    ]);
    assert.match(checkStaleReads(future).bad[0], /after the read returned/);
  });

  test('generated histories pass; each with one read changed to a value from the future fails', () => {
    let broken = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const g = generateHistory({ seed, ops: 300, keys: 3, processes: 6, unknownRate: 0.05 });
      const events = g.events.map((e, i) => ({ ...e, time: e.time ?? i, mode: e.f === 'read' ? 'default' : undefined }) as JEvent);
      assert.equal(checkLinearizable(events, 10_000).valid, true, `seed ${seed}`);
      // The last ok read of some key, made to return a value first written after it returned.
      const reads = events.map((e, i) => [e, i] as const).filter(([e]) => e.type === 'ok' && e.f === 'read');
      const target = reads.find(([r]) => events.some((w) => w.type === 'invoke' && w.f === 'write' && w.key === r.key && w.time > r.time));
      if (!target) continue;
      const [read, index] = target;
      const future = events.find((w) => w.type === 'invoke' && w.f === 'write' && w.key === read.key && w.time > read.time)!;
      const mutated = events.slice();
      mutated[index] = { ...read, value: future.value };
      assert.equal(checkLinearizable(mutated, 10_000).valid, false, `seed ${seed}: broken read not caught`);
      broken++;
    }
    assert.ok(broken >= 15, `only ${broken} histories could be broken`);
  });

  test('--check DIR re-checks a saved history: exit 1 and INVALID for a lost write, exit 0 for a valid one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-jepsen-unit-'));
    try {
      const lost = h([
        [0, 'invoke', 'write', 'x', '1'], [0, 'ok', 'write', 'x', '1'],
        [2, 'invoke', 'read', 'x', null, 'consistent'], [2, 'ok', 'read', 'x', null, 'consistent'],
      ]);
      writeFileSync(join(dir, 'history.jsonl'), lost.map((e) => JSON.stringify(e)).join('\n'));
      let r = spawnSync(process.execPath, [CLI, '--check', dir], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^jepsen: INVALID/m);
      writeFileSync(join(dir, 'history.jsonl'), lost.slice(0, 2).map((e) => JSON.stringify(e)).join('\n'));
      r = spawnSync(process.execPath, [CLI, '--check', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      r = spawnSync(process.execPath, [CLI, '--servers', '4'], { encoding: 'utf8' });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /^jepsen: --servers must be 3 or 5\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('replicas that differ in a value or a key are named, key by key', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const same = new Map([['a', b64('1')], ['b', null]]);
    assert.deepEqual(replicaDifferences(new Map([['n1', same], ['n2', new Map(same)]])), []);
    const diff = replicaDifferences(new Map([
      ['n1', same],
      ['n2', new Map([['a', b64('2')], ['b', null]])],
      ['n3', new Map([['a', b64('1')]])],
    ]));
    assert.deepEqual(diff, ['a: n1="1" n2="2" n3="1"', 'b: n1="" n2="" n3=(missing)']);
  });

  test('the verdict line', () => {
    assert.equal(verdictLine({ valid: true, ops: 12, faults: { 'kill-leader': 2 }, problems: [] }), 'jepsen: valid, 12 ops, faults: kill-leaderx2');
    assert.equal(
      verdictLine({ valid: false, ops: 3, faults: {}, problems: ['replicas differ: n1 / n2'] }),
      'jepsen: INVALID, replicas differ: n1 / n2; 3 ops, faults: none',
    );
  });
});

describe('lock and transaction checkers', () => {
  test('mutual exclusion: a write is accepted only while its token is the newest grant', () => {
    const ok: LockRecord[] = [
      { kind: 'acquire', process: 1, token: 10, time: 1 },
      { kind: 'write', process: 1, token: 10, type: 'ok', index: 12, time: 2 },
      { kind: 'acquire', process: 2, token: 20, time: 3 },
      { kind: 'write', process: 1, token: 10, type: 'fail', time: 4 },
      { kind: 'write', process: 2, token: 20, type: 'ok', index: 25, time: 5 },
    ];
    const v = checkMutualExclusion(ok);
    assert.deepEqual([v.valid, v.acquisitions, v.acceptedWrites, v.refusedWrites], [true, 2, 2, 1]);
    const stale = checkMutualExclusion([...ok, { kind: 'write', process: 1, token: 10, type: 'ok', index: 30, time: 6 }]);
    assert.equal(stale.valid, false);
    assert.match(stale.violations[0]!, /process 1 wrote with token 10 at index 30, after process 2 acquired the lock with token 20/);
    const stolen = checkMutualExclusion([...ok, { kind: 'write', process: 3, token: 20, type: 'ok', index: 26, time: 7 }]);
    assert.match(stolen.violations[0]!, /granted to process 2/);
    assert.equal(checkMutualExclusion([{ kind: 'write', process: 1, token: 5, type: 'info', time: 1 }]).valid, true, 'an unknown write proves nothing');
  });

  test('transaction atomicity: a read seeing different values across the group is a torn read', () => {
    const events = h([
      [0, 'invoke', 'read', 'g', null, 'default'], [0, 'ok', 'read', 'g', 'a', 'default'],
      [1, 'invoke', 'read', 'g', null, 'stale'], [1, 'ok', 'read', 'g', 'a', 'stale'],
    ]);
    events[1]!.values = ['a', 'a', 'a'];
    events[3]!.values = ['a', 'b', 'a'];
    const v = checkTxnAtomicity(events);
    assert.equal(v.reads, 2);
    assert.equal(v.torn.length, 1);
    assert.match(v.torn[0]!, /\["a","b","a"\]/);
  });
});

describe('runs on real agents', () => {
  const quiet = (): void => {};

  test('a short run with a leader kill and an isolated node is valid', async () => {
    const nemeses = isRoot() ? 'kill-leader,partition-one' : 'kill-leader,pause-random';
    const r = await runJepsen({
      timeS: 10, nemeses: parseNemeses(nemeses), servers: 3, clients: 4, keys: 3, seed: 11, recoveryS: 30,
      quietMs: [500, 1000], holdMs: [1500, 2500], log: quiet, lockClients: 3, txnClients: 2,
    });
    try {
      assert.equal(r.valid, true, `${r.verdict}\nrun dir: ${r.dir}`);
      assert.ok(r.linOps > 100, `only ${r.linOps} ops`);
      assert.ok(r.lock && r.lock.acceptedWrites > 0, `the lock workload wrote nothing: ${JSON.stringify(r.lock)}`);
      assert.ok(r.txnReads > 20, `only ${r.txnReads} transaction reads`);
      assert.ok(Object.keys(r.faults).length >= 2, JSON.stringify(r.faults));
      const lines = readFileSync(join(r.dir, 'history.jsonl'), 'utf8').trim().split('\n');
      assert.ok(lines.some((l) => l.includes('"process":"nemesis"')));
    } finally {
      if (r.valid) rmSync(r.dir, { recursive: true, force: true });
    }
  });

  test('a short run with client agents (fed by the followers as relays) under a leader kill is valid; their stale reads return only written values', async () => {
    const nemeses = isRoot() ? 'kill-leader,partition-one' : 'kill-leader,pause-random';
    const r = await runJepsen({
      timeS: 10, nemeses: parseNemeses(nemeses), servers: 3, clientAgents: 3, clients: 4, keys: 3, seed: 13, recoveryS: 30,
      quietMs: [500, 1000], holdMs: [1500, 2500], log: quiet,
    });
    try {
      assert.equal(r.valid, true, `${r.verdict}\nrun dir: ${r.dir}`);
      assert.ok(r.staleReads > 20, `only ${r.staleReads} stale reads checked`);
      const run = JSON.parse(readFileSync(join(r.dir, 'run.json'), 'utf8')) as { clientAgents: number };
      assert.equal(run.clientAgents, 3);
      const clientLog = readFileSync(join(r.dir, 'c1.log'), 'utf8');
      assert.match(clientLog, /subscribed to a relay/, 'the client agent was fed by a relay');
    } finally {
      if (r.valid) rmSync(r.dir, { recursive: true, force: true });
    }
  });

  test('BROKEN workloads are caught: lock holders writing without the fencing check, and a group written key by key', async () => {
    const r = await runJepsen({
      timeS: 10, nemeses: parseNemeses('none'), servers: 3, clients: 1, keys: 1, seed: 3, recoveryS: 30,
      log: quiet, lockClients: 3, lockFence: false, txnClients: 3, txnAtomic: false, namespaces: false,
    });
    try {
      assert.equal(r.valid, false, `the broken workloads went unnoticed: ${r.verdict}`);
      assert.ok(r.problems.some((p) => /^lock: mutual exclusion violated/.test(p)), r.problems.join('\n'));
      assert.ok(r.problems.some((p) => /torn transaction read/.test(p)), r.problems.join('\n'));
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  test('with KONSUL_UNSAFE_FOR_TESTS=stale-default-reads, an isolated node serves stale default reads and the run is INVALID', { skip: isRoot() ? false : 'needs root for network partitions' }, async () => {
    const r = await runJepsen({
      timeS: 10, nemeses: parseNemeses('partition-one'), servers: 3, clients: 5, keys: 2, seed: 5, recoveryS: 30,
      quietMs: [300, 600], holdMs: [2500, 3000], agentEnv: { KONSUL_UNSAFE_FOR_TESTS: 'stale-default-reads' }, log: quiet,
    });
    try {
      assert.equal(r.valid, false, `the unsafe setting went unnoticed: ${r.verdict}`);
      assert.match(r.verdict, /^jepsen: INVALID, not linearizable: key jepsen\/k\d/);
      assert.match(readFileSync(join(r.dir, 'n1.log'), 'utf8'), /UNSAFE, FOR TESTS ONLY/);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  test('with KONSUL_UNSAFE_FOR_TESTS=ack-before-commit, writes acknowledged by an isolated leader are lost and the run is INVALID', { skip: isRoot() ? false : 'needs root for network partitions' }, async () => {
    const r = await runJepsen({
      // Many keys: a lost write is visible when no concurrent write on its key can explain it away.
      timeS: 14, nemeses: parseNemeses('partition-leader'), servers: 3, clients: 6, keys: 12, seed: 8, recoveryS: 30,
      quietMs: [300, 600], holdMs: [4000, 4500], agentEnv: { KONSUL_UNSAFE_FOR_TESTS: 'ack-before-commit' }, log: quiet,
      // A longer election timeout: an isolated leader keeps acknowledging for about two seconds before it steps
      // down, so each partition loses many acknowledged writes (each one is caught only if a read of its key
      // comes before the next write to it).
      agentFlags: ['--election-timeout', '2s'],
    });
    assert.equal(r.valid, false, `the unsafe setting went unnoticed: ${r.verdict} (run dir kept: ${r.dir})`);
    assert.match(r.verdict, /^jepsen: INVALID, not linearizable: key jepsen\/k\d/);
    rmSync(r.dir, { recursive: true, force: true });
  });

  test('with KONSUL_UNSAFE_FOR_TESTS=ignore-disk-full, the node whose disk fills never notices (it says nothing, or dies on it) and the run is INVALID', { skip: isRoot() ? false : 'needs root to mount a small filesystem' }, async () => {
    const r = await runJepsen({
      timeS: 3, nemeses: parseNemeses('disk-full'), servers: 3, clients: 4, keys: 3, seed: 21, recoveryS: 30, cover: true,
      quietMs: [500, 800], holdMs: [2500, 3000], agentEnv: { KONSUL_UNSAFE_FOR_TESTS: 'ignore-disk-full' }, log: quiet,
    });
    try {
      assert.equal(r.valid, false, `a node without the disk guard went unnoticed: ${r.verdict}`);
      assert.match(r.verdict, /disk-full: n3('s disk is full .* but it never said so| exited while its disk was full)/);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  test('a disk-full and a slow-disk fault on one server: it stops taking entries, stays up, takes them again once freed; the run is valid', { skip: isRoot() ? false : 'needs root to mount a small filesystem' }, async () => {
    const r = await runJepsen({
      timeS: 3, nemeses: parseNemeses('disk-full,slow-disk'), servers: 3, clients: 4, keys: 3, seed: 22, recoveryS: 30, cover: true,
      quietMs: [500, 800], holdMs: [2000, 2500], log: quiet,
    });
    try {
      assert.equal(r.valid, true, `${r.verdict}\nrun dir: ${r.dir}`);
      assert.equal(r.events['disk-full episodes'], 1);
      assert.equal(r.events['disk space freed'], 1);
    } finally {
      if (r.valid) rmSync(r.dir, { recursive: true, force: true });
    }
  });

  // ---- ops2: the power-loss fault (every server's data dir an ext4 image; kill -9 all, then each data dir as its
  // disk held it). The honest build keeps every acknowledged write; the broken variant that acknowledges log
  // writes before their fsync loses some, and the run says so.
  test('power loss of the whole cluster during fsync stalls: every acknowledged write survives; the run is valid', { skip: isRoot() ? false : 'needs root to loop-mount ext4 images' }, async () => {
    const r = await runJepsen({
      timeS: 4, nemeses: parseNemeses('power-loss'), servers: 3, clients: 6, keys: 12, seed: 8, recoveryS: 30, cover: true,
      quietMs: [1500, 2000], holdMs: [500, 800], log: quiet, lockClients: 0, txnClients: 0,
    });
    try {
      assert.equal(r.valid, true, `${r.verdict}\nrun dir: ${r.dir}`);
      assert.ok((r.faults['power-loss'] ?? 0) >= 1, JSON.stringify(r.faults));
    } finally {
      if (r.valid) rmSync(r.dir, { recursive: true, force: true });
    }
  });

  test('with KONSUL_UNSAFE_FOR_TESTS=ack-before-fsync, a power loss takes back acknowledged writes and the run is INVALID', { skip: isRoot() ? false : 'needs root to loop-mount ext4 images' }, async () => {
    const r = await runJepsen({
      timeS: 8, nemeses: parseNemeses('power-loss'), servers: 3, clients: 6, keys: 12, seed: 8, recoveryS: 30, cover: true,
      quietMs: [1500, 2000], holdMs: [500, 800], log: quiet, lockClients: 0, txnClients: 0,
      agentEnv: { KONSUL_UNSAFE_FOR_TESTS: 'ack-before-fsync' },
    });
    try {
      assert.equal(r.valid, false, `acknowledged-before-durable writes went unnoticed: ${r.verdict} (run dir: ${r.dir})`);
      // Lost acknowledged writes: a later read (or the final read) sees a value from before them.
      assert.match(r.verdict, /not linearizable/);
      assert.match(readFileSync(join(r.dir, 'n1.log'), 'utf8'), /UNSAFE, FOR TESTS ONLY/);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
});
