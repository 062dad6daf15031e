// `konsul leave`: the agent at --http-addr leaves the cluster gracefully and
// stops, as `consul leave`.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';

export class LeaveCommand extends QuietHttpCommand {
  static override paths = [['leave']];
  static override usage = Command.Usage({
    category: 'Agent',
    description: 'Make the agent leave the cluster gracefully and stop',
    details: `
      The agent is taken out of the Raft configuration (its services leave the catalog) and then
      stops. To remove another member, dead or alive, use \`konsul cluster leave --node ID\`.
    `,
    examples: [['The local agent leaves', '$0 leave'], ['Another agent', '$0 leave --http-addr 10.0.0.5:8500']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const id = (await client.call('GET', '/cluster/status')).json<{ nodeId: string }>().nodeId;
    await client.call('DELETE', `/cluster/leave/${encodeURIComponent(id)}`);
    if (this.json) this.printJson({ left: id });
    else this.say(`Graceful leave complete: ${id} left the cluster`);
    return EXIT.ok;
  }
}
