// Consul service definition files for `konsul services register FILE`: read
// from a path or stdin and checked whole by the agent's own parser before any
// service is sent, so a mistake in the third service registers none.

import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { UsageError } from '../../clipanion.js';
import { DefinitionError, parseServiceFile, type ServiceRegistration } from '../../../agent/local/definitions.js';
import { readAll } from '../kv/common.js';

/** One service to register: its ID and name for messages, and the body to send. */
export interface ServiceBody {
  id: string;
  name: string;
  /**
   * The body of one PUT /v1/agent/service/register. From a file, the service
   * object as written: Consul's endpoint and konsul's both read lower-case and
   * snake_case keys, so nothing is translated.
   */
  body: unknown;
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/** The services of a definition file (`-`: stdin); any problem is a UsageError naming the file. */
export async function readServiceFile(path: string, stdin: Readable): Promise<ServiceBody[]> {
  const label = path === '-' ? 'stdin' : path;
  const bad = (problem: string): UsageError => new UsageError(`${label}: ${problem}`);

  let text: string;
  try {
    text = (path === '-' ? await readAll(stdin) : await readFile(path)).toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw bad(`cannot read it (${READ_ERRORS[code] ?? (code || String(error))})`);
  }
  if (text.trim() === '') throw bad('empty: expected {"service": {...}} or {"services": [...]}');

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // V8 quotes the text around the mistake, line breaks included: keep it on one line.
    throw bad(`not valid JSON (${(error as Error).message.replace(/\s+/g, ' ')})`);
  }

  let registrations: ServiceRegistration[];
  try {
    registrations = parseServiceFile(json);
  } catch (error) {
    if (error instanceof DefinitionError) throw bad(error.message.replace(/^file: /, ''));
    throw error;
  }
  const bodies = serviceBodies(json as Record<string, unknown>);
  return registrations.map(({ service }, i) => ({ id: service.id, name: service.name, body: bodies[i] }));
}

/**
 * The file's service objects in the order parseServiceFile reads them:
 * `service`, then each of `services`. Keys match without regard to case
 * (Consul's own example writes `"Service"`); null is the same as absent.
 */
function serviceBodies(file: Record<string, unknown>): unknown[] {
  const field = (name: string): unknown =>
    Object.entries(file).filter(([key, value]) => key.toLowerCase() === name && value !== null).at(-1)?.[1];
  const single = field('service');
  const list = field('services');
  return [...(single === undefined ? [] : [single]), ...(Array.isArray(list) ? list : [])];
}
