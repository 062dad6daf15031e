// `konsul operator autopilot state` (ops): the servers' health as the leader
// sees it, from GET /v1/operator/autopilot/state (Consul's shape).

import { Command } from 'clipanion';
import type { AgentClient } from '../client.js';
import { HttpCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';

interface AutopilotState {
  Healthy: boolean;
  FailureTolerance: number;
  Leader: string;
  Voters: string[];
  Servers: Record<string, { ID: string; Address: string; Status: string; Healthy: boolean; LastContact: string; LastIndex: number; ProtocolVersion: number | null }>;
}

export class AutopilotStateCommand extends HttpCommand {
  static override paths = [['operator', 'autopilot', 'state']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'The servers\' health as the leader sees it: healthy, failure tolerance, each server\'s last contact',
    details: `
      Asks GET /v1/operator/autopilot/state (any agent; a follower asks the leader). The first line says
      whether every server is healthy and how many more voters the cluster can lose and still have a
      quorum; then one line per server: its status (leader, voter, non-voter), whether it is healthy
      (answering the leader within two election timeouts), when the leader last heard from it, the last
      log index it holds, and the protocol version it speaks. With --json it prints the answer as it is.
    `,
    examples: [['The servers\' health', '$0 operator autopilot state'], ['As JSON', '$0 operator autopilot state --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const st = (await client.call('GET', '/v1/operator/autopilot/state')).json<AutopilotState>();
    if (this.json) {
      this.printJson(st);
      return EXIT.ok;
    }
    this.out(`healthy: ${st.Healthy ? 'yes' : 'no'}, failure tolerance: ${st.FailureTolerance}, leader: ${st.Leader || '(none)'}`);
    const servers = Object.values(st.Servers).sort((a, b) => a.ID.localeCompare(b.ID));
    if (servers.length > 0) {
      this.out(table(
        ['SERVER', 'ADDRESS', 'STATUS', 'HEALTHY', 'LAST CONTACT', 'LAST INDEX', 'PROTOCOL'],
        servers.map((s) => [s.ID, s.Address, s.Status, s.Healthy ? 'yes' : 'no', s.LastContact, String(s.LastIndex), s.ProtocolVersion === null ? '-' : String(s.ProtocolVersion)]),
      ));
    }
    return EXIT.ok;
  }
}
