// A deliberately naive linearizability check for small histories: try every
// order. The real checker is compared against it on random inputs.

import type { Operation, Value } from './types.js';

/**
 * Whether `ops` is linearizable, by trying every order (remembering only the
 * dead ends, as the set of ops left and the value); keep it under ~14 ops per key.
 */
export function linearizableByBruteForce(ops: readonly Operation[]): boolean {
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) byKey.set(op.key, [...(byKey.get(op.key) ?? []), op]);
  return [...byKey.values()].every((keyOps) => someOrderWorks(keyOps, (1 << keyOps.length) - 1, null, new Set()));
}

function someOrderWorks(ops: readonly Operation[], left: number, value: Value, deadEnds: Set<string>): boolean {
  const remaining = ops.filter((_, i) => left & (1 << i));
  // Done once every acknowledged op has taken effect; unknown ones may never.
  if (remaining.every((op) => op.ret === Infinity)) return true;
  const state = `${left}:${value}`;
  if (deadEnds.has(state)) return false;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (!(left & (1 << i))) continue;
    // op can go next unless another remaining op returned before op was called.
    if (remaining.some((other) => other !== op && other.ret < op.call)) continue;
    const after = apply(op, value);
    if (after === undefined) continue;
    if (someOrderWorks(ops, left & ~(1 << i), after, deadEnds)) return true;
  }
  deadEnds.add(state);
  return false;
}

/** The register after `op`, or undefined when `op` cannot happen at `value`. */
function apply(op: Operation, value: Value): Value | undefined {
  switch (op.f) {
    case 'read':
      return op.output === value ? value : undefined;
    case 'write':
      return op.input;
    case 'delete':
      return null;
    case 'cas':
      if (op.ret === Infinity || op.output === true) return value === op.input[0] ? op.input[1] : undefined;
      return value !== op.input[0] ? value : undefined;
  }
}
