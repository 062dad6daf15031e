// `konsul session list`: every session, or one node's.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { table } from '../../output.js';
import { checksText, lockDelayText, type SessionJson } from './common.js';

export class SessionListCommand extends HttpCommand {
  static override paths = [['session', 'list']];
  static override usage = Command.Usage({
    category: 'Sessions and locks',
    description: 'Every session (or one node\'s)',
    details: `
      Lists the sessions the cluster holds: id, name, node, TTL, behavior on invalidation, lock-delay
      and the checks the session depends on. With --node only that node's sessions.

      With --json it prints the agent's answer (GET /v1/session/list or /v1/session/node/<node>).
    `,
    examples: [
      ['Every session', '$0 session list'],
      ["One node's sessions", '$0 session list --node web-1'],
      ["From this agent's replica", '$0 session list --stale'],
    ],
  });

  node = Option.String('--node', { description: 'Only the sessions of this node' });
  stale = Option.Boolean('--stale', false, { description: 'Let this agent answer from its replica, even without a leader' });

  protected async run(client: AgentClient): Promise<number> {
    if (this.node === '') throw new UsageError('--node needs a node name');
    const path = this.node === undefined ? '/v1/session/list' : `/v1/session/node/${encodeURIComponent(this.node)}`;
    const sessions = (await client.call('GET', `${path}${this.stale ? '?stale' : ''}`)).json<SessionJson[]>();
    if (this.json) this.printJson(sessions);
    else if (sessions.length > 0) {
      this.out(table(['ID', 'NAME', 'NODE', 'TTL', 'BEHAVIOR', 'LOCK-DELAY', 'CHECKS'], sessions.map((s) => [
        s.ID, s.Name || '-', s.Node, s.TTL || '-', s.Behavior, lockDelayText(s.LockDelay), checksText(s),
      ])));
    }
    return EXIT.ok;
  }
}
