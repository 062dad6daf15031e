// One DNS message in, one response out (or nothing): validation, the answer
// from the catalog, refusal or forwarding for other names, and the counters.
// Transport-agnostic: the UDP and TCP servers share it.

import { Forwarder } from './forward.js';
import {
  HEADER_BYTES, isResponse, isTruncated, messageFlags, messageId, parseQuery, Qclass, Qtype, Rcode, responseFlags, responseRcode,
  TCP_MAX_BYTES, udpLimit, writeBareResponse, writeErrorHeader, TRUNCATED_FLAG, type Query, type RecordSet,
} from './message.js';
import type { DnsLogger, ResolvedDnsOptions } from './options.js';
import { RecordSource } from './records.js';

export type Transport = 'udp' | 'tcp';

export interface DnsStats {
  /** Messages received, well-formed or not. */
  queries: number;
  /** Responses sent, by rcode. */
  noerror: number;
  nxdomain: number;
  formerr: number;
  servfail: number;
  notimp: number;
  refused: number;
  /** Responses sent with TC set. */
  truncated: number;
  /** Queries sent on to a recursor. */
  forwarded: number;
  /** Messages not answered: shorter than a header, or a response arriving over UDP. */
  dropped: number;
  /** Internal errors (each answered with SERVFAIL when it could be). */
  errors: number;
  cacheHits: number;
  cacheMisses: number;
}

type Counter = Exclude<keyof DnsStats, 'cacheHits' | 'cacheMisses'>;

const RCODE_COUNTERS: Partial<Record<number, Counter>> = {
  [Rcode.NOERROR]: 'noerror',
  [Rcode.NXDOMAIN]: 'nxdomain',
  [Rcode.FORMERR]: 'formerr',
  [Rcode.SERVFAIL]: 'servfail',
  [Rcode.NOTIMP]: 'notimp',
  [Rcode.REFUSED]: 'refused',
};

/** What `handle` gives: a response now, one later (forwarded), or undefined to send nothing. */
export type HandleResult = Buffer | undefined | Promise<Buffer | undefined>;

export class QueryHandler {
  private readonly records: RecordSource;
  private readonly forwarder: Forwarder | undefined;
  private readonly logger: DnsLogger | undefined;
  private readonly udpAnswerLimit: number;
  private readonly aRecordLimit: number;
  private readonly counters: Record<Counter, number> = {
    queries: 0, noerror: 0, nxdomain: 0, formerr: 0, servfail: 0, notimp: 0, refused: 0,
    truncated: 0, forwarded: 0, dropped: 0, errors: 0,
  };

  /** @param nameserverAddress the address ns.<domain> resolves to, if we listen on a specific one */
  constructor(options: ResolvedDnsOptions, nameserverAddress: string | undefined) {
    this.records = new RecordSource({ ...options, nameserverAddress });
    this.forwarder = options.recursors.length > 0 ? new Forwarder(options.recursors, options.recursorTimeoutMs) : undefined;
    this.logger = options.logger;
    this.udpAnswerLimit = options.udpAnswerLimit;
    this.aRecordLimit = options.aRecordLimit;
  }

  /** How many answers a response may carry: udp_answer_limit over UDP, a_record_limit for address questions. */
  private maxAnswers(query: Query, transport: Transport): number {
    let max = transport === 'udp' ? this.udpAnswerLimit : Number.POSITIVE_INFINITY;
    const address = query.qtype === Qtype.A || query.qtype === Qtype.AAAA || query.qtype === Qtype.ANY;
    if (address && this.aRecordLimit > 0) max = Math.min(max, this.aRecordLimit);
    return max;
  }

  /** Never throws: an internal error becomes SERVFAIL (or silence when the message had no header). */
  handle(message: Buffer, transport: Transport): HandleResult {
    this.counters.queries++;
    try {
      const result = this.respond(message, transport);
      return result instanceof Promise ? result.catch((error: unknown) => this.internalError(error, message)) : result;
    } catch (error) {
      return this.internalError(error, message);
    }
  }

  stats(): DnsStats {
    return { ...this.counters, cacheHits: this.records.hits, cacheMisses: this.records.misses };
  }

  /** Count a message the transport dropped without handing it over (a TCP frame too short for a header). */
  countDropped(): void {
    this.counters.dropped++;
  }

  close(): void {
    this.forwarder?.close();
  }

  private respond(message: Buffer, transport: Transport): HandleResult {
    const recursion = this.forwarder !== undefined;
    // A response is never answered over UDP: a forged source address could
    // otherwise set two servers answering each other's errors forever.
    if (transport === 'udp' && isResponse(message)) {
      this.counters.dropped++;
      return undefined;
    }
    const query = parseQuery(message);
    if (query === undefined) {
      this.counters.dropped++;
      return undefined;
    }
    if (typeof query === 'number') {
      return this.sent(writeErrorHeader(messageId(message), messageFlags(message), query, recursion), undefined, transport);
    }

    const flags = responseFlags(query.flags, true, recursion);
    if (query.edns && query.ednsVersion > 0) return this.sent(writeBareResponse(query, flags, Rcode.BADVERS), query, transport);
    if (query.qtype === Qtype.AXFR || query.qtype === Qtype.IXFR) {
      return this.sent(writeBareResponse(query, flags, Rcode.NOTIMP), query, transport);
    }

    const standardClass = query.qclass === Qclass.IN || query.qclass === Qclass.ANY;
    let set: RecordSet | undefined;
    if (standardClass && !query.opaqueName) set = this.records.answer(query.name, query.qtype);
    else if (this.records.inDomain(query.name)) {
      // Our domain, but a class we hold nothing in, or a name that can mean nothing of ours.
      if (!standardClass) return this.sent(writeBareResponse(query, flags, Rcode.REFUSED), query, transport);
      set = this.records.notFound();
    }
    if (set) {
      const limit = transport === 'udp' ? udpLimit(query) : TCP_MAX_BYTES;
      return this.sent(set.write(query, flags, limit, this.maxAnswers(query, transport)), query, transport);
    }
    if (this.forwarder) return this.forward(this.forwarder, query, transport);
    return this.sent(writeBareResponse(query, responseFlags(query.flags, false, false), Rcode.REFUSED), query, transport);
  }

  private async forward(forwarder: Forwarder, query: Query, transport: Transport): Promise<Buffer | undefined> {
    this.counters.forwarded++;
    let answer = await forwarder.forward(query.raw);
    const flags = responseFlags(query.flags, false, true);
    if (!answer) answer = writeBareResponse(query, flags, Rcode.SERVFAIL);
    // The recursor saw the client's own EDNS size; this guards against one that ignored it.
    else if (transport === 'udp' && answer.length > udpLimit(query)) answer = writeBareResponse(query, flags | TRUNCATED_FLAG, Rcode.NOERROR);
    return this.sent(answer, query, transport);
  }

  private sent(response: Buffer, query: Query | undefined, transport: Transport): Buffer {
    const rcode = responseRcode(response);
    const counter = RCODE_COUNTERS[rcode];
    if (counter) this.counters[counter]++;
    const truncated = isTruncated(response);
    if (truncated) this.counters.truncated++;
    const logger = this.logger;
    if (logger && (logger.isLevelEnabled?.('debug') ?? true)) {
      logger.debug({ name: query?.name, qtype: query?.qtype, rcode, truncated, bytes: response.length, transport }, 'dns query');
    }
    return response;
  }

  private internalError(error: unknown, message: Buffer): Buffer | undefined {
    this.counters.errors++;
    this.logger?.warn({ err: error instanceof Error ? error.message : String(error), stack: (error as Error)?.stack }, 'DNS query failed');
    if (message.length < HEADER_BYTES) return undefined;
    this.counters.servfail++;
    return writeErrorHeader(messageId(message), messageFlags(message), Rcode.SERVFAIL, this.forwarder !== undefined);
  }
}
