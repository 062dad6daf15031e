// The run's history: Jepsen-shaped events, one JSON object per line of
// history.jsonl, written as they happen (so a crashed run still leaves its
// history). Reads carry one extra field, "mode" (default, consistent, stale):
// stale reads are kept out of the linearizability check and checked on their
// own (see checks.ts).

import { closeSync, openSync, writeSync } from 'node:fs';

export type F = 'read' | 'write' | 'cas' | 'delete';
export type Mode = 'default' | 'consistent' | 'stale';

export interface JEvent {
  /** A client's logical process, or "nemesis" for fault events (the checker skips those). */
  process: number | 'nemesis';
  type: 'invoke' | 'ok' | 'fail' | 'info';
  f: F | 'start' | 'stop';
  key: string;
  value: unknown;
  time: number;
  /** Reads only. */
  mode?: Mode;
  /** The agent the operation went through. */
  node?: string;
  /** Why it failed or is unknown. */
  error?: string;
  /** Multi-key transaction reads: the value of each key of the group (txn.ts). */
  values?: unknown[];
}

export class HistoryWriter {
  readonly events: JEvent[] = [];
  private fd: number | undefined;
  private readonly t0 = process.hrtime.bigint();
  private lastTime = -1;
  private nextProcess = 0;

  constructor(path?: string) {
    if (path) this.fd = openSync(path, 'w');
  }

  /** Nanoseconds since the run began, strictly increasing (so order is never ambiguous). */
  now(): number {
    let t = Number(process.hrtime.bigint() - this.t0);
    if (t <= this.lastTime) t = this.lastTime + 1;
    this.lastTime = t;
    return t;
  }

  /** A fresh logical process id (a client whose op ended `info` takes one). */
  freshProcess(): number {
    return this.nextProcess++;
  }

  append(e: Omit<JEvent, 'time'>): JEvent {
    const event: JEvent = { ...e, time: this.now() };
    this.events.push(event);
    if (this.fd !== undefined) writeSync(this.fd, `${JSON.stringify(event)}\n`);
    return event;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
