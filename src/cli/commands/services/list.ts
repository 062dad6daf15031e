// `konsul services list`: the services registered with this agent, with the
// aggregate health of each from the agent's checks.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { table } from '../../output.js';
import { aggregateStatus, hostPort, tagsText, type AgentCheck, type AgentService } from './common.js';

export class ServicesListCommand extends HttpCommand {
  static override paths = [['services', 'list']];
  static override usage = Command.Usage({
    category: 'Services',
    description: 'The services registered with this agent, and their health',
    details: `
      Only this agent's services; \`konsul catalog services\` lists every service in the cluster.
      STATUS is the worst of the service's checks and this node's checks (passing when there are
      none). An address ":8080" is the node's address, port 8080.

      With --json it prints the agent's answer to GET /v1/agent/services: the services by ID.
    `,
    examples: [['This agent\'s services', '$0 services list'], ['As JSON', '$0 services list --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const services = (await client.call('GET', '/v1/agent/services')).json<Record<string, AgentService>>();
    if (this.json) {
      this.printJson(services, 'as-is');
      return EXIT.ok;
    }
    const list = Object.values(services).sort((a, b) => a.Service.localeCompare(b.Service) || a.ID.localeCompare(b.ID));
    if (list.length === 0) return EXIT.ok;
    const checks = Object.values((await client.call('GET', '/v1/agent/checks')).json<Record<string, AgentCheck>>());
    this.out(table(
      ['ID', 'NAME', 'ADDRESS', 'STATUS', 'TAGS'],
      list.map((s) => [
        s.ID,
        s.Service,
        hostPort(s.Address, s.Port),
        aggregateStatus(checks.filter((c) => c.ServiceID === s.ID || c.ServiceID === '')),
        tagsText(s.Tags),
      ]),
    ));
    return EXIT.ok;
  }
}
