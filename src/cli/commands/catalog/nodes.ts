// `konsul catalog nodes`: every node in the catalog, one per agent.

import { Command, Option } from '../../clipanion.js';
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
      With --service NAME, only the nodes with an instance of that service (Consul's -service).

      With --json it prints the agent's answer to GET /v1/catalog/nodes (with --service, the nodes of
      GET /v1/catalog/service/NAME, each once).
    `,
    examples: [['Every node', '$0 catalog nodes'], ['The nodes running web', '$0 catalog nodes --service web'], ['As JSON', '$0 catalog nodes --json']],
  });

  service = Option.String('--service', { description: 'Only the nodes with an instance of this service' });

  protected async run(client: AgentClient): Promise<number> {
    const nodes = this.service === undefined
      ? (await client.call('GET', '/v1/catalog/nodes')).json<CatalogNode[]>()
      : await this.nodesOf(client, this.service);
    if (this.json) this.printJson(nodes, 'as-is');
    else if (nodes.length > 0) {
      this.out(table(['NODE', 'ID', 'ADDRESS', 'DATACENTER'], nodes.map((n) => [n.Node, n.ID || '-', n.Address, n.Datacenter])));
    }
    return EXIT.ok;
  }

  /** The nodes of a service's instances, once each, in the shape of /v1/catalog/nodes. */
  private async nodesOf(client: AgentClient, service: string): Promise<CatalogNode[]> {
    const instances = (await client.call('GET', `/v1/catalog/service/${encodeURIComponent(service)}`))
      .json<Array<{ ID: string; Node: string; Address: string; Datacenter: string; TaggedAddresses: Record<string, string> | null; NodeMeta: Record<string, string> | null }>>();
    const seen = new Map<string, CatalogNode>();
    for (const i of instances) {
      if (!seen.has(i.Node)) seen.set(i.Node, { ID: i.ID, Node: i.Node, Address: i.Address, Datacenter: i.Datacenter, TaggedAddresses: i.TaggedAddresses, Meta: i.NodeMeta });
    }
    return [...seen.values()];
  }
}
