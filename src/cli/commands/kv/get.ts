// `konsul kv get`: one value, every entry under a prefix (--recurse), or the
// keys under a prefix (--keys), read through the agent with Consul's semantics.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { consistencyParams, kvUrl, type KvEntry, type KvEntryJson } from './common.js';

export class KvGetCommand extends HttpCommand {
  static override paths = [['kv', 'get']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Read a key (or every key under a prefix)',
    details: `
      Prints the raw value, byte for byte (a newline is added only on a terminal); --base64 prints it
      base64-encoded instead. A missing key prints an error and exits with status 1.

      With --detailed it prints every field of the entry (CreateIndex, Flags, Key, LockIndex,
      ModifyIndex, Session, Value) as aligned lines, as Consul's -detailed does; with --recurse, one
      block per entry, blocks separated by an empty line.

      With --recurse it prints every entry under the prefix as key:value lines. With --keys it prints
      the keys under the prefix, one per line, rolled up at --separator (default "/", as in Consul's
      kv get; an empty --separator lists every key). A prefix with nothing under it exits 0 and
      prints nothing.

      Reads are served by the leader by default; with --consistent the leader first confirms it still
      leads, and with --stale this agent answers from its own replica, even without a leader.
    `,
    examples: [
      ['Read one value', '$0 kv get config/web/port'],
      ['Everything under a prefix, as key:value lines', '$0 kv get --recurse config/'],
      ['The keys one level under a prefix', '$0 kv get --keys config/'],
      ['Metadata (indexes, flags) as JSON', '$0 kv get --json config/web/port'],
      ['Every field, as Consul\'s -detailed', '$0 kv get --detailed config/web/port'],
      ['From the local replica, even without a leader', '$0 kv get --stale config/web/port'],
    ],
  });

  recurse = Option.Boolean('--recurse', false, { description: 'Every entry under the key as a prefix' });
  keys = Option.Boolean('--keys', false, { description: 'Only the keys under the prefix' });
  separator = Option.String('--separator', { description: 'With --keys: roll keys up at this separator (default "/")' });
  stale = Option.Boolean('--stale', false, { description: 'Let this agent answer from its replica, even without a leader' });
  consistent = Option.Boolean('--consistent', false, { description: 'Linearizable read: the leader confirms it still leads' });
  base64 = Option.Boolean('--base64', false, { description: 'Print values base64-encoded' });
  detailed = Option.Boolean('--detailed', false, { description: 'Every field of each entry (indexes, flags, session) as aligned lines' });
  key = Option.String({ required: false, name: 'key' });

  protected async run(client: AgentClient): Promise<number> {
    const key = this.key ?? '';
    if (key === '' && !this.recurse && !this.keys) throw new UsageError('a key is needed (or --recurse / --keys to read everything)');
    if (this.separator !== undefined && !this.keys) throw new UsageError('--separator only goes with --keys');
    const mode = consistencyParams(this.stale, this.consistent);

    if (this.keys) {
      const separator = this.separator ?? '/';
      const answer = await client.call('GET', kvUrl(key, { keys: null, separator: separator || undefined, ...mode }), { allow: [404] });
      const keys = answer.status === 404 ? [] : answer.json<string[]>();
      if (this.json) this.printJson(keys);
      else if (keys.length > 0) this.out(keys.join('\n'));
      return EXIT.ok;
    }

    const answer = await client.call('GET', kvUrl(key, { recurse: this.recurse ? null : undefined, ...mode }), { allow: [404] });
    const entries = answer.status === 404 ? [] : answer.json<KvEntry[]>();
    if (entries.length === 0 && !this.recurse) throw new CliError(`key "${key}" not found`);

    if (this.json) {
      const rows = entries.map((e) => this.toJson(e));
      this.printJson(this.recurse ? rows : rows[0]);
    } else if (this.detailed) {
      if (entries.length > 0) this.out(entries.map((e) => this.detailText(e)).join('\n\n'));
    } else if (this.recurse) {
      if (entries.length > 0) this.out(entries.map((e) => `${e.Key}:${this.valueText(e)}`).join('\n'));
    } else {
      const value = this.base64 ? Buffer.from(this.valueText(entries[0])) : this.valueBytes(entries[0]);
      this.context.stdout.write(value);
      if ((this.context.stdout as { isTTY?: boolean }).isTTY === true) this.context.stdout.write('\n');
    }
    return EXIT.ok;
  }

  private valueBytes(entry: KvEntry): Buffer {
    return Buffer.from(entry.Value ?? '', 'base64');
  }

  /** Consul's `kv get -detailed` block: one field per line, names padded to one column. */
  private detailText(e: KvEntry): string {
    const fields: Array<[string, string | number | bigint]> = [
      ['CreateIndex', e.CreateIndex], ['Flags', e.Flags], ['Key', e.Key], ['LockIndex', e.LockIndex],
      ['ModifyIndex', e.ModifyIndex], ['Session', e.Session ?? '-'], ['Value', this.valueText(e)],
    ];
    return fields.map(([name, value]) => `${name.padEnd(16)} ${value}`).join('\n');
  }

  private valueText(entry: KvEntry): string {
    const bytes = this.valueBytes(entry);
    return this.base64 ? bytes.toString('base64') : bytes.toString('utf8');
  }

  private toJson(entry: KvEntry): KvEntryJson {
    return {
      key: entry.Key,
      value: this.valueText(entry),
      flags: entry.Flags,
      createIndex: entry.CreateIndex,
      modifyIndex: entry.ModifyIndex,
      lockIndex: entry.LockIndex,
      ...(entry.Session === undefined ? {} : { session: entry.Session }),
    };
  }
}
