// `konsul cluster leader`: who leads now, as this agent knows it; exit 1 when
// no leader is known.

import { Command, Option, UsageError } from '../../clipanion.js';
import { parseDuration } from '../../../duration.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { AgentUnreachableError, CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import type { LeaderInfo } from './common.js';

export class ClusterLeaderCommand extends HttpCommand {
  static override paths = [['cluster', 'leader']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'The current leader; exits 1 when there is none',
    details: `
      Prints the leader's id, then its raft and HTTP addresses. With --wait it waits (up to that long)
      until an agent answers and knows a leader and the leader's HTTP address: the line to put after
      starting an agent in the background, before commands that need it.
    `,
    examples: [
      ['Who leads', '$0 cluster leader'],
      ['After starting an agent in the background: until it is up and has a leader', '$0 cluster leader --wait 30s'],
      ['As JSON', '$0 cluster leader --json'],
    ],
  });

  wait = Option.String('--wait', { description: 'Wait up to this long (30s, 2m) for the agent to answer with a leader' });

  protected async run(client: AgentClient): Promise<number> {
    const waitMs = this.wait === undefined ? 0 : parseDuration(this.wait);
    if (waitMs === undefined || waitMs < 0) throw new UsageError(`--wait: "${this.wait}" is not a duration (30s, 2m)`);
    const deadline = Date.now() + waitMs;
    let answer;
    for (;;) {
      try {
        answer = await client.call('GET', '/cluster/leader', { allow: [503] });
        // With --wait, also until the leader's HTTP address is known (its member record lands just after the election).
        const settled = answer.status !== 503 && (waitMs === 0 || answer.json<LeaderInfo>().httpAddress !== '');
        if (settled || Date.now() >= deadline) break;
      } catch (error) {
        if (!(error instanceof AgentUnreachableError) || Date.now() >= deadline) throw error;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (answer.status === 503) throw new CliError('no leader: the cluster is electing one or has lost its quorum');
    const leader = answer.json<LeaderInfo>();
    if (this.json) this.printJson(leader);
    else this.out(`${leader.id}  raft ${leader.raftAddress}  http ${leader.httpAddress || '-'}`);
    return EXIT.ok;
  }
}
