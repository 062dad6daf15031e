// `konsul kv import FILE|-`: write the entries of a Consul kv export file.
// The whole file is checked before the first write: a malformed file writes
// nothing.

import { Command, Option } from '../../clipanion.js';
import { readFileSync } from 'node:fs';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { MAX_KEY_BYTES } from '../../../state/command.js';
import { kvUrl, readAll } from './common.js';
import { parseJsonExact } from '../../../json-exact.js';
import type { KvExportEntry } from './export.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Consul's flags are a uint64 (read exactly: integers past 2^53 stay bigints). */
const MAX_FLAGS = 0xffff_ffff_ffff_ffffn;

/** The entries of an export file, every field checked; throws a CliError naming the first bad entry. */
export function parseExport(text: string, source: string, prefix = ''): Array<{ key: string; flags: number | bigint; value: Buffer }> {
  let data: unknown;
  try {
    data = parseJsonExact(text);
  } catch (error) {
    // JSON.parse quotes the text around the error, newlines and all: keep it on one line and short.
    const why = (error as Error).message.replace(/\s+/g, ' ').slice(0, 120);
    throw new CliError(`${source}: not JSON (${why}); a kv export file is a JSON array of {"Key","Flags","Value"} objects`);
  }
  if (!Array.isArray(data)) throw new CliError(`${source}: expected a JSON array of {"Key","Flags","Value"} objects`);
  const seen = new Set<string>();
  return data.map((item: unknown, i) => {
    const where = `${source}: entry ${i}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new CliError(`${where} is not an object`);
    const e = item as Partial<Record<keyof KvExportEntry, unknown>>;
    if (typeof e.Key !== 'string' || e.Key === '') throw new CliError(`${where}: "Key" must be a non-empty string`);
    const key = prefix + e.Key;
    const keyBytes = Buffer.byteLength(key, 'utf8');
    if (keyBytes > MAX_KEY_BYTES) throw new CliError(`${where}: key "${key.slice(0, 40)}…" is ${keyBytes} bytes; the limit is ${MAX_KEY_BYTES}`);
    const flags = e.Flags ?? 0;
    const exact = typeof flags === 'bigint' || (typeof flags === 'number' && Number.isInteger(flags)) ? BigInt(flags as number | bigint) : undefined;
    if (exact === undefined || exact < 0n || exact > MAX_FLAGS) {
      throw new CliError(`${where} ("${e.Key}"): "Flags" must be an integer from 0 to ${MAX_FLAGS}`);
    }
    const value = e.Value ?? '';
    if (typeof value !== 'string' || !BASE64.test(value)) throw new CliError(`${where} ("${e.Key}"): "Value" must be base64`);
    if (seen.has(key)) throw new CliError(`${where}: key "${key}" appears twice`);
    seen.add(key);
    return { key, flags: flags as number | bigint, value: Buffer.from(value, 'base64') };
  });
}

export class KvImportCommand extends HttpCommand {
  static override paths = [['kv', 'import']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Write the entries of a kv export file (Consul\'s format)',
    details: `
      Reads a JSON array of {"Key", "Flags", "Value" (base64)} objects from FILE, or from stdin when FILE
      is "-", as \`consul kv export\` and \`konsul kv export\` write it. Every entry is checked before the
      first write (keys non-empty and at most 511 bytes, flags 0-18446744073709551615, values base64, no key twice);
      a malformed file is refused and nothing is written. The entries are then written one by one, in
      file order; if a write fails, the ones before it stay written and the error says how many.
      With --prefix every key is written under that prefix.
    `,
    examples: [
      ['Import a file', '$0 kv import web.json'],
      ['From stdin', '$0 kv export config/ | $0 kv import --http-addr 10.1.0.2:8500 -'],
      ['Under another prefix', '$0 kv import --prefix staging/ web.json'],
    ],
  });

  prefix = Option.String('--prefix', '', { description: 'Write every key under this prefix' });
  file = Option.String({ name: 'file' });

  protected async run(client: AgentClient): Promise<number> {
    const source = this.file === '-' ? 'stdin' : this.file;
    let text: string;
    try {
      text = this.file === '-' ? (await readAll(this.context.stdin)).toString('utf8') : readFileSync(this.file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CliError(`${source}: ${code === 'ENOENT' ? 'no such file' : code ?? (error as Error).message}`);
    }
    const entries = parseExport(text, source, this.prefix);
    const written: string[] = [];
    for (const e of entries) {
      try {
        await client.call('PUT', kvUrl(e.key, { flags: String(e.flags) }), { body: e.value });
      } catch (error) {
        if (error instanceof CliError) {
          throw new CliError(`${error.message}; ${written.length} of ${entries.length} entries were written before "${e.key}"`, error.exitCode);
        }
        throw error;
      }
      written.push(e.key);
    }
    if (this.json) this.printJson({ imported: written.length, keys: written });
    else this.out(`Imported ${written.length} ${written.length === 1 ? 'entry' : 'entries'} from ${source}`);
    return EXIT.ok;
  }
}
