// `konsul cluster transfer-leader`: hand leadership to a given voter, or to
// the most caught-up one.

import { Command, Option } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';

export class ClusterTransferLeaderCommand extends QuietHttpCommand {
  static override paths = [['cluster', 'transfer-leader'], ['operator', 'raft', 'transfer-leader']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Hand leadership to a voter (the most caught-up without --node)',
    details: 'Useful before restarting the leader for maintenance. Prints the new leader\'s id. Also answers to Consul\'s name, `operator raft transfer-leader`.',
    examples: [['Move leadership away', '$0 cluster transfer-leader'], ['To a given node', '$0 cluster transfer-leader --node s2']],
  });

  node = Option.String('--node,--id', { description: 'The voter that should lead' });

  protected async run(client: AgentClient): Promise<number> {
    const query = this.node ? `?id=${encodeURIComponent(this.node)}` : '';
    const result = (await client.call('POST', `/cluster/transfer-leader${query}`)).json<{ leader: string }>();
    if (this.json) this.printJson(result);
    else this.say(`Leader is now ${result.leader}`);
    return EXIT.ok;
  }
}
