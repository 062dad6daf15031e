// Jepsen-shaped histories: how invoke/ok/fail/info events become operations,
// and the `lin` command-line check of a history.jsonl file.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateHistory } from './generate.js';
import {
  checkHistory,
  HistoryFormatError,
  operationsFromHistory,
  parseHistoryJsonl,
  type HistoryEvent,
} from './history.js';

const invoke = (process: number, f: string, value: unknown, time: number, key = 'x'): HistoryEvent => ({
  process,
  type: 'invoke',
  f,
  key,
  value,
  time,
});
const complete = (
  type: 'ok' | 'fail' | 'info',
  process: number,
  f: string,
  value: unknown,
  time: number,
  key = 'x',
): HistoryEvent => ({ process, type, f, key, value, time });

describe('events become operations', () => {
  test('an ok read carries what it saw; an ok cas swapped', () => {
    const ops = operationsFromHistory([
      invoke(0, 'write', 'a', 10),
      complete('ok', 0, 'write', 'a', 20),
      invoke(1, 'read', null, 30),
      complete('ok', 1, 'read', 'a', 40),
      invoke(1, 'cas', ['a', 'b'], 50),
      complete('ok', 1, 'cas', ['a', 'b'], 60),
    ]);
    assert.deepEqual(ops, [
      { process: 0, key: 'x', f: 'write', input: 'a', call: 10, ret: 20 },
      { process: 1, key: 'x', f: 'read', output: 'a', call: 30, ret: 40 },
      { process: 1, key: 'x', f: 'cas', input: ['a', 'b'], output: true, call: 50, ret: 60 },
    ]);
  });

  test('fail drops the op; info and a missing completion make it unknown', () => {
    const ops = operationsFromHistory([
      invoke(0, 'write', 'failed', 1),
      complete('fail', 0, 'write', 'failed', 2),
      invoke(1, 'write', 'maybe', 3),
      complete('info', 1, 'write', 'maybe', 4),
      invoke(2, 'delete', null, 5),
    ]);
    assert.deepEqual(ops, [
      { process: 1, key: 'x', f: 'write', input: 'maybe', call: 3, ret: Infinity },
      { process: 2, key: 'x', f: 'delete', call: 5, ret: Infinity },
    ]);
  });

  test('numbers are read as their decimal strings, and nemesis events are skipped', () => {
    const ops = operationsFromHistory([
      { process: 'nemesis', type: 'info', f: 'start-partition', value: ['n1'], time: 0 },
      invoke(0, 'write', 3, 1),
      complete('ok', 0, 'write', 3, 2),
      invoke(0, 'read', null, 3),
      complete('ok', 0, 'read', 3, 4),
    ]);
    assert.deepEqual(
      ops.map((op) => (op.f === 'read' ? op.output : op.f === 'write' ? op.input : undefined)),
      ['3', '3'],
    );
  });

  test('without times on every event, positions order them', () => {
    const ops = operationsFromHistory([
      { process: 0, type: 'invoke', f: 'write', key: 'x', value: 'a' },
      { process: 0, type: 'ok', f: 'write', key: 'x', value: 'a' },
    ]);
    assert.deepEqual(
      ops.map((op) => [op.call, op.ret]),
      [[0, 1]],
    );
  });

  test('a history that cannot be paired up is refused with the event at fault', () => {
    const orphan = [complete('ok', 0, 'read', 'a', 1)];
    assert.throws(() => operationsFromHistory(orphan), /event 0 .*completion without an invoke/);
    assert.throws(
      () => operationsFromHistory([invoke(0, 'read', null, 1), invoke(0, 'read', null, 2)]),
      /invoked again before its previous operation completed/,
    );
    const increment = [invoke(0, 'incr', 1, 1), complete('ok', 0, 'incr', 2, 2)];
    assert.throws(() => operationsFromHistory(increment), HistoryFormatError);
    assert.throws(() => parseHistoryJsonl('{"process":0}\nnot json\n'), /line 2: not JSON/);
  });
});

describe('checking events', () => {
  test('a value from a failed write must never be seen', () => {
    const result = checkHistory([
      invoke(0, 'write', 'ghost', 1),
      complete('fail', 0, 'write', 'ghost', 2),
      invoke(1, 'read', null, 3),
      complete('ok', 1, 'read', 'ghost', 4),
    ]);
    assert.equal(result.valid, false);
  });

  test('a value from a write that timed out may show up later', () => {
    const result = checkHistory([
      invoke(0, 'write', 'late', 1),
      complete('info', 0, 'write', 'late', 2),
      invoke(1, 'read', null, 3),
      complete('ok', 1, 'read', null, 4),
      invoke(1, 'read', null, 5),
      complete('ok', 1, 'read', 'late', 6),
    ]);
    assert.equal(result.valid, true);
  });
});

describe('the lin command', () => {
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  const withHistory = (events: readonly unknown[] | string, body: (path: string) => void): void => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-lin-'));
    try {
      const path = join(dir, 'history.jsonl');
      writeFileSync(path, typeof events === 'string' ? events : events.map((e) => JSON.stringify(e)).join('\n') + '\n');
      body(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('says valid and exits 0 for a real run', () => {
    const { events } = generateHistory({ seed: 7, ops: 300, keys: 3, processes: 5, unknownRate: 0.02, failRate: 0.05 });
    withHistory(events, (path) => {
      const result = run(path);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout.trim(), `lin: valid, ${operationsFromHistory(events).length} ops`);
    });
  });

  test('says INVALID with the key and a witness, and exits 1', () => {
    const events = [
      invoke(0, 'write', 'a', 1),
      complete('ok', 0, 'write', 'a', 2),
      invoke(0, 'write', 'b', 3),
      complete('ok', 0, 'write', 'b', 4),
      invoke(1, 'read', null, 5),
      complete('ok', 1, 'read', 'a', 6),
    ];
    withHistory(events, (path) => {
      const result = run(path);
      assert.equal(result.status, 1);
      assert.match(result.stdout, /^lin: INVALID key="x", no linearization/);
      const witness = ['p0 write "a" [1..2]', 'p0 write "b" [3..4]', 'p1 read -> "a" [5..6]'];
      assert.ok(result.stdout.endsWith(`witness (sorted by call):\n  ${witness.join('\n  ')}\n`), result.stdout);
    });
  });

  test('says UNKNOWN and exits 2 when the budget runs out', () => {
    const events: HistoryEvent[] = [];
    for (let p = 0; p < 16; p++) events.push(invoke(p, 'write', `v${p}`, 0));
    for (let p = 0; p < 16; p++) events.push(complete('ok', p, 'write', `v${p}`, 100));
    events.push(invoke(20, 'read', null, 200), complete('ok', 20, 'read', 'v0', 201));
    events.push(invoke(20, 'read', null, 202), complete('ok', 20, 'read', 'v1', 203));
    withHistory(events, (path) => {
      const result = run(path, '--max-states', '500');
      assert.equal(result.status, 2);
      assert.match(result.stdout, /^lin: UNKNOWN key="x"/);
    });
  });

  test('exits 3 on a file it cannot read or a bad flag', () => {
    withHistory('{"process": 0, "type": "ok"', (path) => {
      const result = run(path);
      assert.equal(result.status, 3);
      assert.match(result.stderr, /line 1: not JSON/);
    });
    assert.equal(run('/nonexistent/history.jsonl').status, 3);
    assert.equal(run().status, 3);
    assert.equal(run('x.jsonl', '--max-states', 'lots').status, 3);
  });
});
