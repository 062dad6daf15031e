// Blocking queries (?index=N&wait=D): hold the answer until the watched KV
// prefix moves past N, the wait (plus up to 1/16 jitter) ends, or the client leaves.

import type { StateMachine } from '../state/index.js';
import { durationParam, uintParam } from './query.js';
import type { HttpLimits } from './types.js';

export interface BlockingRequest {
  /** The client's last seen index; > 0. */
  index: number;
  /** How long to hold the answer at most, jitter included. */
  waitMs: number;
}

/**
 * The blocking part of a read, or undefined when it should answer at once
 * (no ?index or ?index=0). ?wait is validated even without ?index.
 */
export function parseBlocking(query: URLSearchParams, limits: HttpLimits, random: () => number = Math.random): BlockingRequest | undefined {
  const index = uintParam(query, 'index');
  const wait = durationParam(query, 'wait');
  if (index === undefined || index === 0) return undefined;
  // Consul: no wait or a non-positive one means the default; longer than the maximum is cut to it.
  let waitMs = wait === undefined || wait <= 0 ? limits.defaultWaitMs : Math.min(wait, limits.maxWaitMs);
  // Spread the wake-ups of many clients that started together.
  waitMs += Math.floor(random() * (waitMs / 16));
  return { index, waitMs: Math.max(1, Math.ceil(waitMs)) };
}

/** Wait until `prefix`'s index passes the request's index; resolves on timeout or abort too. */
export async function waitForKv(state: StateMachine, prefix: string, blocking: BlockingRequest, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await state.waitKv(prefix, blocking.index, blocking.waitMs, signal);
}
