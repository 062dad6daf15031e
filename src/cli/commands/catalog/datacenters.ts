// `konsul catalog datacenters`: the datacenters this agent knows (Consul's
// `consul catalog datacenters`); konsul runs one per cluster.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';

export class CatalogDatacentersCommand extends HttpCommand {
  static override paths = [['catalog', 'datacenters']];
  static override usage = Command.Usage({
    category: 'Catalog',
    description: 'The datacenters this agent knows',
    details: `
      One per line. A konsul cluster is one datacenter (--datacenter, default dc1); the command is
      here so scripts written for Consul's \`consul catalog datacenters\` run as they are.

      With --json it prints the agent's answer to GET /v1/catalog/datacenters.
    `,
    examples: [['The datacenters', '$0 catalog datacenters']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const dcs = (await client.call('GET', '/v1/catalog/datacenters')).json<string[]>();
    if (this.json) this.printJson(dcs, 'as-is');
    else if (dcs.length > 0) this.out(dcs.join('\n'));
    return EXIT.ok;
  }
}
