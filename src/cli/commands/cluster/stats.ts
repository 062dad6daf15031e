// `konsul cluster stats`: the agent's Raft, transport and storage counters as
// `name: value` lines (nested names joined with '.') or JSON.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { flattenLines } from '../../output.js';

export class ClusterStatsCommand extends HttpCommand {
  static override paths = [['cluster', 'stats']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Raft, transport and storage counters of this agent',
    details: `
      Prints one \`name: value\` line per counter, nested names joined with "." (proposals.committed,
      transport.peers[0].sent), so grep picks out one. The counters are this agent's own, since it
      started; ask each agent for its own. With --json it prints the agent's answer to GET /cluster/stats.
    `,
    examples: [['Counters', '$0 cluster stats'], ['One of them', '$0 cluster stats | grep ^proposals.'], ['As JSON', '$0 cluster stats --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const stats = (await client.call('GET', '/cluster/stats')).json<unknown>();
    if (this.json) this.printJson(stats);
    else this.out(flattenLines(stats).join('\n'));
    return EXIT.ok;
  }
}
