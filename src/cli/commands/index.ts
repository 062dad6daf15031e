// Every konsul command class, in the order `konsul --help` lists them by category.

import { AgentRunCommand } from './agent.js';
import { ClusterHealthCommand } from './cluster/health.js';
import { ClusterJoinCommand } from './cluster/join.js';
import { ClusterLeaderCommand } from './cluster/leader.js';
import { ClusterLeaveCommand } from './cluster/leave.js';
import { ClusterPeersCommand } from './cluster/peers.js';
import { ClusterSnapshotCommand } from './cluster/snapshot.js';
import { ClusterStatsCommand } from './cluster/stats.js';
import { ClusterStatusCommand } from './cluster/status.js';
import { ClusterTransferLeaderCommand } from './cluster/transfer-leader.js';
import { KvDeleteCommand } from './kv/delete.js';
import { KvGetCommand } from './kv/get.js';
import { KvPutCommand } from './kv/put.js';
import { VersionCommand } from './version.js';

export const COMMANDS = [
  AgentRunCommand,
  KvGetCommand,
  KvPutCommand,
  KvDeleteCommand,
  ClusterStatusCommand,
  ClusterLeaderCommand,
  ClusterPeersCommand,
  ClusterStatsCommand,
  ClusterHealthCommand,
  ClusterJoinCommand,
  ClusterLeaveCommand,
  ClusterTransferLeaderCommand,
  ClusterSnapshotCommand,
  VersionCommand,
] as const;
