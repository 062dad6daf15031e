// `konsul session destroy`: end a session now.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { SESSION_ID } from './common.js';

export class SessionDestroyCommand extends QuietHttpCommand {
  static override paths = [['session', 'destroy']];
  static override usage = Command.Usage({
    category: 'Sessions and locks',
    description: 'Destroy a session',
    details: `
      Ends the session now: the locks it holds are released (or their keys deleted, with behavior
      delete) and the lock-delay starts on them. Destroying a session that does not exist succeeds,
      as in Consul.
    `,
    examples: [['End a session', '$0 session destroy 4ca8e74b-6350-7587-addf-a18084928f3c']],
  });

  id = Option.String({ name: 'session-id' });

  protected async run(client: AgentClient): Promise<number> {
    if (!SESSION_ID.test(this.id)) throw new UsageError(`"${this.id}" is not a session id (a UUID)`);
    await client.call('PUT', `/v1/session/destroy/${this.id}`);
    if (this.json) this.printJson({ ID: this.id, destroyed: true });
    else this.say(`Destroyed session ${this.id}`);
    return EXIT.ok;
  }
}
