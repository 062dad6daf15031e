// Where each command lives, so `konsul kv get` loads kv/get.js and nothing
// else (not the agent, not the storage engine, not the other commands).
// Same commands, same order, as COMMANDS in index.ts (which loads them all,
// for --help, the docs and "did you mean"); test/cli/fast.test.ts checks that
// the two agree, so a command added to one and not the other fails a test.

import type { CommandClass } from 'clipanion';
import type { CliContext } from '../command.js';

export interface CommandEntry {
  /** Every path the command answers to (its static paths), aliases included. */
  paths: string[][];
  load: () => Promise<CommandClass<CliContext>>;
}

export const MANIFEST: CommandEntry[] = [
  { paths: [['agent']], load: async () => (await import('./agent.js')).AgentRunCommand },
  { paths: [['demo']], load: async () => (await import('./demo.js')).DemoCommand },
  { paths: [['info']], load: async () => (await import('./agent-ops/info.js')).InfoCommand },
  { paths: [['monitor']], load: async () => (await import('./agent-ops/monitor.js')).MonitorCommand },
  { paths: [['reload']], load: async () => (await import('./agent-ops/reload.js')).ReloadCommand },
  { paths: [['leave']], load: async () => (await import('./agent-ops/leave.js')).LeaveCommand },
  { paths: [['kv', 'get']], load: async () => (await import('./kv/get.js')).KvGetCommand },
  { paths: [['kv', 'put']], load: async () => (await import('./kv/put.js')).KvPutCommand },
  { paths: [['kv', 'delete']], load: async () => (await import('./kv/delete.js')).KvDeleteCommand },
  { paths: [['kv', 'export']], load: async () => (await import('./kv/export.js')).KvExportCommand },
  { paths: [['kv', 'import']], load: async () => (await import('./kv/import.js')).KvImportCommand },
  { paths: [['watch']], load: async () => (await import('./watch.js')).WatchCommand },
  // ---- coord
  { paths: [['txn']], load: async () => (await import('./txn.js')).TxnCommand },
  { paths: [['session', 'list']], load: async () => (await import('./session/list.js')).SessionListCommand },
  { paths: [['session', 'info']], load: async () => (await import('./session/info.js')).SessionInfoCommand },
  { paths: [['session', 'create']], load: async () => (await import('./session/create.js')).SessionCreateCommand },
  { paths: [['session', 'destroy']], load: async () => (await import('./session/destroy.js')).SessionDestroyCommand },
  { paths: [['lock']], load: async () => (await import('./lock.js')).LockCommand },
  { paths: [['services', 'register']], load: async () => (await import('./services/register.js')).ServicesRegisterCommand },
  { paths: [['services', 'deregister']], load: async () => (await import('./services/deregister.js')).ServicesDeregisterCommand },
  { paths: [['services', 'list']], load: async () => (await import('./services/list.js')).ServicesListCommand },
  { paths: [['maint']], load: async () => (await import('./maint.js')).MaintCommand },
  { paths: [['event']], load: async () => (await import('./event.js')).EventCommand },
  { paths: [['check', 'pass'], ['check', 'warn'], ['check', 'fail']], load: async () => (await import('./check/ttl.js')).CheckTtlCommand },
  { paths: [['catalog', 'services']], load: async () => (await import('./catalog/services.js')).CatalogServicesCommand },
  { paths: [['catalog', 'service']], load: async () => (await import('./catalog/service.js')).CatalogServiceCommand },
  { paths: [['catalog', 'nodes']], load: async () => (await import('./catalog/nodes.js')).CatalogNodesCommand },
  { paths: [['members']], load: async () => (await import('./members.js')).MembersCommand },
  { paths: [['operator', 'autopilot', 'state']], load: async () => (await import('./autopilot.js')).AutopilotStateCommand },
  // ---- ops2
  { paths: [['operator', 'autopilot', 'get-config']], load: async () => (await import('./autopilot.js')).AutopilotGetConfigCommand },
  { paths: [['operator', 'autopilot', 'set-config']], load: async () => (await import('./autopilot.js')).AutopilotSetConfigCommand },
  { paths: [['top']], load: async () => (await import('./top.js')).TopCommand },
  { paths: [['cluster', 'status']], load: async () => (await import('./cluster/status.js')).ClusterStatusCommand },
  { paths: [['cluster', 'leader']], load: async () => (await import('./cluster/leader.js')).ClusterLeaderCommand },
  { paths: [['cluster', 'peers'], ['operator', 'raft', 'list-peers']], load: async () => (await import('./cluster/peers.js')).ClusterPeersCommand },
  { paths: [['cluster', 'stats']], load: async () => (await import('./cluster/stats.js')).ClusterStatsCommand },
  { paths: [['cluster', 'health']], load: async () => (await import('./cluster/health.js')).ClusterHealthCommand },
  { paths: [['cluster', 'join']], load: async () => (await import('./cluster/join.js')).ClusterJoinCommand },
  { paths: [['cluster', 'leave'], ['operator', 'raft', 'remove-peer']], load: async () => (await import('./cluster/leave.js')).ClusterLeaveCommand },
  { paths: [['cluster', 'transfer-leader'], ['operator', 'raft', 'transfer-leader']], load: async () => (await import('./cluster/transfer-leader.js')).ClusterTransferLeaderCommand },
  { paths: [['cluster', 'snapshot']], load: async () => (await import('./cluster/snapshot.js')).ClusterSnapshotCommand },
  { paths: [['snapshot', 'save']], load: async () => (await import('./snapshot/save.js')).SnapshotSaveCommand },
  { paths: [['snapshot', 'restore']], load: async () => (await import('./snapshot/restore.js')).SnapshotRestoreCommand },
  { paths: [['snapshot', 'inspect']], load: async () => (await import('./snapshot/inspect.js')).SnapshotInspectCommand },
  // sec
  { paths: [['acl', 'bootstrap']], load: async () => (await import('./acl/bootstrap.js')).AclBootstrapCommand },
  { paths: [['acl', 'policy', 'create']], load: async () => (await import('./acl/policy.js')).AclPolicyCreateCommand },
  { paths: [['acl', 'policy', 'list']], load: async () => (await import('./acl/policy.js')).AclPolicyListCommand },
  { paths: [['acl', 'policy', 'read']], load: async () => (await import('./acl/policy.js')).AclPolicyReadCommand },
  { paths: [['acl', 'policy', 'update']], load: async () => (await import('./acl/policy.js')).AclPolicyUpdateCommand },
  { paths: [['acl', 'policy', 'delete']], load: async () => (await import('./acl/policy.js')).AclPolicyDeleteCommand },
  { paths: [['acl', 'token', 'create']], load: async () => (await import('./acl/token.js')).AclTokenCreateCommand },
  { paths: [['acl', 'token', 'list']], load: async () => (await import('./acl/token.js')).AclTokenListCommand },
  { paths: [['acl', 'token', 'read']], load: async () => (await import('./acl/token.js')).AclTokenReadCommand },
  { paths: [['acl', 'token', 'update']], load: async () => (await import('./acl/token.js')).AclTokenUpdateCommand },
  { paths: [['acl', 'token', 'delete']], load: async () => (await import('./acl/token.js')).AclTokenDeleteCommand },
  { paths: [['tls', 'ca', 'create']], load: async () => (await import('./tls/ca-create.js')).TlsCaCreateCommand },
  { paths: [['tls', 'cert', 'create']], load: async () => (await import('./tls/cert-create.js')).TlsCertCreateCommand },
  { paths: [['bench', 'write']], load: async () => (await import('./bench/commands.js')).BenchWriteCommand },
  { paths: [['bench', 'read']], load: async () => (await import('./bench/commands.js')).BenchReadCommand },
  { paths: [['bench', 'dns']], load: async () => (await import('./bench/commands.js')).BenchDnsCommand },
  { paths: [['bench', 'failover']], load: async () => (await import('./bench/commands.js')).BenchFailoverCommand },
  { paths: [['bench', 'self-test']], load: async () => (await import('./bench/commands.js')).BenchSelfTestCommand },
  { paths: [['version'], ['--version'], ['-v']], load: async () => (await import('./version.js')).VersionCommand },
  { paths: [['completion']], load: async () => (await import('./completion/completion.js')).CompletionCommand },
  { paths: [['__complete']], load: async () => (await import('./completion/values.js')).CompleteValuesCommand },
];
