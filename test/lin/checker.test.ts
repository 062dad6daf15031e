// Hand-written histories for the linearizability checker: the classic ways a
// store goes wrong must be caught, and honest concurrency must pass.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOperations, formatViolation } from './checker.js';
import type { CheckResult, Operation, Value, Violation } from './types.js';

// A tiny vocabulary for timelines: every op is on key "x" unless told, and
// `[call, ret]` are the instants the client sent the request and heard back.
// NEVER marks a client that never heard back.
const NEVER = Infinity;
const write = (process: number, value: Value, call: number, ret: number, key = 'x'): Operation => ({
  process,
  key,
  f: 'write',
  input: value,
  call,
  ret,
});
const read = (process: number, value: Value, call: number, ret: number, key = 'x'): Operation => ({
  process,
  key,
  f: 'read',
  output: value,
  call,
  ret,
});
const cas = (
  process: number,
  expected: Value,
  next: Value,
  ok: boolean,
  call: number,
  ret: number,
  key = 'x',
): Operation => ({ process, key, f: 'cas', input: [expected, next], output: ok, call, ret });
const del = (process: number, call: number, ret: number, key = 'x'): Operation => ({
  process,
  key,
  f: 'delete',
  call,
  ret,
});

function assertViolation(result: CheckResult): Violation {
  assert.equal(result.valid, false, `expected a violation, got ${JSON.stringify(result)}`);
  return result as Violation;
}

function assertValid(result: CheckResult): void {
  assert.equal(result.valid, true, result.valid === false ? formatViolation(result) : JSON.stringify(result));
}

describe('histories no serial order explains are rejected', () => {
  test('a read after a completed write returns the value from before it (stale read)', () => {
    const history = [write(1, 'a', 0, 1), write(1, 'b', 2, 3), read(2, 'a', 4, 5)];
    const violation = assertViolation(checkOperations(history));
    assert.equal(violation.key, 'x');
    assert.deepEqual(violation.witness, history);
    assert.match(violation.reason, /p2 read -> "a" \[4\.\.5\]/);
  });

  test('an acknowledged write is missed by a later read (lost write)', () => {
    const history = [write(1, 'a', 0, 1), read(2, null, 2, 3)];
    assertViolation(checkOperations(history));
  });

  test('a cas succeeds against a value that had already been overwritten', () => {
    const history = [write(1, 'a', 0, 1), write(1, 'b', 2, 3), cas(2, 'a', 'c', true, 4, 5)];
    assertViolation(checkOperations(history));
  });

  test('a read returns a value nobody wrote', () => {
    assertViolation(checkOperations([write(1, 'a', 0, 10), read(2, 'z', 1, 2)]));
  });

  test('two readers see two concurrent writes land in opposite orders', () => {
    // The writes overlap everything, so either may go first; but p3 saw a
    // then b, and p4, strictly later, saw b then a: one write would have to
    // land twice.
    const history = [
      write(1, 'a', 0, 100),
      write(2, 'b', 0, 100),
      read(3, 'a', 10, 11),
      read(3, 'b', 12, 13),
      read(4, 'b', 14, 15),
      read(4, 'a', 16, 17),
    ];
    assertViolation(checkOperations(history));
  });

  test('a read after a completed delete still returns the old value', () => {
    assertViolation(checkOperations([write(1, 'a', 0, 1), del(1, 2, 3), read(2, 'a', 4, 5)]));
  });

  test('a cas reports "value was not a" while a was plainly there', () => {
    assertViolation(checkOperations([write(1, 'a', 0, 1), cas(2, 'a', 'b', false, 2, 3)]));
  });

  test('an unacknowledged write cannot explain a read that finished before it was sent', () => {
    assertViolation(checkOperations([read(1, 'a', 0, 1), write(2, 'a', 5, NEVER)]));
  });

  test('a read that returns one key\'s value on another key is caught on that key alone', () => {
    const history = [
      write(1, 'a', 0, 1, 'x'),
      write(2, 'b', 0, 1, 'y'),
      read(3, 'b', 2, 3, 'x'),
      read(3, 'b', 2, 3, 'y'),
    ];
    assert.equal(assertViolation(checkOperations(history)).key, 'x');
  });

  test('the report pins the read the search could not get past, and a prefix that worked', () => {
    const history = [
      write(1, 'a', 0, 1),
      read(2, 'a', 2, 3),
      write(1, 'b', 4, 5),
      read(2, 'b', 6, 7),
      read(3, 'a', 8, 9),
      write(1, 'c', 10, 11),
    ];
    const violation = assertViolation(checkOperations(history));
    assert.deepEqual(violation.longestPrefix, history.slice(0, 4));
    assert.equal(violation.valueAfterPrefix, 'b');
    assert.deepEqual(violation.pending[0], history[4]);
    assert.deepEqual(violation.ops, history);
    // The stale read needs only the write it saw, the write that buried it, and itself.
    assert.deepEqual(violation.witness, [history[0], history[2], history[4]]);
  });

  test('an op running when the shrinker cuts the history stays unacknowledged in the witness', () => {
    // The stale read is the only lie. The cas on absence is honest, but only
    // thanks to the delete called after the read returned: had the shrinker cut
    // the history at the read and then given the cas back its real return, the
    // cas alone (after "b") would fail, and the witness would accuse it instead
    // (it once did: write "b" [2..3], cas null -> "c": ok [11..20]).
    const staleRead = read(3, 'a', 10, 12);
    const history = [
      write(1, 'a', 0, 1),
      write(1, 'b', 2, 3),
      cas(2, 'z', 'y', false, 10, 11), // a failed cas: unacknowledged writes stay in the search
      staleRead,
      cas(4, null, 'c', true, 11, 20),
      del(5, 13, 14),
    ];
    assertValid(checkOperations(history.filter((op) => op !== staleRead)));
    const violation = assertViolation(checkOperations(history));
    assert.deepEqual(violation.pending[0], staleRead);
    assert.ok(violation.witness.includes(staleRead), formatViolation(violation));
    assertViolation(checkOperations(violation.witness, { shrink: false }));
    assertValid(checkOperations(violation.witness.filter((op) => op !== staleRead)));
  });
});

describe('honest histories are accepted', () => {
  test('an empty history, and reads of a key nobody wrote', () => {
    assertValid(checkOperations([]));
    assertValid(checkOperations([read(1, null, 0, 1), read(2, null, 0, 1)]));
  });

  test('six overlapping writes land in an order far from their call order', () => {
    const writes = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'].map((value, i) => write(i + 1, value, i, 100));
    const reads = [
      read(7, null, 0, 1),
      read(7, 'v3', 10, 11),
      read(7, 'v1', 20, 21),
      read(7, 'v6', 30, 31),
      read(7, 'v2', 40, 41),
    ];
    const result = checkOperations([...writes, ...reads, read(8, 'v5', 101, 102), read(8, 'v5', 103, 104)]);
    assertValid(result);
  });

  test('a read concurrent with a write may see either value, and later reads agree', () => {
    const history = [
      write(1, 'a', 0, 1),
      write(1, 'b', 2, 10),
      read(2, 'a', 3, 4),
      read(3, 'b', 5, 6),
      read(2, 'b', 11, 12),
    ];
    assertValid(checkOperations(history));
  });

  test('an unacknowledged write takes effect long after its client gave up', () => {
    const history = [write(1, 'a', 0, NEVER), write(2, 'b', 1, 2), read(3, 'b', 3, 4), read(3, 'a', 100, 101)];
    assertValid(checkOperations(history));
  });

  test('an unacknowledged write that never took effect', () => {
    const history = [write(1, 'a', 0, 1), write(2, 'lost', 2, NEVER), read(3, 'a', 3, 4), read(3, 'a', 50, 51)];
    assertValid(checkOperations(history));
  });

  test('unacknowledged ops chain: a write, then a cas that needed it, then a read of the cas', () => {
    const history = [
      write(1, 'a', 0, NEVER),
      cas(2, 'a', 'b', true, 1, NEVER),
      read(3, null, 2, 3),
      read(3, 'b', 10, 11),
    ];
    assertValid(checkOperations(history));
  });

  test('an unacknowledged cas whose expected value never showed up simply did not happen', () => {
    assertValid(checkOperations([write(1, 'a', 0, 1), cas(2, 'zzz', 'b', true, 2, NEVER), read(3, 'a', 3, 4)]));
  });

  test('an unacknowledged read constrains nothing', () => {
    assertValid(checkOperations([read(1, 'never-written', 0, NEVER)]));
  });

  test('a cas that saw another value, after a concurrent overwrite', () => {
    const history = [write(1, 'a', 0, 1), write(2, 'b', 2, 6), cas(3, 'a', 'c', false, 3, 4), read(3, 'b', 7, 8)];
    assertValid(checkOperations(history));
  });

  test('a cas that saw another value because an unacknowledged write got in first', () => {
    assertValid(checkOperations([write(1, 'a', 0, 1), write(2, 'z', 2, NEVER), cas(3, 'a', 'c', false, 3, 4)]));
  });

  test('delete, cas on absence, and reads of both', () => {
    const history = [
      write(1, 'a', 0, 1),
      del(1, 2, 3),
      read(2, null, 4, 5),
      cas(2, null, 'b', true, 6, 7),
      cas(3, null, 'c', false, 8, 9),
      read(3, 'b', 10, 11),
    ];
    assertValid(checkOperations(history));
  });

  test('ops whose call equals another\'s return count as concurrent', () => {
    // The read starts at the very instant the write of b returns, so it may go first.
    assertValid(checkOperations([write(1, 'a', 0, 1), write(1, 'b', 2, 5), read(2, 'a', 5, 6)]));
    assertViolation(checkOperations([write(1, 'a', 0, 1), write(1, 'b', 2, 5), read(2, 'a', 6, 7)]));
  });

  test('keys are independent registers', () => {
    const history = [
      write(1, 'a', 0, 1, 'x'),
      write(1, 'a', 0, 1, 'y'),
      del(2, 2, 3, 'y'),
      read(3, 'a', 4, 5, 'x'),
      read(3, null, 4, 5, 'y'),
    ];
    const result = checkOperations(history);
    assert.deepEqual(result, { valid: true, ops: 5, keys: 2, states: result.valid === true ? result.states : -1 });
  });
});

describe('budgets and bad input', () => {
  // Sixteen writes that overlap each other, then two reads that no order of
  // them explains: proving that means trying every subset of the writes.
  const pathological = [
    ...Array.from({ length: 16 }, (_, i) => write(i, `v${i}`, 0, 100)),
    read(20, 'v0', 200, 201),
    read(20, 'v1', 202, 203),
  ];

  test('a search that runs out of explored states says unknown instead of hanging', () => {
    const result = checkOperations(pathological, { maxStates: 1000 });
    assert.deepEqual(result, { valid: 'unknown', key: 'x', reason: 'timeout', states: 1000 });
  });

  test('a search that runs out of time says unknown', () => {
    const result = checkOperations(pathological, { timeoutMs: 1 });
    assert.equal(result.valid, 'unknown');
  });

  test('a violation on one key wins over a timeout on another', () => {
    const slow = pathological.map((op) => ({ ...op, key: 'slow' }));
    const result = checkOperations([...slow, write(1, 'a', 0, 1), read(2, null, 2, 3)], { maxStates: 1000 });
    assert.equal(assertViolation(result).key, 'x');
  });

  test('malformed operations are refused with the reason', () => {
    assert.throws(() => checkOperations([write(1, 'a', 5, 4)]), /ret must be a number >= call/);
    const casWithoutOutcome: Operation = { process: 1, key: 'x', f: 'cas', input: ['a', 'b'], call: 0, ret: 1 };
    assert.throws(() => checkOperations([casWithoutOutcome]), /completed cas must output/);
    assert.throws(() => checkOperations([write(1, 'a', 0, 1)], { maxStates: 0 }), /maxStates must be a positive/);
  });
});
