// `konsul cluster status`: the agent's view of the cluster (its role, the
// leader, its indexes, and every member).

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { membersTable, type ClusterStatus } from './common.js';

export class ClusterStatusCommand extends HttpCommand {
  static override paths = [['cluster', 'status']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'This agent\'s view: its role, the leader, indexes and members',
    details: 'Member health, match index and last contact are known only on the leader; ask the leader for them.',
    examples: [
      ['Status of the local agent', '$0 cluster status'],
      ['Of another agent, as JSON', '$0 cluster status --http-addr 10.0.0.2:8500 --json'],
    ],
  });

  protected async run(client: AgentClient): Promise<number> {
    const st = (await client.call('GET', '/cluster/status')).json<ClusterStatus>();
    if (this.json) {
      this.printJson(st);
      return EXIT.ok;
    }
    const leader = st.leader ? `${st.leader.id} (raft ${st.leader.raftAddress}${st.leader.httpAddress ? `, http ${st.leader.httpAddress}` : ''})` : '(none)';
    this.out([
      `Node:     ${st.nodeId} (${st.role}, term ${st.term})`,
      `Leader:   ${leader}`,
      `Quorum:   ${st.quorum ? 'yes' : 'no'}`,
      `Indexes:  commit ${st.commitIndex}, applied ${st.appliedIndex}, last log ${st.lastLogIndex}, snapshot ${st.snapshotIndex}`,
      '',
      membersTable(st.members),
    ].join('\n'));
    return EXIT.ok;
  }
}
