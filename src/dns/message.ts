// The DNS wire format on the server's hot path: reading a query's header and
// question in place, and writing a response from records encoded once.
// dns-packet encodes the records and decodes the rarer parts (EDNS options).

import type DnsPacket from 'dns-packet';
import { createRequire } from 'node:module';

// require, not import, as for every CommonJS package an agent loads (src/cli/clipanion.ts says why).
export const dnsPacket = createRequire(import.meta.url)('dns-packet') as typeof DnsPacket;

export const HEADER_BYTES = 12;
/** The classic UDP limit, and the floor for any EDNS size a client advertises (RFC 6891 §6.2.3). */
export const UDP_MIN_BYTES = 512;
/** The largest UDP answer we send, whatever a client advertises (the common safe EDNS size). */
export const UDP_MAX_BYTES = 4096;
/** A TCP frame's length is 16 bits. */
export const TCP_MAX_BYTES = 65_535;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (12-bit) rcode: the upper 8 bits go in the OPT record. */
  BADVERS: 16,
} as const;

export const Qtype = {
  A: 1,
  NS: 2,
  CNAME: 5,
  PTR: 12,
  SOA: 6,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const Qclass = { IN: 1, ANY: 255 } as const;

// Header flag bits (the second 16-bit word).
const QR = 0x8000;
const OPCODE_MASK = 0x7800;
const AA = 0x0400;
/** TC: the answer was cut to fit; ask again over TCP. */
export const TRUNCATED_FLAG = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const CD = 0x0010;

/** A query whose header and question were read. */
export interface Query {
  /** The whole message as received: forwarded as is, and its question echoed from it. */
  raw: Buffer;
  id: number;
  /** The request's flag word: RD and CD are echoed from it. */
  flags: number;
  /** Lower case, without the trailing dot; '' for the root. */
  name: string;
  /** A label held a '.' or a byte outside printable ASCII: the name can mean nothing of ours. */
  opaqueName: boolean;
  qtype: number;
  qclass: number;
  /** Where the question ends in `raw` (it starts right after the header, as it will in the response). */
  questionEnd: number;
  /** The client sent an OPT record (EDNS0). */
  edns: boolean;
  /** The client's EDNS UDP payload size (0 without EDNS). */
  ednsUdpSize: number;
  ednsVersion: number;
}

/** The id of a message that has at least a header. */
export function messageId(msg: Buffer): number {
  return (msg[0] << 8) | msg[1];
}

/** The flag word of a message that has at least a header. */
export function messageFlags(msg: Buffer): number {
  return (msg[2] << 8) | msg[3];
}

/** True when the header says this is a response, not a query. */
export function isResponse(msg: Buffer): boolean {
  return msg.length >= HEADER_BYTES && (msg[2] & 0x80) !== 0;
}

/** Lower-cased name bytes, reused by every parse: the name becomes one string in one call. */
const nameScratch = Buffer.allocUnsafe(255);

/**
 * Read a query. Returns undefined for a message shorter than a header (it
 * cannot be answered), and an rcode (a number) for anything else that is not
 * one well-formed standard query: FORMERR, or NOTIMP for another opcode.
 */
export function parseQuery(msg: Buffer): Query | number | undefined {
  const length = msg.length;
  if (length < HEADER_BYTES) return undefined;
  const flags = messageFlags(msg);
  if (flags & QR) return Rcode.FORMERR;
  if ((flags & OPCODE_MASK) !== 0) return Rcode.NOTIMP;
  // qdcount must be 1; ancount and nscount 0.
  if (msg[4] !== 0 || msg[5] !== 1 || msg[6] !== 0 || msg[7] !== 0 || msg[8] !== 0 || msg[9] !== 0) return Rcode.FORMERR;
  const arcount = (msg[10] << 8) | msg[11];

  // The name: plain labels only (a compression pointer in the first name of a
  // message could only point into the header). Copied lower-cased, with dots
  // between labels, into the scratch buffer.
  let at = HEADER_BYTES;
  let nameLength = 0;
  let opaqueName = false;
  for (;;) {
    if (at >= length) return Rcode.FORMERR;
    const labelLength = msg[at++];
    if (labelLength === 0) break;
    if (labelLength > 63 || at + labelLength > length) return Rcode.FORMERR;
    // At most 255 bytes on the wire: 253 characters without the final dot.
    if (nameLength + (nameLength > 0 ? 1 : 0) + labelLength > 253) return Rcode.FORMERR;
    if (nameLength > 0) nameScratch[nameLength++] = 0x2e;
    for (const end = at + labelLength; at < end; at++) {
      let c = msg[at];
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      else if (c === 0x2e || c <= 0x20 || c >= 0x7f) opaqueName = true;
      nameScratch[nameLength++] = c;
    }
  }
  if (at + 4 > length) return Rcode.FORMERR;
  const qtype = (msg[at] << 8) | msg[at + 1];
  const qclass = (msg[at + 2] << 8) | msg[at + 3];
  const questionEnd = at + 4;

  let edns = false;
  let ednsUdpSize = 0;
  let ednsVersion = 0;
  if (arcount > 0) {
    // Rare enough (EDNS clients, TSIG) to let dns-packet read the whole message.
    let additionals: DnsPacket.Answer[];
    try {
      const decoded = dnsPacket.decode(msg);
      if (dnsPacket.decode.bytes !== length) return Rcode.FORMERR;
      additionals = decoded.additionals ?? [];
    } catch {
      return Rcode.FORMERR;
    }
    for (const record of additionals) {
      if (record.type !== 'OPT') continue;
      // At most one OPT, owned by the root (RFC 6891 §6.1.1).
      if (edns || record.name !== '.') return Rcode.FORMERR;
      edns = true;
      ednsUdpSize = record.udpPayloadSize;
      ednsVersion = record.ednsVersion;
    }
  } else if (questionEnd !== length) {
    return Rcode.FORMERR;
  }

  return {
    raw: msg,
    id: messageId(msg),
    flags,
    name: nameScratch.toString('latin1', 0, nameLength),
    opaqueName,
    qtype,
    qclass,
    questionEnd,
    edns,
    ednsUdpSize,
    ednsVersion,
  };
}

/** Write the query's question into a response, at the same offset it had in the query. */
function copyQuestion(query: Query, out: Buffer): number {
  const { raw, questionEnd } = query;
  for (let i = HEADER_BYTES; i < questionEnd; i++) out[i] = raw[i];
  return questionEnd;
}

/** The largest response a query may get over UDP: 512, or its EDNS size within [512, 4096]. */
export function udpLimit(query: Query): number {
  if (!query.edns) return UDP_MIN_BYTES;
  return Math.min(UDP_MAX_BYTES, Math.max(UDP_MIN_BYTES, query.ednsUdpSize));
}

// ------------------------------------------------------------ records, encoded once

/** The record's name as a pointer to the question's name, which every response carries at offset 12. */
const POINTER_TO_QNAME = Buffer.from([0xc0, HEADER_BYTES]);

/** One resource record in wire form. dns-packet writes it after a 12-byte header; cut that off. */
export function encodeRecord(record: DnsPacket.Answer): Buffer {
  return Buffer.from(dnsPacket.encode({ answers: [record] }).subarray(HEADER_BYTES));
}

/** A resource record (not OPT) before it is given its owner's name. */
export type UnnamedRecord = Exclude<DnsPacket.Answer, DnsPacket.OptAnswer> extends infer R
  ? R extends DnsPacket.Answer ? Omit<R, 'name'> : never
  : never;

/** A record owned by the question's name, written as a 2-byte pointer to it. */
export function encodeAnswer(record: UnnamedRecord): Buffer {
  // Encoded with the root name (one zero byte), which the pointer replaces.
  const full = encodeRecord({ ...record, name: '.' } as DnsPacket.Answer);
  return Buffer.concat([POINTER_TO_QNAME, full.subarray(1)]);
}

/** The 16 address bytes of an IPv6 address in any text form (dns-packet's AAAA codec parses them). */
export function ipv6Bytes(ip: string): Buffer {
  return encodeRecord({ name: '.', type: 'AAAA', data: ip }).subarray(-16);
}

/**
 * The records of one answer, encoded, with scratch space for shuffling them.
 * Built once per (name, type) and catalog index; only `write` runs per query.
 */
export class RecordSet {
  /** Each begins with a pointer to the question's name. Shuffled on every response. */
  readonly answers: Buffer[];
  /** For answer i, the indexes into `additionals` of the records that go with it (SRV targets' addresses). */
  readonly glue: number[][];
  readonly additionals: Buffer[];
  /** The SOA for negative answers. */
  readonly authority: Buffer[];
  private readonly order: Uint32Array;
  /** seen[i] === stamp: additional i is already in this response. */
  private readonly seen: Uint32Array;
  private readonly picked: Uint32Array;
  private stamp = 0;

  constructor(
    readonly rcode: number,
    parts: { answers?: Buffer[]; glue?: number[][]; additionals?: Buffer[]; authority?: Buffer[] } = {},
  ) {
    this.answers = parts.answers ?? [];
    this.glue = parts.glue ?? [];
    this.additionals = parts.additionals ?? [];
    this.authority = parts.authority ?? [];
    this.order = new Uint32Array(this.answers.length);
    for (let i = 0; i < this.order.length; i++) this.order[i] = i;
    this.seen = new Uint32Array(this.additionals.length);
    this.picked = new Uint32Array(this.additionals.length);
  }

  /**
   * The response to `query` in at most `limit` bytes: answers in a fresh random
   * order (Fisher–Yates), then the authority, then the additional records of
   * the answers that made it in. Only whole records are written; when any had
   * to be left out for lack of room, TC is set so the client asks again over
   * TCP. `maxAnswers` caps the answers without TC (a random subset).
   */
  write(query: Query, headerFlags: number, limit: number, maxAnswers = Number.POSITIVE_INFINITY): Buffer {
    const { answers, authority, additionals, glue, order, seen, picked } = this;
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    if (this.stamp >= 0xfffffffe) {
      seen.fill(0);
      this.stamp = 0;
    }
    const stamp = ++this.stamp;

    // The header, question and OPT always fit: limit >= 512 > 12 + 259 + 11.
    let size = query.questionEnd + (query.edns ? OPT_BYTES : 0);
    let truncated = false;
    // Answers first: they are what the client asked for.
    let answerCount = 0;
    // Consul's udp_answer_limit and a_record_limit: a random few of the answers, and no TC (the client asked for a few).
    while (!truncated && answerCount < answers.length && answerCount < maxAnswers) {
      const next = size + answers[order[answerCount]].length;
      if (next > limit) truncated = true;
      else {
        size = next;
        answerCount++;
      }
    }
    let authorityCount = 0;
    while (!truncated && authorityCount < authority.length) {
      const next = size + authority[authorityCount].length;
      if (next > limit) truncated = true;
      else {
        size = next;
        authorityCount++;
      }
    }
    // Then the additional records of the answers that fit, in their order, each once.
    let pickedCount = 0;
    for (let i = 0; i < answerCount && !truncated; i++) {
      for (const g of glue[order[i]] ?? NO_GLUE) {
        if (seen[g] === stamp) continue;
        const next = size + additionals[g].length;
        if (next > limit) {
          truncated = true;
          break;
        }
        seen[g] = stamp;
        picked[pickedCount++] = g;
        size = next;
      }
    }

    const out = Buffer.allocUnsafe(size);
    writeHeader(out, query.id, headerFlags | (truncated ? TRUNCATED_FLAG : 0), this.rcode, 1, answerCount, authorityCount,
      pickedCount + (query.edns ? 1 : 0));
    // TypedArray set: the cheapest copy of a few dozen bytes.
    let at = copyQuestion(query, out);
    for (let i = 0; i < answerCount; i++) {
      const record = answers[order[i]];
      out.set(record, at);
      at += record.length;
    }
    for (let i = 0; i < authorityCount; i++) {
      out.set(authority[i], at);
      at += authority[i].length;
    }
    for (let i = 0; i < pickedCount; i++) {
      const record = additionals[picked[i]];
      out.set(record, at);
      at += record.length;
    }
    if (query.edns) writeOpt(out, at, 0);
    return out;
  }
}

const NO_GLUE: number[] = [];

// ------------------------------------------------------------ headers

/** OPT: root name, type, our UDP size, extended rcode, version, flags, empty rdata. */
const OPT_BYTES = 11;

function writeOpt(out: Buffer, at: number, extendedRcode: number): void {
  out[at] = 0;
  out.writeUInt16BE(Qtype.OPT, at + 1);
  out.writeUInt16BE(UDP_MAX_BYTES, at + 3);
  out[at + 5] = extendedRcode;
  out[at + 6] = 0; // EDNS version 0
  out.writeUInt16BE(0, at + 7); // DO and the rest of the flags clear: we sign nothing
  out.writeUInt16BE(0, at + 9);
}

function writeHeader(
  out: Buffer, id: number, flags: number, rcode: number,
  qdcount: number, ancount: number, nscount: number, arcount: number,
): void {
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE((flags | (rcode & 0xf)) & 0xffff, 2);
  out.writeUInt16BE(qdcount, 4);
  out.writeUInt16BE(ancount, 6);
  out.writeUInt16BE(nscount, 8);
  out.writeUInt16BE(arcount, 10);
}

/** The flag word of a response to a query with `requestFlags`. */
export function responseFlags(requestFlags: number, authoritative: boolean, recursionAvailable: boolean): number {
  return QR | (authoritative ? AA : 0) | (recursionAvailable ? RA : 0) | (requestFlags & (RD | CD));
}

/** An answer without records (REFUSED, NOTIMP, SERVFAIL, BADVERS): header, question, and OPT when the query had one. */
export function writeBareResponse(query: Query, headerFlags: number, rcode: number): Buffer {
  const optBytes = query.edns ? OPT_BYTES : 0;
  const out = Buffer.allocUnsafe(query.questionEnd + optBytes);
  writeHeader(out, query.id, headerFlags, rcode, 1, 0, 0, query.edns ? 1 : 0);
  const at = copyQuestion(query, out);
  if (query.edns) writeOpt(out, at, rcode >> 4);
  return out;
}

/**
 * An answer to a message whose question could not be read: the header alone,
 * with the id (and opcode and RD) echoed, so the client can match it.
 */
export function writeErrorHeader(id: number, requestFlags: number, rcode: number, recursionAvailable: boolean): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES);
  const flags = QR | (requestFlags & OPCODE_MASK) | (recursionAvailable ? RA : 0) | (requestFlags & RD);
  writeHeader(out, id, flags, rcode, 0, 0, 0, 0);
  return out;
}

/** The rcode of a response (its low 4 bits; enough for counting). */
export function responseRcode(response: Buffer): number {
  return response.length >= HEADER_BYTES ? response[3] & 0xf : -1;
}

export function isTruncated(response: Buffer): boolean {
  return response.length >= HEADER_BYTES && (response[2] & 0x02) !== 0;
}
