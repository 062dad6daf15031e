// `konsul kv put`: write a value (the argument, `@file`, or stdin for `-`;
// none is an empty value, as in Consul), optionally with flags and
// check-and-set on the key's ModifyIndex.

import { Command, Option, UsageError } from '../../clipanion.js';
import { readFile } from 'node:fs/promises';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { kvUrl, readAll, u64Flag } from './common.js';

export class KvPutCommand extends QuietHttpCommand {
  static override paths = [['kv', 'put']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Write a key',
    details: `
      The value is the second argument; "@FILE" reads it from a file and "-" from stdin (both stored byte
      for byte); left out, the value is empty (as in Consul). With --base64 the value (argument, file or
      stdin) is base64 and the decoded bytes are stored.

      With --cas N the write happens only if the key's ModifyIndex is still N (0: only if the key does
      not exist yet); otherwise nothing is written and the command exits with status 1.

      With --acquire SESSION the write also locks the key for that session (refused, status 1, while
      another session holds it or during its lock-delay); --release SESSION writes and unlocks it.
      With --fence TOKEN (and --fence-key KEY, default the key itself) the write applies only while
      that lock is still held under that fencing token.
    `,
    examples: [
      ['Write a value', '$0 kv put config/web/port 8080'],
      ['From a file', '$0 kv put config/web/tls.pem @tls.pem'],
      ['From stdin', 'echo on | $0 kv put config/web/feature -'],
      ['An empty value (a marker key)', '$0 kv put config/web/ready'],
      ['Only if nobody changed it since index 42', '$0 kv put --cas 42 config/web/port 8081'],
      ['Only if it does not exist yet', '$0 kv put --cas 0 locks/deploy me'],
      ['With flags (an opaque number for the application)', '$0 kv put --flags 7 config/web/mode blue'],
      ['Take a lock for a session', '$0 kv put --acquire 4ca8e74b-6350-7587-addf-a18084928f3c service/leader node-1'],
      ['Write only while holding the lock under token 1234', '$0 kv put --fence 1234 --fence-key service/leader db/primary node-1'],
    ],
  });

  flags = Option.String('--flags', { description: 'An opaque unsigned 64-bit number stored with the value' });
  cas = Option.String('--cas', { description: 'Write only if the key\'s ModifyIndex is this (0: only if it does not exist)' });
  base64 = Option.Boolean('--base64', false, { description: 'The value is base64; store the decoded bytes' });
  acquire = Option.String('--acquire', { description: 'Lock the key for this session while writing' });
  release = Option.String('--release', { description: 'Unlock the key held by this session while writing' });
  fence = Option.String('--fence', { description: 'Write only while the lock is held under this fencing token' });
  fenceKey = Option.String('--fence-key', { description: 'With --fence: the lock key (default: the key written)' });
  key = Option.String({ name: 'key' });
  value = Option.String({ required: false, name: 'value' });

  protected async run(client: AgentClient): Promise<number> {
    const flags = u64Flag('--flags', this.flags);
    const cas = u64Flag('--cas', this.cas);
    let body = await this.valueBytes();
    if (this.base64) body = Buffer.from(body.toString('utf8').trim(), 'base64');

    if (this.acquire !== undefined && this.release !== undefined) throw new UsageError('--acquire and --release cannot be used together');
    const fence = u64Flag('--fence', this.fence);
    if (this.fenceKey !== undefined && fence === undefined) throw new UsageError('--fence-key needs --fence');
    const answer = await client.call('PUT', kvUrl(this.key, {
      flags, cas, acquire: this.acquire, release: this.release, fence, 'fence-key': this.fenceKey,
    }), { body });
    const written = answer.text().trim() === 'true';
    const token = answer.header('x-konsul-fencing-token');
    if (this.json) this.printJson(token === undefined ? { key: this.key, written } : { key: this.key, written, fencingToken: Number(token) });
    if (!written) {
      const why = this.acquire !== undefined ? 'the lock is held by another session, or in its lock-delay'
        : this.release !== undefined ? 'the lock is not held by that session'
          : fence !== undefined ? `the lock is no longer held under fencing token ${fence}`
            : `the check-and-set failed (its ModifyIndex is not ${cas ?? 'what --cas gave'})`;
      throw new CliError(`key "${this.key}" not written: ${why}`);
    }
    if (!this.json) this.say(`Success! Data written to: ${this.key}${token === undefined ? '' : ` (lock acquired, fencing token ${token})`}`);
    return EXIT.ok;
  }

  private async valueBytes(): Promise<Buffer> {
    if (this.value === undefined) return Buffer.alloc(0);
    if (this.value === '-') return await readAll(this.context.stdin);
    if (this.value.startsWith('@') && this.value.length > 1) {
      const file = this.value.slice(1);
      try {
        return await readFile(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new CliError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code ?? (error as Error).message} (a value starting with @ names a file to read)`, EXIT.failed);
      }
    }
    return Buffer.from(this.value, 'utf8');
  }
}
