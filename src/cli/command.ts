// What every konsul command shares: its context (streams, env, test seams), and
// for commands that talk to an agent, --http-addr, --json and the client.

import { Option } from './clipanion.js';
import { KonsulCommand } from './base-command.js';
import { AgentClient, agentOrigin, clientSecurity } from './client.js';

export { KonsulCommand, type CliContext } from './base-command.js';

/** A command that talks to one agent's HTTP API. Subclasses implement run(); the client is closed afterwards. */
export abstract class HttpCommand extends KonsulCommand {
  httpAddr = Option.String('--http-addr', {
    description: 'The agent\'s HTTP address, host:port or URL (default: KONSUL_HTTP_ADDR, else 127.0.0.1:8500)',
  });

  json = Option.Boolean('--json', false, { description: 'Print JSON, for scripts' });

  // sec: ACL token and HTTPS.
  token = Option.String('--token', { description: 'ACL token sent with every request (default: KONSUL_HTTP_TOKEN)' });
  caFile = Option.String('--ca-file', { description: 'PEM CA that signed the agent\'s HTTPS certificate (default: KONSUL_CACERT)' });
  clientCert = Option.String('--client-cert', { description: 'PEM client certificate for an agent that verifies clients (default: KONSUL_CLIENT_CERT)' });
  clientKey = Option.String('--client-key', { description: 'PEM key of --client-cert (default: KONSUL_CLIENT_KEY)' });

  protected abstract run(client: AgentClient): Promise<number>;

  /** The client for --http-addr with the token and TLS settings. */
  protected agentClient(timeoutMs = this.context.httpTimeoutMs): AgentClient {
    const security = clientSecurity({ token: this.token, caFile: this.caFile, clientCert: this.clientCert, clientKey: this.clientKey }, this.context.env);
    return new AgentClient(agentOrigin(this.httpAddr, this.context.env), { timeoutMs, ...security });
  }

  async execute(): Promise<number> {
    const client = this.agentClient();
    try {
      return await this.run(client);
    } finally {
      await client.close();
    }
  }
}

/** A command that changes something (or checks it): --quiet leaves only the exit code and errors. */
export abstract class QuietHttpCommand extends HttpCommand {
  quiet = Option.Boolean('--quiet,-q', false, { description: 'Print nothing when it works (errors still go to stderr), for scripts' });

  /** The human confirmation, unless --quiet. */
  protected say(text: string): void {
    if (!this.quiet) this.out(text);
  }
}
