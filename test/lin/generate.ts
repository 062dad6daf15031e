// Random concurrent register histories, linearizable by construction (each op takes effect at a
// random instant inside its interval, on a real register), and a mutation that breaks one.

import type { HistoryEvent } from './history.js';
import type { Operation, Value } from './types.js';

export interface GenerateOptions {
  seed: number;
  ops: number;
  keys: number;
  /** Clients issuing operations at once. */
  processes: number;
  /**
   * 'unique' (default): every write carries a fresh value, so a wrong read can
   * never be explained by a coincidence. A number n: values come from n names,
   * which makes the search work harder.
   */
  values?: 'unique' | number;
  /** Share of operations whose client never hears back (default 0). */
  unknownRate?: number;
  /** Share of writes, cas and deletes refused without effect (default 0). */
  failRate?: number;
  /** Relative weights of read, write, cas, delete (default 4, 3, 2, 1). */
  mix?: readonly [read: number, write: number, cas: number, del: number];
}

export interface GeneratedHistory {
  /** What the simulator would hand the checker: refused operations left out. */
  operations: Operation[];
  /** The same run as Jepsen events, sorted by time. */
  events: HistoryEvent[];
}

type Outcome = 'ok' | 'fail' | 'info';

interface Planned {
  process: number;
  key: string;
  f: Operation['f'];
  call: number;
  ret: number;
  outcome: Outcome;
  /** When it takes effect; null when it never does. */
  at: number | null;
  input: Value | readonly [Value, Value];
  output: Value | boolean;
  /** An info op whose completion event is missing from the history altogether. */
  silent: boolean;
}

/** mulberry32: small, fast, and good enough to drive test generation. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateHistory(options: GenerateOptions): GeneratedHistory {
  const random = seededRandom(options.seed);
  const int = (n: number): number => Math.floor(random() * n);
  const mix = options.mix ?? [4, 3, 2, 1];
  const mixTotal = mix[0] + mix[1] + mix[2] + mix[3];
  const unknownRate = options.unknownRate ?? 0;
  const failRate = options.failRate ?? 0;
  const valueSpace = options.values ?? 'unique';
  let fresh = 0;
  const newValue = (): string => (valueSpace === 'unique' ? `v${fresh++}` : `v${int(valueSpace)}`);

  const freeAt = new Array<number>(options.processes).fill(0);
  // Jepsen retires a process after an info (it may still be running); a fresh id takes its place.
  const processId = Array.from({ length: options.processes }, (_, i) => i);
  let nextProcessId = options.processes;
  const recentlyWritten = new Map<string, Value[]>();

  const planned: Planned[] = [];
  for (let i = 0; i < options.ops; i++) {
    let slot = 0;
    for (let p = 1; p < options.processes; p++) if (freeAt[p] < freeAt[slot]) slot = p;
    const call = freeAt[slot] + 1 + int(3);
    const duration = (1 + int(10)) * (random() < 0.05 ? 8 : 1);
    const ret = call + duration;
    const key = `k${int(options.keys)}`;

    let pick = random() * mixTotal;
    let f: Operation['f'] = 'delete';
    for (const [name, weight] of [['read', mix[0]], ['write', mix[1]], ['cas', mix[2]]] as const) {
      if (pick < weight) {
        f = name;
        break;
      }
      pick -= weight;
    }

    const roll = random();
    let outcome: Outcome = 'ok';
    if (roll < unknownRate) outcome = 'info';
    else if (f !== 'read' && roll < unknownRate + failRate) outcome = 'fail';
    let at: number | null = null;
    if (outcome === 'ok') at = call + (0.001 + 0.998 * random()) * duration;
    // An unacknowledged op takes effect half the time, possibly long after its client gave up.
    else if (outcome === 'info' && random() < 0.5) at = call + random() * duration * 20;

    const recent = recentlyWritten.get(key) ?? [null];
    let input: Planned['input'] = null;
    if (f === 'write') input = newValue();
    else if (f === 'cas') input = [recent[int(recent.length)], newValue()];
    if (f === 'write' || f === 'cas' || f === 'delete') {
      const written = f === 'write' ? (input as Value) : f === 'cas' ? (input as [Value, Value])[1] : null;
      recent.push(written);
      if (recent.length > 3) recent.shift();
      recentlyWritten.set(key, recent);
    }

    const silent = outcome === 'info' && random() < 0.3;
    planned.push({ process: processId[slot], key, f, call, ret, outcome, at, input, output: null, silent });
    freeAt[slot] = ret;
    if (outcome === 'info') processId[slot] = nextProcessId++;
  }

  // Play the effects in order against real registers to learn what each op saw.
  const register = new Map<string, Value>();
  const effective = planned.filter((op) => op.at !== null).sort((x, y) => (x.at as number) - (y.at as number));
  for (const op of effective) {
    const current = register.get(op.key) ?? null;
    if (op.f === 'read') op.output = current;
    else if (op.f === 'write') register.set(op.key, op.input as Value);
    else if (op.f === 'delete') register.set(op.key, null);
    else {
      const [expected, next] = op.input as [Value, Value];
      op.output = current === expected;
      if (op.output) register.set(op.key, next);
    }
  }

  const operations: Operation[] = [];
  const events: HistoryEvent[] = [];
  for (const op of planned) {
    const base = { process: op.process, key: op.key, call: op.call };
    const ret = op.outcome === 'info' ? Infinity : op.ret;
    if (op.outcome !== 'fail') {
      if (op.f === 'read') operations.push({ ...base, f: 'read', output: op.output as Value, ret });
      else if (op.f === 'write') operations.push({ ...base, f: 'write', input: op.input as Value, ret });
      else if (op.f === 'delete') operations.push({ ...base, f: 'delete', ret });
      else {
        const input = op.input as [Value, Value];
        if (op.outcome === 'ok') operations.push({ ...base, f: 'cas', input, output: op.output as boolean, ret });
        else operations.push({ ...base, f: 'cas', input, ret });
      }
    }

    const invokeValue = op.f === 'write' || op.f === 'cas' ? op.input : null;
    events.push({ process: op.process, type: 'invoke', f: op.f, key: op.key, value: invokeValue, time: op.call });
    if (op.silent) continue;
    // Jepsen's convention: a cas that found another value is a fail.
    const missed = op.outcome === 'ok' && op.f === 'cas' && op.output === false;
    const type: HistoryEvent['type'] = missed ? 'fail' : op.outcome;
    const value = op.f === 'read' && type === 'ok' ? op.output : invokeValue;
    events.push({ process: op.process, type, f: op.f, key: op.key, value, time: op.ret });
  }
  // Stable: at one instant invokes stay ahead of completions, as the checker reads them.
  const rank = (e: HistoryEvent): number => (e.type === 'invoke' ? 0 : 1);
  events.sort((x, y) => (x.time as number) - (y.time as number) || rank(x) - rank(y));
  return { operations, events };
}

/**
 * Changes one completed read to a value no order can explain, in a history
 * with unique values: a value written only after the read returned (from the
 * future), or one overwritten by a write that finished before the read began
 * (stale). Returns undefined when no read offers either.
 */
export function breakOneRead(
  operations: readonly Operation[],
  random: () => number,
): { operations: Operation[]; broken: Operation; kind: 'future' | 'stale' } | undefined {
  const writes = (op: Operation): Value | undefined => {
    if (op.f === 'write') return op.input;
    if (op.f === 'delete') return null;
    if (op.f === 'cas' && (op.output === true || op.ret === Infinity)) return op.input[1];
    return undefined;
  };
  const definitelyWrote = (op: Operation): boolean =>
    op.ret !== Infinity && (op.f === 'write' || op.f === 'delete' || (op.f === 'cas' && op.output === true));

  const choices: { index: number; value: string; kind: 'future' | 'stale' }[] = [];
  const writersByKey = new Map<string, Operation[]>();
  for (const op of operations) {
    if (writes(op) !== undefined) writersByKey.set(op.key, [...(writersByKey.get(op.key) ?? []), op]);
  }
  operations.forEach((read, index) => {
    if (read.f !== 'read' || read.ret === Infinity) return;
    const writers = writersByKey.get(read.key) ?? [];
    // A write that finished before this one started was overwritten for good
    // if another write started after it and also finished before the read.
    let lastStartOfFinishedWrite = -Infinity;
    for (const later of writers) {
      if (definitelyWrote(later) && later.ret < read.call) {
        lastStartOfFinishedWrite = Math.max(lastStartOfFinishedWrite, later.call);
      }
    }
    for (const writer of writers) {
      const value = writes(writer);
      if (typeof value !== 'string') continue;
      if (writer.call > read.ret) choices.push({ index, value, kind: 'future' });
      else if (definitelyWrote(writer) && writer.ret < lastStartOfFinishedWrite) {
        choices.push({ index, value, kind: 'stale' });
      }
    }
  });
  if (choices.length === 0) return undefined;
  const choice = choices[Math.floor(random() * choices.length)];
  const broken: Operation = { ...(operations[choice.index] as Operation & { f: 'read' }), output: choice.value };
  const mutated = operations.slice();
  mutated[choice.index] = broken;
  return { operations: mutated, broken, kind: choice.kind };
}
