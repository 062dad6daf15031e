// Checks that a history of register operations is linearizable: split by key (keys are independent
// registers, so P-compositionality holds), each key searched on its own within a budget.

import { relevantOperations, searchKey } from './search.js';
import { shrinkViolation } from './shrink.js';
import type { CheckOptions, CheckResult, Operation, Undecided, Value, Violation } from './types.js';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_SHRINK_TIMEOUT_MS = 3_000;

/**
 * Checks `ops` against a register per key, every key starting absent. Throws
 * a TypeError naming the operation when one is malformed.
 *
 * The verdict is the first key found not linearizable; failing that, the
 * first key whose search ran out of budget; otherwise valid.
 */
export function checkOperations(ops: readonly Operation[], options: CheckOptions = {}): CheckResult {
  const timeoutMs = positiveOption(options.timeoutMs, 'timeoutMs', DEFAULT_TIMEOUT_MS);
  const maxStates = positiveOption(options.maxStates, 'maxStates', Infinity);
  const shrinkTimeoutMs = positiveOption(options.shrinkTimeoutMs, 'shrinkTimeoutMs', DEFAULT_SHRINK_TIMEOUT_MS);
  const shrink = options.shrink ?? true;

  const byKey = new Map<string, Operation[]>();
  ops.forEach((op, index) => {
    validateOperation(op, index);
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  });

  let undecided: Undecided | undefined;
  let checked = 0;
  let states = 0;
  for (const [key, keyOps] of byKey) {
    const relevant = relevantOperations(keyOps);
    checked += relevant.length;
    const outcome = searchKey(relevant, { deadline: performance.now() + timeoutMs, maxStates });
    states += outcome.states;
    if (outcome.kind === 'timeout') {
      undecided ??= { valid: 'unknown', key, reason: 'timeout', states: outcome.states };
    } else if (outcome.kind === 'violation') {
      const sorted = outcome.ops;
      const longestPrefix = outcome.prefix.map((i) => sorted[i]);
      const pending = outcome.pending.map((i) => sorted[i]);
      const witness = shrink
        ? shrinkViolation(sorted, pending[0], performance.now() + shrinkTimeoutMs, maxStates)
        : sorted.slice();
      return {
        valid: false,
        key,
        reason: describe(key, sorted.length, longestPrefix.length, outcome.valueAfterPrefix, pending, witness),
        witness,
        longestPrefix,
        valueAfterPrefix: outcome.valueAfterPrefix,
        pending,
        ops: keyOps.slice().sort((a, b) => a.call - b.call),
      };
    }
  }
  return undecided ?? { valid: true, ops: checked, keys: byKey.size, states };
}

/** One operation as a line of a report, e.g. `p3 read -> "v9" [1203..1210]`. */
export function formatOperation(op: Operation): string {
  const ret = op.ret === Infinity ? '?' : String(op.ret);
  const when = `[${op.call}..${ret}]`;
  switch (op.f) {
    case 'read':
      return `p${op.process} read -> ${show(op.output)} ${when}`;
    case 'write':
      return `p${op.process} write ${show(op.input)} ${when}`;
    case 'delete':
      return `p${op.process} delete ${when}`;
    case 'cas': {
      const outcome = op.ret === Infinity ? 'unknown' : op.output ? 'ok' : `value was not ${show(op.input[0])}`;
      return `p${op.process} cas ${show(op.input[0])} -> ${show(op.input[1])}: ${outcome} ${when}`;
    }
  }
}

/** A violation as a few lines for a terminal: the reason, then the witness. */
export function formatViolation(violation: Violation): string {
  const lines = [`key ${JSON.stringify(violation.key)}: ${violation.reason}`, 'witness (sorted by call):'];
  for (const op of violation.witness) lines.push(`  ${formatOperation(op)}`);
  return lines.join('\n');
}

function describe(
  key: string,
  total: number,
  prefixLength: number,
  valueAfterPrefix: Value,
  pending: readonly Operation[],
  witness: readonly Operation[],
): string {
  const stuck = pending[0];
  const where =
    stuck === undefined
      ? ''
      : `; after a linearizable prefix of ${count(prefixLength, 'op')} the value is ${show(valueAfterPrefix)}, ` +
        `and no order of the ${count(pending.length, 'pending op')} lets ${formatOperation(stuck)} take effect`;
  return `no linearization of the ${count(total, 'op')} on key ${JSON.stringify(key)}${where}; ` +
    `witness (fails on its own): ${count(witness.length, 'op')}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function show(value: Value): string {
  return value === null ? 'null' : JSON.stringify(value);
}

function positiveOption(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new TypeError(`checkOperations: ${name} must be a positive number (got ${String(value)})`);
  }
  return value;
}

// The simulator builds operations by hand; a malformed one should fail loudly
// here rather than turn into a wrong verdict.
function validateOperation(op: Operation, index: number): void {
  const fail = (why: string): never => {
    throw new TypeError(`operation ${index} (${JSON.stringify(op)}): ${why}`);
  };
  if (typeof op.key !== 'string') fail('key must be a string');
  if (typeof op.call !== 'number' || !Number.isFinite(op.call)) fail('call must be a finite number');
  if (typeof op.ret !== 'number' || Number.isNaN(op.ret) || op.ret < op.call) {
    fail('ret must be a number >= call (Infinity when unknown)');
  }
  const isValue = (v: unknown): boolean => v === null || typeof v === 'string';
  switch (op.f) {
    case 'read':
      if (op.ret !== Infinity && !isValue(op.output)) fail('a read must output a string or null');
      break;
    case 'write':
      if (!isValue(op.input)) fail('a write must input a string or null');
      break;
    case 'delete':
      break;
    case 'cas':
      if (!Array.isArray(op.input) || op.input.length !== 2 || !isValue(op.input[0]) || !isValue(op.input[1])) {
        fail('a cas must input [expected, next], each a string or null');
      }
      if (op.ret !== Infinity && typeof op.output !== 'boolean') fail('a completed cas must output true or false');
      break;
    default:
      fail(`unknown f ${JSON.stringify((op as { f: unknown }).f)} (expected read, write, cas or delete)`);
  }
}
