// `konsul kv delete`: remove a key, or everything under a prefix, optionally
// with check-and-set on the key's ModifyIndex.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { kvUrl, u64Flag } from './common.js';

export class KvDeleteCommand extends QuietHttpCommand {
  static override paths = [['kv', 'delete']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Delete a key (or every key under a prefix)',
    details: `
      Deleting a key that does not exist succeeds, as in Consul. With --cas N the key is deleted only
      if its ModifyIndex is still N; otherwise nothing changes and the command exits with status 1.
    `,
    examples: [
      ['Delete one key', '$0 kv delete config/web/port'],
      ['Delete everything under a prefix', '$0 kv delete --recurse config/web/'],
      ['Only if nobody changed it since index 42', '$0 kv delete --cas 42 config/web/port'],
    ],
  });

  recurse = Option.Boolean('--recurse', false, { description: 'Delete everything under the key as a prefix' });
  cas = Option.String('--cas', { description: 'Delete only if the key\'s ModifyIndex is this' });
  key = Option.String({ required: false, name: 'key' });

  protected async run(client: AgentClient): Promise<number> {
    const key = this.key ?? '';
    if (key === '' && !this.recurse) throw new UsageError('a key is needed (or --recurse with no key to delete everything)');
    const cas = u64Flag('--cas', this.cas);
    if (cas !== undefined && this.recurse) throw new UsageError('--cas and --recurse cannot be used together');

    const answer = await client.call('DELETE', kvUrl(key, { recurse: this.recurse ? null : undefined, cas }));
    const deleted = answer.text().trim() === 'true';
    if (this.json) this.printJson({ key, deleted });
    if (!deleted) throw new CliError(`key "${key}" not deleted: the check-and-set failed (its ModifyIndex is not ${cas ?? 'what --cas gave'})`);
    if (!this.json) this.say(this.recurse ? `Success! Deleted keys with prefix: ${key}` : `Success! Deleted key: ${key}`);
    return EXIT.ok;
  }
}
