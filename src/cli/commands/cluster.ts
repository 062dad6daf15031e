// `konsul cluster ...`: the cluster's state and membership through the local
// agent (status, leader, peers, stats, health, join, leave, transfer-leader, snapshot).

import { Command, Option } from 'clipanion';
import type { ClusterStatus, MemberStatus } from '../../agent/api.js';
import { AgentCommand, table } from '../base.js';
import { CliError } from '../client.js';
import { EXIT } from '../exit-codes.js';

function memberRows(members: MemberStatus[]): string[][] {
  return members.map((m) => [
    m.id, m.raftAddress, m.httpAddress || '-', m.leader ? 'leader' : m.voter ? 'voter' : 'non-voter',
    m.healthy === undefined ? '-' : m.healthy ? 'healthy' : 'unreachable',
    m.matchIndex === undefined ? '-' : String(m.matchIndex),
  ]);
}

const MEMBER_HEADER = ['NODE', 'RAFT ADDRESS', 'HTTP ADDRESS', 'ROLE', 'HEALTH', 'MATCH'];

export class ClusterStatusCommand extends AgentCommand {
  static override paths = [['cluster', 'status']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'This agent\'s view of the cluster: its role, the leader, indexes and members',
    details: 'Member health and replication progress are known only on the leader; run it against the leader for them.',
    examples: [['Status of the local agent', '$0 cluster status'], ['Of another agent, as JSON', '$0 cluster status --http-addr 10.0.0.2:8500 --json']],
  });

  async execute(): Promise<number> {
    const st = (await this.client().ok('GET', '/cluster/status')).json<ClusterStatus>();
    if (this.json) {
      this.printJson(st);
      return EXIT.ok;
    }
    this.out([
      `node:    ${st.nodeId} (${st.role}, term ${st.term})`,
      `leader:  ${st.leader ? `${st.leader.id} at ${st.leader.raftAddress}` : '(none)'}`,
      `quorum:  ${st.quorum ? 'yes' : 'no'}`,
      `indexes: commit ${st.commitIndex}, applied ${st.appliedIndex}, last log ${st.lastLogIndex}, snapshot ${st.snapshotIndex}`,
      '',
      table(MEMBER_HEADER, memberRows(st.members)),
    ].join('\n'));
    return EXIT.ok;
  }
}

export class ClusterLeaderCommand extends AgentCommand {
  static override paths = [['cluster', 'leader']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'The current leader; exits 1 when there is none',
    examples: [['Who leads', '$0 cluster leader']],
  });

  async execute(): Promise<number> {
    const a = await this.client().ok('GET', '/cluster/leader', undefined, [503]);
    if (a.status === 503) throw new CliError('no leader: the cluster has no quorum or is electing one');
    const l = a.json<{ id: string; raftAddress: string; httpAddress: string }>();
    if (this.json) this.printJson(l);
    else this.out(`${l.id} ${l.raftAddress}${l.httpAddress ? ` (http ${l.httpAddress})` : ''}`);
    return EXIT.ok;
  }
}

export class ClusterPeersCommand extends AgentCommand {
  static override paths = [['cluster', 'peers']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'Every member of the Raft configuration, voters and non-voters',
    examples: [['List members', '$0 cluster peers']],
  });

  async execute(): Promise<number> {
    const members = (await this.client().ok('GET', '/cluster/peers')).json<MemberStatus[]>();
    if (this.json) this.printJson(members);
    else this.out(table(MEMBER_HEADER, memberRows(members)));
    return EXIT.ok;
  }
}

function flatten(value: unknown, prefix: string, out: string[]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else {
    out.push(`${prefix}: ${String(value)}`);
  }
}

export class ClusterStatsCommand extends AgentCommand {
  static override paths = [['cluster', 'stats']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'Raft, transport and storage counters of this agent',
    examples: [['Counters', '$0 cluster stats'], ['As JSON', '$0 cluster stats --json']],
  });

  async execute(): Promise<number> {
    const stats = (await this.client().ok('GET', '/cluster/stats')).json<unknown>();
    if (this.json) this.printJson(stats);
    else {
      const lines: string[] = [];
      flatten(stats, '', lines);
      this.out(lines.join('\n'));
    }
    return EXIT.ok;
  }
}

export class ClusterHealthCommand extends AgentCommand {
  static override paths = [['cluster', 'health']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'Exit 0 when a leader is known, a quorum answers, and every member is healthy; else print the problems and exit 1',
    examples: [['In a script', '$0 cluster health && echo ok']],
  });

  async execute(): Promise<number> {
    const st = (await this.client().ok('GET', '/cluster/status')).json<ClusterStatus>();
    const problems: string[] = [];
    if (!st.leader) problems.push('no leader');
    if (!st.quorum) problems.push('no quorum of voters answering');
    for (const m of st.members) if (m.healthy === false) problems.push(`member ${m.id} (${m.raftAddress}) is unreachable`);
    const healthy = problems.length === 0;
    if (this.json) this.printJson({ healthy, problems, leader: st.leader?.id ?? null });
    else this.out(healthy ? 'healthy' : problems.map((p) => `unhealthy: ${p}`).join('\n'));
    return healthy ? EXIT.ok : EXIT.failed;
  }
}

export class ClusterJoinCommand extends AgentCommand {
  static override paths = [['cluster', 'join']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'Add the agent at a raft address to the cluster (as a non-voter; servers are promoted once caught up)',
    examples: [['Add a server', '$0 cluster join --address node2:7000'], ['Add a non-voter', '$0 cluster join --address node4:7000 --non-voter']],
  });

  address = Option.String('--address', { required: true, description: 'The raft address (host:port) of the agent to add' });
  id = Option.String('--id', { description: 'Its node id (default: asked of the agent at --address)' });
  nonVoter = Option.Boolean('--non-voter', false, { description: 'Keep it a non-voter even if it runs as a server' });

  async execute(): Promise<number> {
    const body = JSON.stringify({ raftAddress: this.address, ...(this.id ? { id: this.id } : {}), server: !this.nonVoter });
    const st = (await this.client().ok('POST', '/cluster/join', body)).json<ClusterStatus>();
    if (this.json) this.printJson(st);
    else this.out(`Joined ${this.address}: the cluster has ${st.members.length} members`);
    return EXIT.ok;
  }
}

export class ClusterLeaveCommand extends AgentCommand {
  static override paths = [['cluster', 'leave']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'Remove a member from the cluster (this agent when --node is left out; it then exits)',
    examples: [['This agent leaves', '$0 cluster leave'], ['Remove a dead member', '$0 cluster leave --node node-3']],
  });

  node = Option.String('--node', { description: 'The node id to remove' });

  async execute(): Promise<number> {
    const client = this.client();
    const id = this.node ?? (await client.ok('GET', '/cluster/status')).json<ClusterStatus>().nodeId;
    await client.ok('DELETE', `/cluster/leave/${encodeURIComponent(id)}`);
    if (this.json) this.printJson({ removed: id });
    else this.out(`Removed ${id} from the cluster`);
    return EXIT.ok;
  }
}

export class ClusterTransferLeaderCommand extends AgentCommand {
  static override paths = [['cluster', 'transfer-leader']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'Hand leadership to a voter (the most caught-up one when --node is left out)',
    examples: [['Move leadership away', '$0 cluster transfer-leader'], ['To a given node', '$0 cluster transfer-leader --node s2']],
  });

  node = Option.String('--node', { description: 'The voter to lead' });

  async execute(): Promise<number> {
    const q = this.node ? `?id=${encodeURIComponent(this.node)}` : '';
    const r = (await this.client().ok('POST', `/cluster/transfer-leader${q}`)).json<{ leader: string }>();
    if (this.json) this.printJson(r);
    else this.out(`Leader is now ${r.leader}`);
    return EXIT.ok;
  }
}

export class ClusterSnapshotCommand extends AgentCommand {
  static override paths = [['cluster', 'snapshot']];
  static override usage = Command.Usage({
    category: 'Cluster', description: 'Snapshot this agent\'s state and compact its log up to the applied index',
    examples: [['Compact now', '$0 cluster snapshot']],
  });

  async execute(): Promise<number> {
    const r = (await this.client().ok('POST', '/cluster/snapshot')).json<{ index: number; term: number }>();
    if (this.json) this.printJson(r);
    else this.out(`Snapshot at index ${r.index} (term ${r.term}); log compacted`);
    return EXIT.ok;
  }
}
