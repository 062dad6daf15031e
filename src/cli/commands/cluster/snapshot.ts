// `konsul cluster snapshot`: snapshot this agent's state now and compact its
// log up to the applied index.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';

export class ClusterSnapshotCommand extends QuietHttpCommand {
  static override paths = [['cluster', 'snapshot']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Snapshot this agent\'s state and compact its log up to the applied index',
    details: 'Agents also snapshot on their own (--snapshot-threshold, --snapshot-interval); this does it now.',
    examples: [['Compact now', '$0 cluster snapshot'], ['Another agent', '$0 cluster snapshot --http-addr 10.0.0.2:8500']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const result = (await client.call('POST', '/cluster/snapshot')).json<{ index: number; term: number }>();
    if (this.json) this.printJson(result);
    else this.say(`Snapshot at index ${result.index} (term ${result.term}); log compacted`);
    return EXIT.ok;
  }
}
