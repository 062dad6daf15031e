// `konsul acl bootstrap`: create the first management token (PUT /v1/acl/bootstrap), once per cluster.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { printToken, type TokenJson } from './common.js';

export class AclBootstrapCommand extends HttpCommand {
  static override paths = [['acl', 'bootstrap']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Create the cluster\'s first management token (works once)',
    details: `
      On an agent started with --acl-enabled, creates a token with the global-management policy and
      prints its SecretID: keep it safe, pass it as --token or KONSUL_HTTP_TOKEN. A second bootstrap is
      refused (403), as in Consul.
    `,
    examples: [['Bootstrap', '$0 acl bootstrap'], ['For a script', 'export KONSUL_HTTP_TOKEN=$($0 acl bootstrap --json | jq -r .SecretID)']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const token = (await client.call('PUT', '/v1/acl/bootstrap')).json<TokenJson>();
    printToken(this, token, this.json);
    return EXIT.ok;
  }
}
