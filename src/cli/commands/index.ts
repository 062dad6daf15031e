// Every konsul command class, in the order `konsul --help` lists them by category.

import { AgentRunCommand } from './agent.js';
import { BenchDnsCommand, BenchFailoverCommand, BenchReadCommand, BenchSelfTestCommand, BenchWriteCommand } from './bench/commands.js';
import { CatalogNodesCommand } from './catalog/nodes.js';
import { CatalogServiceCommand } from './catalog/service.js';
import { CatalogServicesCommand } from './catalog/services.js';
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
import { MembersCommand } from './members.js';
import { ServicesDeregisterCommand } from './services/deregister.js';
import { ServicesListCommand } from './services/list.js';
import { ServicesRegisterCommand } from './services/register.js';
import { VersionCommand } from './version.js';

export const COMMANDS = [
  AgentRunCommand,
  KvGetCommand,
  KvPutCommand,
  KvDeleteCommand,
  ServicesRegisterCommand,
  ServicesDeregisterCommand,
  ServicesListCommand,
  CatalogServicesCommand,
  CatalogServiceCommand,
  CatalogNodesCommand,
  MembersCommand,
  ClusterStatusCommand,
  ClusterLeaderCommand,
  ClusterPeersCommand,
  ClusterStatsCommand,
  ClusterHealthCommand,
  ClusterJoinCommand,
  ClusterLeaveCommand,
  ClusterTransferLeaderCommand,
  ClusterSnapshotCommand,
  BenchWriteCommand, BenchReadCommand, BenchDnsCommand, BenchFailoverCommand, BenchSelfTestCommand,
  VersionCommand,
] as const;
