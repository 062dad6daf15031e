// `konsul kv get|put|delete`: the KV store through the local agent, with
// Consul's semantics (cas, flags, recurse, keys with a separator).

import { Command, Option } from 'clipanion';
import { AgentCommand } from '../base.js';
import { CliError, keyPath } from '../client.js';
import { EXIT } from '../exit-codes.js';

interface KvJson { Key: string; Value: string | null; Flags: number; CreateIndex: number; ModifyIndex: number; LockIndex: number }

function consistency(stale: boolean, consistent: boolean): string {
  if (stale && consistent) throw new CliError('--stale and --consistent cannot be used together', EXIT.usage);
  return stale ? '&stale' : consistent ? '&consistent' : '';
}

function readStdin(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => parts.push(Buffer.from(c)));
    stream.on('end', () => resolve(Buffer.concat(parts)));
    stream.on('error', reject);
  });
}

function intFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new CliError(`${name}: "${v}" is not a non-negative integer`, EXIT.usage);
  return Number(v);
}

export class KvGetCommand extends AgentCommand {
  static override paths = [['kv', 'get']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Read a key (or every key under a prefix)',
    details: 'A missing key exits with status 1 and a message on stderr. Values print as they are; use --base64 for binary data.',
    examples: [
      ['Read one value', '$0 kv get config/web/port'],
      ['Everything under a prefix, as key:value lines', '$0 kv get --recurse config/'],
      ['The keys one level under a prefix', '$0 kv get --keys --separator / config/'],
      ['Metadata (indexes, flags) as JSON', '$0 kv get --json config/web/port'],
    ],
  });

  key = Option.String({ required: false, name: 'key' });
  recurse = Option.Boolean('--recurse', false, { description: 'Everything under the key as a prefix' });
  keys = Option.Boolean('--keys', false, { description: 'Only the keys under the prefix' });
  separator = Option.String('--separator', { description: 'With --keys: roll keys up at this separator' });
  stale = Option.Boolean('--stale', false, { description: 'Read this agent\'s replica, even without a leader' });
  consistent = Option.Boolean('--consistent', false, { description: 'Linearizable read (a ReadIndex round)' });
  base64 = Option.Boolean('--base64', false, { description: 'Print values base64-encoded' });

  async execute(): Promise<number> {
    const key = this.key ?? '';
    if (key === '' && !this.recurse && !this.keys) throw new CliError('a key is needed (or --recurse / --keys for everything)', EXIT.usage);
    const mode = consistency(this.stale, this.consistent);
    const client = this.client();
    if (this.keys) {
      const sep = this.separator !== undefined ? `&separator=${encodeURIComponent(this.separator)}` : '';
      const a = await client.ok('GET', `/v1/kv/${keyPath(key)}?keys${sep}${mode}`, undefined, [404]);
      const list = a.status === 404 ? [] : a.json<string[]>();
      if (this.json) this.printJson(list);
      else if (list.length > 0) this.out(list.join('\n'));
      return EXIT.ok;
    }
    const a = await client.ok('GET', `/v1/kv/${keyPath(key)}?${this.recurse ? 'recurse' : ''}${mode}`, undefined, [404]);
    if (a.status === 404) {
      if (this.recurse) {
        if (this.json) this.printJson([]);
        return EXIT.ok;
      }
      throw new CliError(`key "${key}" not found`);
    }
    const entries = a.json<KvJson[]>();
    const value = (e: KvJson): string => {
      const buf = Buffer.from(e.Value ?? '', 'base64');
      return this.base64 ? buf.toString('base64') : buf.toString('utf8');
    };
    if (this.json) {
      const rows = entries.map((e) => ({
        key: e.Key, value: value(e), flags: e.Flags, createIndex: e.CreateIndex, modifyIndex: e.ModifyIndex, lockIndex: e.LockIndex,
      }));
      this.printJson(this.recurse ? rows : rows[0]);
    } else if (this.recurse) {
      this.out(entries.map((e) => `${e.Key}:${value(e)}`).join('\n'));
    } else {
      this.context.stdout.write(value(entries[0]));
      if (process.stdout.isTTY) this.context.stdout.write('\n');
    }
    return EXIT.ok;
  }
}

export class KvPutCommand extends AgentCommand {
  static override paths = [['kv', 'put']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Write a key',
    details: 'The value comes from the argument, or from stdin when it is "-" or left out. With --cas, the write happens only if the key\'s ModifyIndex still equals the given one (0: only if the key does not exist); otherwise it exits with status 1.',
    examples: [
      ['Write a value', '$0 kv put config/web/port 8080'],
      ['From a file', '$0 kv put config/web/tls.pem - < tls.pem'],
      ['Only if nobody changed it since index 42', '$0 kv put --cas 42 config/web/port 8081'],
    ],
  });

  key = Option.String({ name: 'key' });
  value = Option.String({ required: false, name: 'value' });
  flags = Option.String('--flags', { description: 'An opaque 32-bit number stored with the value' });
  cas = Option.String('--cas', { description: 'Write only if the key\'s ModifyIndex is this (0: only if absent)' });
  base64 = Option.Boolean('--base64', false, { description: 'The value is base64; store the decoded bytes' });

  async execute(): Promise<number> {
    let body: Buffer = this.value === undefined || this.value === '-'
      ? await readStdin(this.context.stdin)
      : Buffer.from(this.value, 'utf8');
    if (this.base64) body = Buffer.from(body.toString('utf8').trim(), 'base64');
    const q: string[] = [];
    const flags = intFlag('--flags', this.flags);
    const cas = intFlag('--cas', this.cas);
    if (flags !== undefined) q.push(`flags=${flags}`);
    if (cas !== undefined) q.push(`cas=${cas}`);
    const a = await this.client().ok('PUT', `/v1/kv/${keyPath(this.key)}${q.length ? `?${q.join('&')}` : ''}`, body);
    const ok = a.text().trim() === 'true';
    if (this.json) this.printJson({ key: this.key, written: ok });
    if (!ok) throw new CliError(`key "${this.key}" not written: its index is not ${cas ?? '?'} (cas failed)`);
    if (!this.json) this.out(`Success! Data written to: ${this.key}`);
    return EXIT.ok;
  }
}

export class KvDeleteCommand extends AgentCommand {
  static override paths = [['kv', 'delete']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Delete a key (or every key under a prefix)',
    examples: [
      ['Delete one key', '$0 kv delete config/web/port'],
      ['Delete a whole prefix', '$0 kv delete --recurse config/web/'],
    ],
  });

  key = Option.String({ required: false, name: 'key' });
  recurse = Option.Boolean('--recurse', false, { description: 'Delete everything under the key as a prefix' });
  cas = Option.String('--cas', { description: 'Delete only if the key\'s ModifyIndex is this' });

  async execute(): Promise<number> {
    const key = this.key ?? '';
    if (key === '' && !this.recurse) throw new CliError('a key is needed (or --recurse to delete everything)', EXIT.usage);
    const q: string[] = [];
    if (this.recurse) q.push('recurse');
    const cas = intFlag('--cas', this.cas);
    if (cas !== undefined) q.push(`cas=${cas}`);
    const a = await this.client().ok('DELETE', `/v1/kv/${keyPath(key)}${q.length ? `?${q.join('&')}` : ''}`);
    const ok = a.text().trim() === 'true';
    if (this.json) this.printJson({ key, deleted: ok });
    if (!ok) throw new CliError(`key "${key}" not deleted: its index is not ${cas ?? '?'} (cas failed)`);
    if (!this.json) this.out(`Success! Deleted key${this.recurse ? 's under' : ''}: ${key}`);
    return EXIT.ok;
  }
}
