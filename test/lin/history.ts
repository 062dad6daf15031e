// Reads Jepsen-shaped histories (invoke/ok/fail/info events, one JSON object
// per line of history.jsonl) and turns them into operations for the checker.

import { checkOperations } from './checker.js';
import type { CheckOptions, CheckResult, Operation, Value } from './types.js';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

export interface HistoryEvent {
  /** A client process; events of other processes (Jepsen's "nemesis") are skipped. */
  process: number | string;
  type: EventType;
  f: string;
  key?: string;
  /**
   * invoke: the write's value, [expected, new] for cas, null for read and delete.
   * ok: what a read saw. Numbers are read as their decimal strings.
   */
  value?: unknown;
  /** Nanoseconds; when every event has one it orders them, else their position does. */
  time?: number;
}

export class HistoryFormatError extends Error {
  override name = 'HistoryFormatError';
}

/** Parses history.jsonl text; blank lines are skipped, a bad line throws with its number. */
export function parseHistoryJsonl(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new HistoryFormatError(`line ${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new HistoryFormatError(`line ${i + 1}: expected an object`);
    }
    events.push(parsed as HistoryEvent);
  }
  return events;
}

/**
 * Pairs each invoke with its process's next completion. `fail` drops the
 * operation (it did not take effect); `info`, or no completion at all, makes it
 * unknown (it may take effect at any time after its invoke, or never).
 */
export function operationsFromHistory(events: readonly HistoryEvent[]): Operation[] {
  const timed = events.every((e) => typeof e.time === 'number' && Number.isFinite(e.time));
  const pending = new Map<number, { event: HistoryEvent; at: number; index: number }>();
  const ops: Operation[] = [];

  events.forEach((event, index) => {
    const where = (): string => `event ${index} (${JSON.stringify(event)})`;
    if (typeof event.process !== 'number') return;
    if (!Number.isInteger(event.process)) throw new HistoryFormatError(`${where()}: process must be an integer`);
    const at = timed ? (event.time as number) : index;
    if (event.type === 'invoke') {
      if (pending.has(event.process)) {
        const why = `process ${event.process} invoked again before its previous operation completed`;
        throw new HistoryFormatError(`${where()}: ${why}`);
      }
      pending.set(event.process, { event, at, index });
      return;
    }
    if (event.type !== 'ok' && event.type !== 'fail' && event.type !== 'info') {
      throw new HistoryFormatError(`${where()}: type must be invoke, ok, fail or info`);
    }
    const invoke = pending.get(event.process);
    if (invoke === undefined) throw new HistoryFormatError(`${where()}: completion without an invoke`);
    pending.delete(event.process);
    if (event.f !== invoke.event.f || event.key !== invoke.event.key) {
      throw new HistoryFormatError(`${where()}: completion does not match its invoke (event ${invoke.index})`);
    }
    if (at < invoke.at) throw new HistoryFormatError(`${where()}: completes before its invoke`);
    if (event.type === 'fail') return;
    const op =
      event.type === 'ok'
        ? toOperation(invoke.event, event, invoke.at, at)
        : toOperation(invoke.event, undefined, invoke.at, Infinity);
    if (op instanceof Error) throw new HistoryFormatError(`${where()}: ${op.message}`);
    ops.push(op);
  });

  for (const { event, at, index } of pending.values()) {
    const op = toOperation(event, undefined, at, Infinity);
    if (op instanceof Error) throw new HistoryFormatError(`event ${index} (${JSON.stringify(event)}): ${op.message}`);
    ops.push(op);
  }
  return ops;
}

/** Checks a Jepsen-shaped history; see checkOperations for the verdict. */
export function checkHistory(events: readonly HistoryEvent[], options?: CheckOptions): CheckResult {
  return checkOperations(operationsFromHistory(events), options);
}

function toOperation(invoke: HistoryEvent, ok: HistoryEvent | undefined, call: number, ret: number): Operation | Error {
  const process = invoke.process as number;
  const key = invoke.key;
  if (typeof key !== 'string') return new Error('key must be a string');
  switch (invoke.f) {
    case 'read': {
      if (ok === undefined) return { process, key, f: 'read', output: null, call, ret };
      const output = toValue(ok.value);
      if (output instanceof Error) return output;
      return { process, key, f: 'read', output, call, ret };
    }
    case 'write': {
      const input = toValue(invoke.value);
      if (input instanceof Error) return input;
      return { process, key, f: 'write', input, call, ret };
    }
    case 'delete':
      return { process, key, f: 'delete', call, ret };
    case 'cas': {
      const pair = invoke.value;
      if (!Array.isArray(pair) || pair.length !== 2) return new Error('a cas value must be [expected, new]');
      const expected = toValue(pair[0]);
      const next = toValue(pair[1]);
      if (expected instanceof Error) return expected;
      if (next instanceof Error) return next;
      // An ok cas swapped; a failed one was dropped before we got here.
      return { process, key, f: 'cas', input: [expected, next], output: true, call, ret };
    }
    default:
      return new Error(`f must be read, write, cas or delete`);
  }
}

function toValue(raw: unknown): Value | Error {
  if (raw === null || raw === undefined) return null;
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  return new Error(`value ${JSON.stringify(raw)} must be a string, a number or null`);
}
