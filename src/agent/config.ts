// The agent's settings: flags first, then KONSUL_* environment variables, then
// an optional JSON config file, then defaults. Every value is checked here, and
// a bad one stops start-up with one line that names the setting.

import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { parseDuration as parseGoDuration } from '../duration.js';
import { KonsulError } from '../errors.js';

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
  config?: string;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  clusterId?: string;
  logLevel?: string;
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
  };
  /** The leader marks an agent's node check critical after it has not heard from it this long. */
  nodeHealthTimeoutMs: number;
  /** How often an agent compares its local services and checks with the catalog (changes sync at once). */
  antiEntropyIntervalMs: number;
  /** May services registered over HTTP carry script checks (which run any command)? Off by default, as in Consul. */
  enableScriptChecks: boolean;
}

export class ConfigError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_CONFIG', message, 400);
    this.name = 'ConfigError';
  }
}

/** One setting: its flag, environment variable and config-file key. */
interface Setting {
  flag: keyof AgentFlagValues;
  env: string[];
  file: string;
}

const S = (flag: keyof AgentFlagValues, env: string[], file: string): Setting => ({ flag, env, file });

const SETTINGS = {
  server: S('server', ['KONSUL_SERVER'], 'server'),
  bootstrap: S('bootstrap', ['KONSUL_RAFT_BOOTSTRAP'], 'bootstrap'),
  dev: S('dev', ['KONSUL_DEV'], 'dev'),
  join: S('join', ['KONSUL_RAFT_JOIN'], 'join'),
  nodeId: S('nodeId', ['KONSUL_NODE_ID'], 'node_id'),
  dataDir: S('dataDir', ['KONSUL_DATA_DIR', 'KONSUL_RAFT_DATA_DIR'], 'data_dir'),
  raftAddr: S('raftAddr', ['KONSUL_RAFT_BIND_ADDR'], 'raft_addr'),
  advertise: S('advertise', ['KONSUL_RAFT_ADVERTISE_ADDR'], 'advertise'),
  httpAddr: S('httpAddr', ['KONSUL_HTTP_ADDR'], 'http_addr'),
  dnsAddr: S('dnsAddr', ['KONSUL_DNS_ADDR'], 'dns_addr'),
  token: S('token', ['KONSUL_RAFT_TOKEN'], 'token'),
  tlsCert: S('tlsCert', ['KONSUL_TLS_CERT'], 'tls_cert'),
  tlsKey: S('tlsKey', ['KONSUL_TLS_KEY'], 'tls_key'),
  tlsCa: S('tlsCa', ['KONSUL_TLS_CA'], 'tls_ca'),
  clusterId: S('clusterId', ['KONSUL_CLUSTER_ID'], 'cluster_id'),
  logLevel: S('logLevel', ['KONSUL_LOG_LEVEL'], 'log_level'),
  electionTimeout: S('electionTimeout', ['KONSUL_RAFT_ELECTION_TIMEOUT'], 'election_timeout'),
  heartbeatInterval: S('heartbeatInterval', ['KONSUL_RAFT_HEARTBEAT_TIMEOUT'], 'heartbeat_interval'),
  snapshotThreshold: S('snapshotThreshold', ['KONSUL_RAFT_SNAPSHOT_THRESHOLD'], 'snapshot_threshold'),
  snapshotInterval: S('snapshotInterval', ['KONSUL_RAFT_SNAPSHOT_INTERVAL'], 'snapshot_interval'),
  deadServerTimeout: S('deadServerTimeout', ['KONSUL_DEAD_SERVER_TIMEOUT'], 'dead_server_timeout'),
  stabilizationTime: S('stabilizationTime', ['KONSUL_SERVER_STABILIZATION_TIME'], 'server_stabilization_time'),
  maxValueSize: S('maxValueSize', ['KONSUL_KV_MAX_VALUE_SIZE'], 'kv_max_value_size'),
  datacenter: S('datacenter', ['KONSUL_DATACENTER'], 'datacenter'),
  domain: S('domain', ['KONSUL_DNS_DOMAIN'], 'domain'),
  recursor: S('recursor', ['KONSUL_DNS_RECURSORS'], 'recursors'),
  dnsOnlyPassing: S('dnsOnlyPassing', ['KONSUL_DNS_ONLY_PASSING'], 'dns_only_passing'),
  dnsNodeTtl: S('dnsNodeTtl', ['KONSUL_DNS_NODE_TTL'], 'dns_node_ttl'),
  dnsServiceTtl: S('dnsServiceTtl', ['KONSUL_DNS_SERVICE_TTL'], 'dns_service_ttl'),
  nodeHealthTimeout: S('nodeHealthTimeout', ['KONSUL_NODE_HEALTH_TIMEOUT'], 'node_health_timeout'),
  antiEntropyInterval: S('antiEntropyInterval', ['KONSUL_ANTI_ENTROPY_INTERVAL'], 'anti_entropy_interval'),
  enableScriptChecks: S('enableScriptChecks', ['KONSUL_ENABLE_SCRIPT_CHECKS'], 'enable_script_checks'),
} satisfies Record<string, Setting>;

type SettingName = keyof typeof SETTINGS;

/** Each flag's spelling on the command line, so an error can name what the user typed. */
export const AGENT_FLAG_NAMES: Readonly<Record<keyof AgentFlagValues, string>> = {
  server: '--server', bootstrap: '--bootstrap', dev: '--dev', join: '--join', nodeId: '--node-id',
  dataDir: '--data-dir', raftAddr: '--raft-addr', advertise: '--advertise', httpAddr: '--http-addr',
  dnsAddr: '--dns-addr', config: '--config', token: '--token', tlsCert: '--tls-cert', tlsKey: '--tls-key',
  tlsCa: '--tls-ca', clusterId: '--cluster-id', logLevel: '--log-level', electionTimeout: '--election-timeout',
  heartbeatInterval: '--heartbeat-interval', snapshotThreshold: '--snapshot-threshold',
  snapshotInterval: '--snapshot-interval', deadServerTimeout: '--dead-server-timeout',
  stabilizationTime: '--stabilization-time', maxValueSize: '--max-value-size',
  datacenter: '--datacenter', domain: '--domain', recursor: '--recursor', dnsOnlyPassing: '--dns-only-passing',
  dnsNodeTtl: '--dns-node-ttl', dnsServiceTtl: '--dns-service-ttl', nodeHealthTimeout: '--node-health-timeout',
  antiEntropyInterval: '--anti-entropy-interval', enableScriptChecks: '--enable-script-checks',
};

/** A raw value and where it came from, so an error can name the right spelling. */
interface Raw { value: unknown; source: string }

class Sources {
  constructor(
    private readonly flags: AgentFlagValues,
    private readonly env: NodeJS.ProcessEnv,
    private readonly file: Record<string, unknown>,
    private readonly filePath: string | undefined,
  ) {}

  get(name: SettingName): Raw | undefined {
    const s: Setting = SETTINGS[name];
    const flag = this.flags[s.flag];
    if (flag !== undefined) return { value: flag, source: AGENT_FLAG_NAMES[s.flag] };
    for (const e of s.env) {
      const v = this.env[e];
      if (v !== undefined && v !== '') return { value: v, source: e };
    }
    if (Object.hasOwn(this.file, s.file)) return { value: this.file[s.file], source: `"${s.file}" in ${this.filePath}` };
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
  return fail(raw.source, `expected a string, got ${JSON.stringify(raw.value)}`);
}

function asBool(raw: Raw | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (typeof raw.value === 'boolean') return raw.value;
  const v = String(raw.value).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(raw.source, `expected true or false, got ${JSON.stringify(raw.value)}`);
}

/** "300ms", "1.5s", "5m", "1h", "1m30s" (Go's format), or a bare number of milliseconds; whole ms, never negative. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  if (/^[-+]/.test(text)) return undefined;
  const ms = parseGoDuration(text);
  return ms === undefined ? undefined : Math.round(ms);
}

function asDuration(raw: Raw | undefined, fallbackMs: number, minMs: number, maxMs: number): number {
  if (raw === undefined) return fallbackMs;
  const text = asString(raw);
  const ms = parseDuration(text);
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

function loadFile(flags: AgentFlagValues, env: NodeJS.ProcessEnv): { file: Record<string, unknown>; path: string | undefined } {
  const path = flags.config ?? env.KONSUL_CONFIG_FILE;
  if (path === undefined || path === '') return { file: {}, path: undefined };
  const source = flags.config !== undefined ? '--config' : 'KONSUL_CONFIG_FILE';
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
    return fail(source, `${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail(source, `${path} must hold a JSON object`);
  const known = new Set<string>(Object.values(SETTINGS).map((s) => s.file));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) fail(source, `unknown setting "${key}" in ${path} (known: ${[...known].sort().join(', ')})`);
  }
  return { file: parsed as Record<string, unknown>, path };
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
    const ms = parseDuration(String(value));
    if (ms === undefined) fail(raw.source, `${name}: "${String(value)}" is not a duration (examples: 0s, 10s, 1m)`);
    out[name.toLowerCase()] = Math.floor(ms / 1000);
  }
  return out;
}

const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Resolve and check every setting. Throws ConfigError naming the first bad one. */
export function resolveConfig(flags: AgentFlagValues, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const { file, path } = loadFile(flags, env);
  const src = new Sources(flags, env, file, path);

  const dev = asBool(src.get('dev'), false);
  const server = asBool(src.get('server'), dev);
  const bootstrap = asBool(src.get('bootstrap'), dev);
  // Without --bootstrap anywhere, bootstrapping came from --dev.
  const bootstrapSource = src.get('bootstrap')?.source ?? AGENT_FLAG_NAMES.dev;
  if (bootstrap && !server) fail(bootstrapSource, 'only a server can bootstrap a cluster (add --server)');

  const joinRaw = src.get('join');
  let join: string[] = [];
  if (joinRaw !== undefined) {
    const list = Array.isArray(joinRaw.value) ? joinRaw.value.map(String) : asString(joinRaw).split(',');
    join = list.map((s) => s.trim()).filter((s) => s !== '');
    for (const j of join) {
      const hp = parseHostPort(j, 7000);
      if (hp === undefined) fail(joinRaw.source, `"${j}" is not host:port`);
    }
    join = join.map((j) => formatHostPort(parseHostPort(j, 7000)!));
  }
  if (bootstrap && join.length > 0) {
    fail(bootstrapSource, 'bootstrap starts a new cluster; do not combine it with --join');
  }
  if (!bootstrap && join.length === 0 && !dev) {
    // Allowed: a restart of a node that is already a member needs neither. Checked against the data dir at start-up.
  }

  const nodeIdRaw = src.get('nodeId');
  const nodeId = nodeIdRaw === undefined ? hostname().replace(/[^A-Za-z0-9._-]/g, '-') : asString(nodeIdRaw);
  if (!NODE_ID_RE.test(nodeId)) {
    fail(nodeIdRaw?.source ?? 'node id (from the host name)', `"${nodeId}" must be 1-128 letters, digits, '.', '_' or '-'`);
  }

  const dataDirRaw = src.get('dataDir');
  const dataDir = dataDirRaw === undefined ? undefined : asString(dataDirRaw);
  if (dataDir === '' || (dataDir === undefined && !dev)) {
    fail('--data-dir', 'is required (or KONSUL_DATA_DIR); use --dev for a throwaway single-node agent');
  }

  const raftAddr = asHostPort(src.get('raftAddr'), dev ? '127.0.0.1:0' : '0.0.0.0:7000', 7000);
  const advRaw = src.get('advertise');
  let advertise: string;
  if (advRaw !== undefined) {
    const hp = asHostPort(advRaw, '', raftAddr.port);
    if (hp.host === '0.0.0.0' || hp.host === '::') fail(advRaw.source, 'must be an address peers can dial, not 0.0.0.0');
    advertise = formatHostPort(hp);
  } else {
    const host = raftAddr.host === '0.0.0.0' || raftAddr.host === '::' ? firstLanAddress() : raftAddr.host;
    advertise = formatHostPort({ host, port: raftAddr.port });
  }

  const httpAddr = asHostPort(src.get('httpAddr'), '127.0.0.1:8500', 8500);
  const dnsAddr = asHostPort(src.get('dnsAddr'), '127.0.0.1:8600', 8600);

  const clusterIdRaw = src.get('clusterId');
  const clusterId = clusterIdRaw === undefined ? 'konsul' : asString(clusterIdRaw);
  if (!NODE_ID_RE.test(clusterId)) fail(clusterIdRaw!.source, `"${clusterId}" must be letters, digits, '.', '_' or '-'`);

  const tokenRaw = src.get('token');
  const token = tokenRaw === undefined ? undefined : asString(tokenRaw);
  if (token === '') fail(tokenRaw!.source, 'must not be empty');

  const certRaw = src.get('tlsCert');
  const keyRaw = src.get('tlsKey');
  const caRaw = src.get('tlsCa');
  let tls: AgentConfig['tls'];
  const anyTls = certRaw ?? keyRaw ?? caRaw;
  if (anyTls !== undefined) {
    if (!certRaw || !keyRaw || !caRaw) fail(anyTls.source, 'mutual TLS needs all three of --tls-cert, --tls-key and --tls-ca');
    tls = { cert: readPem(certRaw), key: readPem(keyRaw), ca: readPem(caRaw) };
  }

  const logLevelRaw = src.get('logLevel');
  const logLevel = logLevelRaw === undefined ? 'info' : asString(logLevelRaw);
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    fail(logLevelRaw!.source, `"${logLevel}" is not one of trace, debug, info, warn, error, fatal, silent`);
  }

  const electionTimeoutMs = asDuration(src.get('electionTimeout'), 300, 50, 60_000);
  const hbRaw = src.get('heartbeatInterval');
  const heartbeatIntervalMs = asDuration(hbRaw, Math.max(10, Math.round(electionTimeoutMs / 6)), 5, 10_000);
  if (heartbeatIntervalMs * 2 > electionTimeoutMs) {
    fail(hbRaw?.source ?? '--heartbeat-interval', `must be at most half the election timeout (${electionTimeoutMs}ms)`);
  }
  const snapshotThreshold = asInt(src.get('snapshotThreshold'), 8192, 16, 1 << 30);
  const snapshotIntervalMs = asDuration(src.get('snapshotInterval'), 120_000, 1000, 24 * 3_600_000);
  const deadRaw = src.get('deadServerTimeout');
  const deadServerTimeoutMs = asDuration(deadRaw, 5 * 60_000, 1000, 30 * 24 * 3_600_000);
  if (deadServerTimeoutMs < 4 * electionTimeoutMs) {
    fail(deadRaw!.source, `must be at least four election timeouts (${4 * electionTimeoutMs}ms)`);
  }
  const stabilizationMs = asDuration(src.get('stabilizationTime'), 5000, 0, 3_600_000);
  const maxValueBytes = asSize(src.get('maxValueSize'), 512 * 1024, 1, 8 * 1024 * 1024);

  const dcRaw = src.get('datacenter');
  const datacenter = dcRaw === undefined ? 'dc1' : asString(dcRaw).toLowerCase();
  if (!DNS_LABEL_RE.test(datacenter)) fail(dcRaw!.source, `"${datacenter}" must be a DNS label: letters, digits and '-'`);
  const domainRaw = src.get('domain');
  let domain = domainRaw === undefined ? 'consul.' : asString(domainRaw).toLowerCase();
  if (!domain.endsWith('.')) domain += '.';
  if (!domain.slice(0, -1).split('.').every((l) => DNS_LABEL_RE.test(l))) {
    fail(domainRaw!.source, `"${domain}" is not a domain name (example: consul)`);
  }
  const recursorRaw = src.get('recursor');
  let recursors: string[] = [];
  if (recursorRaw !== undefined) {
    const list = Array.isArray(recursorRaw.value) ? recursorRaw.value.map(String) : asString(recursorRaw).split(',');
    recursors = list.map((r) => r.trim()).filter((r) => r !== '');
    for (const r of recursors) if (parseHostPort(r, 53) === undefined) fail(recursorRaw.source, `"${r}" is not host[:port]`);
    recursors = recursors.map((r) => formatHostPort(parseHostPort(r, 53)!));
  }
  const onlyPassing = asBool(src.get('dnsOnlyPassing'), false);
  const nodeTtlSeconds = Math.floor(asDuration(src.get('dnsNodeTtl'), 0, 0, 24 * 3_600_000) / 1000);
  const serviceTtlSeconds = asTtlMap(src.get('dnsServiceTtl'));
  const nhRaw = src.get('nodeHealthTimeout');
  const nodeHealthTimeoutMs = asDuration(nhRaw, Math.max(2000, 4 * electionTimeoutMs), 100, 3_600_000);
  if (nodeHealthTimeoutMs < 2 * electionTimeoutMs) {
    fail(nhRaw!.source, `must be at least two election timeouts (${2 * electionTimeoutMs}ms)`);
  }
  const antiEntropyIntervalMs = asDuration(src.get('antiEntropyInterval'), 60_000, 100, 24 * 3_600_000);

  return {
    nodeId, dataDir, dev, server, bootstrap, join, raftAddr, advertise, httpAddr, dnsAddr, clusterId, token, tls,
    logLevel, electionTimeoutMs, heartbeatIntervalMs,
    // A lease well inside the election timeout: followers will not elect anyone else before it ends,
    // with room for clock-rate differences and a late tick.
    leaderLeaseMs: Math.floor(electionTimeoutMs * 0.6),
    snapshotThreshold, snapshotIntervalMs,
    snapshotTrailing: Math.min(1024, Math.floor(snapshotThreshold / 2)),
    deadServerTimeoutMs, stabilizationMs, maxValueBytes,
    proposalTimeoutMs: 10_000,
    datacenter,
    dns: { domain, recursors, onlyPassing, nodeTtlSeconds, serviceTtlSeconds },
    nodeHealthTimeoutMs, antiEntropyIntervalMs,
    enableScriptChecks: asBool(src.get('enableScriptChecks'), false),
  };
}

export { formatHostPort };
