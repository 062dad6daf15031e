// `konsul event`: fire a user event (Consul's `consul event`), which every
// agent whose node, services and tags match the filters receives; `konsul
// event --list` shows the events this agent received.

import { Command, Option, UsageError } from '../clipanion.js';
import type { AgentClient } from '../client.js';
import { QuietHttpCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';

interface EventJson { ID: string; Name: string; Payload: string | null; NodeFilter: string; ServiceFilter: string; TagFilter: string; LTime: number }

export class EventCommand extends QuietHttpCommand {
  static override paths = [['event']];
  static override usage = Command.Usage({
    category: 'Services',
    description: 'Fire a user event to the cluster\'s agents, or list the events this agent received',
    details: `
      An event has a name and an optional payload (at most 512 bytes; "-" reads it from stdin).
      --node, --service and --tag are regular expressions (RE2) that pick the agents that receive
      it: by node name, by the names of their services, and by those services' tags (--tag needs
      --service). Every agent keeps the last 256 events it received; --list shows them.

      The same as Consul's \`consul event\` (PUT /v1/event/fire/:name, GET /v1/event/list).
      Events go through the Raft log (not gossip), so every agent sees them in the same order.
    `,
    examples: [
      ['Tell every agent to deploy', '$0 event --name deploy v1.2.3'],
      ['Only agents running web with tag canary', '$0 event --name deploy --service web --tag canary v1.2.4'],
      ['The events this agent received', '$0 event --list'],
    ],
  });

  name = Option.String('--name', { description: 'The event\'s name (required to fire)' });
  node = Option.String('--node', { description: 'Only agents whose node name matches this regular expression' });
  service = Option.String('--service', { description: 'Only agents with a service whose name matches this regular expression' });
  tag = Option.String('--tag', { description: 'With --service: only services with a tag that matches this regular expression' });
  list = Option.Boolean('--list', false, { description: 'List the events this agent received (filter with --name)' });
  payload = Option.String({ required: false, name: 'payload' });

  protected async run(client: AgentClient): Promise<number> {
    if (this.list) return this.listEvents(client);
    if (this.name === undefined || this.name === '') throw new UsageError('--name is required to fire an event');
    if (this.tag !== undefined && this.service === undefined) throw new UsageError('--tag needs --service');
    const query = new URLSearchParams();
    if (this.node) query.set('node', this.node);
    if (this.service) query.set('service', this.service);
    if (this.tag) query.set('tag', this.tag);
    const body = this.payload === '-' ? await readStdin(this.context.stdin) : Buffer.from(this.payload ?? '', 'utf8');
    const qs = query.size > 0 ? `?${query}` : '';
    const event = (await client.call('PUT', `/v1/event/fire/${encodeURIComponent(this.name)}${qs}`, { body })).json<EventJson>();
    if (this.json) this.printJson(event);
    else this.say(`Event ID: ${event.ID}`);
    return EXIT.ok;
  }

  private async listEvents(client: AgentClient): Promise<number> {
    const qs = this.name ? `?name=${encodeURIComponent(this.name)}` : '';
    const events = (await client.call('GET', `/v1/event/list${qs}`)).json<EventJson[]>();
    if (this.json) this.printJson(events);
    else if (events.length > 0) {
      this.out(table(['ID', 'NAME', 'PAYLOAD', 'LTIME'], events.map((e) => [
        e.ID, e.Name, e.Payload === null ? '' : Buffer.from(e.Payload, 'base64').toString('utf8'), String(e.LTime),
      ])));
    }
    return EXIT.ok;
  }
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}
