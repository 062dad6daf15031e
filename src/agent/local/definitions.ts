// Consul's service and check registration bodies (PUT /v1/agent/service/register,
// PUT /v1/agent/check/register, service definition files) read into checked definitions.

import { KonsulError } from '../../errors.js';
import { parseDuration } from '../../duration.js';
import type { HealthStatus, ServiceExtras, ServiceWeights } from '../../state/catalog-types.js';

/** Kind, Proxy, Connect, TaggedAddresses, SocketPath and Locality ride along as given (ServiceExtras). */
export interface ServiceDefinition extends ServiceExtras {
  id: string;
  name: string;
  tags: string[];
  /** Empty: the node's address. */
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: ServiceWeights;
  enableTagOverride: boolean;
}

/** 'maintenance': the critical check maintenance mode adds (never parsed from a body, never run). */
export type CheckKind = 'http' | 'tcp' | 'ttl' | 'script' | 'maintenance' | 'grpc' | 'h2ping' | 'udp' | 'alias';

export interface CheckDefinition {
  id: string;
  name: string;
  /** '' for a node-level check. */
  serviceId: string;
  notes: string;
  kind: CheckKind;
  http?: { url: string; method: string; headers: Record<string, string[]>; body?: string; tlsSkipVerify: boolean };
  tcp?: { host: string; port: number };
  script?: { args: string[] };
  /** GRPC: host:port[/service], the standard grpc.health.v1 protocol. */
  grpc?: { host: string; port: number; service: string; tls: boolean; skipVerify: boolean };
  /** H2PING: host:port, an HTTP/2 PING (TLS unless H2PingUseTLS is false). */
  h2ping?: { host: string; port: number; tls: boolean; skipVerify: boolean };
  udp?: { host: string; port: number };
  /** AliasService / AliasNode: the health of another service (or node); node '' is this agent. */
  alias?: { serviceId: string; node: string };
  /** TTL checks only. */
  ttlMs?: number;
  /** 0 for TTL checks, which do not run on their own. */
  intervalMs: number;
  /** 0 for TTL checks. */
  timeoutMs: number;
  /**
   * Deregister the check's service once the check has been critical this long.
   * Taken as given: Consul raises values under one minute to one minute, which
   * is the owner's policy to apply, not the parser's.
   */
  deregisterCriticalServiceAfterMs?: number;
  /** Consecutive successes before the check turns passing (0 and 1: at once). */
  successBeforePassing: number;
  /** Consecutive failures before the check turns critical (0 and 1: at once). */
  failuresBeforeCritical: number;
  /**
   * Consecutive failures before the check turns warning while it waits for
   * failuresBeforeCritical (Consul 1.11+). The parser sets it; absent means
   * failuresBeforeCritical, i.e. no warning step.
   */
  failuresBeforeWarning?: number;
  /** Consul: 'critical' unless the definition gives Status. */
  initialStatus: HealthStatus;
}

export interface ServiceRegistration {
  service: ServiceDefinition;
  checks: CheckDefinition[];
}

/** A registration body or definition file that does not hold; the message names the field. */
export class DefinitionError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_DEFINITION', message, 'invalid');
    this.name = 'DefinitionError';
  }
}

// ------------------------------------------------------------ limits

/**
 * Consul's floor for Interval is 1s (it raises shorter ones, to avoid fork
 * bombs from script checks). Ours is 100ms so tests run fast; shorter
 * intervals are raised to it, as Consul does, rather than refused.
 */
export const MIN_CHECK_INTERVAL_MS = 100;
/** How often an alias check looks at the aliased service's health again. */
export const ALIAS_REFRESH_MS = 1000;
/** Consul's check timeout when none is given: its HTTP and TCP checks use 10s... */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;
/** ...and its script checks (CheckMonitor) 30s. */
export const DEFAULT_SCRIPT_TIMEOUT_MS = 30_000;

// Consul's service metadata limits (structs.ValidateServiceMetadata).
const META_MAX_PAIRS = 64;
const META_KEY_MAX_LENGTH = 128;
const META_VALUE_MAX_BYTES = 512;
const META_KEY_FORMAT = /^[A-Za-z0-9_-]+$/;
const META_RESERVED_PREFIX = 'consul-';
const MAX_WEIGHT = 65535;
const MAX_THRESHOLD = 1_000_000;

const STATUSES: readonly HealthStatus[] = ['passing', 'warning', 'critical'];
/** RFC 9110 token: what a method or a header name may hold. */
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// ------------------------------------------------------------ reading JSON like Consul's decoder

function fail(where: string, problem: string): never {
  throw new DefinitionError(`${where}: ${problem}`);
}

/** A value as it appears in an error: JSON, cut short so the message stays one short line. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A value that Go's encoder would leave out with omitempty: an unset field. */
function isZero(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/**
 * Spellings of one field that differ by more than case and underscores.
 * `ScriptArgs`/`script_args` are Consul's older names for `Args`; a check's
 * id is `ID` in files and `CheckID` in API bodies.
 */
const KEY_ALIASES: Readonly<Record<string, string>> = { scriptargs: 'args', checkid: 'id' };

/** `CheckID`, `check_id`, `checkid` and `ID` all name one field. */
function canonicalKey(key: string): string {
  const k = key.toLowerCase().replaceAll('_', '');
  return KEY_ALIASES[k] ?? k;
}

/**
 * One JSON object read the way Consul reads its structs: keys match without
 * regard to case (Go's encoding/json) or underscores (Consul's snake_case
 * translations), null is the same as absent, unknown keys are ignored (as Go's
 * decoder does: clients send fields of newer Consul versions).
 * When one field is spelled twice, the later spelling wins, as in Go.
 */
class Fields {
  private readonly values = new Map<string, unknown>();

  private constructor(readonly path: string, object: Record<string, unknown>) {
    for (const [key, value] of Object.entries(object)) {
      if (value !== null) this.values.set(canonicalKey(key), value);
    }
  }

  static read(value: unknown, path: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fail(path || 'body', `expected a JSON object, got ${jsonType(value)}`);
    }
    return new Fields(path, value as Record<string, unknown>);
  }

  /** The path of a field, for errors: `Checks[1].Interval`. */
  where(field: string): string {
    return this.path ? `${this.path}.${field}` : field;
  }

  /** The path of this object itself. */
  self(): string {
    return this.path || 'body';
  }

  get(field: string): unknown {
    return this.values.get(canonicalKey(field));
  }

  /** Set to something other than a zero value. */
  isSet(field: string): boolean {
    return !isZero(this.get(field));
  }

  /** Every field a zero value: Consul skips such a check (`"Check": {}`). */
  isEmpty(): boolean {
    for (const value of this.values.values()) if (!isZero(value)) return false;
    return true;
  }

  string(field: string): string {
    const value = this.get(field);
    if (value === undefined) return '';
    if (typeof value !== 'string') fail(this.where(field), `expected a string, got ${jsonType(value)}`);
    return value;
  }

  boolean(field: string): boolean {
    const value = this.get(field);
    if (value === undefined) return false;
    if (typeof value !== 'boolean') fail(this.where(field), `expected true or false, got ${shown(value)}`);
    return value;
  }

  integer(field: string, min: number, max: number, fallback: number): number {
    const value = this.get(field);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value)) fail(this.where(field), `${shown(value)} is not an integer`);
    if (value < min || value > max) fail(this.where(field), `${value} is out of range (${min} to ${max})`);
    return value;
  }

  /**
   * A Go duration in ms: a string ("10s", "1m30s", "500ms") or, as Go's
   * time.Duration encodes, a number of nanoseconds. Absent or "": undefined.
   */
  duration(field: string): number | undefined {
    const value = this.get(field);
    if (value === undefined || value === '') return undefined;
    if (typeof value === 'number') return value / 1e6;
    if (typeof value !== 'string') fail(this.where(field), `expected a duration such as "10s", got ${jsonType(value)}`);
    const ms = parseDuration(value);
    if (ms === undefined) fail(this.where(field), `${shown(value)} is not a duration (examples: 500ms, 10s, 1m30s)`);
    return ms;
  }

  list(field: string): unknown[] {
    const value = this.get(field);
    if (value === undefined) return [];
    if (!Array.isArray(value)) fail(this.where(field), `expected an array, got ${jsonType(value)}`);
    return value;
  }

  strings(field: string): string[] {
    return this.list(field).map((item, i) => {
      if (typeof item !== 'string') fail(`${this.where(field)}[${i}]`, `expected a string, got ${jsonType(item)}`);
      return item;
    });
  }

  /** A JSON object as it is (its keys are data, not field names: no case folding). */
  object(field: string): Record<string, unknown> {
    const value = this.get(field);
    if (value === undefined) return {};
    if (typeof value !== 'object' || Array.isArray(value)) fail(this.where(field), `expected an object, got ${jsonType(value)}`);
    return value as Record<string, unknown>;
  }

  nested(field: string): Fields | undefined {
    const value = this.get(field);
    return value === undefined ? undefined : Fields.read(value, this.where(field));
  }
}

// ------------------------------------------------------------ services

function parseMeta(f: Fields): Record<string, string> {
  const where = f.where('Meta');
  const entries = Object.entries(f.object('Meta'));
  if (entries.length > META_MAX_PAIRS) fail(where, `${entries.length} pairs, at most ${META_MAX_PAIRS} are allowed`);
  const meta: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (key === '') fail(where, 'a key is empty');
    if (!META_KEY_FORMAT.test(key)) fail(where, `key ${shown(key)} may hold only letters, digits, '_' and '-'`);
    if (key.length > META_KEY_MAX_LENGTH) fail(where, `key ${shown(key)} is longer than ${META_KEY_MAX_LENGTH} characters`);
    if (key.startsWith(META_RESERVED_PREFIX)) fail(where, `key ${shown(key)}: the prefix '${META_RESERVED_PREFIX}' is reserved`);
    if (typeof value !== 'string') fail(`${where}[${shown(key)}]`, `expected a string, got ${jsonType(value)}`);
    if (Buffer.byteLength(value, 'utf8') > META_VALUE_MAX_BYTES) {
      fail(`${where}[${shown(key)}]`, `the value is longer than ${META_VALUE_MAX_BYTES} bytes`);
    }
    meta[key] = value;
  }
  return meta;
}

function parseWeights(f: Fields): ServiceWeights {
  const w = f.nested('Weights');
  if (w === undefined) return { passing: 1, warning: 1 };
  // Consul: Passing at least 1 (a passing instance must be picked sometimes),
  // Warning may be 0 (never pick a warning instance); a missing one is 1.
  return { passing: w.integer('Passing', 1, MAX_WEIGHT, 1), warning: w.integer('Warning', 0, MAX_WEIGHT, 1) };
}

function parseAddress(f: Fields): string {
  const address = f.string('Address');
  // Consul refuses the unspecified address: no client can reach a service there.
  if (address === '0.0.0.0' || address === '::' || address === '[::]') {
    fail(f.where('Address'), `${shown(address)} is not an address a client can reach (leave it empty for the node's address)`);
  }
  return address;
}

/** Consul's service kinds ('' is a plain service). */
const SERVICE_KINDS: readonly string[] = ['connect-proxy', 'mesh-gateway', 'terminating-gateway', 'ingress-gateway', 'api-gateway'];
/** The most a Proxy, Connect, TaggedAddresses or Locality block may weigh as JSON. */
const MAX_EXTRA_BYTES = 32 * 1024;

/** Kind, Proxy, Connect, TaggedAddresses, SocketPath, Locality: checked for shape, kept exactly as given. */
function parseExtras(f: Fields): ServiceExtras {
  const extras: ServiceExtras = {};
  const kind = f.string('Kind');
  if (kind !== '') {
    if (!SERVICE_KINDS.includes(kind)) fail(f.where('Kind'), `${shown(kind)} is not one of ${SERVICE_KINDS.join(', ')} (or empty)`);
    extras.kind = kind;
  }
  for (const [field, key] of [['Proxy', 'proxy'], ['Connect', 'connect'], ['TaggedAddresses', 'taggedAddresses'], ['Locality', 'locality']] as const) {
    if (f.get(field) === undefined) continue;
    const value = f.object(field);
    if (Buffer.byteLength(JSON.stringify(value), 'utf8') > MAX_EXTRA_BYTES) fail(f.where(field), `more than ${MAX_EXTRA_BYTES} bytes of JSON`);
    extras[key] = value;
  }
  if (f.isSet('TaggedAddresses')) {
    for (const [name, raw] of Object.entries(extras.taggedAddresses!)) {
      const a = Fields.read(raw, `${f.where('TaggedAddresses')}[${shown(name)}]`);
      a.string('Address');
      a.integer('Port', 0, 65535, 0);
    }
  }
  const socketPath = f.string('SocketPath');
  if (socketPath !== '') extras.socketPath = socketPath;
  return extras;
}

function parseService(f: Fields): ServiceRegistration {
  const name = f.string('Name');
  if (name === '') fail(f.where('Name'), 'required (the service has no name)');
  const service: ServiceDefinition = {
    id: f.string('ID') || name,
    name,
    tags: f.strings('Tags'),
    address: parseAddress(f),
    port: f.integer('Port', 0, 65535, 0),
    meta: parseMeta(f),
    weights: parseWeights(f),
    enableTagOverride: f.boolean('EnableTagOverride'),
    ...parseExtras(f),
  };

  // Consul's ServiceDefinition.CheckTypes: Check first, then Checks, empty ones skipped.
  const bodies: Fields[] = [];
  const single = f.nested('Check');
  if (single && !single.isEmpty()) bodies.push(single);
  f.list('Checks').forEach((item, i) => {
    const body = Fields.read(item, f.where(`Checks[${i}]`));
    if (!body.isEmpty()) bodies.push(body);
  });
  const checks = bodies.map((body, i) => parseCheck(body, { service, number: bodies.length > 1 ? i + 1 : 0 }));
  const seen = new Map<string, string>();
  checks.forEach((check, i) => {
    const other = seen.get(check.id);
    if (other !== undefined) fail(bodies[i]!.where('CheckID'), `${shown(check.id)} is also the id of ${other}`);
    seen.set(check.id, bodies[i]!.self());
  });
  return { service, checks };
}

// ------------------------------------------------------------ checks

/** The field that makes each kind of check. */
const KIND_FIELDS: ReadonlyArray<readonly [field: string, kind: CheckKind]> = [
  ['HTTP', 'http'], ['TCP', 'tcp'], ['TTL', 'ttl'], ['Args', 'script'], ['GRPC', 'grpc'], ['H2PING', 'h2ping'], ['UDP', 'udp'],
  ['AliasService', 'alias'], ['AliasNode', 'alias'],
];

/** Consul check kinds konsul does not run, so that they are refused by name rather than ignored. */
const UNSUPPORTED_KIND_FIELDS: readonly string[] = ['OSService', 'DockerContainerID'];
const KIND_LIST = 'HTTP, TCP, TTL, Args, GRPC, H2PING, UDP or AliasService/AliasNode';

function checkKind(f: Fields): CheckKind {
  if (f.isSet('Script')) {
    fail(f.where('Script'), 'shell scripts are not run; give the command and its arguments as Args, e.g. ["/bin/check", "--fast"]');
  }
  for (const field of UNSUPPORTED_KIND_FIELDS) {
    if (f.isSet(field)) fail(f.where(field), `this kind of check is not supported (konsul runs ${KIND_LIST} checks)`);
  }
  // AliasService with AliasNode is one alias check.
  const set = KIND_FIELDS.filter(([field]) => f.isSet(field) && !(field === 'AliasNode' && f.isSet('AliasService')));
  if (set.length === 0) fail(f.self(), `a check needs one of ${KIND_LIST}`);
  if (set.length > 1) {
    fail(f.self(), `${set.map(([field]) => field).join(' and ')} are set; a check has exactly one of ${KIND_LIST}`);
  }
  return set[0]![1];
}

const KIND_NAMES: Readonly<Record<CheckKind, string>> = {
  http: 'an HTTP', tcp: 'a TCP', ttl: 'a TTL', script: 'an Args', maintenance: 'a maintenance', grpc: 'a GRPC', h2ping: 'an H2PING',
  udp: 'a UDP', alias: 'an alias',
};

/** Interval and Timeout of a check that runs by itself (HTTP, TCP, script). */
function parseSchedule(f: Fields, kind: CheckKind): { intervalMs: number; timeoutMs: number } {
  const interval = f.duration('Interval');
  if (interval === undefined) fail(f.where('Interval'), `required for ${KIND_NAMES[kind]} check`);
  if (interval <= 0) fail(f.where('Interval'), `${shown(f.get('Interval'))} must be more than 0`);
  const timeout = f.duration('Timeout');
  if (timeout !== undefined && timeout < 0) fail(f.where('Timeout'), `${shown(f.get('Timeout'))} is negative`);
  // Consul does not cap Timeout to Interval: a run never overlaps the next,
  // a long one just makes the next runs wait (the runner skips them).
  const fallback = kind === 'script' ? DEFAULT_SCRIPT_TIMEOUT_MS : DEFAULT_CHECK_TIMEOUT_MS;
  return { intervalMs: Math.max(interval, MIN_CHECK_INTERVAL_MS), timeoutMs: timeout || fallback };
}

function parseHttp(f: Fields): NonNullable<CheckDefinition['http']> {
  const url = f.string('HTTP');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail(f.where('HTTP'), `${shown(url)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail(f.where('HTTP'), `${shown(url)} is not an http:// or https:// URL`);
  const method = f.string('Method') || 'GET';
  if (!HTTP_TOKEN.test(method)) fail(f.where('Method'), `${shown(method)} is not an HTTP method`);
  const headers: Record<string, string[]> = {};
  for (const [name, raw] of Object.entries(f.object('Header'))) {
    const where = `${f.where('Header')}[${shown(name)}]`;
    if (!HTTP_TOKEN.test(name)) fail(where, 'not a valid header name');
    // Consul's Header is map[string][]string; one string is taken as a list of one.
    const values = typeof raw === 'string' ? [raw] : raw;
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) fail(where, 'expected a list of strings');
    for (const value of values as string[]) if (/[\r\n\0]/.test(value)) fail(where, 'a value holds a line break or NUL');
    headers[name] = values as string[];
  }
  const body = f.string('Body');
  return { url, method, headers, ...(body ? { body } : {}), tlsSkipVerify: f.boolean('TLSSkipVerify') };
}

/** host:port (IPv6 in brackets), as TCP, UDP, H2PING and GRPC take it; `field` names it in errors. */
function hostPort(f: Fields, field: string, address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) fail(f.where(field), `${shown(address)} is not host:port (examples: localhost:6379, [::1]:80)`);
  return { host: m[1]!, port };
}

function parseGrpc(f: Fields): NonNullable<CheckDefinition['grpc']> {
  const target = f.string('GRPC');
  const slash = target.indexOf('/');
  const address = slash < 0 ? target : target.slice(0, slash);
  return {
    ...hostPort(f, 'GRPC', address), service: slash < 0 ? '' : target.slice(slash + 1),
    tls: f.boolean('GRPCUseTLS'), skipVerify: f.boolean('TLSSkipVerify'),
  };
}

function parseH2Ping(f: Fields): NonNullable<CheckDefinition['h2ping']> {
  // Consul: H2PingUseTLS defaults to true.
  const tls = f.get('H2PingUseTLS') === undefined ? true : f.boolean('H2PingUseTLS');
  return { ...hostPort(f, 'H2PING', f.string('H2PING')), tls, skipVerify: f.boolean('TLSSkipVerify') };
}

function parseTcp(f: Fields): NonNullable<CheckDefinition['tcp']> {
  const address = f.string('TCP');
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) fail(f.where('TCP'), `${shown(address)} is not host:port (examples: localhost:6379, [::1]:80)`);
  return { host: m[1]!, port };
}

function parseArgs(f: Fields): NonNullable<CheckDefinition['script']> {
  const args = f.strings('Args');
  if (args[0] === '') fail(`${f.where('Args')}[0]`, 'the command is empty');
  return { args };
}

function parseStatus(f: Fields): HealthStatus {
  const status = f.string('Status');
  if (status === '') return 'critical';
  if (!STATUSES.includes(status as HealthStatus)) fail(f.where('Status'), `${shown(status)} is not one of passing, warning, critical`);
  return status as HealthStatus;
}

interface CheckOwner {
  service: ServiceDefinition;
  /** 1-based position among the service's checks when it has several, else 0. */
  number: number;
}

/** A check in a service body (owner given) or on its own (PUT /v1/agent/check/register). */
function parseCheck(f: Fields, owner: CheckOwner | undefined): CheckDefinition {
  const kind = checkKind(f);

  let name = f.string('Name');
  let id = f.string('CheckID');
  let serviceId: string;
  if (owner) {
    // Consul's AddService: `service:<id>`, numbered from 1 when the service has several checks.
    serviceId = owner.service.id;
    id ||= `service:${serviceId}${owner.number > 0 ? `:${owner.number}` : ''}`;
    name ||= `Service '${owner.service.name}' check`;
  } else {
    serviceId = f.string('ServiceID');
    if (name === '') fail(f.where('Name'), 'required (the check has no name)');
    id ||= name;
  }

  const check: CheckDefinition = {
    id,
    name,
    serviceId,
    notes: f.string('Notes'),
    kind,
    intervalMs: 0,
    timeoutMs: 0,
    successBeforePassing: f.integer('SuccessBeforePassing', 0, MAX_THRESHOLD, 0),
    failuresBeforeCritical: f.integer('FailuresBeforeCritical', 0, MAX_THRESHOLD, 0),
    initialStatus: parseStatus(f),
  };
  check.failuresBeforeWarning = f.integer('FailuresBeforeWarning', 0, MAX_THRESHOLD, check.failuresBeforeCritical);

  if (kind === 'alias') {
    if (f.isSet('Interval')) fail(f.where('Interval'), 'an alias check has no Interval (it follows the aliased service)');
    check.alias = { serviceId: f.string('AliasService'), node: f.string('AliasNode') };
    // Not Consul's blocking watch: the aliased health is looked at again every second.
    check.intervalMs = ALIAS_REFRESH_MS;
    check.timeoutMs = ALIAS_REFRESH_MS;
  } else if (kind === 'ttl') {
    const ttl = f.duration('TTL')!;
    if (ttl <= 0) fail(f.where('TTL'), `${shown(f.get('TTL'))} must be more than 0`);
    if (f.isSet('Interval')) fail(f.where('Interval'), 'a TTL check has no Interval (Interval and TTL cannot both be set)');
    check.ttlMs = ttl;
  } else {
    Object.assign(check, parseSchedule(f, kind));
    if (kind === 'http') check.http = parseHttp(f);
    else if (kind === 'tcp') check.tcp = parseTcp(f);
    else if (kind === 'grpc') check.grpc = parseGrpc(f);
    else if (kind === 'h2ping') check.h2ping = parseH2Ping(f);
    else if (kind === 'udp') check.udp = hostPort(f, 'UDP', f.string('UDP'));
    else check.script = parseArgs(f);
  }

  const deregisterAfter = f.duration('DeregisterCriticalServiceAfter');
  if (deregisterAfter !== undefined && deregisterAfter < 0) {
    fail(f.where('DeregisterCriticalServiceAfter'), `${shown(f.get('DeregisterCriticalServiceAfter'))} is negative`);
  }
  if (deregisterAfter) check.deregisterCriticalServiceAfterMs = deregisterAfter;
  return check;
}

// ------------------------------------------------------------ entry points

/** The body of PUT /v1/agent/service/register: the service and its checks, in order. */
export function parseServiceRegistration(body: unknown): ServiceRegistration {
  return parseService(Fields.read(body, ''));
}

/** The body of PUT /v1/agent/check/register: Name required, CheckID defaults to Name. */
export function parseCheckRegistration(body: unknown): CheckDefinition {
  return parseCheck(Fields.read(body, ''), undefined);
}

/**
 * A service definition file (`konsul services register FILE.json`):
 * `{"service": {...}}` or `{"services": [...]}` (both may appear; `service` comes first).
 */
export function parseServiceFile(json: unknown): ServiceRegistration[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail('file', `expected {"service": {...}} or {"services": [...]}, got ${jsonType(json)}`);
  }
  const file = Fields.read(json, '');
  const registrations: ServiceRegistration[] = [];
  const single = file.get('service');
  if (single !== undefined) registrations.push(parseService(Fields.read(single, 'service')));
  file.list('services').forEach((item, i) => registrations.push(parseService(Fields.read(item, `services[${i}]`))));
  if (registrations.length === 0) fail('file', 'expected {"service": {...}} or {"services": [...]}');
  const ids = new Set<string>();
  for (const { service } of registrations) {
    if (ids.has(service.id)) fail('file', `two services have the id ${shown(service.id)}`);
    ids.add(service.id);
  }
  return registrations;
}
