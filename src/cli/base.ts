// What every command that talks to an agent shares: --http-addr, --json, the
// client, and printing.

import { Command, Option } from 'clipanion';
import { AgentClient, baseUrl } from './client.js';

import type { Readable, Writable } from 'node:stream';

export interface CliContext {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

export abstract class AgentCommand extends Command<CliContext & { colorDepth: number }> {
  httpAddr = Option.String('--http-addr', {
    description: 'The agent\'s HTTP address, host:port (default: KONSUL_HTTP_ADDR or 127.0.0.1:8500)',
  });

  json = Option.Boolean('--json', false, { description: 'Print JSON for scripts' });

  client(): AgentClient {
    return new AgentClient(baseUrl(this.httpAddr, this.context.env ?? process.env));
  }

  out(text: string): void {
    this.context.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  printJson(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }
}

/** Rows as aligned columns under a header. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
