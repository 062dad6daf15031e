// `konsul session info`: one session.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { SESSION_ID, checksText, lockDelayText, type SessionJson } from './common.js';

export class SessionInfoCommand extends HttpCommand {
  static override paths = [['session', 'info']];
  static override usage = Command.Usage({
    category: 'Sessions and locks',
    description: 'Show one session',
    details: `
      Prints the session's fields, one per line. A session that does not exist (never created,
      destroyed, or invalidated) is an error, exit status 1.
    `,
    examples: [['One session', '$0 session info 4ca8e74b-6350-7587-addf-a18084928f3c']],
  });

  stale = Option.Boolean('--stale', false, { description: 'Let this agent answer from its replica, even without a leader' });
  id = Option.String({ name: 'session-id' });

  protected async run(client: AgentClient): Promise<number> {
    if (!SESSION_ID.test(this.id)) throw new UsageError(`"${this.id}" is not a session id (a UUID)`);
    const [s] = (await client.call('GET', `/v1/session/info/${this.id}${this.stale ? '?stale' : ''}`)).json<SessionJson[]>();
    if (!s) throw new CliError(`session ${this.id} not found (destroyed or invalidated?)`);
    if (this.json) {
      this.printJson(s);
      return EXIT.ok;
    }
    this.out([
      `ID:          ${s.ID}`,
      `Name:        ${s.Name || '-'}`,
      `Node:        ${s.Node}`,
      `TTL:         ${s.TTL || 'none'}`,
      `Behavior:    ${s.Behavior}`,
      `LockDelay:   ${lockDelayText(s.LockDelay)}`,
      `Checks:      ${checksText(s)}`,
      `CreateIndex: ${s.CreateIndex}`,
    ].join('\n'));
    return EXIT.ok;
  }
}
