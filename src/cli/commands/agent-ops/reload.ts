// `konsul reload`: the agent at --http-addr re-reads its config files and
// environment (PUT /v1/agent/reload; what SIGHUP does), as `consul reload`.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';

export class ReloadCommand extends QuietHttpCommand {
  static override paths = [['reload']];
  static override usage = Command.Usage({
    category: 'Agent',
    description: 'Make the agent re-read its config files and environment (as SIGHUP does)',
    details: `
      log_level and enable_script_checks change at once; services and checks from the files are
      added, updated or removed; other changed settings are listed as needing a restart. A config
      that does not load is refused (exit 1) and the running one kept.
    `,
    examples: [['Reload the local agent', '$0 reload'], ['Another agent', '$0 reload --http-addr 10.0.0.5:8500']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const report = (await client.call('PUT', '/v1/agent/reload')).json<{ Applied?: string[]; RestartNeeded?: string[] }>();
    if (this.json) {
      this.printJson({ applied: report.Applied ?? [], restartNeeded: report.RestartNeeded ?? [] });
      return EXIT.ok;
    }
    const lines = ['Configuration reload triggered'];
    if ((report.Applied ?? []).length > 0) lines.push(`applied: ${(report.Applied ?? []).join(', ')}`);
    if ((report.RestartNeeded ?? []).length > 0) lines.push(`need a restart: ${(report.RestartNeeded ?? []).join(', ')}`);
    this.say(lines.join('\n'));
    return EXIT.ok;
  }
}
