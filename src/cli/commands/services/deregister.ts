// `konsul services deregister`: remove a service (and its checks) from this
// agent, and so from the catalog.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';

export class ServicesDeregisterCommand extends QuietHttpCommand {
  static override paths = [['services', 'deregister']];
  static override usage = Command.Usage({
    category: 'Services',
    description: 'Deregister a service, by ID, from this agent',
    details: `
      Removes the service and its checks from this agent and the catalog. It takes the service's ID
      (the name when it was registered without --id); \`konsul services list\` shows them. An ID this
      agent does not have exits with status 1. Consul's \`-id ID\` works too.
    `,
    examples: [
      ['Deregister a service', '$0 services deregister web'],
      ['One of several instances', '$0 services deregister web-2'],
    ],
  });

  idFlag = Option.String('--id', { description: 'The service ID (Consul\'s -id), instead of the argument' });
  serviceId = Option.String({ name: 'id', required: false });

  private get id(): string {
    if (this.idFlag !== undefined && this.serviceId !== undefined && this.idFlag !== this.serviceId) {
      throw new UsageError('give the service ID once: as the argument or with --id');
    }
    const id = this.idFlag ?? this.serviceId;
    if (id === undefined || id === '') throw new UsageError('a service ID is needed (`konsul services list` shows them)');
    return id;
  }

  protected async run(client: AgentClient): Promise<number> {
    const answer = await client.call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(this.id)}`, { allow: [404] });
    if (answer.status === 404) {
      throw new CliError(`no service ID "${this.id}" registered with this agent (give the ID, not the name; see \`konsul services list\`)`);
    }
    if (this.json) this.printJson({ deregistered: this.id });
    else this.say(`Deregistered service: ${this.id}`);
    return EXIT.ok;
  }
}
