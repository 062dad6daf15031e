// `konsul check pass|warn|fail CHECK_ID [--note TEXT]`: report a TTL check's
// status to this agent (Consul's PUT /v1/agent/check/pass|warn|fail/:id), so a
// shell script or a cron job can keep a TTL check alive.

import { Command, Option } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';

const STATUS: Record<string, string> = { pass: 'passing', warn: 'warning', fail: 'critical' };

export class CheckTtlCommand extends QuietHttpCommand {
  static override paths = [['check', 'pass'], ['check', 'warn'], ['check', 'fail']];
  static override usage = Command.Usage({
    category: 'Services',
    description: 'Report a TTL check as passing (check pass), warning (check warn) or critical (check fail)',
    details: `
      A TTL check turns critical unless it hears within its TTL; each of these resets the TTL and sets
      the check's status, with --note as its output. It takes the check's ID: \`service:<service-id>\` for
      the check of a service registered with --check-ttl (\`konsul services list\` shows the IDs).
      An ID this agent does not have, or a check that is not a TTL check, exits with status 1.
    `,
    examples: [
      ['Keep the check of service web passing', '$0 check pass service:web'],
      ['With a note', '$0 check pass service:web --note "queue depth 3"'],
      ['From a cron job', '*/10 * * * * backup-ok && $0 check pass backup || $0 check fail backup --note "backup failed"'],
    ],
  });

  note = Option.String('--note', { description: 'Text to store as the check\'s output' });
  id = Option.String({ name: 'check-id' });

  protected async run(client: AgentClient): Promise<number> {
    const verb = this.path[1] ?? 'pass';
    const query = this.note !== undefined ? `?note=${encodeURIComponent(this.note)}` : '';
    const answer = await client.call('PUT', `/v1/agent/check/${verb}/${encodeURIComponent(this.id)}${query}`, { allow: [404, 400, 500] });
    if (answer.status !== 200) {
      const why = answer.text().trim().split('\n')[0] || `HTTP ${answer.status}`;
      throw new CliError(`check "${this.id}" not updated: ${why} (see \`konsul services list\` for the check IDs)`);
    }
    if (this.json) this.printJson({ checkId: this.id, status: STATUS[verb] });
    else this.say(`Check ${this.id} is ${STATUS[verb]}`);
    return EXIT.ok;
  }
}
