// `konsul maint`: Consul's maintenance mode for this agent's node or one of its
// services. Enabling adds a critical check, so health queries (?passing), DNS
// and load balancers that watch them drain the instances; disabling removes it.

import { Command, Option, UsageError } from '../clipanion.js';
import type { AgentClient } from '../client.js';
import { QuietHttpCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';

interface AgentCheck { CheckID: string; ServiceID: string; Notes: string; Status: string }

const NODE_CHECK = '_node_maintenance';
const SERVICE_PREFIX = '_service_maintenance:';

export class MaintCommand extends QuietHttpCommand {
  static override paths = [['maint']];
  static override usage = Command.Usage({
    category: 'Services',
    description: 'Put this agent\'s node or one of its services in maintenance mode, take it out, or list what is',
    details: `
      With --enable, the node (or, with --service, one service instance of this agent) gets a critical
      check named "Node Maintenance Mode" ("Service Maintenance Mode"), with --reason as its notes:
      health queries with ?passing, DNS and load balancers stop sending it traffic. --disable removes
      it. With neither, lists what is in maintenance on this agent.

      The same as Consul's \`consul maint\` (PUT /v1/agent/maintenance and /v1/agent/service/maintenance/:id).
    `,
    examples: [
      ['Drain this node', '$0 maint --enable --reason "kernel upgrade"'],
      ['Drain one service instance', '$0 maint --enable --service web1'],
      ['Back in service', '$0 maint --disable --service web1'],
      ['What is in maintenance', '$0 maint'],
    ],
  });

  enable = Option.Boolean('--enable', false, { description: 'Enter maintenance mode' });
  disable = Option.Boolean('--disable', false, { description: 'Leave maintenance mode' });
  reason = Option.String('--reason', { description: 'Why, shown as the check\'s notes (with --enable)' });
  service = Option.String('--service', { description: 'A service ID on this agent (default: the whole node)' });

  protected async run(client: AgentClient): Promise<number> {
    if (this.enable && this.disable) throw new UsageError('--enable and --disable cannot be used together');
    if (this.reason !== undefined && !this.enable) throw new UsageError('--reason only applies with --enable');
    if (!this.enable && !this.disable) {
      if (this.service !== undefined) throw new UsageError('--service needs --enable or --disable');
      return this.list(client);
    }
    const query = new URLSearchParams({ enable: String(this.enable) });
    if (this.reason) query.set('reason', this.reason);
    const path = this.service === undefined
      ? `/v1/agent/maintenance?${query}`
      : `/v1/agent/service/maintenance/${encodeURIComponent(this.service)}?${query}`;
    await client.call('PUT', path);
    const what = this.service === undefined ? 'Node' : `Service "${this.service}"`;
    this.say(`${what} ${this.enable ? 'entered' : 'left'} maintenance mode`);
    return EXIT.ok;
  }

  private async list(client: AgentClient): Promise<number> {
    const checks = Object.values((await client.call('GET', '/v1/agent/checks')).json<Record<string, AgentCheck>>())
      .filter((c) => c.CheckID === NODE_CHECK || c.CheckID.startsWith(SERVICE_PREFIX))
      .map((c) => ({ Target: c.CheckID === NODE_CHECK ? 'node' : `service ${c.ServiceID}`, Reason: c.Notes }));
    if (this.json) this.printJson(checks);
    else if (checks.length > 0) this.out(table(['IN MAINTENANCE', 'REASON'], checks.map((c) => [c.Target, c.Reason])));
    else this.say('Nothing is in maintenance mode on this agent');
    return EXIT.ok;
  }
}
