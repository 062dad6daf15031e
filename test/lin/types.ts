// The vocabulary of the linearizability checker: one operation on a key's
// register, the budget that bounds a search, and the verdict it returns.

/** A register's content: a string, or null when the key is absent. */
export type Value = string | null;

interface Timing {
  /** The client that issued the operation; only used in reports. */
  process: number;
  key: string;
  /** When the client sent the request. */
  call: number;
  /**
   * When the client heard the answer, or Infinity when it never will (a crash,
   * a timeout, a Jepsen `info`): the operation may then have taken effect at any
   * moment after `call`, or never. An operation whose `call` equals another's
   * `ret` counts as concurrent with it, so give distinct times (a global event
   * counter) where the order is known.
   */
  ret: number;
}

/**
 * One client operation on one key. Operations that definitely did not take
 * effect (a Jepsen `fail`, a request refused before it was proposed) are simply
 * left out. `delete` is a write of null.
 */
export type Operation = Timing &
  (
    | { f: 'read'; input?: null; output: Value }
    | { f: 'write'; input: Value; output?: unknown }
    | {
        f: 'cas';
        input: readonly [expected: Value, next: Value];
        /**
         * true: the swap happened. false: the server answered that the value was
         * not `expected` (an observation, checked like a read). Ignored when
         * `ret` is Infinity.
         */
        output?: boolean;
      }
    | { f: 'delete'; input?: null; output?: unknown }
  );

export type OperationKind = Operation['f'];

export interface CheckOptions {
  /**
   * Wall-clock budget per key, in milliseconds (default 10000). A key whose
   * search runs past it is reported as `valid: 'unknown'`.
   */
  timeoutMs?: number;
  /**
   * Budget per key in explored search states (default unlimited). Unlike the
   * time budget it gives the same verdict on every machine, which a seeded
   * simulation wants.
   */
  maxStates?: number;
  /**
   * Shrink a violation to a small sub-history that is non-linearizable on its
   * own (default true). Only runs when a key fails.
   */
  shrink?: boolean;
  /** Wall-clock budget for shrinking one violation, in milliseconds (default 3000). */
  shrinkTimeoutMs?: number;
}

export interface Valid {
  valid: true;
  /** Operations checked, after dropping those that constrain nothing. */
  ops: number;
  keys: number;
  /** Search states explored over all keys: a measure of how hard the history was. */
  states: number;
}

export interface Violation {
  valid: false;
  key: string;
  /** One line: what could not be linearized, and the witness's size. */
  reason: string;
  /**
   * A small sub-history of the failing key, sorted by call, that is already
   * non-linearizable on its own: the story to read first. When shrinking is
   * off or found nothing smaller, every operation of the key.
   */
  witness: Operation[];
  /** The longest linearizable prefix the search found, in linearization order. */
  longestPrefix: Operation[];
  /** The register's value after `longestPrefix`. */
  valueAfterPrefix: Value;
  /**
   * The operations that were pending after `longestPrefix`, none of which could
   * take effect next; the first is the one whose return the search could never
   * get past.
   */
  pending: Operation[];
  /** Every operation on the failing key, sorted by call. */
  ops: Operation[];
}

export interface Undecided {
  valid: 'unknown';
  key: string;
  reason: 'timeout';
  /** Search states explored on this key before the budget ran out. */
  states: number;
}

export type CheckResult = Valid | Violation | Undecided;
