// The shape every fuzz target shares, and one way to run it: fast-check with a
// fixed seed and a bounded number of cases (the test suite), or for a wall-clock
// budget (npm run fuzz). A failure throws fast-check's report, which names the
// seed and the shrunk counterexample's path so the case can be replayed.

import fc from 'fast-check';

export interface FuzzTarget {
  name: string;
  /** What the target feeds and what it checks, one line (printed by the CLI). */
  description: string;
  /** Cases the test suite runs (fixed seed): together the targets stay within the suite's fuzz budget. */
  testRuns: number;
  /** Starts whatever the property needs (servers, stores) and returns it with a teardown. */
  setup(): Promise<Prepared>;
}

export interface Prepared {
  property: fc.IAsyncPropertyWithHooks<any> | fc.IPropertyWithHooks<any> | fc.IAsyncProperty<any> | fc.IProperty<any>;
  /** A check after the run (the server still answers, memory stayed bounded); throws on a defect. */
  after?(): Promise<void>;
  teardown(): Promise<void>;
}

export interface RunOptions {
  seed: number;
  /** Cases to run; with `seconds`, the most to run. */
  numRuns: number;
  /** Stop after this long instead (a campaign); the cases run so far count. */
  seconds?: number;
}

export interface RunOutcome {
  name: string;
  seed: number;
  runs: number;
  ms: number;
  /** Heap in use once the target was set up, and after its cases ran (before teardown); after a full GC when --expose-gc is on. */
  heapBefore: number;
  heapAfter: number;
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

export class FuzzFailure extends Error {
  constructor(readonly target: string, readonly seed: number, report: string) {
    super(`fuzz target ${target} failed (seed ${seed}):\n${report}`);
    this.name = 'FuzzFailure';
  }
}

export async function runTarget(target: FuzzTarget, options: RunOptions): Promise<RunOutcome> {
  const started = Date.now();
  const prepared = await target.setup();
  try {
    const params: fc.Parameters<unknown> = {
      seed: options.seed,
      numRuns: options.numRuns,
      // Shrinking a case that hung or crashed a server can take long; keep it bounded too.
      endOnFailure: false,
      includeErrorInReport: true,
    };
    if (options.seconds !== undefined) {
      params.interruptAfterTimeLimit = options.seconds * 1000;
      params.markInterruptAsFailure = false;
    }
    const heapBefore = heapUsed();
    const details = await fc.check(prepared.property as fc.IAsyncProperty<unknown>, params);
    if (details.failed) throw new FuzzFailure(target.name, options.seed, fc.defaultReportMessage(details) ?? 'failed');
    // Measured while the target's servers and stores are still up: what they kept is counted.
    const heapAfter = heapUsed();
    await prepared.after?.();
    return { name: target.name, seed: options.seed, runs: details.numRuns, ms: Date.now() - started, heapBefore, heapAfter };
  } finally {
    await prepared.teardown();
  }
}

/** Resolves with the promise's value, or rejects saying what hung after `ms`. */
export async function withTimeout<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Bytes that are mostly a valid input with a few bytes flipped, cut, or spliced in. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('extreme' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x7f, 0x80, 0xff) }),
  );
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => {
    let b = Buffer.from(bytes);
    for (const e of edits) {
      if (b.length === 0 && e.kind !== 'insert') continue;
      const at = e.at % Math.max(1, b.length);
      switch (e.kind) {
        case 'flip':
        case 'extreme':
          b[at] = e.value;
          break;
        case 'cut':
          b = b.subarray(0, at);
          break;
        case 'insert':
          b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
          break;
        case 'delete':
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.count)]);
          break;
      }
    }
    return b;
  });
}

/** Either random bytes or a mutated valid input, weighted towards the mutations (they get further in). */
export function hostileBytes(valid: fc.Arbitrary<Uint8Array>, maxRandom = 200): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandom }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: valid.map((a) => Buffer.from(a)) },
    { weight: 4, arbitrary: mutated(valid) },
  );
}

/** Replaces one value somewhere inside a JSON document with an arbitrary JSON value. */
export function replaceSomewhere(doc: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || typeof doc !== 'object' || doc === null) return replacement;
  const keys = Object.keys(doc);
  if (keys.length === 0) return replacement;
  const key = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(doc) ? ([...doc] as unknown as Record<string, unknown>) : { ...(doc as Record<string, unknown>) };
  copy[key] = replaceSomewhere(copy[key], path.slice(1), replacement);
  return copy;
}
