// `konsul cluster peers`: every member of the Raft configuration, voters and
// non-voters, as a table or JSON.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { membersTable, type MemberStatus } from './common.js';

export class ClusterPeersCommand extends HttpCommand {
  static override paths = [['cluster', 'peers'], ['operator', 'raft', 'list-peers']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Every member of the Raft configuration, voters and non-voters',
    details: 'Health, match index and last contact are known only on the leader (\'-\' elsewhere). Also answers to Consul\'s name, `operator raft list-peers`.',
    examples: [['List members', '$0 cluster peers'], ['As JSON', '$0 cluster peers --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const members = (await client.call('GET', '/cluster/peers')).json<MemberStatus[]>();
    if (this.json) this.printJson(members);
    else this.out(membersTable(members));
    return EXIT.ok;
  }
}
