// `konsul cluster join`: ask the cluster (through this agent) to add the agent
// listening at a raft address.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import type { ClusterStatus } from './common.js';

export class ClusterJoinCommand extends QuietHttpCommand {
  static override paths = [['cluster', 'join']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Add the agent at a raft address to the cluster',
    details: `
      The new member enters as a non-voter; a server is promoted to voter once it has caught up.
      Without --id, the cluster asks the agent at --address for its node id. --non-voter keeps it a
      non-voter even if it runs as a server.
    `,
    examples: [
      ['Add a server', '$0 cluster join --address 10.0.0.2:7000'],
      ['Add a non-voter with a known id', '$0 cluster join --address 10.0.0.4:7000 --id n4 --non-voter'],
    ],
  });

  address = Option.String('--address', { description: 'The raft address (host:port) of the agent to add (required)' });
  id = Option.String('--id', { description: 'Its node id (default: asked of the agent at --address)' });
  nonVoter = Option.Boolean('--non-voter', false, { description: 'Keep it a non-voter even if it runs as a server' });

  protected async run(client: AgentClient): Promise<number> {
    if (this.address === undefined || this.address === '') {
      throw new UsageError('--address is required: the raft address (host:port) of the agent to add');
    }
    const body = JSON.stringify({ ...(this.id ? { id: this.id } : {}), raftAddress: this.address, server: !this.nonVoter });
    const status = (await client.call('POST', '/cluster/join', { body })).json<ClusterStatus>();
    if (this.json) {
      this.printJson(status);
    } else {
      const added = status.members.find((m) => m.raftAddress === this.address);
      const who = added ? `${added.id} (${this.address})` : this.address;
      this.say(`Joined ${who}: the cluster has ${status.members.length} members`);
    }
    return EXIT.ok;
  }
}
