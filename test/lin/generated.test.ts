// Generated histories: real concurrent runs must pass, a run with one read made impossible must
// fail with that read in its witness, and on small random histories brute force must agree.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkOperations, formatViolation } from './checker.js';
import { breakOneRead, generateHistory, seededRandom, type GenerateOptions } from './generate.js';
import { checkHistory } from './history.js';
import { linearizableByBruteForce } from './oracle.js';
import type { Operation, Value, Violation } from './types.js';

const runShapes = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  ops: fc.integer({ min: 1, max: 400 }),
  keys: fc.integer({ min: 1, max: 4 }),
  processes: fc.integer({ min: 1, max: 10 }),
  unknownRate: fc.constantFrom(0, 0.02, 0.1),
  failRate: fc.constantFrom(0, 0.05, 0.2),
});

describe('runs of a real register', () => {
  test('are linearizable, as operations and as Jepsen events', () => {
    fc.assert(
      fc.property(runShapes, fc.constantFrom<GenerateOptions['values']>('unique', 2, 5), (shape, values) => {
        const run = generateHistory({ ...shape, values });
        const fromOperations = checkOperations(run.operations);
        assert.equal(fromOperations.valid, true, fromOperations.valid === false ? formatViolation(fromOperations) : '');
        const fromEvents = checkHistory(run.events);
        assert.equal(fromEvents.valid, true, fromEvents.valid === false ? formatViolation(fromEvents) : '');
      }),
      { numRuns: 150 },
    );
  });

  test('with one read changed to a value from the future or from before an overwrite, are not', () => {
    let checked = 0;
    fc.assert(
      fc.property(runShapes, (shape) => {
        const run = generateHistory(shape);
        const broken = breakOneRead(run.operations, seededRandom(shape.seed));
        if (broken === undefined) return;
        checked++;
        const result = checkOperations(broken.operations);
        assert.equal(result.valid, false, `a ${broken.kind} read went unnoticed: ${JSON.stringify(broken.broken)}`);
        const violation = result as Violation;
        assert.equal(violation.key, broken.broken.key);
        // Any smaller history that still fails must contain the one lie told.
        const witnessed = violation.witness.includes(broken.broken);
        assert.ok(witnessed, `the witness lacks the broken read:\n${formatViolation(violation)}`);
        assert.equal(checkOperations(violation.witness).valid, false, 'the witness passes on its own');
      }),
      { numRuns: 150 },
    );
    assert.ok(checked > 100, `only ${checked} runs had a read to break`);
  });

  test('a broken read in a run whose shrinking once cut through a cas that needed a later delete', () => {
    // Found by the property above: the shrinker cut the history at the broken
    // read, then gave two cas ops running at the cut their real returns while
    // the deletes they needed (called after the cut) stayed dropped, and
    // reported 16 ops that failed without the broken read.
    const shape = { seed: 1447092603, ops: 196, keys: 1, processes: 9, unknownRate: 0, failRate: 0 };
    const run = generateHistory(shape);
    assert.equal(checkOperations(run.operations).valid, true);
    const broken = breakOneRead(run.operations, seededRandom(shape.seed));
    assert.ok(broken !== undefined);
    const result = checkOperations(broken.operations);
    assert.equal(result.valid, false);
    const violation = result as Violation;
    assert.ok(violation.witness.includes(broken.broken), formatViolation(violation));
    assert.equal(checkOperations(violation.witness).valid, false, 'the witness passes on its own');
    const rest = violation.witness.filter((op) => op !== broken.broken);
    assert.equal(checkOperations(rest).valid, true, 'the witness fails without the broken read');
  });

  test('a big run: 5,000 ops on 5 keys by 8 clients', (t) => {
    const run = generateHistory({ seed: 5000, ops: 5000, keys: 5, processes: 8, unknownRate: 0.01, failRate: 0.05 });
    const started = performance.now();
    const result = checkOperations(run.operations);
    const elapsed = performance.now() - started;
    assert.equal(result.valid, true);
    const states = result.valid === true ? result.states : '?';
    t.diagnostic(`5,000 ops checked in ${elapsed.toFixed(0)} ms (${states} search states)`);
  });
});

describe('small random histories, right or wrong', () => {
  const value = fc.constantFrom<Value>(null, 'a', 'b');
  const written = fc.constantFrom<Value>('a', 'b');
  const operation = fc
    .record({
      process: fc.nat(4),
      key: fc.constantFrom('x', 'x', 'x', 'y'),
      call: fc.nat(20),
      duration: fc.nat(8),
      neverReturned: fc.nat(3).map((n) => n === 0),
      body: fc.oneof(
        fc.record({ f: fc.constant('read' as const), output: value }),
        fc.record({ f: fc.constant('write' as const), input: written }),
        fc.record({ f: fc.constant('cas' as const), input: fc.tuple(value, written), output: fc.boolean() }),
        fc.record({ f: fc.constant('delete' as const) }),
      ),
    })
    .map(({ process, key, call, duration, neverReturned, body }): Operation => ({
      process,
      key,
      call,
      ret: neverReturned ? Infinity : call + duration,
      ...body,
    }));

  test('get the same verdict as trying every order, and a failing witness', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 12 }), (ops) => {
        const expected = linearizableByBruteForce(ops);
        const result = checkOperations(ops);
        assert.equal(result.valid, expected);
        if (result.valid === false) assert.equal(linearizableByBruteForce(result.witness), false, 'witness passes');
      }),
      { numRuns: 2000 },
    );
  });
});
