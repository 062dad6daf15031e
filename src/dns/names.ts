// What a query name asks for, in Consul's naming scheme:
//   [tag.]<service>.service[.<dc>[.dc]].<domain>, _<service>._<tag|tcp|udp>[.service][.<dc>[.dc]].<domain> (RFC 2782),
//   <node>.node[.<dc>[.dc]].<domain>, <query name or id>.query[.<dc>[.dc]].<domain> (prepared queries), <hex-ip>.addr[.<dc>[.dc]].<domain>, the domain itself, and reverse
//   lookups (<reversed ip>.in-addr.arpa, <nibbles>.ip6.arpa) of node and service addresses.

import { isIP } from 'node:net';
import { ipv6Bytes } from './message.js';

export type Lookup =
  | { kind: 'service'; service: string; tag: string | undefined }
  | { kind: 'node'; node: string }
  /** A prepared query, by ID or name (a name may hold dots: its labels are joined). */
  | { kind: 'query'; query: string }
  | { kind: 'addr'; ip: string; family: 4 | 6 }
  /** A reverse lookup (PTR) of an address: answered when a node or service has it, else treated as outside. */
  | { kind: 'ptr'; ip: string }
  /** The domain's apex: SOA and NS. */
  | { kind: 'apex' }
  /** ns.<domain>, the name our SOA and NS records give for this server. */
  | { kind: 'nameserver' }
  /** Inside our domain but naming nothing (or another datacenter): NXDOMAIN. */
  | { kind: 'none' }
  /** Not in our domain: refused, or forwarded to a recursor. */
  | { kind: 'outside' };

const NONE: Lookup = { kind: 'none' };
const OUTSIDE: Lookup = { kind: 'outside' };
const APEX: Lookup = { kind: 'apex' };
const NAMESERVER: Lookup = { kind: 'nameserver' };

/** Labels that name a kind of lookup; the label after one of them, if any, is the datacenter. */
const KINDS = new Set(['service', 'node', 'addr', 'query']);

/**
 * @param name the query name: lower case, no trailing dot
 * @param domain our domain: lower case, no trailing dot ('consul')
 * @param datacenter ours, lower case
 */
export function classifyName(name: string, domain: string, datacenter: string): Lookup {
  if (name === domain) return APEX;
  if (name.length <= domain.length || !name.endsWith(domain) || name[name.length - domain.length - 1] !== '.') {
    return reverseLookup(name) ?? OUTSIDE;
  }
  const labels = name.slice(0, name.length - domain.length - 1).split('.');
  if (labels.length === 1 && labels[0] === 'ns') return NAMESERVER;
  // Consul 1.x's explicit form: <...>.<dc>.dc.<domain>.
  if (labels.length >= 3 && labels[labels.length - 1] === 'dc') {
    if (labels[labels.length - 2] !== datacenter) return NONE;
    labels.splice(labels.length - 2, 2);
  }
  // _<service>._<proto>[.<dc>].<domain>: RFC 2782 without the .service label.
  const rfc = labels.length === 3 && labels[2] === datacenter ? labels.slice(0, 2) : labels;
  if (rfc.length === 2 && rfc.every((l) => l.length > 1 && l.startsWith('_'))) return serviceLookup(rfc);

  let kindAt = labels.length - 1;
  if (!KINDS.has(labels[kindAt])) {
    // <...>.<kind>.<dc>.<domain>: another datacenter's names are not ours to answer.
    if (labels[kindAt] !== datacenter) return NONE;
    kindAt--;
    if (kindAt < 0 || !KINDS.has(labels[kindAt])) return NONE;
  }
  const parts = labels.slice(0, kindAt);
  if (parts.length === 0 || parts.some((p) => p === '')) return NONE;

  switch (labels[kindAt]) {
    case 'service':
      return serviceLookup(parts);
    case 'node':
      // A node name may hold dots (it is an agent id); the labels are its parts.
      return { kind: 'node', node: parts.join('.') };
    case 'query':
      return { kind: 'query', query: parts.join('.') };
    default:
      return parts.length === 1 ? addrLookup(parts[0]) : NONE;
  }
}

function serviceLookup(parts: string[]): Lookup {
  if (parts.length === 1) return { kind: 'service', service: parts[0], tag: undefined };
  if (parts.length !== 2) return NONE;
  const [first, second] = parts;
  if (first.length > 1 && second.length > 1 && first.startsWith('_') && second.startsWith('_')) {
    // RFC 2782: _service._proto; a protocol of tcp or udp means any tag.
    const tag = second.slice(1);
    return { kind: 'service', service: first.slice(1), tag: tag === 'tcp' || tag === 'udp' ? undefined : tag };
  }
  return { kind: 'service', service: second, tag: first };
}

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** `4.3.2.1.in-addr.arpa` is 1.2.3.4; `b.a.9.8....ip6.arpa` (32 nibbles) an IPv6 address. */
function reverseLookup(name: string): Lookup | undefined {
  if (name.endsWith('.in-addr.arpa')) {
    const octets = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (octets.length !== 4 || !octets.every((o) => DECIMAL_OCTET.test(o) && Number(o) <= 255)) return undefined;
    return { kind: 'ptr', ip: octets.reverse().join('.') };
  }
  if (name.endsWith('.ip6.arpa')) {
    const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const hex = nibbles.reverse().join('');
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return { kind: 'ptr', ip: groups.join(':') };
  }
  return undefined;
}

const HEX_V4 = /^[0-9a-f]{8}$/;
const HEX_V6 = /^[0-9a-f]{32}$/;

function addrLookup(hex: string): Lookup {
  if (HEX_V4.test(hex)) {
    const ip = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
    return { kind: 'addr', ip, family: 4 };
  }
  if (HEX_V6.test(hex)) {
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return { kind: 'addr', ip: groups.join(':'), family: 6 };
  }
  return NONE;
}

/** The label Consul gives an IP address in SRV targets: its bytes in hex (8 digits for IPv4, 32 for IPv6). */
export function addrLabel(ip: string): string | undefined {
  switch (isIP(ip)) {
    case 4:
      return ip.split('.').map((octet) => Number(octet).toString(16).padStart(2, '0')).join('');
    case 6:
      return ipv6Bytes(ip).toString('hex');
    default:
      return undefined;
  }
}
