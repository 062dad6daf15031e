// `konsul cluster health`: exit 0 and "healthy" when a leader is known, a
// quorum answers and no member is unreachable; otherwise the problems, exit 1.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import type { ClusterStatus } from './common.js';

/** What is wrong with the cluster as `status` shows it; empty when healthy. */
export function healthProblems(status: ClusterStatus): string[] {
  const problems: string[] = [];
  if (!status.leader) problems.push('no leader is known');
  if (!status.quorum) problems.push('no quorum of voters is answering');
  for (const m of status.members) {
    if (m.healthy === false) problems.push(`member ${m.id} (${m.raftAddress}) is unreachable`);
  }
  return problems;
}

export class ClusterHealthCommand extends QuietHttpCommand {
  static override paths = [['cluster', 'health']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'Exit 0 when the cluster is healthy; else print the problems and exit 1',
    details: `
      Healthy: a leader is known, a quorum of voters answers it, and no member is unreachable. Member
      health is known only on the leader, so ask the leader for the full answer.
    `,
    examples: [['In a script', '$0 cluster health && echo ok'], ['As JSON', '$0 cluster health --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const status = (await client.call('GET', '/cluster/status')).json<ClusterStatus>();
    const problems = healthProblems(status);
    const healthy = problems.length === 0;
    if (this.json) this.printJson({ healthy, leader: status.leader?.id ?? null, problems });
    else this.say(healthy ? 'healthy' : problems.map((p) => `unhealthy: ${p}`).join('\n'));
    return healthy ? EXIT.ok : EXIT.failed;
  }
}
