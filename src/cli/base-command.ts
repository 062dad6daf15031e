// The root of every konsul command: its context (streams, env, test seams),
// stdout and --json output. Loads no HTTP client (`konsul version` stays small).

import { Command, type BaseContext } from './clipanion.js';
import type { RunAgent } from './agent-flags.js';
import { stringifyJsonExact } from '../json-exact.js';
import { consulStyle } from './output.js';

export interface CliContext extends BaseContext {
  /** Replaces the real agent in tests; otherwise src/main/agent.js is imported only when `konsul agent` runs. */
  runAgent?: RunAgent;
  /** How long one request to the agent may take; default 30 s. */
  httpTimeoutMs?: number;
}

export abstract class KonsulCommand extends Command<CliContext> {
  /** Write `text` to stdout, ending it with a newline. */
  protected out(text: string): void {
    this.context.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /**
   * --json output, in one naming style: Consul's (`Key`, `ModifyIndex`, `NodeID`); see consulStyle.
   * 'as-is' prints an agent's answer that is already in that style and has maps keyed by data
   * (service names, IDs, Meta), whose keys must not change.
   */
  protected printJson(value: unknown, mode: 'consul' | 'as-is' = 'consul'): void {
    // api: Consul's uint64 flags print digit for digit.
    this.out(stringifyJsonExact(mode === 'as-is' ? value : consulStyle(value), 2));
  }
}
