// The agent's settings: flags first, then KONSUL_* environment variables, then
// JSON config files (files or directories; a later file wins), then defaults.
// Every value is checked here, and a bad one stops start-up with one line that
// names the setting (and the file); the files' service and check definitions are read here too.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { parseSettingDuration } from '../duration.js';
import { KonsulError } from '../errors.js';
import {
  DefinitionError, parseCheckRegistration, parseServiceFile, type CheckDefinition, type ServiceRegistration,
} from './local/definitions.js';

/** The flags `konsul agent` passes in: only those given, strings as typed. */
export interface AgentFlagValues {
  server?: boolean;
  bootstrap?: boolean;
  dev?: boolean;
  join?: string;
  nodeId?: string;
  dataDir?: string;
  raftAddr?: string;
  advertise?: string;
  httpAddr?: string;
  dnsAddr?: string;
  /** Files or directories of *.json files, read in order (later ones override earlier ones). */
  config?: string | string[];
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  clusterId?: string;
  logLevel?: string;
  logFormat?: string;
  electionTimeout?: string;
  heartbeatInterval?: string;
  snapshotThreshold?: string;
  snapshotInterval?: string;
  deadServerTimeout?: string;
  stabilizationTime?: string;
  maxValueSize?: string;
  datacenter?: string;
  domain?: string;
  recursor?: string;
  dnsOnlyPassing?: boolean;
  dnsNodeTtl?: string;
  dnsServiceTtl?: string;
  nodeHealthTimeout?: string;
  antiEntropyInterval?: string;
  enableScriptChecks?: boolean;
  // sec
  aclEnabled?: boolean;
  aclDefaultPolicy?: string;
  httpsAddr?: string;
  httpsVerifyIncoming?: boolean;
  insecurePeers?: boolean;
  // api branch (issue 18)
  /** `key:value`, repeatable (`--node-meta rack:r1 --node-meta env:prod`). */
  nodeMeta?: string | string[];
  dnsUdpAnswerLimit?: string;
  dnsARecordLimit?: string;
  // scale (issue 13)
  relay?: boolean;
  relayFanout?: string;
  relaySilence?: string;
}

export interface HostPort { host: string; port: number }

export interface AgentConfig {
  nodeId: string;
  /** undefined only with --dev before the temporary dir is made. */
  dataDir: string | undefined;
  dev: boolean;
  server: boolean;
  bootstrap: boolean;
  join: string[];
  raftAddr: HostPort;
  /** What peers dial; host:port. */
  advertise: string;
  httpAddr: HostPort;
  dnsAddr: HostPort;
  clusterId: string;
  token: string | undefined;
  tls: { cert: Buffer; key: Buffer; ca: Buffer } | undefined;
  logLevel: string;
  /** 'auto': text lines when stdout is a terminal, JSON otherwise. */
  logFormat: 'json' | 'text' | 'auto';
  electionTimeoutMs: number;
  heartbeatIntervalMs: number;
  leaderLeaseMs: number;
  snapshotThreshold: number;
  snapshotIntervalMs: number;
  /** Entries kept behind a snapshot so a briefly lagging follower catches up from the log. */
  snapshotTrailing: number;
  deadServerTimeoutMs: number;
  stabilizationMs: number;
  maxValueBytes: number;
  /** How long a write waits to be committed and applied before the caller is told it timed out. */
  proposalTimeoutMs: number;
  datacenter: string;
  dns: {
    /** Lower case, with the trailing dot: 'consul.' */
    domain: string;
    recursors: string[];
    onlyPassing: boolean;
    nodeTtlSeconds: number;
    /** Per service name ('*' for any other), in seconds. */
    serviceTtlSeconds: Record<string, number>;
    /** Most A/AAAA/SRV records in one UDP answer (Consul's udp_answer_limit, default 3). */
    udpAnswerLimit: number;
    /** Most A/AAAA records in any answer, 0 for no limit (Consul's a_record_limit). */
    aRecordLimit: number;
  };
  /** The leader marks an agent's node check critical after it has not heard from it this long. */
  nodeHealthTimeoutMs: number;
  /** How often an agent compares its local services and checks with the catalog (changes sync at once). */
  antiEntropyIntervalMs: number;
  /** May services registered over HTTP carry script checks (which run any command)? Off by default, as in Consul. */
  enableScriptChecks: boolean;
  // sec
  /** HTTP ACLs: off unless enabled; with no rule for a request, default_policy answers. */
  acl: { enabled: boolean; defaultPolicy: 'allow' | 'deny' };
  /** HTTPS listener (with the --tls-cert/--tls-key pair); verifyIncoming: clients need a certificate from --tls-ca. */
  https: { addr: HostPort; verifyIncoming: boolean } | undefined;
  /** Peers beyond loopback without a join secret or mutual TLS, on purpose (warned at every start). */
  insecurePeers: boolean;
  /** This node's metadata in the catalog (NodeMeta, ?node-meta, DNS TXT). */
  nodeMeta: Record<string, string>;
  // scale (issue 13)
  /** A client agent that relays the committed log to other clients (servers always relay). */
  relay: boolean;
  /** The most client agents one relay feeds at once. */
  relayFanout: number;
  /** A client that has not pulled from its relay this long is reported gone (it pulls at least every second). */
  relaySilenceMs: number;
}

export class ConfigError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_CONFIG', message, 'invalid');
    this.name = 'ConfigError';
  }
}

/** A setting's value type, as the config file and the man page describe it. */
export type SettingType = 'boolean' | 'string' | 'duration' | 'size' | 'integer' | 'address' | 'list' | 'ttl-map' | 'path' | 'meta-map';

/** One setting: its flag, environment variables, config-file key, and what the docs say about it. */
export interface SettingSpec {
  flag: keyof AgentFlagValues;
  env: string[];
  /** The key in a JSON config file. */
  file: string;
  type: SettingType;
  /** The default as a person reads it. */
  defaultText: string;
  description: string;
  /** Does a SIGHUP apply a change to it (else: a restart is needed)? */
  reloadable: boolean;
}

const S = (
  flag: keyof AgentFlagValues, env: string[], file: string, type: SettingType, defaultText: string, description: string,
  reloadable = false,
): SettingSpec => ({ flag, env, file, type, defaultText, description, reloadable });

/** Every setting; the flags' help, konsul.conf(5) and --print-config are made from this table. */
export const SETTINGS = {
  server: S('server', ['KONSUL_SERVER'], 'server', 'boolean', 'false; true with dev', 'Run as a server (Raft voter)'),
  bootstrap: S('bootstrap', ['KONSUL_RAFT_BOOTSTRAP'], 'bootstrap', 'boolean', 'false; true with dev', 'Start a new cluster with this server as its first voter'),
  dev: S('dev', ['KONSUL_DEV'], 'dev', 'boolean', 'false', 'Single-node server with a temporary data dir, for trying konsul out'),
  join: S('join', ['KONSUL_RAFT_JOIN'], 'join', 'list', 'none', 'Members to join, host:port[,host:port]; retried until one answers'),
  nodeId: S('nodeId', ['KONSUL_NODE_ID'], 'node_id', 'string', 'the host name', 'This node\'s id'),
  dataDir: S('dataDir', ['KONSUL_DATA_DIR', 'KONSUL_RAFT_DATA_DIR'], 'data_dir', 'path', 'none; required unless dev', 'Where the Raft log and the state live'),
  raftAddr: S('raftAddr', ['KONSUL_RAFT_BIND_ADDR'], 'raft_addr', 'address', '0.0.0.0:7000', 'Peer transport listen address'),
  advertise: S('advertise', ['KONSUL_RAFT_ADVERTISE_ADDR'], 'advertise', 'address', 'the bind address, or the first LAN IP', 'The address peers dial'),
  httpAddr: S('httpAddr', ['KONSUL_HTTP_BIND_ADDR'], 'http_addr', 'address', '127.0.0.1:8500', 'HTTP API listen address (KONSUL_HTTP_ADDR only tells the CLI where to talk, as CONSUL_HTTP_ADDR does)'),
  dnsAddr: S('dnsAddr', ['KONSUL_DNS_ADDR'], 'dns_addr', 'address', '127.0.0.1:8600', 'DNS listen address'),
  token: S('token', ['KONSUL_RAFT_TOKEN'], 'token', 'string', 'none', 'Join token every peer must present'),
  tlsCert: S('tlsCert', ['KONSUL_TLS_CERT'], 'tls_cert', 'path', 'none', 'PEM certificate for mutual TLS between peers (and HTTPS)', true),
  tlsKey: S('tlsKey', ['KONSUL_TLS_KEY'], 'tls_key', 'path', 'none', 'PEM key for the TLS certificate', true),
  tlsCa: S('tlsCa', ['KONSUL_TLS_CA'], 'tls_ca', 'path', 'none', 'PEM CA that signs every peer\'s certificate', true),
  clusterId: S('clusterId', ['KONSUL_CLUSTER_ID'], 'cluster_id', 'string', 'konsul', 'Peers with another cluster id are refused'),
  logLevel: S('logLevel', ['KONSUL_LOG_LEVEL'], 'log_level', 'string', 'info', 'trace, debug, info, warn, error, fatal or silent', true),
  logFormat: S('logFormat', ['KONSUL_LOG_FORMAT'], 'log_format', 'string', 'auto', 'json, text, or auto: text lines when stdout is a terminal, else JSON'),
  electionTimeout: S('electionTimeout', ['KONSUL_RAFT_ELECTION_TIMEOUT'], 'election_timeout', 'duration', '300ms', 'Raft election timeout'),
  heartbeatInterval: S('heartbeatInterval', ['KONSUL_RAFT_HEARTBEAT_TIMEOUT'], 'heartbeat_interval', 'duration', 'election timeout / 6', 'Leader heartbeat interval'),
  snapshotThreshold: S('snapshotThreshold', ['KONSUL_RAFT_SNAPSHOT_THRESHOLD'], 'snapshot_threshold', 'integer', '8192', 'Log entries between snapshots'),
  snapshotInterval: S('snapshotInterval', ['KONSUL_RAFT_SNAPSHOT_INTERVAL'], 'snapshot_interval', 'duration', '120s', 'Also snapshot this often when anything changed'),
  deadServerTimeout: S('deadServerTimeout', ['KONSUL_DEAD_SERVER_TIMEOUT'], 'dead_server_timeout', 'duration', '5m', 'Remove a member unreachable this long'),
  stabilizationTime: S('stabilizationTime', ['KONSUL_SERVER_STABILIZATION_TIME'], 'server_stabilization_time', 'duration', '5s', 'A joining server is promoted after staying healthy this long'),
  maxValueSize: S('maxValueSize', ['KONSUL_KV_MAX_VALUE_SIZE'], 'kv_max_value_size', 'size', '512KiB', 'Largest KV value accepted'),
  datacenter: S('datacenter', ['KONSUL_DATACENTER'], 'datacenter', 'string', 'dc1', 'The datacenter this agent is in'),
  domain: S('domain', ['KONSUL_DNS_DOMAIN'], 'domain', 'string', 'consul.', 'The DNS domain konsul answers for'),
  recursor: S('recursor', ['KONSUL_DNS_RECURSORS'], 'recursors', 'list', 'none: refuse other names', 'DNS servers for names outside the domain, host[:port][,...]'),
  dnsOnlyPassing: S('dnsOnlyPassing', ['KONSUL_DNS_ONLY_PASSING'], 'dns_only_passing', 'boolean', 'false', 'DNS leaves out instances whose checks warn, not only critical ones'),
  dnsNodeTtl: S('dnsNodeTtl', ['KONSUL_DNS_NODE_TTL'], 'dns_node_ttl', 'duration', '0s', 'TTL of node answers'),
  dnsServiceTtl: S('dnsServiceTtl', ['KONSUL_DNS_SERVICE_TTL'], 'dns_service_ttl', 'ttl-map', '0s', 'TTL of service answers, per service: web=10s,*=5s'),
  nodeHealthTimeout: S('nodeHealthTimeout', ['KONSUL_NODE_HEALTH_TIMEOUT'], 'node_health_timeout', 'duration', '2s, or 4 election timeouts if longer', 'An agent unheard this long has its node check turned critical'),
  antiEntropyInterval: S('antiEntropyInterval', ['KONSUL_ANTI_ENTROPY_INTERVAL'], 'anti_entropy_interval', 'duration', '60s', 'How often local services and checks are compared with the catalog'),
  enableScriptChecks: S('enableScriptChecks', ['KONSUL_ENABLE_SCRIPT_CHECKS'], 'enable_script_checks', 'boolean', 'false', 'Accept script checks (over HTTP and in config files); they run any command as the agent\'s user', true),
  // sec
  aclEnabled: S('aclEnabled', ['KONSUL_ACL_ENABLED'], 'acl.enabled', 'boolean', 'false', 'Check every HTTP request\'s ACL token (Consul\'s acl.enabled)'),
  aclDefaultPolicy: S('aclDefaultPolicy', ['KONSUL_ACL_DEFAULT_POLICY'], 'acl.default_policy', 'string', 'allow', 'allow or deny: the answer when no ACL rule matches a request'),
  httpsAddr: S('httpsAddr', ['KONSUL_HTTPS_ADDR'], 'https_addr', 'address', 'none', 'HTTPS API listen address, served with --tls-cert and --tls-key'),
  httpsVerifyIncoming: S('httpsVerifyIncoming', ['KONSUL_HTTPS_VERIFY_INCOMING'], 'verify_incoming', 'boolean', 'false', 'HTTPS clients must present a certificate signed by --tls-ca'),
  insecurePeers: S('insecurePeers', ['KONSUL_INSECURE_PEERS'], 'insecure_peers', 'boolean', 'false', 'Allow peers beyond loopback without a join secret or mutual TLS (logs a warning at every start)'),
  // api branch (issue 18)
  nodeMeta: S('nodeMeta', ['KONSUL_NODE_META'], 'node_meta', 'meta-map', 'none', 'Metadata for this node in the catalog, key:value; the flag repeats (NodeMeta, ?node-meta, DNS TXT)'),
  dnsUdpAnswerLimit: S('dnsUdpAnswerLimit', ['KONSUL_DNS_UDP_ANSWER_LIMIT'], 'udp_answer_limit', 'integer', '3', 'Most A, AAAA or SRV records in one UDP answer (more: TCP)'),
  dnsARecordLimit: S('dnsARecordLimit', ['KONSUL_DNS_A_RECORD_LIMIT'], 'a_record_limit', 'integer', '0 (no limit)', 'Most A or AAAA records in any DNS answer'),
  // scale (issue 13)
  relay: S('relay', ['KONSUL_RELAY'], 'relay', 'boolean', 'false', 'A client agent that also relays the committed log to other client agents (servers always do)'),
  relayFanout: S('relayFanout', ['KONSUL_RELAY_FANOUT'], 'relay_fanout', 'integer', '64', 'The most client agents this agent feeds as a relay'),
  relaySilence: S('relaySilence', ['KONSUL_RELAY_SILENCE'], 'relay_silence', 'duration', '2s', 'A client agent that has not pulled from its relay this long is reported gone'),
} satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

/** The keys a config file may hold besides the settings: Consul's service and check definitions. */
export const DEFINITION_KEYS = ['service', 'services', 'check', 'checks'] as const;

/** `--election-timeout` style help: the description, the default and the environment variable. */
export function settingHelp(name: SettingName): string {
  const s: SettingSpec = SETTINGS[name];
  const dflt = s.defaultText === 'none' || (s.type === 'boolean' && s.defaultText === 'false') ? '' : ` (default: ${s.defaultText})`;
  return `${s.description}${dflt} [${s.env[0]}]`;
}

/** Each flag's spelling on the command line, so an error can name what the user typed. */
export const AGENT_FLAG_NAMES: Readonly<Record<keyof AgentFlagValues, string>> = {
  server: '--server', bootstrap: '--bootstrap', dev: '--dev', join: '--join', nodeId: '--node-id',
  dataDir: '--data-dir', raftAddr: '--raft-addr', advertise: '--advertise', httpAddr: '--http-addr',
  dnsAddr: '--dns-addr', config: '--config', token: '--token', tlsCert: '--tls-cert', tlsKey: '--tls-key',
  tlsCa: '--tls-ca', clusterId: '--cluster-id', logLevel: '--log-level', logFormat: '--log-format',
  electionTimeout: '--election-timeout',
  heartbeatInterval: '--heartbeat-interval', snapshotThreshold: '--snapshot-threshold',
  snapshotInterval: '--snapshot-interval', deadServerTimeout: '--dead-server-timeout',
  stabilizationTime: '--stabilization-time', maxValueSize: '--max-value-size',
  datacenter: '--datacenter', domain: '--domain', recursor: '--recursor', dnsOnlyPassing: '--dns-only-passing',
  dnsNodeTtl: '--dns-node-ttl', dnsServiceTtl: '--dns-service-ttl', nodeHealthTimeout: '--node-health-timeout',
  antiEntropyInterval: '--anti-entropy-interval', enableScriptChecks: '--enable-script-checks',
  // sec
  aclEnabled: '--acl-enabled', aclDefaultPolicy: '--acl-default-policy', httpsAddr: '--https-addr',
  httpsVerifyIncoming: '--https-verify-incoming', insecurePeers: '--insecure-peers',
  nodeMeta: '--node-meta', dnsUdpAnswerLimit: '--dns-udp-answer-limit', dnsARecordLimit: '--dns-a-record-limit',
  // scale
  relay: '--relay', relayFanout: '--relay-fanout', relaySilence: '--relay-silence',
};

/** Where a setting's value came from. */
export interface SettingOrigin {
  source: 'default' | 'flag' | 'env' | 'file';
  /** The flag, the variable, or the file's path; null for a default. */
  from: string | null;
}

/** A raw value and where it came from, so an error can name the right spelling. */
interface Raw {
  value: unknown;
  /** What an error names: the flag, the variable, or "file: key". */
  source: string;
  kind: SettingOrigin['source'];
  /** What --print-config names: the flag, the variable, or the file. */
  from: string;
}

/** One config file's settings, in the order the files were read. */
interface FileLayer { path: string; values: Record<string, unknown> }

class Sources {
  readonly origins = new Map<SettingName, SettingOrigin & { raw: unknown }>();

  constructor(
    private readonly flags: AgentFlagValues,
    private readonly env: NodeJS.ProcessEnv,
    private readonly files: FileLayer[],
  ) {}

  get(name: SettingName): Raw | undefined {
    const raw = this.find(name);
    if (raw) this.origins.set(name, { source: raw.kind, from: raw.from, raw: raw.value });
    return raw;
  }

  private find(name: SettingName): Raw | undefined {
    const s: SettingSpec = SETTINGS[name];
    const flag = this.flags[s.flag];
    if (flag !== undefined) return { value: flag, source: AGENT_FLAG_NAMES[s.flag], kind: 'flag', from: AGENT_FLAG_NAMES[s.flag] };
    for (const e of s.env) {
      const v = this.env[e];
      if (v !== undefined && v !== '') return { value: v, source: e, kind: 'env', from: e };
    }
    // The last file that sets it wins.
    for (let i = this.files.length - 1; i >= 0; i--) {
      const f = this.files[i];
      if (Object.hasOwn(f.values, s.file)) return { value: f.values[s.file], source: `${f.path}: ${s.file}`, kind: 'file', from: f.path };
    }
    return undefined;
  }
}

function fail(source: string, problem: string): never {
  // One line, whatever the quoted value or parser message holds: errors are one line on stderr.
  throw new ConfigError(`${source}: ${problem}`.replace(/\r\n|\r|\n/g, '\\n'));
}

function asString(raw: Raw): string {
  if (typeof raw.value === 'string') return raw.value.trim();
  if (typeof raw.value === 'number') return String(raw.value);
  return fail(raw.source, `expected a string, got ${shownValue(raw.value)}`);
}

function asBool(raw: Raw | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (typeof raw.value === 'boolean') return raw.value;
  if (raw.kind === 'file') return fail(raw.source, `expected true or false, got ${JSON.stringify(raw.value)}`);
  const v = String(raw.value).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(raw.source, `expected true or false, got ${JSON.stringify(raw.value)}`);
}


function asDuration(raw: Raw | undefined, fallbackMs: number, minMs: number, maxMs: number): number {
  if (raw === undefined) return fallbackMs;
  const text = asString(raw);
  const ms = parseSettingDuration(text);
  if (ms === undefined) fail(raw.source, `"${text}" is not a duration (examples: 300ms, 2s, 5m)`);
  if (ms < minMs || ms > maxMs) fail(raw.source, `${text} is out of range (${minMs}ms to ${maxMs}ms)`);
  return ms;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2 };

function asSize(raw: Raw | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const text = asString(raw);
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) fail(raw.source, `"${text}" is not a size (examples: 524288, 512KiB, 1MiB)`);
  const n = Number(m[1]) * unit;
  if (n < min || n > max) fail(raw.source, `${text} is out of range (${min} to ${max} bytes)`);
  return n;
}

function asInt(raw: Raw | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const text = asString(raw);
  if (!/^\d+$/.test(text)) fail(raw.source, `"${text}" is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) fail(raw.source, `${n} is out of range (${min} to ${max})`);
  return n;
}

/** host:port or [v6]:port; the port must be given unless `defaultPort` is. */
export function parseHostPort(text: string, defaultPort?: number): HostPort | undefined {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const parts = text.split(':');
    if (parts.length > 2) return undefined;
    host = parts[0];
    portText = parts[1];
  }
  if (host === '' || /\s/.test(host)) return undefined;
  if (portText === undefined) {
    if (defaultPort === undefined) return undefined;
    return { host, port: defaultPort };
  }
  if (!/^\d+$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  return { host, port };
}

function asHostPort(raw: Raw | undefined, fallback: string, defaultPort?: number): HostPort {
  const text = raw === undefined ? fallback : asString(raw);
  const hp = parseHostPort(text, defaultPort);
  if (hp === undefined) fail(raw?.source ?? 'default', `"${text}" is not host:port (example: 127.0.0.1:7000)`);
  return hp;
}

function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

function firstLanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}

function readPem(raw: Raw): Buffer {
  const path = asString(raw);
  try {
    return readFileSync(path);
  } catch (error) {
    return fail(raw.source, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function shownValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** The known key closest to `key`, when it is close enough to be a typo (or the flag's spelling). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase().replace(/^-+/, '').replaceAll('-', '_');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(k, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(k.length / 4)) ? best : undefined;
}

/** The config paths asked for: --config (repeatable) wins over KONSUL_CONFIG_FILE. */
function configPaths(flags: AgentFlagValues, env: NodeJS.ProcessEnv): { paths: string[]; source: string } {
  if (flags.config !== undefined) {
    const list = Array.isArray(flags.config) ? flags.config : [flags.config];
    return { paths: list, source: '--config' };
  }
  const fromEnv = env.KONSUL_CONFIG_FILE;
  return { paths: fromEnv === undefined || fromEnv === '' ? [] : [fromEnv], source: 'KONSUL_CONFIG_FILE' };
}

/** Each path as files: a directory gives its *.json files in lexical order. */
function expandPaths(paths: string[], source: string): string[] {
  const files: string[] = [];
  for (const path of paths) {
    if (path.trim() === '') fail(source, 'is empty; give a file or a directory');
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (error) {
      return fail(source, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    if (!isDir) {
      files.push(path);
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (error) {
      return fail(source, `cannot read the directory ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const file = join(path, name);
      // A directory named *.json is not a config file.
      if (statSync(file, { throwIfNoEntry: false })?.isFile()) files.push(file);
    }
  }
  return files;
}

const SETTING_KEYS: readonly string[] = Object.values(SETTINGS).map((s: SettingSpec) => s.file);
const FILE_KEYS: readonly string[] = [...SETTING_KEYS, ...DEFINITION_KEYS];

function readConfigFile(path: string, source: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return fail(source, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(path, `not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail(path, 'must hold a JSON object ({"key": value, ...})');
  flattenAcl(parsed as Record<string, unknown>, path);
  for (const key of Object.keys(parsed)) {
    if (FILE_KEYS.includes(key)) continue;
    const near = closestKey(key, FILE_KEYS);
    fail(path, `unknown setting "${key}"${near ? ` (did you mean "${near}"?)` : ''}; see konsul.conf(5) for the keys`);
  }
  return parsed as Record<string, unknown>;
}

/** sec: Consul's nested {"acl": {"enabled": true, "default_policy": "deny"}} as the flat keys acl.enabled, acl.default_policy. */
function flattenAcl(doc: Record<string, unknown>, path: string): void {
  if (!Object.hasOwn(doc, 'acl')) return;
  const acl = doc.acl;
  if (acl === null || typeof acl !== 'object' || Array.isArray(acl)) fail(`${path}: acl`, 'must be an object: {"enabled": true, "default_policy": "deny"}');
  delete doc.acl;
  for (const [k, v] of Object.entries(acl as Record<string, unknown>)) doc[`acl.${k}`] = v;
}

/** A service registered from a config file, and the file it came from. */
export interface FileService { registration: ServiceRegistration; file: string }
/** A check (not attached to a service definition) registered from a config file. */
export interface FileCheck { check: CheckDefinition; file: string }

function readDefinitions(layer: FileLayer, services: Map<string, FileService>, checks: Map<string, FileCheck>): void {
  const v = layer.values;
  const at = (error: unknown): never => {
    if (error instanceof DefinitionError) fail(layer.path, error.message.replace(/^file: /, ''));
    throw error;
  };
  if (v.service !== undefined || v.services !== undefined) {
    let regs: ServiceRegistration[] = [];
    try {
      regs = parseServiceFile({ service: v.service, services: v.services });
    } catch (error) {
      at(error);
    }
    for (const registration of regs) {
      const id = registration.service.id;
      const before = services.get(id);
      if (before) fail(layer.path, `service "${id}" is also defined in ${before.file}`);
      services.set(id, { registration, file: layer.path });
    }
  }
  const list: Array<[unknown, string]> = [];
  if (v.check !== undefined) list.push([v.check, 'check']);
  if (v.checks !== undefined) {
    if (!Array.isArray(v.checks)) fail(layer.path, `checks: expected an array, got ${shownValue(v.checks)}`);
    v.checks.forEach((c, i) => list.push([c, `checks[${i}]`]));
  }
  for (const [body, where] of list) {
    let check: CheckDefinition | undefined;
    try {
      check = parseCheckRegistration(body);
    } catch (error) {
      if (error instanceof DefinitionError) fail(layer.path, `${where}: ${error.message.replace(/^: /, '')}`);
      throw error;
    }
    const before = checks.get(check.id);
    if (before) fail(layer.path, `${where}: check "${check.id}" is also defined in ${before.file}`);
    checks.set(check.id, { check, file: layer.path });
  }
}

/** Everything the agent's configuration sources say, checked. */
export interface LoadedConfig {
  config: AgentConfig;
  /** Where each setting came from (absent: the default), and the raw value given there. */
  origins: Partial<Record<SettingName, SettingOrigin & { raw: unknown }>>;
  /** The config files read, in order. */
  files: string[];
  /** Services and checks defined in the config files, registered with the local agent. */
  services: FileService[];
  checks: FileCheck[];
}

/** Resolve and check every setting. Throws ConfigError naming the first bad one. */
export function resolveConfig(flags: AgentFlagValues, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return loadConfig(flags, env).config;
}

/** Read every source (flags, KONSUL_* variables, config files), check it all, and say where each value came from. */
export function loadConfig(
  flags: AgentFlagValues, env: NodeJS.ProcessEnv = process.env,
  /** --print-config shows the settings of an agent that is not started: a data dir is not needed for that. */
  options: { requireDataDir?: boolean } = {},
): LoadedConfig {
  const { paths, source } = configPaths(flags, env);
  const files = expandPaths(paths, source);
  const layers = files.map((path) => ({ path, values: readConfigFile(path, source) }));
  const src = new Sources(flags, env, layers);
  const config = resolveSettings(src, options.requireDataDir ?? true);
  const services = new Map<string, FileService>();
  const checks = new Map<string, FileCheck>();
  for (const layer of layers) readDefinitions(layer, services, checks);
  for (const { check, file } of checks.values()) {
    if (check.serviceId !== '' && !services.has(check.serviceId)) {
      fail(file, `check "${check.id}": ServiceID "${check.serviceId}" is not a service defined in the config files`);
    }
  }
  if (!config.enableScriptChecks) {
    const script = [...[...services.values()].flatMap((s) => s.registration.checks.map((check) => ({ check, file: s.file }))), ...checks.values()]
      .find((c) => c.check.kind === 'script');
    if (script) fail(script.file, `check "${script.check.id}" is a script check: set enable_script_checks to allow it`);
  }
  const origins: LoadedConfig['origins'] = {};
  for (const [name, o] of src.origins) origins[name] = o;
  return { config, origins, files, services: [...services.values()], checks: [...checks.values()] };
}

const DNS_LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** "web=10s,*=5s" or {"web": "10s", "*": "5s"}: per-service DNS TTLs, in whole seconds. */
function asTtlMap(raw: Raw | undefined): Record<string, number> {
  if (raw === undefined) return {};
  let pairs: Array<[string, unknown]>;
  if (raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)) pairs = Object.entries(raw.value);
  else {
    pairs = asString(raw).split(',').filter((p) => p.trim() !== '').map((p) => {
      const at = p.indexOf('=');
      if (at <= 0) fail(raw.source, `"${p}" is not service=duration (example: web=10s,*=5s)`);
      return [p.slice(0, at).trim(), p.slice(at + 1).trim()];
    });
  }
  const out: Record<string, number> = {};
  for (const [name, value] of pairs) {
    const ms = parseSettingDuration(String(value));
    if (ms === undefined) fail(raw.source, `${name}: "${String(value)}" is not a duration (examples: 0s, 10s, 1m)`);
    out[name.toLowerCase()] = Math.floor(ms / 1000);
  }
  return out;
}

// Consul's node metadata limits (structs.ValidateNodeMetadata).
const NODE_META_MAX_PAIRS = 64;
const NODE_META_KEY_RE = /^[A-Za-z0-9_-]{1,128}$/;
const NODE_META_VALUE_MAX_BYTES = 512;

/** node_meta: an object in a file, `key:value` strings from the flag (repeated) or `key:value,key:value` in the variable. */
function asMetaMap(raw: Raw | undefined): Record<string, string> {
  if (raw === undefined) return {};
  let pairs: Array<[string, unknown]>;
  if (raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)) pairs = Object.entries(raw.value);
  else {
    const items = Array.isArray(raw.value) ? raw.value.map((v) => String(v)) : asString(raw).split(',');
    pairs = items.filter((p) => p.trim() !== '').map((p) => {
      const at = p.indexOf(':');
      if (at <= 0) fail(raw.source, `"${p}" is not key:value (example: rack:r1)`);
      return [p.slice(0, at).trim(), p.slice(at + 1).trim()];
    });
  }
  if (pairs.length > NODE_META_MAX_PAIRS) fail(raw.source, `${pairs.length} pairs, at most ${NODE_META_MAX_PAIRS}`);
  const out: Record<string, string> = {};
  for (const [key, value] of pairs) {
    if (!NODE_META_KEY_RE.test(key)) fail(raw.source, `key "${key}" must be 1-128 letters, digits, '_' or '-'`);
    if (key.startsWith('consul-')) fail(raw.source, `key "${key}": the prefix 'consul-' is reserved`);
    if (typeof value !== 'string') fail(raw.source, `${key}: expected a string, got ${shownValue(value)}`);
    if (Buffer.byteLength(value, 'utf8') > NODE_META_VALUE_MAX_BYTES) fail(raw.source, `${key}: the value is longer than ${NODE_META_VALUE_MAX_BYTES} bytes`);
    out[key] = value;
  }
  return out;
}

const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Each setting's resolved value, before it is laid out as an AgentConfig. */
interface SettingValues {
  server: boolean; bootstrap: boolean; dev: boolean; join: string[]; nodeId: string; dataDir: string | undefined;
  raftAddr: HostPort; advertise: string; httpAddr: HostPort; dnsAddr: HostPort; token: string | undefined;
  tlsCert: Raw | undefined; tlsKey: Raw | undefined; tlsCa: Raw | undefined; clusterId: string;
  logLevel: string; logFormat: AgentConfig['logFormat'];
  electionTimeout: number; heartbeatInterval: number; snapshotThreshold: number; snapshotInterval: number;
  deadServerTimeout: number; stabilizationTime: number; maxValueSize: number;
  datacenter: string; domain: string; recursor: string[]; dnsOnlyPassing: boolean; dnsNodeTtl: number;
  dnsServiceTtl: Record<string, number>; nodeHealthTimeout: number; antiEntropyInterval: number; enableScriptChecks: boolean;
  // sec
  aclEnabled: boolean; aclDefaultPolicy: 'allow' | 'deny'; httpsAddr: HostPort | undefined; httpsVerifyIncoming: boolean; insecurePeers: boolean;
  // api branch (issue 18)
  nodeMeta: Record<string, string>; dnsUdpAnswerLimit: number; dnsARecordLimit: number;
  // scale (issue 13)
  relay: boolean; relayFanout: number; relaySilence: number;
}

/** A setting's value from its raw input (undefined: not given anywhere), given the settings it depends on. */
type Resolver<T> = (raw: Raw | undefined, get: <K extends SettingName>(name: K) => SettingValues[K]) => T;
type Get = Parameters<Resolver<unknown>>[1];
type Dflt<T> = T | ((get: Get) => T);
const dflt = <T>(d: Dflt<T>, get: Get): T => (typeof d === 'function' ? (d as (get: Get) => T)(get) : d);

const bool = (d: Dflt<boolean>): Resolver<boolean> => (raw, get) => asBool(raw, raw === undefined ? dflt(d, get) : false);
const duration = (d: Dflt<number>, min: number, max: number): Resolver<number> => (raw, get) => asDuration(raw, raw === undefined ? dflt(d, get) : 0, min, max);
const integer = (d: number, min: number, max: number): Resolver<number> => (raw) => asInt(raw, d, min, max);
const size = (d: number, min: number, max: number): Resolver<number> => (raw) => asSize(raw, d, min, max);
const address = (d: Dflt<string>, defaultPort: number): Resolver<HostPort> => (raw, get) => asHostPort(raw, raw === undefined ? dflt(d, get) : '', defaultPort);
/** A string matched against `pattern` (after `normalize`); `problem` says what it must be. */
const text = (d: string, pattern: RegExp, problem: (v: string) => string, normalize = (v: string) => v): Resolver<string> => (raw) => {
  const v = raw === undefined ? d : normalize(asString(raw));
  if (raw !== undefined && !pattern.test(v)) fail(raw.source, problem(v));
  return v;
};
/** A string that, when given, must not be empty. */
const optionalText: Resolver<string | undefined> = (raw) => {
  const v = raw === undefined ? undefined : asString(raw);
  if (v === '') fail(raw!.source, 'must not be empty');
  return v;
};
/** A comma-separated list (or a JSON array) of host[:port], each normalized. */
const addressList = (defaultPort: number, problem: (v: string) => string): Resolver<string[]> => (raw) => {
  if (raw === undefined) return [];
  const list = Array.isArray(raw.value) ? raw.value.map(String) : asString(raw).split(',');
  const items = list.map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) if (parseHostPort(item, defaultPort) === undefined) fail(raw.source, problem(item));
  return items.map((item) => formatHostPort(parseHostPort(item, defaultPort)!));
};

/**
 * How each setting of SETTINGS is read: its parser, default and range. A
 * default may depend on other settings (read through `get`); rules between
 * settings are in SETTING_RULES.
 */
const RESOLVE: { [K in SettingName]: Resolver<SettingValues[K]> } = {
  server: bool((get) => get('dev')),
  bootstrap: bool((get) => get('dev')),
  dev: bool(false),
  join: addressList(7000, (j) => `"${j}" is not host:port`),
  nodeId: (raw) => {
    const nodeId = raw === undefined ? hostname().replace(/[^A-Za-z0-9._-]/g, '-') : asString(raw);
    if (!NODE_ID_RE.test(nodeId)) fail(raw?.source ?? 'node id (from the host name)', `"${nodeId}" must be 1-128 letters, digits, '.', '_' or '-'`);
    return nodeId;
  },
  dataDir: (raw, get) => {
    // Required unless dev: checked in resolveSettings, which --print-config asks not to (it starts nothing).
    return optionalText(raw, get);
  },
  raftAddr: address((get) => (get('dev') ? '127.0.0.1:0' : '0.0.0.0:7000'), 7000),
  advertise: (raw, get) => {
    const raftAddr = get('raftAddr');
    if (raw === undefined) {
      const host = raftAddr.host === '0.0.0.0' || raftAddr.host === '::' ? firstLanAddress() : raftAddr.host;
      return formatHostPort({ host, port: raftAddr.port });
    }
    const hp = asHostPort(raw, '', raftAddr.port);
    if (hp.host === '0.0.0.0' || hp.host === '::') fail(raw.source, 'must be an address peers can dial, not 0.0.0.0');
    return formatHostPort(hp);
  },
  httpAddr: address('127.0.0.1:8500', 8500),
  dnsAddr: address('127.0.0.1:8600', 8600),
  token: optionalText,
  tlsCert: (raw) => raw,
  tlsKey: (raw) => raw,
  tlsCa: (raw) => raw,
  clusterId: text('konsul', NODE_ID_RE, (v) => `"${v}" must be letters, digits, '.', '_' or '-'`),
  logLevel: text('info', /^(trace|debug|info|warn|error|fatal|silent)$/, (v) => `"${v}" is not one of trace, debug, info, warn, error, fatal, silent`),
  logFormat: text('auto', /^(json|text|auto)$/, (v) => `"${v}" is not one of json, text, auto`, (v) => v.toLowerCase()) as Resolver<AgentConfig['logFormat']>,
  electionTimeout: duration(300, 50, 60_000),
  heartbeatInterval: duration((get) => Math.max(10, Math.round(get('electionTimeout') / 6)), 5, 10_000),
  snapshotThreshold: integer(8192, 16, 1 << 30),
  snapshotInterval: duration(120_000, 1000, 24 * 3_600_000),
  deadServerTimeout: duration(5 * 60_000, 1000, 30 * 24 * 3_600_000),
  stabilizationTime: duration(5000, 0, 3_600_000),
  maxValueSize: size(512 * 1024, 1, 8 * 1024 * 1024),
  datacenter: text('dc1', DNS_LABEL_RE, (v) => `"${v}" must be a DNS label: letters, digits and '-'`, (v) => v.toLowerCase()),
  domain: (raw) => {
    let domain = raw === undefined ? 'consul.' : asString(raw).toLowerCase();
    if (!domain.endsWith('.')) domain += '.';
    if (!domain.slice(0, -1).split('.').every((l) => DNS_LABEL_RE.test(l))) fail(raw!.source, `"${domain}" is not a domain name (example: consul)`);
    return domain;
  },
  recursor: addressList(53, (r) => `"${r}" is not host[:port]`),
  dnsOnlyPassing: bool(false),
  dnsNodeTtl: (raw, get) => Math.floor(duration(0, 0, 24 * 3_600_000)(raw, get) / 1000),
  dnsServiceTtl: (raw) => asTtlMap(raw),
  nodeHealthTimeout: duration((get) => Math.max(2000, 4 * get('electionTimeout')), 100, 3_600_000),
  antiEntropyInterval: duration(60_000, 100, 24 * 3_600_000),
  enableScriptChecks: bool(false),
  // sec
  aclEnabled: bool(false),
  aclDefaultPolicy: text('allow', /^(allow|deny)$/, (v) => `"${v}" is not allow or deny`, (v) => v.toLowerCase()) as Resolver<'allow' | 'deny'>,
  httpsAddr: (raw) => (raw === undefined ? undefined : asHostPort(raw, '', 8501)),
  httpsVerifyIncoming: bool(false),
  insecurePeers: bool(false),
  // api branch (issue 18)
  nodeMeta: (raw) => asMetaMap(raw),
  dnsUdpAnswerLimit: integer(3, 1, 1000),
  dnsARecordLimit: integer(0, 0, 1000),
  // scale (issue 13)
  relay: bool(false),
  relayFanout: integer(64, 1, 10_000),
  relaySilence: duration(2000, 500, 60_000),
};

/**
 * Rules between settings. Each is checked once the settings it reads are
 * resolved (`after`, in the table's order) and blames one setting: its source
 * when given, else `source`.
 */
const SETTING_RULES: ReadonlyArray<{ after: SettingName; blame: SettingName; source?: string; problem: (v: SettingValues) => string | undefined }> = [
  {
    after: 'bootstrap', blame: 'bootstrap', source: AGENT_FLAG_NAMES.dev,
    problem: (v) => (v.bootstrap && !v.server ? 'only a server can bootstrap a cluster (add --server)' : undefined),
  },
  {
    after: 'join', blame: 'bootstrap', source: AGENT_FLAG_NAMES.dev,
    problem: (v) => (v.bootstrap && v.join.length > 0 ? 'bootstrap starts a new cluster; do not combine it with --join' : undefined),
  },
  {
    after: 'heartbeatInterval', blame: 'heartbeatInterval', source: '--heartbeat-interval',
    problem: (v) => (v.heartbeatInterval * 2 > v.electionTimeout ? `must be at most half the election timeout (${v.electionTimeout}ms)` : undefined),
  },
  {
    after: 'deadServerTimeout', blame: 'deadServerTimeout',
    problem: (v) => (v.deadServerTimeout < 4 * v.electionTimeout ? `must be at least four election timeouts (${4 * v.electionTimeout}ms)` : undefined),
  },
  {
    after: 'nodeHealthTimeout', blame: 'nodeHealthTimeout',
    problem: (v) => (v.nodeHealthTimeout < 2 * v.electionTimeout ? `must be at least two election timeouts (${2 * v.electionTimeout}ms)` : undefined),
  },
];

function resolveSettings(src: Sources, requireDataDir: boolean): AgentConfig {
  const values: Partial<SettingValues> = {};
  const raws = new Map<SettingName, Raw | undefined>();
  const resolving = new Set<SettingName>();
  const get = <K extends SettingName>(name: K): SettingValues[K] => {
    if (!(name in values)) {
      if (resolving.has(name)) throw new Error(`settings ${[...resolving].join(', ')} depend on each other`);
      resolving.add(name);
      if (!raws.has(name)) raws.set(name, src.get(name));
      values[name] = (RESOLVE[name] as Resolver<SettingValues[K]>)(raws.get(name), get);
      resolving.delete(name);
    }
    return values[name] as SettingValues[K];
  };
  // The order a person reads the table in is the order errors are found in.
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    get(name);
    if (name === 'dataDir' && requireDataDir && values.dataDir === undefined && !get('dev')) {
      fail('--data-dir', 'is required (or KONSUL_DATA_DIR); use --dev for a throwaway single-node agent');
    }
    for (const rule of SETTING_RULES) {
      if (rule.after !== name) continue;
      const problem = rule.problem(values as SettingValues);
      if (problem) fail(raws.get(rule.blame)?.source ?? rule.source ?? AGENT_FLAG_NAMES[SETTINGS[rule.blame].flag], problem);
    }
  }
  const v = values as SettingValues;
  // Mutual TLS needs all three files.
  const anyTls = v.tlsCert ?? v.tlsKey ?? v.tlsCa;
  let tls: AgentConfig['tls'];
  if (anyTls !== undefined) {
    if (!v.tlsCert || !v.tlsKey || !v.tlsCa) fail(anyTls.source, 'mutual TLS needs all three of --tls-cert, --tls-key and --tls-ca');
    tls = { cert: readPem(v.tlsCert), key: readPem(v.tlsKey), ca: readPem(v.tlsCa) };
  }
  return {
    nodeId: v.nodeId, dataDir: v.dataDir, dev: v.dev, server: v.server, bootstrap: v.bootstrap, join: v.join,
    raftAddr: v.raftAddr, advertise: v.advertise, httpAddr: v.httpAddr, dnsAddr: v.dnsAddr, clusterId: v.clusterId,
    token: v.token, tls, logLevel: v.logLevel, logFormat: v.logFormat,
    electionTimeoutMs: v.electionTimeout, heartbeatIntervalMs: v.heartbeatInterval,
    // A lease well inside the election timeout: followers will not elect anyone else before it ends,
    // with room for clock-rate differences and a late tick.
    leaderLeaseMs: Math.floor(v.electionTimeout * 0.5),
    snapshotThreshold: v.snapshotThreshold, snapshotIntervalMs: v.snapshotInterval,
    snapshotTrailing: Math.min(1024, Math.floor(v.snapshotThreshold / 2)),
    deadServerTimeoutMs: v.deadServerTimeout, stabilizationMs: v.stabilizationTime, maxValueBytes: v.maxValueSize,
    proposalTimeoutMs: 10_000,
    datacenter: v.datacenter,
    dns: {
      domain: v.domain, recursors: v.recursor, onlyPassing: v.dnsOnlyPassing, nodeTtlSeconds: v.dnsNodeTtl, serviceTtlSeconds: v.dnsServiceTtl,
      udpAnswerLimit: v.dnsUdpAnswerLimit, aRecordLimit: v.dnsARecordLimit,
    },
    nodeHealthTimeoutMs: v.nodeHealthTimeout, antiEntropyIntervalMs: v.antiEntropyInterval,
    enableScriptChecks: v.enableScriptChecks,
    // sec
    acl: { enabled: v.aclEnabled, defaultPolicy: v.aclDefaultPolicy },
    https: httpsOf(v, raws, tls),
    insecurePeers: v.insecurePeers,
    nodeMeta: v.nodeMeta,
    // scale
    relay: v.relay, relayFanout: v.relayFanout, relaySilenceMs: v.relaySilence,
  };
}

/** sec: HTTPS needs the TLS pair; verify_incoming needs HTTPS. */
function httpsOf(v: SettingValues, raws: Map<SettingName, Raw | undefined>, tls: AgentConfig['tls']): AgentConfig['https'] {
  if (v.httpsAddr === undefined) {
    if (v.httpsVerifyIncoming) fail(raws.get('httpsVerifyIncoming')!.source, 'needs --https-addr');
    return undefined;
  }
  if (!tls) fail(raws.get('httpsAddr')!.source, 'HTTPS needs --tls-cert, --tls-key and --tls-ca');
  return { addr: v.httpsAddr, verifyIncoming: v.httpsVerifyIncoming };
}

export { formatHostPort };

/** A duration as the docs write it: 300ms, 2s, 5m, 1h. */
export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function formatSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return String(bytes);
}

/** Each setting's effective value, in the form its config-file key takes (secrets hidden). */
export function settingValue(name: SettingName, c: AgentConfig, origin?: SettingOrigin & { raw?: unknown }): unknown {
  switch (name) {
    case 'server': return c.server;
    case 'bootstrap': return c.bootstrap;
    case 'dev': return c.dev;
    case 'join': return c.join;
    case 'nodeId': return c.nodeId;
    case 'dataDir': return c.dataDir ?? null;
    case 'raftAddr': return formatHostPort(c.raftAddr);
    case 'advertise': return c.advertise;
    case 'httpAddr': return formatHostPort(c.httpAddr);
    case 'dnsAddr': return formatHostPort(c.dnsAddr);
    case 'token': return c.token === undefined ? null : '(hidden)';
    case 'tlsCert': case 'tlsKey': case 'tlsCa': return c.tls === undefined ? null : (origin?.raw ?? '(set)');
    case 'clusterId': return c.clusterId;
    case 'logLevel': return c.logLevel;
    case 'logFormat': return c.logFormat;
    case 'electionTimeout': return formatDuration(c.electionTimeoutMs);
    case 'heartbeatInterval': return formatDuration(c.heartbeatIntervalMs);
    case 'snapshotThreshold': return c.snapshotThreshold;
    case 'snapshotInterval': return formatDuration(c.snapshotIntervalMs);
    case 'deadServerTimeout': return formatDuration(c.deadServerTimeoutMs);
    case 'stabilizationTime': return formatDuration(c.stabilizationMs);
    case 'maxValueSize': return formatSize(c.maxValueBytes);
    case 'datacenter': return c.datacenter;
    case 'domain': return c.dns.domain;
    case 'recursor': return c.dns.recursors;
    case 'dnsOnlyPassing': return c.dns.onlyPassing;
    case 'dnsNodeTtl': return formatDuration(c.dns.nodeTtlSeconds * 1000);
    case 'dnsServiceTtl': return Object.fromEntries(Object.entries(c.dns.serviceTtlSeconds).map(([k, v]) => [k, formatDuration(v * 1000)]));
    case 'nodeHealthTimeout': return formatDuration(c.nodeHealthTimeoutMs);
    case 'antiEntropyInterval': return formatDuration(c.antiEntropyIntervalMs);
    case 'enableScriptChecks': return c.enableScriptChecks;
    // sec
    case 'aclEnabled': return c.acl.enabled;
    case 'aclDefaultPolicy': return c.acl.defaultPolicy;
    case 'httpsAddr': return c.https ? formatHostPort(c.https.addr) : null;
    case 'httpsVerifyIncoming': return c.https?.verifyIncoming ?? false;
    case 'insecurePeers': return c.insecurePeers;
    case 'nodeMeta': return c.nodeMeta;
    case 'dnsUdpAnswerLimit': return c.dns.udpAnswerLimit;
    case 'dnsARecordLimit': return c.dns.aRecordLimit;
    // scale
    case 'relay': return c.relay;
    case 'relayFanout': return c.relayFanout;
    case 'relaySilence': return formatDuration(c.relaySilenceMs);
  }
}

/** `konsul agent --print-config --json`: every setting's value and where it came from. */
export interface PrintedConfig {
  settings: Record<string, {
    value: unknown; source: SettingOrigin['source']; from: string | null; flag: string; env: string; reloadable: boolean;
  }>;
  files: string[];
  services: Array<{ id: string; name: string; checks: string[]; file: string }>;
  checks: Array<{ id: string; name: string; file: string }>;
}

export function printableConfig(loaded: LoadedConfig): PrintedConfig {
  const settings: PrintedConfig['settings'] = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const s: SettingSpec = SETTINGS[name];
    const origin = loaded.origins[name] ?? { source: 'default' as const, from: null, raw: undefined };
    settings[s.file] = {
      value: settingValue(name, loaded.config, origin),
      source: origin.source, from: origin.from, flag: AGENT_FLAG_NAMES[s.flag], env: s.env[0], reloadable: s.reloadable,
    };
  }
  return {
    settings,
    files: loaded.files,
    services: loaded.services.map(({ registration, file }) => ({
      id: registration.service.id, name: registration.service.name, checks: registration.checks.map((c) => c.id), file,
    })),
    checks: loaded.checks.map(({ check, file }) => ({ id: check.id, name: check.name, file })),
  };
}
