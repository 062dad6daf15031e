// `konsul catalog service NAME`: the instances of one service across the
// cluster, each with its node, address, port and health.

import { Command, Option } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { table } from '../../output.js';
import { aggregateStatus, tagsText } from '../services/common.js';
import type { HealthServiceEntry } from './common.js';

export class CatalogServiceCommand extends HttpCommand {
  static override paths = [['catalog', 'service']];
  static override usage = Command.Usage({
    category: 'Catalog',
    description: 'The instances of a service, with their health',
    details: `
      STATUS is the worst of an instance's checks and its node's checks. --tag keeps the instances
      that have the tag (repeat it: they must have every one); --passing keeps those whose checks
      all pass, the instances DNS would answer with. When no instance is left, or the service does
      not exist, the command exits with status 1.

      With --json it prints the agent's answer to GET /v1/health/service/NAME: each instance with its
      node, service and checks.
    `,
    examples: [
      ['Every instance of web', '$0 catalog service web'],
      ['Only the healthy v2 instances', '$0 catalog service web --tag v2 --passing'],
      ['As JSON', '$0 catalog service web --json'],
    ],
  });

  tags = Option.Array('--tag', { description: 'Only instances with this tag (repeat for several)' });
  passing = Option.Boolean('--passing', false, { description: 'Only instances whose checks all pass' });
  name = Option.String({ name: 'name' });

  protected async run(client: AgentClient): Promise<number> {
    const tags = this.tags ?? [];
    const query = [...tags.map((t) => `tag=${encodeURIComponent(t)}`), ...(this.passing ? ['passing'] : [])].join('&');
    const path = `/v1/health/service/${encodeURIComponent(this.name)}${query ? `?${query}` : ''}`;
    const instances = (await client.call('GET', path)).json<HealthServiceEntry[]>();
    if (instances.length === 0) {
      const withTags = tags.length > 0 ? ` with tag${tags.length > 1 ? 's' : ''} ${tags.map((t) => `"${t}"`).join(', ')}` : '';
      throw new CliError(`no ${this.passing ? 'passing ' : ''}instances of service "${this.name}"${withTags}`);
    }
    if (this.json) this.printJson(instances, 'as-is');
    else {
      this.out(table(
        ['NODE', 'ADDRESS', 'PORT', 'STATUS', 'TAGS'],
        instances.map(({ Node, Service, Checks }) => [
          Node.Node,
          Service.Address || Node.Address,
          String(Service.Port),
          aggregateStatus(Checks),
          tagsText(Service.Tags),
        ]),
      ));
    }
    return EXIT.ok;
  }
}
