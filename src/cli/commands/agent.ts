// `konsul agent`: runs an agent in the foreground until SIGINT/SIGTERM. Every
// agent flag is declared here; their values are checked by the agent itself.

import { Command, Option } from '../clipanion.js';
import { AGENT_FLAG_NAMES, settingHelp, type AgentFlags, type RunAgent } from '../agent-flags.js';
import { KonsulCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';

export class AgentRunCommand extends KonsulCommand {
  static override paths = [['agent']];
  static override usage = Command.Usage({
    category: 'Agent',
    description: 'Run an agent: a server, or (the default) a client with a full replica',
    details: `
      Every setting can also come from a KONSUL_* environment variable (shown in brackets) or a JSON config
      file; flags win over the environment, which wins over the files, which win over the defaults.
      Durations take ms, s, m or h (300ms, 5m); sizes are bytes, or take KiB or MiB (512KiB).

      The --config flag takes a file or a directory (every *.json in it, in lexical order) and can be given
      more than once; a later file overrides an earlier one. A file holds settings under their snake_case keys
      (data_dir, raft_addr, log_level, ...; see konsul.conf(5)), and may also hold Consul's service and
      check definitions ({"service": {...}}, {"services": [...]}, {"check": {...}}, {"checks": [...]}),
      which the agent registers at start. A bad file stops start-up with one line naming the file and the key
      (exit 2). --print-config shows the effective settings and where each came from, then exits.

      SIGHUP reloads the config files and the environment of the agent: log_level and enable_script_checks
      change at once, services and checks defined in the files are added, updated or removed (those
      registered over HTTP stay), and any other change is logged as needing a restart. A bad config on
      reload is logged and the running one kept.

      A server is a Raft voter: start the first one with --bootstrap, the others with --join. A client
      (the default) joins as a non-voter holding a full replica, and leaves the cluster on SIGTERM.
      A server that joins enters as a non-voter and is promoted once it has stayed caught up
      for the --stabilization-time.

      At start the agent prints a short summary on stderr (node, role, addresses, data dir, how it entered
      the cluster, config files), then logs on stdout: JSON lines, or readable lines when stdout is a
      terminal (--log-format). It runs until SIGINT or SIGTERM; a second signal ends it at once.
    `,
    examples: [
      ['A throwaway single-node agent (HTTP 127.0.0.1:8500)', '$0 agent --dev'],
      ['The first server of a new cluster', '$0 agent --server --bootstrap --node-id s1 --data-dir /var/lib/konsul'],
      ['Another server joining it', '$0 agent --server --join 10.0.0.1:7000 --node-id s2 --data-dir /var/lib/konsul'],
      ['A client agent', '$0 agent --join 10.0.0.1:7000,10.0.0.2:7000 --data-dir /var/lib/konsul'],
      ['Settings and service definitions from a directory', '$0 agent --config /etc/konsul.d'],
      ['Show the effective settings and their sources, as JSON', '$0 agent --config /etc/konsul.d --print-config --json'],
      ['Reload the config files of a running agent', 'kill -HUP "$(pgrep -f \'konsul agent\')"'],
    ],
  });

  server = Option.Boolean('--server', { description: settingHelp('server') });
  bootstrap = Option.Boolean('--bootstrap', { description: settingHelp('bootstrap') });
  dev = Option.Boolean('--dev', { description: settingHelp('dev') });
  join = Option.String('--join', { description: settingHelp('join') });
  nodeId = Option.String('--node-id', { description: settingHelp('nodeId') });
  dataDir = Option.String('--data-dir', { description: settingHelp('dataDir') });
  raftAddr = Option.String('--raft-addr', { description: settingHelp('raftAddr') });
  advertise = Option.String('--advertise', { description: settingHelp('advertise') });
  httpAddr = Option.String('--http-addr', { description: settingHelp('httpAddr') });
  dnsAddr = Option.String('--dns-addr', { description: settingHelp('dnsAddr') });
  config = Option.Array('--config', { description: 'A JSON config file, or a directory of *.json files read in lexical order; repeatable, later files win [KONSUL_CONFIG_FILE]' });
  token = Option.String('--token', { description: settingHelp('token') });
  tlsCert = Option.String('--tls-cert', { description: settingHelp('tlsCert') });
  tlsKey = Option.String('--tls-key', { description: settingHelp('tlsKey') });
  tlsCa = Option.String('--tls-ca', { description: settingHelp('tlsCa') });
  clusterId = Option.String('--cluster-id', { description: settingHelp('clusterId') });
  logLevel = Option.String('--log-level', { description: settingHelp('logLevel') });
  logFormat = Option.String('--log-format', { description: settingHelp('logFormat') });
  electionTimeout = Option.String('--election-timeout', { description: settingHelp('electionTimeout') });
  heartbeatInterval = Option.String('--heartbeat-interval', { description: settingHelp('heartbeatInterval') });
  snapshotThreshold = Option.String('--snapshot-threshold', { description: settingHelp('snapshotThreshold') });
  snapshotInterval = Option.String('--snapshot-interval', { description: settingHelp('snapshotInterval') });
  deadServerTimeout = Option.String('--dead-server-timeout', { description: settingHelp('deadServerTimeout') });
  stabilizationTime = Option.String('--stabilization-time', { description: settingHelp('stabilizationTime') });
  maxValueSize = Option.String('--max-value-size', { description: settingHelp('maxValueSize') });
  datacenter = Option.String('--datacenter', { description: settingHelp('datacenter') });
  domain = Option.String('--domain', { description: settingHelp('domain') });
  recursor = Option.String('--recursor', { description: settingHelp('recursor') });
  dnsOnlyPassing = Option.Boolean('--dns-only-passing', { description: settingHelp('dnsOnlyPassing') });
  dnsNodeTtl = Option.String('--dns-node-ttl', { description: settingHelp('dnsNodeTtl') });
  dnsServiceTtl = Option.String('--dns-service-ttl', { description: settingHelp('dnsServiceTtl') });
  nodeHealthTimeout = Option.String('--node-health-timeout', { description: settingHelp('nodeHealthTimeout') });
  antiEntropyInterval = Option.String('--anti-entropy-interval', { description: settingHelp('antiEntropyInterval') });
  enableScriptChecks = Option.Boolean('--enable-script-checks', { description: settingHelp('enableScriptChecks') });
  // sec
  aclEnabled = Option.Boolean('--acl-enabled', { description: settingHelp('aclEnabled') });
  aclDefaultPolicy = Option.String('--acl-default-policy', { description: settingHelp('aclDefaultPolicy') });
  httpsAddr = Option.String('--https-addr', { description: settingHelp('httpsAddr') });
  httpsVerifyIncoming = Option.Boolean('--https-verify-incoming', { description: settingHelp('httpsVerifyIncoming') });
  insecurePeers = Option.Boolean('--insecure-peers', { description: settingHelp('insecurePeers') });
  nodeMeta = Option.Array('--node-meta', { description: settingHelp('nodeMeta') });
  dnsUdpAnswerLimit = Option.String('--dns-udp-answer-limit', { description: settingHelp('dnsUdpAnswerLimit') });
  dnsARecordLimit = Option.String('--dns-a-record-limit', { description: settingHelp('dnsARecordLimit') });
  // scale
  relay = Option.Boolean('--relay', { description: settingHelp('relay') });
  relayFanout = Option.String('--relay-fanout', { description: settingHelp('relayFanout') });
  relaySilence = Option.String('--relay-silence', { description: settingHelp('relaySilence') });
  reconnectTimeout = Option.String('--reconnect-timeout', { description: settingHelp('reconnectTimeout') });

  printConfig = Option.Boolean('--print-config', false, { description: 'Print the effective settings and where each came from, then exit without starting' });
  json = Option.Boolean('--json', false, { description: 'With --print-config: print JSON, for scripts' });

  /** The flags that were given, under their AgentFlags names. */
  flags(): AgentFlags {
    const flags: Record<string, string | string[] | boolean> = {};
    for (const name of Object.keys(AGENT_FLAG_NAMES) as (keyof AgentFlags)[]) {
      const value = this[name];
      if (value !== undefined) flags[name] = value;
    }
    return flags as AgentFlags;
  }

  async execute(): Promise<number> {
    const runAgent: RunAgent = this.context.runAgent ?? (await import('../../main/agent.js')).runAgent;
    if (this.json && !this.printConfig) {
      this.context.stderr.write('Error: --json only applies to --print-config (the agent\'s logs are JSON unless --log-format text)\n');
      return EXIT.usage;
    }
    return runAgent(this.flags(), this.context.env, this.printConfig ? { printConfig: true, json: this.json } : undefined);
  }
}
