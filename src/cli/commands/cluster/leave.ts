// `konsul cluster leave`: remove a member from the cluster; without --node,
// the agent being talked to removes itself (and then stops).

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import type { ClusterStatus } from './common.js';

export class ClusterLeaveCommand extends QuietHttpCommand {
  static override paths = [['cluster', 'leave'], ['operator', 'raft', 'remove-peer'], ['force-leave']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Remove a member from the cluster (this agent without --node)',
    details: `
      Without --node, the agent at --http-addr leaves the cluster gracefully and stops. A member
      removed is listed by \`konsul members\` as left until the reconnect timeout. Also answers to
      Consul's names: \`operator raft remove-peer --id NODE\` and \`force-leave NODE\` (both need the
      node). A live agent that is removed joins again, as a Consul agent does after force-leave.
    `,
    examples: [['This agent leaves', '$0 cluster leave'], ['Remove a dead member', '$0 cluster leave --node s3']],
  });

  node = Option.String('--node,--id', { description: 'The node id to remove (default: the agent itself)' });
  nodeArg = Option.String({ name: 'node', required: false });

  protected async run(client: AgentClient): Promise<number> {
    if (this.node !== undefined && this.nodeArg !== undefined && this.node !== this.nodeArg) {
      throw new UsageError('give the node once: as the argument or with --node');
    }
    const named = this.node ?? this.nodeArg;
    const path = this.path.join(' ');
    if (named === undefined && path === 'operator raft remove-peer') {
      throw new UsageError('--id is needed: the node id of the peer to remove (see `konsul operator raft list-peers`)');
    }
    if (named === undefined && path === 'force-leave') throw new UsageError('force-leave needs the node to remove (see `konsul members`)');
    const id = named ?? (await client.call('GET', '/cluster/status')).json<ClusterStatus>().nodeId;
    await client.call('DELETE', `/cluster/leave/${encodeURIComponent(id)}`);
    if (this.json) this.printJson({ removed: id });
    else this.say(`Removed ${id} from the cluster`);
    return EXIT.ok;
  }
}
