// The records a name holds, computed from the catalog and encoded once per
// (name, type) and catalog index. Every query asks the catalog for its index
// (a cheap call); when it moved, the whole cache is dropped.

import { isIP } from 'node:net';
import type dnsPacket from 'dns-packet';
import type { CatalogReader, ServiceInstance } from '../state/catalog-types.js';
import { executeQuery } from '../state/query-exec.js';
import { parseDuration } from '../duration.js';
import { encodeAnswer, encodeRecord, ipv6Bytes, Qtype, Rcode, RecordSet } from './message.js';
import { addrLabel, classifyName, type Lookup } from './names.js';
import type { ResolvedDnsOptions } from './options.js';

export type RecordSourceOptions =
  Pick<ResolvedDnsOptions, 'catalog' | 'domain' | 'datacenter' | 'nodeTtlSeconds' | 'serviceTtlSeconds' | 'onlyPassing'>
  & Partial<Pick<ResolvedDnsOptions, 'queries' | 'agentNode'>> & {
    /** The address ns.<domain> resolves to; undefined when we listen on a wildcard address. */
    nameserverAddress: string | undefined;
  };

/** Past this many cached answers the cache starts over (random names must not grow it without bound). */
const MAX_CACHED = 10_000;

// SOA timers, as Consul sets them; minimum 0 so negative answers are not cached by resolvers.
const SOA_REFRESH = 3600;
const SOA_RETRY = 600;
const SOA_EXPIRE = 86_400;
const SOA_MINIMUM = 0;

export class RecordSource {
  private readonly catalog: CatalogReader;
  private readonly domain: string;
  private readonly datacenter: string;
  private readonly options: RecordSourceOptions;
  private readonly ttlPrefixes: Array<[string, number]>;
  /** qtype -> lower-case name -> answer. */
  private readonly cache = new Map<number, Map<string, RecordSet>>();
  private cached = 0;
  private cacheIndex = -1;
  /** The prepared queries' index the cache was built at (they change answers too). */
  private cacheQueryIndex = -1;
  /** The apex SOA for the current index (the serial is the catalog index). */
  private soa: Buffer | undefined;
  hits = 0;
  misses = 0;

  constructor(options: RecordSourceOptions) {
    this.options = options;
    this.catalog = options.catalog;
    this.domain = options.domain;
    this.datacenter = options.datacenter;
    // Longest prefix first, so 'web-*' wins over '*'.
    this.ttlPrefixes = Object.entries(options.serviceTtlSeconds)
      .filter(([key]) => key.endsWith('*'))
      .map(([key, ttl]): [string, number] => [key.slice(0, -1), ttl])
      .sort((a, b) => b[0].length - a[0].length);
  }

  /**
   * The answer to (name, qtype) when the name is in our domain; undefined when
   * it is not (the caller refuses or forwards it). A cache hit costs two map lookups.
   */
  answer(name: string, qtype: number): RecordSet | undefined {
    this.sync();
    let byName = this.cache.get(qtype);
    const hit = byName?.get(name);
    if (hit) {
      this.hits++;
      return hit;
    }
    const lookup = classifyName(name, this.domain, this.datacenter);
    if (lookup.kind === 'outside') return undefined;
    this.misses++;
    const set = lookup.kind === 'ptr' ? this.ptr(qtype, lookup.ip) : this.build(qtype, lookup);
    // A reverse name no node or service has is not ours: refused or forwarded, like any outside name.
    if (set === undefined) return undefined;
    if (this.cached >= MAX_CACHED) {
      this.cache.clear();
      this.cached = 0;
      byName = undefined;
    }
    if (!byName) this.cache.set(qtype, (byName = new Map()));
    byName.set(name, set);
    this.cached++;
    return set;
  }

  /** Drop every cached answer when the catalog moved on since they were built. */
  private sync(): void {
    const index = this.catalog.catalogIndex();
    const queryIndex = this.options.queries?.index() ?? 0;
    if (index !== this.cacheIndex || queryIndex !== this.cacheQueryIndex) {
      this.cache.clear();
      this.cached = 0;
      this.cacheIndex = index;
      this.cacheQueryIndex = queryIndex;
      this.soa = undefined;
    }
  }

  /** True when the name is the domain or under it. */
  inDomain(name: string): boolean {
    const kind = classifyName(name, this.domain, this.datacenter).kind;
    return kind !== 'outside' && kind !== 'ptr';
  }

  /**
   * PTR for an address: `<node>.node.<dc>.<domain>` for each node at it, then
   * `<service>.service.<dc>.<domain>` for each service registered at it (as
   * Consul answers). Undefined when nothing has the address.
   */
  private ptr(qtype: number, ip: string): RecordSet | undefined {
    const wanted = canonicalIp(ip);
    const suffix = `${this.datacenter}.${this.domain}`;
    const names: string[] = [];
    for (const node of this.catalog.nodes()) if (canonicalIp(node.address) === wanted) names.push(`${node.node}.node.${suffix}`);
    for (const service of this.catalog.serviceNames().keys()) {
      if (this.catalog.instances(service).some((i) => i.service.address !== '' && canonicalIp(i.service.address) === wanted)) {
        names.push(`${service}.service.${suffix}`);
      }
    }
    if (names.length === 0) return undefined;
    if (qtype !== Qtype.PTR && qtype !== Qtype.ANY) return this.negative(Rcode.NOERROR);
    const ttl = this.options.nodeTtlSeconds;
    return new RecordSet(Rcode.NOERROR, { answers: names.map((data) => encodeAnswer({ type: 'PTR', ttl, data })) });
  }

  /** NXDOMAIN with the SOA: for names in the domain that cannot be read as anything. */
  notFound(): RecordSet {
    this.sync();
    return this.negative(Rcode.NXDOMAIN);
  }

  private build(qtype: number, lookup: Lookup): RecordSet {
    switch (lookup.kind) {
      case 'service':
        return this.service(qtype, lookup.service, lookup.tag);
      case 'node':
        return this.node(qtype, lookup.node);
      case 'query':
        return this.query(qtype, lookup.query);
      case 'addr':
        return this.addr(qtype, lookup.ip, lookup.family);
      case 'apex':
        return this.apex(qtype);
      case 'nameserver':
        return this.nameserver(qtype);
      default:
        return this.negative(Rcode.NXDOMAIN);
    }
  }

  // ------------------------------------------------------------ services

  private service(qtype: number, service: string, tag: string | undefined): RecordSet {
    const instances = this.catalog.instances(service, tag).filter(this.options.onlyPassing
      ? (i: ServiceInstance) => i.status === 'passing'
      : (i: ServiceInstance) => i.status !== 'critical');
    return this.instanceRecords(qtype, instances, this.serviceTtl(service));
  }

  /**
   * A prepared query's answer: its execution on this replica (the query's own
   * health, tag and metadata filters; near "_agent" is this agent), with its
   * DNS TTL when it sets one, else the service's. An unknown query is NXDOMAIN.
   */
  private query(qtype: number, name: string): RecordSet {
    const q = this.options.queries?.resolve(name);
    if (!q) return this.negative(Rcode.NXDOMAIN);
    const instances = executeQuery(this.catalog, q, { agentNode: this.options.agentNode ?? '' });
    const ttlMs = q.dns.ttl === '' ? undefined : parseDuration(q.dns.ttl);
    const ttl = ttlMs === undefined ? this.serviceTtl(q.service.service.toLowerCase()) : Math.min(0x7fffffff, Math.floor(ttlMs / 1000));
    return this.instanceRecords(qtype, instances, ttl);
  }

  /** A, AAAA, CNAME or SRV records for service instances (NXDOMAIN when there are none, as Consul answers). */
  private instanceRecords(qtype: number, instances: ServiceInstance[], ttl: number): RecordSet {
    // No healthy instance: the name does not exist (as Consul answers).
    if (instances.length === 0) return this.negative(Rcode.NXDOMAIN);

    if (qtype === Qtype.SRV) {
      const answers: Buffer[] = [];
      const glue: number[][] = [];
      const additionals: Buffer[] = [];
      const glueAt = new Map<string, number>();
      for (const instance of instances) {
        const target = this.srvTarget(instance, ttl);
        const weights = instance.service.weights;
        const weight = instance.status === 'warning' ? weights.warning : weights.passing;
        answers.push(encodeAnswer({
          type: 'SRV', ttl,
          data: { priority: 1, weight: clampU16(weight), port: instance.service.port, target: target.name },
        }));
        let at: number | undefined;
        if (target.record) {
          at = glueAt.get(target.name);
          if (at === undefined) {
            glueAt.set(target.name, (at = additionals.length));
            additionals.push(target.record);
          }
        }
        glue.push(at === undefined ? [] : [at]);
      }
      return new RecordSet(Rcode.NOERROR, { answers, glue, additionals });
    }

    if (qtype === Qtype.A || qtype === Qtype.AAAA || qtype === Qtype.ANY || qtype === Qtype.CNAME) {
      // One record per address: two instances on one node share it.
      const seen = new Set<string>();
      const answers: Buffer[] = [];
      for (const instance of instances) {
        const address = instance.service.address || instance.node.address;
        if (seen.has(address)) continue;
        seen.add(address);
        // A host name is an alias: a CNAME to it (its owner answers for its addresses), as Consul gives.
        const record = isIP(address) ? addressAnswer(address, qtype, ttl) : address === '' ? undefined : encodeAnswer({ type: 'CNAME', ttl, data: address });
        if (record) answers.push(record);
      }
      if (answers.length > 0) return new RecordSet(Rcode.NOERROR, { answers });
    }
    return this.negative(Rcode.NOERROR);
  }

  /** The SRV target of an instance, and the address record that goes with it in the additional section. */
  private srvTarget(instance: ServiceInstance, ttl: number): { name: string; record?: Buffer } {
    const { service, node } = instance;
    const suffix = `${this.datacenter}.${this.domain}`;
    if (service.address !== '' && service.address !== node.address) {
      const hex = addrLabel(service.address);
      // A hostname is its own target; its owner answers for its addresses.
      if (hex === undefined) return { name: service.address };
      const name = `${hex}.addr.${suffix}`;
      return { name, record: addressRecord(name, service.address, ttl) };
    }
    const name = `${node.node}.node.${suffix}`;
    return { name, record: isIP(node.address) ? addressRecord(name, node.address, ttl) : undefined };
  }

  private serviceTtl(service: string): number {
    const ttls = this.options.serviceTtlSeconds;
    const exact = ttls[service];
    if (exact !== undefined) return exact;
    for (const [prefix, ttl] of this.ttlPrefixes) if (service.startsWith(prefix)) return ttl;
    return 0;
  }

  // ------------------------------------------------------------ nodes and addresses

  private node(qtype: number, name: string): RecordSet {
    const node = this.catalog.node(name);
    if (!node) return this.negative(Rcode.NXDOMAIN);
    const ttl = this.options.nodeTtlSeconds;
    const answers: Buffer[] = [];
    if (qtype === Qtype.A || qtype === Qtype.AAAA || qtype === Qtype.ANY || qtype === Qtype.CNAME) {
      if (isIP(node.address)) {
        const record = addressAnswer(node.address, qtype, ttl);
        if (record) answers.push(record);
      } else if (node.address !== '') {
        // A node known by a hostname: the one alias its name has.
        answers.push(encodeAnswer({ type: 'CNAME', ttl, data: node.address }));
      }
    }
    if (qtype === Qtype.TXT || qtype === Qtype.ANY) {
      // The node's metadata as key=value strings, as Consul gives it.
      for (const [key, value] of Object.entries(node.meta)) {
        answers.push(encodeAnswer({ type: 'TXT', ttl, data: `${key}=${value}` }));
      }
    }
    return answers.length > 0 ? new RecordSet(Rcode.NOERROR, { answers }) : this.negative(Rcode.NOERROR);
  }

  private addr(qtype: number, ip: string, family: 4 | 6): RecordSet {
    const wanted = family === 4 ? Qtype.A : Qtype.AAAA;
    if (qtype !== wanted && qtype !== Qtype.ANY) return this.negative(Rcode.NOERROR);
    return new RecordSet(Rcode.NOERROR, { answers: [addressAnswer(ip, qtype, this.options.nodeTtlSeconds)!] });
  }

  // ------------------------------------------------------------ the zone itself

  private apex(qtype: number): RecordSet {
    const answers: Buffer[] = [];
    const glue: number[][] = [];
    const additionals: Buffer[] = [];
    if (qtype === Qtype.SOA || qtype === Qtype.ANY) {
      answers.push(encodeAnswer({ type: 'SOA', ttl: 0, data: this.soaData() }));
      glue.push([]);
    }
    if (qtype === Qtype.NS || qtype === Qtype.ANY) {
      answers.push(encodeAnswer({ type: 'NS', ttl: 0, data: `ns.${this.domain}` }));
      const address = this.options.nameserverAddress;
      if (address) {
        additionals.push(addressRecord(`ns.${this.domain}`, address, 0));
        glue.push([0]);
      } else glue.push([]);
    }
    return answers.length > 0 ? new RecordSet(Rcode.NOERROR, { answers, glue, additionals }) : this.negative(Rcode.NOERROR);
  }

  private nameserver(qtype: number): RecordSet {
    const address = this.options.nameserverAddress;
    const record = address ? addressAnswer(address, qtype, 0) : undefined;
    return record ? new RecordSet(Rcode.NOERROR, { answers: [record] }) : this.negative(Rcode.NOERROR);
  }

  private soaData(): dnsPacket.SoaData {
    return {
      mname: `ns.${this.domain}`,
      rname: `hostmaster.${this.domain}`,
      serial: this.cacheIndex >>> 0,
      refresh: SOA_REFRESH,
      retry: SOA_RETRY,
      expire: SOA_EXPIRE,
      minimum: SOA_MINIMUM,
    };
  }

  /** NXDOMAIN, or NODATA (NOERROR with nothing): the zone's SOA in the authority section either way. */
  private negative(rcode: number): RecordSet {
    this.soa ??= encodeRecord({ name: this.domain, type: 'SOA', ttl: SOA_MINIMUM, data: this.soaData() });
    return new RecordSet(rcode, { authority: [this.soa] });
  }
}

/** An A or AAAA answer for an IP address, when the question's type asks for that family. */
function addressAnswer(address: string, qtype: number, ttl: number): Buffer | undefined {
  const family = isIP(address);
  if (family === 4 && (qtype === Qtype.A || qtype === Qtype.ANY)) return encodeAnswer({ type: 'A', ttl, data: address });
  if (family === 6 && (qtype === Qtype.AAAA || qtype === Qtype.ANY)) return encodeAnswer({ type: 'AAAA', ttl, data: address });
  return undefined;
}

/** An A or AAAA record with its own name (an SRV target's address in the additional section). */
function addressRecord(name: string, ip: string, ttl: number): Buffer {
  return encodeRecord({ name, type: isIP(ip) === 6 ? 'AAAA' : 'A', ttl, data: ip });
}

function clampU16(n: number): number {
  return Number.isFinite(n) ? Math.min(0xffff, Math.max(0, Math.trunc(n))) : 0;
}

/** An IP address in one spelling (IPv6 expanded), or the text itself when it is not an IP. */
function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  return ipv6Bytes(address).toString('hex');
}
