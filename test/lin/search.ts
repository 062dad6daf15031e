// The Wing–Gong/Porcupine search over one key's register history: a DFS over a linked list of call
// and return events with undo on backtrack and a memo of configurations, plus sound reductions.

import type { Operation, Value } from './types.js';

// The register's transitions. A delete is a write of null (value id 0).
const READ = 0; // legal when value === a1
const WRITE = 1; // value := a1
const CAS = 2; // legal when value === a1; value := a2
const CAS_MISS = 3; // legal when value !== a1 (the server said "not expected")

export interface SearchBudget {
  /** performance.now() after which the search gives up. */
  deadline: number;
  maxStates: number;
}

export type SearchOutcome =
  | { kind: 'linearizable'; states: number }
  | { kind: 'timeout'; states: number }
  | {
      kind: 'violation';
      states: number;
      /** The operations searched, sorted by call; the indices below point here. */
      ops: Operation[];
      /** The longest linearizable prefix found, in linearization order. */
      prefix: number[];
      valueAfterPrefix: Value;
      /** Operations still pending after the prefix; the first is the one the search could not get past. */
      pending: number[];
    };

/**
 * Drops the operations that cannot change the verdict, which keeps the search
 * from branching on them. A read that never returned constrains nothing. An
 * unacknowledged write or cas whose value no op can observe after it (no read
 * returned it, no cas expected it, among the ops that had not returned by its
 * call) can always be taken out of a linearization without breaking it:
 * between it and the next write, nothing depends on its value. That argument
 * fails when some cas reported "value was not X", so a key with such an
 * observation keeps all of its unacknowledged writes. Dropping one unknown cas
 * can leave another unknown op unobserved, so this runs to a fixpoint.
 */
export function relevantOperations(ops: readonly Operation[]): Operation[] {
  if (ops.some((op) => op.f === 'cas' && op.ret !== Infinity && op.output === false)) {
    return ops.filter((op) => op.f !== 'read' || op.ret !== Infinity);
  }
  const written = (op: Operation): Value => (op.f === 'write' ? op.input : op.f === 'cas' ? op.input[1] : null);
  // The latest return among the ops that observe each value.
  const lastObserved = (kept: readonly Operation[]): Map<Value, number> => {
    const last = new Map<Value, number>();
    const observe = (value: Value, ret: number): void => {
      if (ret > (last.get(value) ?? -Infinity)) last.set(value, ret);
    };
    for (const op of kept) {
      if (op.f === 'read') observe(op.output, op.ret);
      else if (op.f === 'cas') observe(op.input[0], op.ret);
    }
    return last;
  };
  let kept = ops.filter((op) => op.f !== 'read' || op.ret !== Infinity);
  for (;;) {
    const last = lastObserved(kept);
    const next = kept.filter((op) => op.ret !== Infinity || (last.get(written(op)) ?? -Infinity) >= op.call);
    if (next.length === kept.length) return kept;
    kept = next;
  }
}

/**
 * Searches for a linearization of `input`, operations on one key, against a
 * register that starts absent. Operations with `ret === Infinity` may take
 * effect at any point after their call, or never.
 */
export function searchKey(input: readonly Operation[], budget: SearchBudget): SearchOutcome {
  const n = input.length;
  // Ids follow call order (sort is stable, so ties keep the caller's order);
  // the memo key below relies on it.
  const ops = input.slice().sort((a, b) => a.call - b.call);

  // Values become small integers so that the state is one int. A value no op
  // ever expects (no read returned it, no cas compared with it) is
  // indistinguishable from any other such value, so they all share id 1: two
  // orders of unread writes then lead to the same configuration.
  const expected = new Set<Value>();
  for (const op of ops) {
    if (op.f === 'read') expected.add(op.output);
    else if (op.f === 'cas') expected.add(op.input[0]);
  }
  const UNREAD = 1;
  const valueIds = new Map<string, number>();
  const intern = (v: Value): number => {
    if (v === null) return 0;
    if (!expected.has(v)) return UNREAD;
    let id = valueIds.get(v);
    if (id === undefined) {
      id = valueIds.size + 2;
      valueIds.set(v, id);
    }
    return id;
  };

  const kind = new Uint8Array(n);
  const a1 = new Int32Array(n);
  const a2 = new Int32Array(n);
  const unknown = new Uint8Array(n);
  let definiteCount = 0;
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    const isUnknown = op.ret === Infinity;
    unknown[i] = isUnknown ? 1 : 0;
    if (!isUnknown) definiteCount++;
    switch (op.f) {
      case 'read':
        kind[i] = READ;
        a1[i] = intern(op.output);
        break;
      case 'write':
        kind[i] = WRITE;
        a1[i] = intern(op.input);
        break;
      case 'delete':
        kind[i] = WRITE;
        a1[i] = 0;
        break;
      case 'cas':
        if (isUnknown || op.output === true) {
          kind[i] = CAS;
          a2[i] = intern(op.input[1]);
        } else {
          kind[i] = CAS_MISS;
        }
        a1[i] = intern(op.input[0]);
        break;
    }
  }
  if (definiteCount === 0) return { kind: 'linearizable', states: 0 };

  // How many ops not yet linearized expect each value (read it, compare with
  // it). Once none is left, a value is as good as any other nobody reads, and
  // the register holding it is canonicalized to UNREAD.
  const valueCount = valueIds.size + 2;
  const pendingObservers = new Int32Array(valueCount);
  for (let i = 0; i < n; i++) if (kind[i] !== WRITE) pendingObservers[a1[i]]++;
  const isDeadWrite = (op: number): boolean => kind[op] === WRITE && pendingObservers[a1[op]] === 0;

  // Two linked lists of events. The main one holds the calls and returns of
  // acknowledged ops in time order: entry 0 is its head, 1 its tail, 4+i the
  // call of op i and 4+n+i its return. Unknown ops have no return (nothing
  // ever forces them to take effect), so they would sit at the head of the
  // list for the rest of the history; they live in a list of their own (head
  // 2, tail 3) that is tried only after the acknowledged candidates. Unknown
  // writes of dead values (nobody pending reads them) leave that list for the
  // `dead` set, since they are interchangeable: see deadWriteTried.
  const HEAD = 0;
  const TAIL = 1;
  const UNKNOWN_HEAD = 2;
  const UNKNOWN_TAIL = 3;
  const CALL = 4;
  const RET = 4 + n;
  const next = new Int32Array(4 + 2 * n);
  const prev = new Int32Array(4 + 2 * n);
  const dead = new FirstSetBit(n);
  // windowEnd[i]: the last op whose call comes before op i's return. Only those
  // can be linearized while op i is still pending.
  const windowEnd = new Int32Array(n);
  const returnOrder: number[] = [];
  for (let i = 0; i < n; i++) if (!unknown[i]) returnOrder.push(i);
  returnOrder.sort((x, y) => ops[x].ret - ops[y].ret || x - y);
  {
    let last = HEAD;
    let lastUnknown = UNKNOWN_HEAD;
    const link = (entry: number): void => {
      next[last] = entry;
      prev[entry] = last;
      last = entry;
    };
    let c = 0;
    let r = 0;
    while (c < n || r < returnOrder.length) {
      // A call at the same instant as a return goes first: the two count as concurrent.
      if (r === returnOrder.length || (c < n && ops[c].call <= ops[returnOrder[r]].ret)) {
        if (!unknown[c]) link(CALL + c);
        else if (isDeadWrite(c)) dead.set(c);
        else {
          next[lastUnknown] = CALL + c;
          prev[CALL + c] = lastUnknown;
          lastUnknown = CALL + c;
        }
        c++;
      } else {
        const id = returnOrder[r++];
        windowEnd[id] = c - 1;
        link(RET + id);
      }
    }
    link(TAIL);
    next[TAIL] = TAIL;
    next[lastUnknown] = UNKNOWN_TAIL;
    prev[UNKNOWN_TAIL] = lastUnknown;
    next[UNKNOWN_TAIL] = UNKNOWN_TAIL;
  }
  const unknownWritersOf = Array.from({ length: valueCount }, (): number[] => []);
  for (let i = 0; i < n; i++) if (unknown[i] && kind[i] === WRITE) unknownWritersOf[a1[i]].push(i);

  // Dancing links: every unlink is undone in reverse order, so a removed
  // entry still knows its old neighbours.
  const unlink = (entry: number): void => {
    next[prev[entry]] = next[entry];
    prev[next[entry]] = prev[entry];
  };
  const relink = (entry: number): void => {
    next[prev[entry]] = entry;
    prev[next[entry]] = entry;
  };
  const lift = (op: number): void => {
    if (kind[op] !== WRITE && --pendingObservers[a1[op]] === 0) {
      // The value just died: its pending unknown writers become dead writes.
      for (const writer of unknownWritersOf[a1[op]]) {
        if (isLinearized(writer)) continue;
        unlink(CALL + writer);
        dead.set(writer);
      }
    }
    if (!unknown[op]) {
      unlink(CALL + op);
      unlink(RET + op);
    } else if (isDeadWrite(op)) dead.clear(op);
    else unlink(CALL + op);
  };
  const unlift = (op: number): void => {
    if (!unknown[op]) {
      relink(RET + op);
      relink(CALL + op);
    } else if (isDeadWrite(op)) dead.set(op);
    else relink(CALL + op);
    if (kind[op] !== WRITE && pendingObservers[a1[op]]++ === 0) {
      const writers = unknownWritersOf[a1[op]];
      for (let i = writers.length - 1; i >= 0; i--) {
        if (isLinearized(writers[i])) continue;
        dead.clear(writers[i]);
        relink(CALL + writers[i]);
      }
    }
  };

  // The linearized set. Its acknowledged part is summarized for the memo by
  // the lowest unlinearized acknowledged op and the bits above it up to that
  // op's window: every acknowledged op below it is linearized, and nothing past
  // its window can be, so the key stays small however long the history is.
  const linearized = new Int32Array((n + 31) >>> 5);
  const acknowledged = new Int32Array((n + 31) >>> 5);
  for (let i = 0; i < n; i++) if (!unknown[i]) acknowledged[i >>> 5] |= 1 << (i & 31);
  const isLinearized = (op: number): boolean => (linearized[op >>> 5] & (1 << (op & 31))) !== 0;
  const firstPendingFrom = (from: number): number => {
    let f = from;
    while (f < n && (unknown[f] === 1 || isLinearized(f))) f++;
    return f;
  };
  let lowest = firstPendingFrom(0);

  // Unknown ops may stay pending for the whole history, so their part of the
  // linearized set is kept apart, as an interned set.
  const unknownSets = new UnknownSets(n);
  let unknownSet = 0;

  const memo = new ConfigurationSet(unknownSets);

  // Unknown ops with the same transition are interchangeable, and the one
  // called first can stand in for any later one, so each such class is used
  // in call order: only its first unused member is ever tried. Without this,
  // a hundred unread unknown writes are a hundred branches wherever one fits.
  const classOf = new Int32Array(n);
  const classMembers: number[][] = [];
  {
    const classIds = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      if (!unknown[i]) continue;
      const signature = `${kind[i]},${a1[i]},${a2[i]}`;
      let id = classIds.get(signature);
      if (id === undefined) {
        id = classMembers.length;
        classIds.set(signature, id);
        classMembers.push([]);
      }
      classOf[i] = id;
      classMembers[id].push(i);
    }
  }
  const classUsed = new Int32Array(classMembers.length);

  // Who could follow an unknown op and need it, by value: acknowledged reads
  // and swaps that expect the value, misses that expect the value it replaced,
  // and unknown swaps that expect it. Ids ascend in each list.
  const expecting = Array.from({ length: valueCount }, (): number[] => []);
  const missing = Array.from({ length: valueCount }, (): number[] => []);
  const unknownExpecting = Array.from({ length: valueCount }, (): number[] => []);
  for (let i = 0; i < n; i++) {
    if (kind[i] === READ || kind[i] === CAS) (unknown[i] ? unknownExpecting : expecting)[a1[i]].push(i);
    else if (kind[i] === CAS_MISS) missing[a1[i]].push(i);
  }
  const anyPending = (list: number[], from: number, last: number): boolean => {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < list.length && list[i] <= last; i++) if (!isLinearized(list[i])) return true;
    return false;
  };
  // Whether some op that may go next needs the change from `before` to `after`.
  const someoneNeeds = (before: number, after: number, last: number): boolean =>
    anyPending(expecting[after], lowest, last) ||
    anyPending(missing[before], lowest, last) ||
    anyPending(unknownExpecting[after], 0, last);

  // The DFS stack: what to restore when an op is taken back.
  const stackOp = new Int32Array(n);
  const stackValue = new Int32Array(n);
  const stackLowest = new Int32Array(n);
  const stackUnknownSet = new Int32Array(n);
  const stackBoundary = new Int32Array(n);
  const stackEnabledFrom = new Int32Array(n);
  const stackDeadWriteTried = new Uint8Array(n);
  // Whether the op was its depth's last option (a forced observation or the
  // dead write standing in for all): taking it back finishes that depth too.
  const stackForced = new Uint8Array(n);
  let depth = 0;

  // The longest prefix so far, copied lazily: only the part of the stack that
  // changed since the last copy.
  const best = new Int32Array(n);
  let bestLength = 0;
  let bestScore = 0;
  let unchangedBelow = 0;

  let value = 0;
  let remaining = definiteCount;
  let states = 0;
  let iterations = 0;
  // An unknown op is taken only when it changes the value and the op right
  // after it needs the change: one that is legal at the new value and was not
  // at the old one. Any linearization can be brought to that form: walking its
  // unknown ops from last to first, one that no op needs can be dropped
  // (nobody saw its value) or moved later to just before the first op that
  // does. Without this rule every subset of them at every point is a branch.
  // enabledFrom is the value before the unknown op just taken, or -1.
  let enabledFrom = -1;
  // While scanning unknown ops: the last one whose call precedes the first
  // pending return, or -1 while still scanning acknowledged ops.
  let boundary = -1;
  // Pending unknown writes of dead values (nobody pending reads them) are
  // interchangeable, and the one called first can stand in for the others:
  // only it is tried, once per depth, after the other unknown ops.
  let deadWriteTried = false;

  /** The value after `op` if it can go next, else -1. */
  const transition = (op: number): number => {
    const k = kind[op];
    const v = a1[op];
    let after: number;
    if (k === READ) {
      if (value !== v) return -1;
      after = value;
    } else if (k === WRITE) {
      if (enabledFrom >= 0) return -1;
      after = v;
    } else if (k === CAS) {
      if (value !== v) return -1;
      after = a2[op];
    } else {
      // Right after an unknown op, a miss must be one it made possible.
      if (value === v || (enabledFrom >= 0 && enabledFrom !== v)) return -1;
      after = value;
    }
    if (pendingObservers[after] - (k !== WRITE && v === after ? 1 : 0) === 0) after = UNREAD;
    return after;
  };

  // A read (or a cas that missed) that can go next may as well go now, and
  // alone: it leaves the value as it is, and everything that had to precede
  // it already has, so any linearization with it later works with it moved
  // here. This keeps a proof of failure from trying every place for it.
  const observationReadyNow = (): number => {
    for (let e = next[HEAD]; e >= CALL && e < RET; e = next[e]) {
      const op = e - CALL;
      if (kind[op] !== WRITE && kind[op] !== CAS && transition(op) >= 0) return op;
    }
    return -1;
  };

  const SEEN = 0;
  const PUSHED = 1;
  const LINEARIZABLE = 2;
  const OUT_OF_STATES = 3;
  /** Linearizes `op` next unless that configuration was explored already. */
  const push = (op: number, after: number, forced: boolean): number => {
    const isUnknown = unknown[op] === 1;
    if (!isUnknown && remaining === 1) return LINEARIZABLE;
    linearized[op >>> 5] |= 1 << (op & 31);
    let nextLowest = lowest;
    let nextUnknownSet = unknownSet;
    if (isUnknown) {
      nextUnknownSet = unknownSets.add(unknownSet, op);
    } else if (op === lowest) {
      nextLowest = firstPendingFrom(op + 1);
    }
    const nextEnabledFrom = isUnknown ? value : -1;
    const window = windowEnd[nextLowest];
    if (!memo.add(after, nextEnabledFrom, nextLowest, nextUnknownSet, linearized, acknowledged, window)) {
      linearized[op >>> 5] &= ~(1 << (op & 31));
      return SEEN;
    }
    stackOp[depth] = op;
    stackValue[depth] = value;
    stackLowest[depth] = lowest;
    stackUnknownSet[depth] = unknownSet;
    stackBoundary[depth] = boundary;
    stackEnabledFrom[depth] = enabledFrom;
    stackDeadWriteTried[depth] = deadWriteTried ? 1 : 0;
    stackForced[depth] = forced ? 1 : 0;
    depth++;
    value = after;
    lowest = nextLowest;
    unknownSet = nextUnknownSet;
    enabledFrom = nextEnabledFrom;
    boundary = -1;
    lift(op);
    if (isUnknown) classUsed[classOf[op]]++;
    else {
      remaining--;
      const score = definiteCount - remaining;
      if (score > bestScore) {
        best.set(stackOp.subarray(unchangedBelow, depth), unchangedBelow);
        bestLength = depth;
        unchangedBelow = depth;
        bestScore = score;
      }
    }
    return ++states >= budget.maxStates ? OUT_OF_STATES : PUSHED;
  };

  /** Takes back the op pushed last; returns it. */
  const pop = (): number => {
    depth--;
    if (depth < unchangedBelow) unchangedBelow = depth;
    const undone = stackOp[depth];
    value = stackValue[depth];
    lowest = stackLowest[depth];
    unknownSet = stackUnknownSet[depth];
    boundary = stackBoundary[depth];
    enabledFrom = stackEnabledFrom[depth];
    deadWriteTried = stackDeadWriteTried[depth] === 1;
    linearized[undone >>> 5] &= ~(1 << (undone & 31));
    unlift(undone);
    if (unknown[undone]) classUsed[classOf[undone]]--;
    else remaining++;
    return undone;
  };

  let entry = next[HEAD];
  // A new depth was just reached: look for an observation to force first.
  let fresh = true;
  // Nothing is left to try at this depth.
  let exhausted = false;

  for (;;) {
    if ((++iterations & 0x3fff) === 0 && performance.now() > budget.deadline) {
      return { kind: 'timeout', states };
    }

    if (fresh) {
      fresh = false;
      const forced = observationReadyNow();
      if (forced >= 0) {
        const outcome = push(forced, transition(forced), true);
        if (outcome === LINEARIZABLE) return { kind: 'linearizable', states: states + 1 };
        if (outcome === OUT_OF_STATES) return { kind: 'timeout', states };
        if (outcome === PUSHED) {
          entry = next[HEAD];
          fresh = true;
          continue;
        }
        // Explored before, and it was the only move worth making here.
        exhausted = true;
      }
    }

    if (exhausted) {
      exhausted = false;
      if (depth === 0) break;
      const undone = pop();
      // A forced op was its depth's only move, so that depth is done too.
      if (stackForced[depth] === 1) exhausted = true;
      else entry = next[CALL + undone];
      continue;
    }

    let op: number;
    // Whether op is the dead write standing in for all of them, the last
    // thing tried at its depth.
    let standIn = false;
    if (boundary < 0) {
      if (entry >= RET || entry === TAIL) {
        // The first return: everything that could go next has been offered.
        // Try the unknown ops called before it, then backtrack.
        boundary = entry === TAIL ? n - 1 : windowEnd[entry - RET];
        deadWriteTried = false;
        entry = next[UNKNOWN_HEAD];
        continue;
      }
      op = entry - CALL;
    } else {
      // Skip a class member behind its first unused one.
      while (entry !== UNKNOWN_TAIL && entry - CALL <= boundary) {
        const u = entry - CALL;
        if (classMembers[classOf[u]][classUsed[classOf[u]]] === u) break;
        entry = next[entry];
      }
      if (entry !== UNKNOWN_TAIL && entry - CALL <= boundary) op = entry - CALL;
      else {
        op = deadWriteTried ? -1 : dead.first();
        deadWriteTried = true;
        if (op < 0 || op > boundary) {
          exhausted = true;
          continue;
        }
        standIn = true;
      }
    }

    let after = transition(op);
    if (after >= 0 && unknown[op] === 1) {
      const firstOfClass = classMembers[classOf[op]][classUsed[classOf[op]]] === op;
      if (after === value || !firstOfClass || !someoneNeeds(value, after, boundary)) after = -1;
    }
    if (after >= 0) {
      const outcome = push(op, after, standIn);
      if (outcome === LINEARIZABLE) return { kind: 'linearizable', states: states + 1 };
      if (outcome === OUT_OF_STATES) return { kind: 'timeout', states };
      if (outcome === PUSHED) {
        entry = next[HEAD];
        fresh = true;
        continue;
      }
    }
    if (standIn) exhausted = true;
    else entry = next[entry];
  }

  // Not linearizable. Describe where the best attempt got stuck.
  const prefix = Array.from(best.subarray(0, bestLength));
  const inPrefix = new Uint8Array(n);
  let valueAfter: Value = null;
  for (const id of prefix) {
    inPrefix[id] = 1;
    const op = ops[id];
    if (op.f === 'write') valueAfter = op.input;
    else if (op.f === 'delete') valueAfter = null;
    else if (op.f === 'cas' && kind[id] === CAS) valueAfter = op.input[1];
  }
  const pending: number[] = [];
  const stuck = returnOrder.find((op) => !inPrefix[op]);
  if (stuck !== undefined) {
    pending.push(stuck);
    for (let op = 0; op <= windowEnd[stuck]; op++) if (!inPrefix[op] && op !== stuck) pending.push(op);
  }
  return { kind: 'violation', states, ops, prefix, valueAfterPrefix: valueAfter, pending };
}

/** A set of small integers that finds its least member in a few steps: a bitset with summary levels. */
class FirstSetBit {
  // levels[0] has a bit per member; each level above has a bit per nonzero word below.
  private readonly levels: Int32Array[] = [];

  constructor(size: number) {
    let words = size;
    do {
      words = (words + 31) >>> 5;
      this.levels.push(new Int32Array(Math.max(words, 1)));
    } while (words > 1);
  }

  set(member: number): void {
    let i = member;
    for (const level of this.levels) {
      const word = level[i >>> 5];
      level[i >>> 5] = word | (1 << (i & 31));
      if (word !== 0) return;
      i >>>= 5;
    }
  }

  clear(member: number): void {
    let i = member;
    for (const level of this.levels) {
      const word = level[i >>> 5] & ~(1 << (i & 31));
      level[i >>> 5] = word;
      if (word !== 0) return;
      i >>>= 5;
    }
  }

  /** The least member, or -1 when empty. */
  first(): number {
    let i = 0;
    for (let k = this.levels.length - 1; k >= 0; k--) {
      const word = this.levels[k][i];
      if (word === 0) return -1;
      i = (i << 5) | (31 - Math.clz32(word & -word));
    }
    return i;
  }
}

/**
 * Sets of unknown op ids, interned so that a configuration carries one int.
 * A set is a hash-consed list in descending order (its largest element, then
 * the id of the rest), so equal sets get equal ids whatever order they were
 * built in, and adding the newest op, the usual case, costs one map lookup.
 */
class UnknownSets {
  private readonly ids = new Map<number, number>();
  private largest: number[] = [-1];
  private rest: number[] = [0];
  private sizes: number[] = [0];

  constructor(private readonly opCount: number) {}

  /** The id of set ∪ {op}, where op is not in set. */
  add(set: number, op: number): number {
    if (set === 0 || op > this.largest[set]) return this.cons(op, set);
    // Take off the larger elements, add op below them, and put them back.
    const above: number[] = [];
    let below = set;
    while (below !== 0 && this.largest[below] > op) {
      above.push(this.largest[below]);
      below = this.rest[below];
    }
    let id = this.cons(op, below);
    for (let i = above.length - 1; i >= 0; i--) id = this.cons(above[i], id);
    return id;
  }

  isSubset(small: number, large: number): boolean {
    if (small === 0 || small === large) return true;
    if (this.sizes[small] >= this.sizes[large]) return false;
    let a = small;
    let b = large;
    while (a !== 0) {
      if (b === 0) return false;
      const x = this.largest[a];
      const y = this.largest[b];
      if (x === y) {
        a = this.rest[a];
        b = this.rest[b];
      } else if (y > x) b = this.rest[b];
      else return false;
    }
    return true;
  }

  private cons(op: number, rest: number): number {
    const key = rest * (this.opCount + 1) + op;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.largest.length;
      this.ids.set(key, id);
      this.largest.push(op);
      this.rest.push(rest);
      this.sizes.push(this.sizes[rest] + 1);
    }
    return id;
  }
}

/**
 * The configurations explored so far, for pruning. A configuration is the
 * value, the linearized set, and whether the next op must need the unknown op
 * just taken (enabledFrom >= 0). One that failed also condemns every
 * configuration it dominates: the same value and acknowledged ops, with a
 * superset of unknown ops used up (fewer left to help) and no looser
 * constraint on the next op. So the acknowledged part is an exact hash key,
 * stored flat in one growing Int32Array as [words, value, lowest, ...bitset
 * words], and each key keeps a short list of the (enabledFrom, unknown set)
 * variants seen with it.
 */
class ConfigurationSet {
  private pool = new Int32Array(1 << 16);
  private used = 0;
  private slots = new Int32Array(1 << 12); // key offset + 1; 0 is empty
  private hashes = new Int32Array(1 << 12);
  private count = 0;
  // Variants, as linked lists in growable arrays; a key's head is stored in its pool entry.
  private variantEnabledFrom = new Int32Array(1 << 12);
  private variantUnknownSet = new Int32Array(1 << 12);
  private variantNext = new Int32Array(1 << 12);
  private variants = 1; // 0 ends a list

  constructor(private readonly unknownSets: UnknownSets) {}

  /**
   * Records the configuration unless one already seen dominates it; returns
   * whether it is worth exploring. The bitset words taken are those holding
   * bits lowest+1 ..= windowEnd, masked to acknowledged ops.
   */
  add(
    value: number,
    enabledFrom: number,
    lowest: number,
    unknownSet: number,
    bits: Int32Array,
    acknowledged: Int32Array,
    windowEnd: number,
  ): boolean {
    const first = (lowest + 1) >>> 5;
    const words = windowEnd > lowest ? (windowEnd >>> 5) - first + 1 : 0;
    // Bits at or below `lowest` are summarized by `lowest` itself.
    const firstMask = -1 << ((lowest + 1) & 31);

    let h = mix(mix(mix(0x9e3779b9 ^ words, value), lowest), words);
    for (let w = 0; w < words; w++) {
      h = mix(h, bits[first + w] & acknowledged[first + w] & (w === 0 ? firstMask : -1));
    }
    h = finish(h);

    const mask = this.slots.length - 1;
    let slot = h & mask;
    let offset = -1;
    for (;;) {
      const at = this.slots[slot];
      if (at === 0) break;
      if (this.hashes[slot] === h && this.matches(at - 1, value, lowest, bits, acknowledged, first, words, firstMask)) {
        offset = at - 1;
        break;
      }
      slot = (slot + 1) & mask;
    }

    if (offset >= 0) {
      const head = this.pool[offset + 3];
      for (let v = head; v !== 0; v = this.variantNext[v]) {
        const seenFrom = this.variantEnabledFrom[v];
        const looser = seenFrom < 0 || seenFrom === enabledFrom;
        if (looser && this.unknownSets.isSubset(this.variantUnknownSet[v], unknownSet)) return false;
      }
      this.pool[offset + 3] = this.addVariant(enabledFrom, unknownSet, head);
      return true;
    }

    const size = 4 + words;
    if (this.used + size > this.pool.length) {
      const grown = new Int32Array(Math.max(this.pool.length * 2, this.used + size));
      grown.set(this.pool.subarray(0, this.used));
      this.pool = grown;
    }
    offset = this.used;
    const pool = this.pool;
    pool[offset] = words;
    pool[offset + 1] = value;
    pool[offset + 2] = lowest;
    pool[offset + 3] = this.addVariant(enabledFrom, unknownSet, 0);
    for (let w = 0; w < words; w++) {
      pool[offset + 4 + w] = bits[first + w] & acknowledged[first + w] & (w === 0 ? firstMask : -1);
    }
    this.used += size;
    this.slots[slot] = offset + 1;
    this.hashes[slot] = h;
    if (++this.count * 2 > this.slots.length) this.grow();
    return true;
  }

  private addVariant(enabledFrom: number, unknownSet: number, next: number): number {
    if (this.variants === this.variantNext.length) {
      const grow = (old: Int32Array) => {
        const grown = new Int32Array(old.length * 2);
        grown.set(old);
        return grown;
      };
      this.variantEnabledFrom = grow(this.variantEnabledFrom);
      this.variantUnknownSet = grow(this.variantUnknownSet);
      this.variantNext = grow(this.variantNext);
    }
    const v = this.variants++;
    this.variantEnabledFrom[v] = enabledFrom;
    this.variantUnknownSet[v] = unknownSet;
    this.variantNext[v] = next;
    return v;
  }

  private matches(
    offset: number,
    value: number,
    lowest: number,
    bits: Int32Array,
    acknowledged: Int32Array,
    first: number,
    words: number,
    firstMask: number,
  ): boolean {
    const pool = this.pool;
    if (pool[offset] !== words || pool[offset + 1] !== value || pool[offset + 2] !== lowest) return false;
    for (let w = 0; w < words; w++) {
      const word = bits[first + w] & acknowledged[first + w] & (w === 0 ? firstMask : -1);
      if (pool[offset + 4 + w] !== word) return false;
    }
    return true;
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    this.slots = new Int32Array(oldSlots.length * 2);
    this.hashes = new Int32Array(oldSlots.length * 2);
    const mask = this.slots.length - 1;
    for (let i = 0; i < oldSlots.length; i++) {
      const at = oldSlots[i];
      if (at === 0) continue;
      let slot = oldHashes[i] & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = at;
      this.hashes[slot] = oldHashes[i];
    }
  }
}

// murmur3's 32-bit mixing steps.
function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
