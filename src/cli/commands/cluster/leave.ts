// `konsul cluster leave`: remove a member from the cluster; without --node,
// the agent being talked to removes itself (and then stops).

import { Command, Option, UsageError } from 'clipanion';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import type { ClusterStatus } from './common.js';

export class ClusterLeaveCommand extends QuietHttpCommand {
  static override paths = [['cluster', 'leave'], ['operator', 'raft', 'remove-peer']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Remove a member from the cluster (this agent without --node)',
    details: 'Without --node, the agent at --http-addr leaves the cluster gracefully and stops. Also answers to Consul\'s name, `operator raft remove-peer --id NODE` (which needs the id).',
    examples: [['This agent leaves', '$0 cluster leave'], ['Remove a dead member', '$0 cluster leave --node s3']],
  });

  node = Option.String('--node,--id', { description: 'The node id to remove (default: the agent itself)' });

  protected async run(client: AgentClient): Promise<number> {
    if (this.node === undefined && this.path.join(' ') === 'operator raft remove-peer') {
      throw new UsageError('--id is needed: the node id of the peer to remove (see `konsul operator raft list-peers`)');
    }
    const id = this.node ?? (await client.call('GET', '/cluster/status')).json<ClusterStatus>().nodeId;
    await client.call('DELETE', `/cluster/leave/${encodeURIComponent(id)}`);
    if (this.json) this.printJson({ removed: id });
    else this.say(`Removed ${id} from the cluster`);
    return EXIT.ok;
  }
}
