// The agent's logger: pino, writing JSON lines, or one readable line per entry
// when asked (or when stdout is a terminal); held back until the start-up summary is out.
//
// The readable form is our own small formatter, not pino-pretty: our entries
// are flat objects, the formatter is ~60 lines, and it runs in the same thread
// and synchronously, so the lines a crash leaves behind are never lost in a
// transport's worker.

import { createRequire } from 'node:module';
import type * as Pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

// require, not import, as for every CommonJS package an agent loads (src/cli/clipanion.ts says why).
const { pino } = createRequire(import.meta.url)('pino') as typeof Pino;

export type LogFormat = 'json' | 'text';

/** 'auto' is text on a terminal and JSON otherwise (a pipe, a file, journald). */
export function chooseLogFormat(setting: 'json' | 'text' | 'auto', isTTY: boolean | undefined): LogFormat {
  if (setting !== 'auto') return setting;
  return isTTY === true ? 'text' : 'json';
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Readonly<Record<number, string>> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every entry carries that a reader at a terminal does not need on every line. */
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'node']);

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === 'object' && 'message' in value && typeof value.message === 'string') {
    return JSON.stringify(value.message);
  }
  return JSON.stringify(value) ?? String(value);
}

/** One pino JSON line as `12:03:04.567 INFO  message key=value ...`; a line that is not JSON passes through. */
export function formatLogLine(line: string, colour = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time) : new Date();
  const hh = String(time.getHours()).padStart(2, '0');
  const mm = String(time.getMinutes()).padStart(2, '0');
  const ss = String(time.getSeconds()).padStart(2, '0');
  const ms = String(time.getMilliseconds()).padStart(3, '0');
  const level = typeof entry.level === 'number' ? entry.level : 30;
  let name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  if (colour) name = `\x1b[${LEVEL_COLOURS[level] ?? '0'}m${name}\x1b[0m`;
  const fields = Object.entries(entry)
    .filter(([k, v]) => !OMITTED.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  // The node, so the agents of a cluster started in one terminal can be told apart.
  const node = typeof entry.node === 'string' ? `${entry.node}: ` : '';
  return `${hh}:${mm}:${ss}.${ms} ${name} ${node}${msg}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}\n`;
}

interface Writable { write(chunk: string): unknown; isTTY?: boolean }

/**
 * Where the logger writes: JSON or text, and held back until `release()`, so
 * the start-up summary comes before the first log line. At most `maxHeld`
 * lines are held; beyond that they are written at once (a start-up that logs
 * that much has something to say).
 */
export class LogOutput implements DestinationStream {
  private held: string[] | undefined = [];
  /** `konsul monitor`'s (GET /v1/agent/monitor) listeners: each gets every line as pino's JSON. */
  private readonly listeners = new Set<(jsonLine: string) => void>();

  constructor(
    private readonly out: Writable,
    readonly format: LogFormat,
    private readonly colour: boolean,
    private readonly maxHeld = 1000,
  ) {}

  /** Every line from now on, as JSON, to `listener`, until the returned function is called. */
  subscribe(listener: (jsonLine: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  write(line: string): void {
    for (const listener of this.listeners) {
      try {
        listener(line);
      } catch {
        // a monitor that went away must not stop the agent's own logging
      }
    }
    const text = this.format === 'text' ? formatLogLine(line, this.colour) : line;
    if (this.held && this.held.length < this.maxHeld) this.held.push(text);
    else this.out.write(text);
  }

  /** Write what was held, and everything from now on at once. */
  release(): void {
    const held = this.held;
    this.held = undefined;
    if (held && held.length > 0) this.out.write(held.join(''));
  }
}

export interface AgentLogger {
  logger: Logger;
  output: LogOutput;
}

/** The agent's logger on `out` (stdout): level and format from the settings; colour only on a terminal without NO_COLOR. */
export function createAgentLogger(
  settings: { logLevel: string; logFormat: 'json' | 'text' | 'auto' },
  nodeId: string,
  out: Writable = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): AgentLogger {
  const format = chooseLogFormat(settings.logFormat, out.isTTY);
  const colour = format === 'text' && out.isTTY === true && (env.NO_COLOR ?? '') === '';
  const output = new LogOutput(out, format, colour);
  const logger = pino({ level: settings.logLevel, base: { node: nodeId } }, output);
  return { logger, output };
}
