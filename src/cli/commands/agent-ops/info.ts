// `konsul info`: the agent's facts, as `consul info` prints them: sections of
// `key = value` lines (agent, raft, runtime), or --json.

import { Command } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';

interface Self { Config: Record<string, unknown> }
interface Stats {
  nodeId: string; role: string; term: number; commitIndex: number; appliedIndex: number; lastLogIndex: number;
  snapshotIndex: number; leaderChanges: number; uptimeSeconds: number;
  proposals?: { committed: number; failed: number; forwarded: number };
}
interface Status { leader: { id: string } | null; members: Array<{ voter: boolean }>; quorum: boolean }

export class InfoCommand extends HttpCommand {
  static override paths = [['info']];
  static override usage = Command.Usage({
    category: 'Agent',
    description: 'The agent\'s facts: node, role, addresses, Raft state and runtime',
    details: 'One section per subsystem, `key = value` lines as `consul info` prints them; --json for scripts.',
    examples: [['The local agent', '$0 info'], ['One value', '$0 info | grep commit_index']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const [self, stats, status] = await Promise.all([
      client.call('GET', '/v1/agent/self').then((a) => a.json<Self>()),
      client.call('GET', '/cluster/stats').then((a) => a.json<Stats>()),
      client.call('GET', '/cluster/status').then((a) => a.json<Status>()),
    ]);
    const c = self.Config;
    const sections: Record<string, Record<string, string | number | boolean>> = {
      agent: {
        node: String(c.NodeName ?? stats.nodeId), node_id: String(c.NodeID ?? ''), datacenter: String(c.Datacenter ?? ''),
        server: c.Server === true, version: String(c.Version ?? ''),
        http_addr: String(c.HTTPAddr ?? ''), dns_addr: String(c.DNSAddr ?? ''), raft_addr: String(c.RaftAddr ?? ''),
      },
      raft: {
        state: stats.role, term: stats.term, leader: status.leader?.id ?? '', quorum: status.quorum,
        num_peers: status.members.filter((m) => m.voter).length - 1,
        commit_index: stats.commitIndex, applied_index: stats.appliedIndex, last_log_index: stats.lastLogIndex,
        last_snapshot_index: stats.snapshotIndex, leader_changes: stats.leaderChanges,
        ...(stats.proposals ? { proposals_committed: stats.proposals.committed, proposals_failed: stats.proposals.failed, proposals_forwarded: stats.proposals.forwarded } : {}),
      },
      runtime: { uptime_seconds: stats.uptimeSeconds },
    };
    if (this.json) {
      this.printJson(Object.fromEntries(Object.entries(sections).map(([name, kv]) => [name, Object.fromEntries(Object.entries(kv).map(([k, v]) => [k.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase()), v]))])));
      return EXIT.ok;
    }
    const lines: string[] = [];
    for (const [name, kv] of Object.entries(sections)) {
      lines.push(`${name}:`);
      for (const [k, v] of Object.entries(kv)) lines.push(`\t${k} = ${String(v)}`);
    }
    this.out(lines.join('\n'));
    return EXIT.ok;
  }
}
