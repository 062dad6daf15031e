// `konsul agent`: runs an agent in the foreground until SIGINT/SIGTERM. Every
// agent flag is declared here; their values are checked by the agent itself.

import { Command, Option } from 'clipanion';
import { AGENT_FLAG_NAMES, type AgentFlags, type RunAgent } from '../agent-flags.js';
import { KonsulCommand } from '../command.js';

export class AgentRunCommand extends KonsulCommand {
  static override paths = [['agent']];
  static override usage = Command.Usage({
    category: 'Agent',
    description: 'Run a konsul agent (a server, or by default a client with a full local replica)',
    details: `
      Every setting can also come from a KONSUL_* environment variable (shown in brackets) or a JSON file
      given with --config; flags win over the environment, which wins over the file. Durations take
      ms, s, m or h (300ms, 5m); sizes are bytes, or take KiB or MiB (512KiB).

      A server is a Raft voter: start the first one with --bootstrap, the others with --join. A client
      (the default) joins as a non-voter holding a full replica, and leaves the cluster on SIGTERM.
      A server that joins enters as a non-voter and is promoted once it has stayed caught up
      for the --stabilization-time.

      The agent runs until SIGINT or SIGTERM; a second signal ends it at once.
    `,
    examples: [
      ['A throwaway single-node agent (HTTP 127.0.0.1:8500)', '$0 agent --dev'],
      ['The first server of a new cluster', '$0 agent --server --bootstrap --node-id s1 --data-dir /var/lib/konsul'],
      ['Another server joining it', '$0 agent --server --join 10.0.0.1:7000 --node-id s2 --data-dir /var/lib/konsul'],
      ['A client agent', '$0 agent --join 10.0.0.1:7000,10.0.0.2:7000 --data-dir /var/lib/konsul'],
    ],
  });

  server = Option.Boolean('--server', { description: 'Run as a server (Raft voter) [KONSUL_SERVER]' });
  bootstrap = Option.Boolean('--bootstrap', { description: 'Start a new cluster with this server as its first voter [KONSUL_RAFT_BOOTSTRAP]' });
  dev = Option.Boolean('--dev', { description: 'Single-node server with a temporary data dir, for trying konsul out [KONSUL_DEV]' });
  join = Option.String('--join', { description: 'Members to join, host:port[,host:port]; retried until one answers [KONSUL_RAFT_JOIN]' });
  nodeId = Option.String('--node-id', { description: 'This node\'s id (default: the host name) [KONSUL_NODE_ID]' });
  dataDir = Option.String('--data-dir', { description: 'Where the Raft log and the state live [KONSUL_DATA_DIR]' });
  raftAddr = Option.String('--raft-addr', { description: 'Peer transport listen address (default 0.0.0.0:7000) [KONSUL_RAFT_BIND_ADDR]' });
  advertise = Option.String('--advertise', { description: 'The address peers dial (default: the bind address, or the first LAN IP) [KONSUL_RAFT_ADVERTISE_ADDR]' });
  httpAddr = Option.String('--http-addr', { description: 'HTTP API listen address (default 127.0.0.1:8500) [KONSUL_HTTP_ADDR]' });
  dnsAddr = Option.String('--dns-addr', { description: 'DNS listen address (default 127.0.0.1:8600) [KONSUL_DNS_ADDR]' });
  config = Option.String('--config', { description: 'A JSON file of settings (keys like data_dir, raft_addr) [KONSUL_CONFIG_FILE]' });
  token = Option.String('--token', { description: 'Join token every peer must present [KONSUL_RAFT_TOKEN]' });
  tlsCert = Option.String('--tls-cert', { description: 'PEM certificate for mutual TLS between peers [KONSUL_TLS_CERT]' });
  tlsKey = Option.String('--tls-key', { description: 'PEM key for --tls-cert [KONSUL_TLS_KEY]' });
  tlsCa = Option.String('--tls-ca', { description: 'PEM CA that signs every peer\'s certificate [KONSUL_TLS_CA]' });
  clusterId = Option.String('--cluster-id', { description: 'Peers with another cluster id are refused (default konsul) [KONSUL_CLUSTER_ID]' });
  logLevel = Option.String('--log-level', { description: 'trace, debug, info, warn, error (default info) [KONSUL_LOG_LEVEL]' });
  electionTimeout = Option.String('--election-timeout', { description: 'Raft election timeout (default 300ms) [KONSUL_RAFT_ELECTION_TIMEOUT]' });
  heartbeatInterval = Option.String('--heartbeat-interval', { description: 'Leader heartbeat interval (default: election timeout / 6) [KONSUL_RAFT_HEARTBEAT_TIMEOUT]' });
  snapshotThreshold = Option.String('--snapshot-threshold', { description: 'Log entries between snapshots (default 8192) [KONSUL_RAFT_SNAPSHOT_THRESHOLD]' });
  snapshotInterval = Option.String('--snapshot-interval', { description: 'Also snapshot this often when anything changed (default 120s) [KONSUL_RAFT_SNAPSHOT_INTERVAL]' });
  deadServerTimeout = Option.String('--dead-server-timeout', { description: 'Remove a member unreachable this long (default 5m) [KONSUL_DEAD_SERVER_TIMEOUT]' });
  stabilizationTime = Option.String('--stabilization-time', { description: 'A joining server is promoted after staying healthy this long (default 5s) [KONSUL_SERVER_STABILIZATION_TIME]' });
  maxValueSize = Option.String('--max-value-size', { description: 'Largest KV value accepted (default 512KiB) [KONSUL_KV_MAX_VALUE_SIZE]' });
  datacenter = Option.String('--datacenter', { description: 'The datacenter this agent is in (default dc1) [KONSUL_DATACENTER]' });
  domain = Option.String('--domain', { description: 'The DNS domain konsul answers for (default consul.) [KONSUL_DNS_DOMAIN]' });
  recursor = Option.String('--recursor', { description: 'DNS servers for names outside the domain, host[:port][,...] (default: refuse them) [KONSUL_DNS_RECURSORS]' });
  dnsOnlyPassing = Option.Boolean('--dns-only-passing', { description: 'DNS leaves out instances whose checks warn, not only critical ones [KONSUL_DNS_ONLY_PASSING]' });
  dnsNodeTtl = Option.String('--dns-node-ttl', { description: 'TTL of node answers (default 0s) [KONSUL_DNS_NODE_TTL]' });
  dnsServiceTtl = Option.String('--dns-service-ttl', { description: 'TTL of service answers, per service: web=10s,*=5s (default 0s) [KONSUL_DNS_SERVICE_TTL]' });
  nodeHealthTimeout = Option.String('--node-health-timeout', { description: 'An agent unheard this long has its node check turned critical (default 2s) [KONSUL_NODE_HEALTH_TIMEOUT]' });
  antiEntropyInterval = Option.String('--anti-entropy-interval', { description: 'How often local services and checks are compared with the catalog (default 60s) [KONSUL_ANTI_ENTROPY_INTERVAL]' });
  enableScriptChecks = Option.Boolean('--enable-script-checks', { description: 'Accept script checks registered over HTTP; they run any command as the agent\'s user (default off) [KONSUL_ENABLE_SCRIPT_CHECKS]' });

  /** The flags that were given, under their AgentFlags names. */
  flags(): AgentFlags {
    const flags: Record<string, string | boolean> = {};
    for (const name of Object.keys(AGENT_FLAG_NAMES) as (keyof AgentFlags)[]) {
      const value = this[name];
      if (value !== undefined) flags[name] = value;
    }
    return flags as AgentFlags;
  }

  async execute(): Promise<number> {
    const runAgent: RunAgent = this.context.runAgent ?? (await import('../../agent/main.js')).runAgent;
    return runAgent(this.flags(), this.context.env);
  }
}
