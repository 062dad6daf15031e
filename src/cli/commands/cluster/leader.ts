// `konsul cluster leader`: who leads now, as this agent knows it; exit 1 when
// no leader is known.

import { Command } from 'clipanion';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import type { LeaderInfo } from './common.js';

export class ClusterLeaderCommand extends HttpCommand {
  static override paths = [['cluster', 'leader']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'The current leader; exits 1 when there is none',
    details: 'Prints the leader\'s id, then its raft and HTTP addresses.',
    examples: [['Who leads', '$0 cluster leader'], ['As JSON', '$0 cluster leader --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const answer = await client.call('GET', '/cluster/leader', { allow: [503] });
    if (answer.status === 503) throw new CliError('no leader: the cluster is electing one or has lost its quorum');
    const leader = answer.json<LeaderInfo>();
    if (this.json) this.printJson(leader);
    else this.out(`${leader.id}  raft ${leader.raftAddress}  http ${leader.httpAddress || '-'}`);
    return EXIT.ok;
  }
}
