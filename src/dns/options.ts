// The DNS server's options: what a caller passes, and the checked, normalised
// form the server runs with. A bad option fails start-up with one line naming it.

import type { CatalogReader } from '../state/catalog-types.js';
import type { PreparedQueryReader } from '../state/prepared-queries.js';
import { parseRecursor, type Recursor } from './forward.js';

/** pino-compatible: an object of fields, then the message. */
export interface DnsLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  /** When present, per-query debug fields are built only if debug is on. */
  isLevelEnabled?(level: string): boolean;
}

export interface DnsServerOptions {
  /** The local replica's catalog (src/state). */
  catalog: CatalogReader;
  /** The local replica's prepared queries, for NAME.query.<domain>; without it such names are NXDOMAIN. */
  queries?: PreparedQueryReader;
  /** This agent's node name (a query's Near "_agent"). */
  agentNode?: string;
  /** UDP and TCP listen on the same host and port. */
  host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
  /** Default 'consul.'; matched case-insensitively. */
  domain?: string;
  /** Default 'dc1': the optional datacenter label (web.service.dc1.consul). */
  datacenter?: string;
  /** TTL of node (and addr) answers. Default 0. */
  nodeTtlSeconds?: number;
  /** TTL of service answers by service name; '*' (or 'prefix*') as a wildcard. Default 0. */
  serviceTtlSeconds?: Record<string, number>;
  /** Answer only with passing instances (default false: warning ones too; critical never). */
  onlyPassing?: boolean;
  /** Most answers in one UDP response (Consul's udp_answer_limit). Default 3. */
  udpAnswerLimit?: number;
  /** Most A/AAAA answers in any response, 0 for no limit (Consul's a_record_limit). Default 0. */
  aRecordLimit?: number;
  /** Where names outside the domain go: 'host', 'host:port', '[v6]:port'. Default none: REFUSED. */
  recursors?: string[];
  /** How long each recursor gets to answer. Default 2000. */
  recursorTimeoutMs?: number;
  /** A TCP connection with no query for this long is closed. Default 10 000. */
  tcpIdleTimeoutMs?: number;
  logger?: DnsLogger;
}

export interface ResolvedDnsOptions {
  catalog: CatalogReader;
  queries: PreparedQueryReader | undefined;
  agentNode: string;
  host: string;
  port: number;
  /** Lower case, without the trailing dot ('consul'). */
  domain: string;
  /** Lower case. */
  datacenter: string;
  nodeTtlSeconds: number;
  /** Keys lower case; '*' and 'prefix*' are wildcards. */
  serviceTtlSeconds: Record<string, number>;
  onlyPassing: boolean;
  udpAnswerLimit: number;
  /** 0: no limit. */
  aRecordLimit: number;
  recursors: Recursor[];
  recursorTimeoutMs: number;
  tcpIdleTimeoutMs: number;
  logger: DnsLogger | undefined;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
/** The largest TTL a record may carry (RFC 2181 §8). */
const MAX_TTL = 0x7fffffff;

function invalid(name: string, message: string): TypeError {
  return new TypeError(`startDnsServer: ${name} ${message}`);
}

function wholeNumber(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(name, `must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function resolveDnsOptions(options: DnsServerOptions): ResolvedDnsOptions {
  if (options === null || typeof options !== 'object') throw invalid('options', 'are required');
  const { catalog } = options;
  if (catalog === null || typeof catalog !== 'object' || typeof catalog.catalogIndex !== 'function') {
    throw invalid('catalog', 'is required (a CatalogReader)');
  }
  if (typeof options.host !== 'string' || options.host === '') throw invalid('host', 'must be an address to listen on, such as 127.0.0.1');

  let domain = (options.domain ?? 'consul.').toLowerCase();
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (domain === '' || domain.length > 200 || !domain.split('.').every((l) => LABEL.test(l))) {
    throw invalid('domain', `"${options.domain}" is not a domain name (example: consul.)`);
  }
  const datacenter = (options.datacenter ?? 'dc1').toLowerCase();
  if (!LABEL.test(datacenter)) throw invalid('datacenter', `"${options.datacenter}" must be one DNS label (example: dc1)`);

  const serviceTtlSeconds: Record<string, number> = {};
  const ttls = options.serviceTtlSeconds ?? {};
  if (ttls === null || typeof ttls !== 'object') throw invalid('serviceTtlSeconds', 'must map service names to seconds');
  for (const [service, ttl] of Object.entries(ttls)) {
    serviceTtlSeconds[service.toLowerCase()] = wholeNumber(`serviceTtlSeconds["${service}"]`, ttl, 0, 0, MAX_TTL);
  }

  const recursors: Recursor[] = [];
  for (const [i, text] of (options.recursors ?? []).entries()) {
    const recursor = typeof text === 'string' ? parseRecursor(text.trim()) : undefined;
    if (!recursor) throw invalid(`recursors[${i}]`, `"${String(text)}" is not host[:port] (example: 8.8.8.8 or 10.0.0.2:53)`);
    recursors.push(recursor);
  }

  return {
    catalog,
    queries: options.queries,
    agentNode: options.agentNode ?? '',
    host: options.host,
    port: wholeNumber('port', options.port, 0, 0, 65_535),
    domain,
    datacenter,
    nodeTtlSeconds: wholeNumber('nodeTtlSeconds', options.nodeTtlSeconds, 0, 0, MAX_TTL),
    serviceTtlSeconds,
    onlyPassing: options.onlyPassing ?? false,
    udpAnswerLimit: wholeNumber('udpAnswerLimit', options.udpAnswerLimit, 3, 1, 1000),
    aRecordLimit: wholeNumber('aRecordLimit', options.aRecordLimit, 0, 0, 1000),
    recursors,
    recursorTimeoutMs: wholeNumber('recursorTimeoutMs', options.recursorTimeoutMs, 2000, 1, 60_000),
    tcpIdleTimeoutMs: wholeNumber('tcpIdleTimeoutMs', options.tcpIdleTimeoutMs, 10_000, 1, 3_600_000),
    logger: options.logger,
  };
}
