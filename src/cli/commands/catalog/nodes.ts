// `konsul catalog nodes`: every node in the catalog, one per agent.

import { Command } from 'clipanion';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { table } from '../../output.js';
import type { CatalogNode } from './common.js';

export class CatalogNodesCommand extends HttpCommand {
  static override paths = [['catalog', 'nodes']];
  static override usage = Command.Usage({
    category: 'Catalog',
    description: 'Every node in the catalog',
    details: `
      One node per agent, servers and clients alike. \`konsul members\` shows whether each is alive.

      With --json it prints the agent's answer to GET /v1/catalog/nodes.
    `,
    examples: [['Every node', '$0 catalog nodes'], ['As JSON', '$0 catalog nodes --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const nodes = (await client.call('GET', '/v1/catalog/nodes')).json<CatalogNode[]>();
    if (this.json) this.printJson(nodes, 'as-is');
    else if (nodes.length > 0) {
      this.out(table(['NODE', 'ID', 'ADDRESS', 'DATACENTER'], nodes.map((n) => [n.Node, n.ID || '-', n.Address, n.Datacenter])));
    }
    return EXIT.ok;
  }
}
