// `konsul kv export [PREFIX]`: every entry under a prefix in Consul's export
// format, a JSON array of {Key, Flags, Value (base64)}, for `kv import`.

import { Command, Option } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { consistencyParams, kvUrl, type KvEntry } from './common.js';

/** One entry of Consul's `kv export` / `kv import` format. */
export interface KvExportEntry {
  Key: string;
  /** Consul's uint64: a bigint past 2^53 (the client reads it exactly). */
  Flags: number | bigint;
  /** Base64 (standard alphabet, padded); "" for an empty value. */
  Value: string;
}

export class KvExportCommand extends HttpCommand {
  static override paths = [['kv', 'export']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Print every entry under a prefix as JSON (Consul\'s kv export format)',
    details: `
      Prints a JSON array of {"Key", "Flags", "Value"} objects in key order, Value base64-encoded, as
      \`consul kv export\` does; \`konsul kv import\` (or \`consul kv import\`) reads it back. Without a
      prefix it exports the whole store. An empty prefix exports nothing and prints [].
      The output is JSON either way; --json is accepted for symmetry.
    `,
    examples: [
      ["Back up one application's keys", '$0 kv export config/web/ > web.json'],
      ['Everything', '$0 kv export > kv.json'],
      ['Copy a prefix to another cluster', '$0 kv export config/ | $0 kv import --http-addr 10.1.0.2:8500 -'],
    ],
  });

  stale = Option.Boolean('--stale', false, { description: 'Let this agent answer from its replica, even without a leader' });
  consistent = Option.Boolean('--consistent', false, { description: 'Linearizable read: the leader confirms it still leads' });
  prefix = Option.String({ required: false, name: 'prefix' });

  protected async run(client: AgentClient): Promise<number> {
    const mode = consistencyParams(this.stale, this.consistent);
    const answer = await client.call('GET', kvUrl(this.prefix ?? '', { recurse: null, ...mode }), { allow: [404] });
    const entries = answer.status === 404 ? [] : answer.json<KvEntry[]>();
    const out: KvExportEntry[] = entries.map((e) => ({ Key: e.Key, Flags: e.Flags, Value: e.Value ?? '' }));
    this.printJson(out, 'as-is');
    return EXIT.ok;
  }
}
