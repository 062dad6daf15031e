// `konsul session create`: a new session; prints its id.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { createSession } from './common.js';

export class SessionCreateCommand extends QuietHttpCommand {
  static override paths = [['session', 'create']];
  static override usage = Command.Usage({
    category: 'Sessions and locks',
    description: 'Create a session and print its id',
    details: `
      A session belongs to a node (default: the agent's own) and ends when it is destroyed, when its
      TTL lapses without a renewal (the leader waits up to twice the TTL), when its node's health
      turns critical or the node leaves, or when one of its checks turns critical. It then releases
      the locks it holds (--behavior release, the default) or deletes those keys (--behavior delete),
      and the keys cannot be locked again for the lock-delay (default 15s).

      By default the session depends on the node's serfHealth check; --check names the checks
      instead (repeat it), and --no-checks makes a session that only a TTL or destroy ends.
      Prints the new session's id (with --json: {"ID": ...}). An agent that has just started may
      not be in the catalog yet: create waits up to 5 s for it.
    `,
    examples: [
      ['A session with a 30s TTL', '$0 session create --name deploy --ttl 30s'],
      ['Delete the keys it holds when it ends, with no lock-delay', '$0 session create --behavior delete --lock-delay 0s'],
      ['Bound to a TTL check of this agent', '$0 session create --check serfHealth --check service:web'],
    ],
  });

  name = Option.String('--name', { description: 'A name for people; not interpreted' });
  node = Option.String('--node', { description: 'The node it belongs to (default: the agent\'s node)' });
  ttl = Option.String('--ttl', { description: 'Time to live, 10s to 24h, renewed with PUT /v1/session/renew (default: none)' });
  lockDelay = Option.String('--lock-delay', { description: 'How long its keys stay unlockable after it ends, 0s to 60s (default 15s)' });
  behavior = Option.String('--behavior', { description: 'release (default) or delete: what happens to the keys it holds when it ends' });
  checks = Option.Array('--check', { description: 'A node check id the session depends on (repeatable; default serfHealth)' });
  noChecks = Option.Boolean('--no-checks', false, { description: 'Depend on no check at all (only the TTL or destroy ends it)' });

  protected async run(client: AgentClient): Promise<number> {
    if (this.behavior !== undefined && this.behavior !== 'release' && this.behavior !== 'delete') {
      throw new UsageError(`--behavior: "${this.behavior}" is not release or delete`);
    }
    if (this.noChecks && this.checks !== undefined) throw new UsageError('--check and --no-checks cannot be used together');
    const body: Record<string, unknown> = {};
    if (this.name !== undefined) body.Name = this.name;
    if (this.node !== undefined) body.Node = this.node;
    if (this.ttl !== undefined) body.TTL = this.ttl;
    if (this.lockDelay !== undefined) body.LockDelay = this.lockDelay;
    if (this.behavior !== undefined) body.Behavior = this.behavior;
    if (this.checks !== undefined) body.NodeChecks = this.checks;
    if (this.noChecks) body.NodeChecks = [];
    const ID = await createSession(client, body);
    if (this.json) this.printJson({ ID });
    else this.out(ID); // the id is the output, not a confirmation: printed even with --quiet
    return EXIT.ok;
  }
}
