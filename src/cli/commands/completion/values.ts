// `konsul __complete <kind> [prefix]` (hidden): the values the shell completions
// offer, asked of the local agent with a short time limit. It prints nothing and
// exits 0 when no agent answers, so a shell never shows an error mid-line.

import { Option } from '../../clipanion.js';
import { AgentClient, agentOrigin, clientSecurity, keyPath } from '../../client.js';
import { KonsulCommand } from '../../command.js';
import { DYNAMIC_KINDS, type DynamicKind } from '../../docs/model.js';
import { EXIT } from '../../exit-codes.js';

/** How long a completion may wait for the agent; a shell user notices more than this. */
export const COMPLETE_TIMEOUT_MS = 300;

async function candidates(client: AgentClient, kind: DynamicKind, prefix: string): Promise<string[]> {
  switch (kind) {
    case 'keys': {
      // One level under the prefix's directory, as Consul's ?keys&separator=/ rolls it up.
      const dir = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const answer = await client.call('GET', `/v1/kv/${keyPath(dir)}?keys&separator=/`, { allow: [404] });
      return answer.status === 404 ? [] : answer.json<string[]>();
    }
    case 'services':
      return Object.keys((await client.call('GET', '/v1/catalog/services')).json<Record<string, unknown>>());
    case 'service-ids':
      return Object.keys((await client.call('GET', '/v1/agent/services')).json<Record<string, unknown>>());
    case 'nodes':
      return (await client.call('GET', '/v1/catalog/nodes')).json<Array<{ Node: string }>>().map((n) => n.Node);
  }
}

export class CompleteValuesCommand extends KonsulCommand {
  static override paths = [['__complete']];
  // No usage: hidden from --help, the man pages and the completions themselves.

  httpAddr = Option.String('--http-addr');
  kind = Option.String({ name: 'kind' });
  prefix = Option.String({ name: 'prefix', required: false });

  async execute(): Promise<number> {
    if (!(DYNAMIC_KINDS as readonly string[]).includes(this.kind)) return EXIT.usage;
    const prefix = this.prefix ?? '';
    let client: AgentClient | undefined;
    try {
      // sec: completion asks with the user's KONSUL_HTTP_TOKEN / KONSUL_CACERT, as other commands do.
      const security = clientSecurity({}, this.context.env);
      client = new AgentClient(agentOrigin(this.httpAddr, this.context.env), { timeoutMs: this.context.httpTimeoutMs ?? COMPLETE_TIMEOUT_MS, ...security });
      const found = await candidates(client, this.kind as DynamicKind, prefix);
      const matching = [...new Set(found)].filter((v) => v.startsWith(prefix)).sort();
      if (matching.length > 0) this.out(matching.join('\n'));
    } catch {
      // No agent, a slow one, or a bad address: complete nothing rather than print into the user's line.
    } finally {
      await client?.close().catch(() => undefined);
    }
    return EXIT.ok;
  }
}
