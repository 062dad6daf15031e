// `konsul members`: every agent this agent knows of, servers and clients, with
// whether it is alive and whether it votes in Raft.

import { Command, Option } from '../clipanion.js';
import type { AgentClient } from '../client.js';
import { HttpCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';
import { hostPort } from './services/common.js';

/** One member of GET /v1/agent/members (Consul's AgentMember; konsul adds Tags.voter and Tags.raft_addr). */
export interface AgentMember {
  Name: string;
  Addr: string;
  Port: number;
  /** role: "consul" for a server, "node" for a client. */
  Tags: Record<string, string> | null;
  /** Serf's member status: 0 none, 1 alive, 2 leaving, 3 left, 4 failed. */
  Status: number;
}

/** Serf's member statuses, by number. */
const MEMBER_STATUS: readonly string[] = ['none', 'alive', 'leaving', 'left', 'failed'];

function role(tag: string | undefined): string {
  return tag === 'consul' ? 'server' : tag === 'node' ? 'client' : tag || '-';
}

/** Only konsul's agent says; '-' for an agent that does not (Consul). */
function voter(tag: string | undefined): string {
  return tag === 'true' ? 'yes' : tag === 'false' ? 'no' : '-';
}

export class MembersCommand extends HttpCommand {
  static override paths = [['members']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Every agent of the cluster: address, role, status and Raft vote',
    details: `
      ROLE is server or client; STATUS is alive, failed (not answering) or left; VOTER says whether
      the member votes in Raft (a server still catching up does not yet). \`konsul cluster peers\`
      shows the Raft side in detail.

      A member that left (\`konsul leave\`) or was removed stays listed as left until the leader
      forgets it, after the agents' --reconnect-timeout (72h), as in Consul. --detailed adds every
      tag of each member (role, dc, voter, raft_addr, http_addr, vsn), as Consul's -detailed.

      With --json it prints the agent's answer to GET /v1/agent/members (Consul's shape).
    `,
    examples: [
      ['Every member', '$0 members'], ['Those that failed', '$0 members | grep failed'],
      ['With every tag', '$0 members --detailed'], ['As JSON', '$0 members --json'],
    ],
  });

  detailed = Option.Boolean('--detailed', false, { description: 'Add a TAGS column: every tag of each member, key=value' });

  protected async run(client: AgentClient): Promise<number> {
    const members = (await client.call('GET', '/v1/agent/members')).json<AgentMember[]>();
    if (this.json) this.printJson(members, 'as-is');
    else if (members.length > 0) {
      this.out(table(
        ['NODE', 'ADDRESS', 'ROLE', 'STATUS', 'VOTER', ...(this.detailed ? ['TAGS'] : [])],
        members.map((m) => [
          m.Name,
          hostPort(m.Addr, m.Port),
          role(m.Tags?.role),
          MEMBER_STATUS[m.Status] ?? String(m.Status),
          voter(m.Tags?.voter),
          ...(this.detailed ? [Object.entries(m.Tags ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',') || '-'] : []),
        ]),
      ));
    }
    return EXIT.ok;
  }
}
