// Every konsul command class, in the order `konsul --help` lists them by category.

import { AgentRunCommand } from './agent.js';
import { InfoCommand } from './agent-ops/info.js';
import { LeaveCommand } from './agent-ops/leave.js';
import { MonitorCommand } from './agent-ops/monitor.js';
import { ReloadCommand } from './agent-ops/reload.js';
import { BenchDnsCommand, BenchFailoverCommand, BenchReadCommand, BenchSelfTestCommand, BenchWriteCommand } from './bench/commands.js';
import { CatalogNodesCommand } from './catalog/nodes.js';
import { CheckTtlCommand } from './check/ttl.js';
import { CatalogServiceCommand } from './catalog/service.js';
import { CatalogServicesCommand } from './catalog/services.js';
import { CompletionCommand } from './completion/completion.js';
import { CompleteValuesCommand } from './completion/values.js';
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
import { KvExportCommand } from './kv/export.js';
import { KvImportCommand } from './kv/import.js';
import { KvGetCommand } from './kv/get.js';
import { KvPutCommand } from './kv/put.js';
import { DemoCommand } from './demo.js';
import { EventCommand } from './event.js';
import { MaintCommand } from './maint.js';
import { MembersCommand } from './members.js';
// ---- ops
import { AutopilotGetConfigCommand, AutopilotSetConfigCommand, AutopilotStateCommand } from './autopilot.js';
import { SnapshotInspectCommand } from './snapshot/inspect.js';
import { SnapshotRestoreCommand } from './snapshot/restore.js';
import { SnapshotSaveCommand } from './snapshot/save.js';
import { ServicesDeregisterCommand } from './services/deregister.js';
import { ServicesListCommand } from './services/list.js';
import { ServicesRegisterCommand } from './services/register.js';
import { TopCommand } from './top.js';
import { VersionCommand } from './version.js';
import { TlsCaCreateCommand } from './tls/ca-create.js';
import { TlsCertCreateCommand } from './tls/cert-create.js';
import { AclBootstrapCommand } from './acl/bootstrap.js';
import { AclPolicyCreateCommand, AclPolicyDeleteCommand, AclPolicyListCommand, AclPolicyReadCommand, AclPolicyUpdateCommand } from './acl/policy.js';
import { AclTokenCreateCommand, AclTokenDeleteCommand, AclTokenListCommand, AclTokenReadCommand, AclTokenUpdateCommand } from './acl/token.js';
import { WatchCommand } from './watch.js';
// ---- coord
import { LockCommand } from './lock.js';
import { SessionCreateCommand } from './session/create.js';
import { SessionDestroyCommand } from './session/destroy.js';
import { SessionInfoCommand } from './session/info.js';
import { SessionListCommand } from './session/list.js';
import { TxnCommand } from './txn.js';

export const COMMANDS = [
  AgentRunCommand,
  DemoCommand,
  InfoCommand,
  MonitorCommand,
  ReloadCommand,
  LeaveCommand,
  KvGetCommand,
  KvPutCommand,
  KvDeleteCommand,
  KvExportCommand,
  KvImportCommand,
  WatchCommand,
  TxnCommand,
  SessionListCommand,
  SessionInfoCommand,
  SessionCreateCommand,
  SessionDestroyCommand,
  LockCommand,
  ServicesRegisterCommand,
  ServicesDeregisterCommand,
  ServicesListCommand,
  MaintCommand,
  EventCommand,
  CheckTtlCommand,
  CatalogServicesCommand,
  CatalogServiceCommand,
  CatalogNodesCommand,
  MembersCommand,
  AutopilotStateCommand,
  AutopilotGetConfigCommand,
  AutopilotSetConfigCommand,
  TopCommand,
  ClusterStatusCommand,
  ClusterLeaderCommand,
  ClusterPeersCommand,
  ClusterStatsCommand,
  ClusterHealthCommand,
  ClusterJoinCommand,
  ClusterLeaveCommand,
  ClusterTransferLeaderCommand,
  ClusterSnapshotCommand,
  SnapshotSaveCommand,
  SnapshotRestoreCommand,
  SnapshotInspectCommand,
  // sec
  AclBootstrapCommand,
  AclPolicyCreateCommand, AclPolicyListCommand, AclPolicyReadCommand, AclPolicyUpdateCommand, AclPolicyDeleteCommand,
  AclTokenCreateCommand, AclTokenListCommand, AclTokenReadCommand, AclTokenUpdateCommand, AclTokenDeleteCommand,
  TlsCaCreateCommand, TlsCertCreateCommand,
  BenchWriteCommand, BenchReadCommand, BenchDnsCommand, BenchFailoverCommand, BenchSelfTestCommand,
  VersionCommand,
  CompletionCommand,
  CompleteValuesCommand,
] as const;
