// `konsul catalog services`: every service registered anywhere in the cluster,
// with the union of its instances' tags.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { table } from '../../output.js';
import { tagsText } from '../services/common.js';

export class CatalogServicesCommand extends HttpCommand {
  static override paths = [['catalog', 'services']];
  static override usage = Command.Usage({
    category: 'Catalog',
    description: 'Every service in the cluster, with its tags',
    details: `
      TAGS are those of any of the service's instances. \`konsul catalog service NAME\` lists the
      instances of one service and their health.

      With --json it prints the agent's answer to GET /v1/catalog/services: each name with its tags.
    `,
    examples: [['Every service', '$0 catalog services'], ['As JSON', '$0 catalog services --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const services = (await client.call('GET', '/v1/catalog/services')).json<Record<string, string[] | null>>();
    if (this.json) this.printJson(services, 'as-is');
    else {
      const names = Object.keys(services).sort();
      if (names.length > 0) this.out(table(['SERVICE', 'TAGS'], names.map((name) => [name, tagsText(services[name])])));
    }
    return EXIT.ok;
  }
}
