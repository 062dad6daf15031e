// Fuzz targets for the DNS server: the query parser and handler fed valid,
// mutated and random messages directly (volume), and a real UDP+TCP server fed
// the same over sockets. Every message gets a well-formed response or, where
// the protocol says so, none; an internal error (answered SERVFAIL) is a defect.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { QueryHandler } from '../../src/dns/handler.js';
import { startDnsServer } from '../../src/dns/index.js';
import { HEADER_BYTES, TCP_MAX_BYTES, UDP_MAX_BYTES, UDP_MIN_BYTES } from '../../src/dns/message.js';
import { resolveDnsOptions } from '../../src/dns/options.js';
import { encodeQuery, sampleCatalog, type QueryType } from '../dns/helpers.js';
import { hostileBytes, withTimeout, type FuzzTarget } from './runner.js';
import { split } from './transport-targets.js';

const names = fc.oneof(
  fc.constantFrom(
    'web.service.consul', 'v1.web.service.consul', '_web._tcp.service.consul', 'web.service.dc1.consul',
    'node-a.node.consul', 'node-v6.node.dc1.consul', 'db.service.consul', 'consul', 'ns.consul', 'missing.service.consul',
    '1.0.0.10.in-addr.arpa', 'example.com', 'a.b.c.d.e.consul', 'WEB.SERVICE.CONSUL', '_db._udp.service.consul',
  ),
  fc.array(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), { minLength: 1, maxLength: 5 }).map((labels) => [...labels, 'consul'].join('.')),
);
const types = fc.constantFrom<QueryType>('A', 'AAAA', 'SRV', 'TXT', 'ANY', 'SOA', 'NS', 'PTR', 'CNAME', 'MX', 'AXFR');

export const queryArb: fc.Arbitrary<Buffer> = fc.record({
  name: names,
  type: types,
  id: fc.nat({ max: 0xffff }),
  flags: fc.constantFrom(0, dnsPacket.RECURSION_DESIRED, dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED),
  edns: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
}).map(({ name, type, id, flags, edns }) => encodeQuery(name, type, { id, flags, edns }));

/** A response as dns-packet reads it; fails the case if it is not well-formed or not an answer to `message`. */
function checkResponse(message: Buffer, response: Buffer, limit: number): void {
  assert.ok(response.length >= HEADER_BYTES, 'a response shorter than a header');
  assert.ok(response.length <= limit, `a ${response.length}-byte response over the ${limit}-byte limit`);
  assert.equal(response.readUInt16BE(0), message.readUInt16BE(0), 'the response id is not the query id');
  assert.ok((response[2]! & 0x80) !== 0, 'QR is not set');
  let decoded: dnsPacket.DecodedPacket;
  try {
    decoded = dnsPacket.decode(response);
  } catch (error) {
    throw new assert.AssertionError({ message: `the response does not decode: ${String(error)} (${response.toString('hex')})` });
  }
  assert.equal(dnsPacket.decode.bytes, response.length, 'trailing bytes after the response');
  assert.ok((decoded.questions?.length ?? 0) <= 1);
}

/** The UDP size a query may get: 512, or its EDNS size within [512, 4096] (as the server reads it, when it reads). */
function udpLimitOf(message: Buffer): number {
  try {
    const opt = dnsPacket.decode(message).additionals?.find((a) => a.type === 'OPT') as dnsPacket.OptAnswer | undefined;
    if (opt) return Math.min(UDP_MAX_BYTES, Math.max(UDP_MIN_BYTES, opt.udpPayloadSize));
  } catch {
    // The server answers such a message with FORMERR: a header and at most the question.
  }
  return UDP_MIN_BYTES;
}

export const dnsHandlerTarget: FuzzTarget = {
  name: 'dns-handler',
  description: 'parseQuery + QueryHandler over a sample catalog: valid, mutated and random messages over UDP and TCP rules; every answer is well-formed, within the size limit, echoes the id; no internal errors',
  testRuns: 16000,
  async setup() {
    const handler = new QueryHandler(resolveDnsOptions({ catalog: sampleCatalog(), host: '127.0.0.1', port: 0 }), '127.0.0.1');
    const property = fc.property(hostileBytes(queryArb, 120), fc.constantFrom('udp' as const, 'tcp' as const), (message, transport) => {
      const result = handler.handle(message, transport);
      assert.ok(!(result instanceof Promise), 'no recursor is configured, yet the answer is deferred');
      const expectAnswer = message.length >= HEADER_BYTES && !(transport === 'udp' && (message[2]! & 0x80) !== 0);
      if (!expectAnswer) {
        assert.equal(result, undefined, 'a message that gets no answer got one');
        return;
      }
      assert.ok(result !== undefined, `no answer to ${message.toString('hex')}`);
      checkResponse(message, result, transport === 'udp' ? udpLimitOf(message) : TCP_MAX_BYTES);
      assert.equal(handler.stats().errors, 0, `an internal error answering ${message.toString('hex')}`);
    });
    return {
      property,
      async after() {
        // The generator reaches answers, names we do not have, and malformed messages alike.
        const st = handler.stats();
        if (st.queries >= 200) assert.ok(st.noerror > 0 && st.nxdomain > 0 && st.formerr > 0 && st.refused > 0, `rcodes seen: ${JSON.stringify(st)}`);
      },
      teardown: async () => {},
    };
  },
};

export const dnsServerTarget: FuzzTarget = {
  name: 'dns-server',
  description: 'a real DNS server: hostile datagrams over UDP and hostile length-prefixed streams over TCP; it answers what it must, closes bad streams, logs no internal error, and still answers a real query after',
  testRuns: 800,
  async setup() {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (o: object, m?: string) => warnings.push(`${m} ${JSON.stringify(o)}`), error: (o: object, m?: string) => warnings.push(`${m} ${JSON.stringify(o)}`) };
    const server = await startDnsServer({ catalog: sampleCatalog(), host: '127.0.0.1', port: 0, logger: logger as never, tcpIdleTimeoutMs: 3000 });
    const { port } = server.address;
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const replies: Buffer[] = [];
    let onReply: (() => void) | undefined;
    udp.on('message', (m) => {
      replies.push(m);
      onReply?.();
    });

    const tcpCase = fc.array(fc.oneof(
      hostileBytes(queryArb, 60).map((m) => ({ framed: true, message: m })),
      fc.uint8Array({ maxLength: 40 }).map((a) => ({ framed: false, message: Buffer.from(a) })),
    ), { minLength: 1, maxLength: 4 });
    const frame = (m: Buffer): Buffer => {
      const framed = Buffer.alloc(2 + m.length);
      framed.writeUInt16BE(m.length, 0);
      m.copy(framed, 2);
      return framed;
    };

    const property = fc.asyncProperty(
      fc.oneof(
        hostileBytes(queryArb, 120).map((m) => ({ kind: 'udp' as const, message: m })),
        fc.tuple(tcpCase, fc.array(fc.nat(), { maxLength: 5 })).map(([items, cuts]) => {
          // The answers owed: one per framed message up to the first that is not one (garbage, or shorter than a header).
          const owed: Buffer[] = [];
          for (const item of items) {
            if (!item.framed || item.message.length < HEADER_BYTES) break;
            owed.push(item.message);
          }
          const stream = Buffer.concat(items.map((i) => (i.framed ? frame(i.message) : i.message)));
          return { kind: 'tcp' as const, stream, cuts, owed };
        }),
      ),
      async (c) => {
        if (c.kind === 'udp') {
          const message = c.message;
          if (message.length === 0) return; // an empty datagram is nothing to send
          replies.length = 0;
          const expectAnswer = message.length >= HEADER_BYTES && (message[2]! & 0x80) === 0;
          const got = new Promise<void>((resolve) => { onReply = resolve; });
          udp.send(message, port, '127.0.0.1');
          if (expectAnswer) {
            await withTimeout(`a UDP answer to ${message.toString('hex')}`, 3000, got);
            checkResponse(message, replies[0]!, udpLimitOf(message));
          }
          onReply = undefined;
          return;
        }
        // TCP: send the stream, close our side, read until the server closes.
        const received: Buffer[] = [];
        await withTimeout('a hostile DNS TCP stream to end', 5000, new Promise<void>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1');
          socket.on('error', reject);
          socket.on('data', (chunk: Buffer) => received.push(chunk));
          socket.on('close', () => resolve());
          socket.once('connect', () => {
            for (const piece of split(c.stream, c.cuts)) socket.write(piece);
            socket.end();
          });
        }));
        // Every answer is framed right and well-formed; the owed ones come first, in order.
        const bytes = Buffer.concat(received);
        const answers: Buffer[] = [];
        for (let at = 0; at < bytes.length;) {
          assert.ok(at + 2 <= bytes.length, 'a TCP answer cut inside its length');
          const length = bytes.readUInt16BE(at);
          assert.ok(at + 2 + length <= bytes.length, 'a TCP answer shorter than its length says');
          answers.push(bytes.subarray(at + 2, at + 2 + length));
          at += 2 + length;
        }
        assert.ok(answers.length >= c.owed.length, `${answers.length} TCP answers for ${c.owed.length} queries`);
        c.owed.forEach((query, i) => checkResponse(query, answers[i]!, TCP_MAX_BYTES));
      },
    );
    return {
      property,
      async after() {
        // Its own socket, and the answer matched by id: a campaign ends by abandoning the
        // case in flight (fast-check races it against the time limit), and that case's
        // answer may still arrive on the fuzzing socket.
        const probe = createSocket('udp4');
        await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
        let answer: Buffer;
        try {
          answer = await withTimeout('a real query after the fuzzing', 3000, new Promise<Buffer>((resolve) => {
            probe.on('message', (m: Buffer) => { if (m.length >= 2 && m.readUInt16BE(0) === 7) resolve(m); });
            probe.send(encodeQuery('web.service.consul', 'A', { id: 7 }), port, '127.0.0.1');
          }));
        } finally {
          probe.close();
        }
        const decoded = dnsPacket.decode(answer);
        assert.equal(answer[3]! & 0x0f, 0, 'the real query was not NOERROR');
        assert.equal(decoded.answers?.length, 3);
        assert.equal(server.stats().errors, 0, `internal errors: ${warnings.join('\n')}`);
      },
      async teardown() {
        udp.close();
        await server.close();
      },
    };
  },
};

// ------------------------------------------------------------ answers from a recursor

/** How the fake recursor answers one query. */
const upstreamArb = fc.oneof(
  // A real answer, possibly mutated after the header's id and QR bit are set right.
  fc.record({ kind: fc.constant('answer' as const), rcode: fc.constantFrom('NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED'), edit: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }), { nil: undefined }), at: fc.nat(), cut: fc.option(fc.nat(), { nil: undefined }) }),
  // Bytes that carry the right id and QR, then anything.
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 60 }) }),
  // A wrong id, or silence: the server must not wait past its timeout.
  fc.record({ kind: fc.constant('wrong-id' as const) }),
  fc.record({ kind: fc.constant('silent' as const) }),
);
type Upstream = typeof upstreamArb extends fc.Arbitrary<infer T> ? T : never;

function upstreamReply(query: Buffer, how: Upstream): Buffer | undefined {
  const id = query.readUInt16BE(0);
  switch (how.kind) {
    case 'silent':
      return undefined;
    case 'wrong-id': {
      const reply = Buffer.from(query);
      reply.writeUInt16BE((id + 1) & 0xffff, 0);
      reply[2] = reply[2]! | 0x80;
      return reply;
    }
    case 'garbage': {
      const reply = Buffer.concat([Buffer.alloc(4), Buffer.from(how.bytes)]);
      reply.writeUInt16BE(id, 0);
      reply[2] = 0x81;
      return reply;
    }
    case 'answer': {
      const decoded = dnsPacket.decode(query);
      let reply = dnsPacket.encode({
        type: 'response', id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, rcode: how.rcode,
        questions: decoded.questions,
        answers: how.rcode === 'NOERROR' ? [{ type: 'A', name: decoded.questions?.[0]?.name ?? 'x', ttl: 30, data: '192.0.2.1' }] : [],
      } as dnsPacket.Packet);
      if (how.edit !== undefined) {
        const at = HEADER_BYTES + (how.at % Math.max(1, reply.length - HEADER_BYTES));
        reply = Buffer.concat([reply.subarray(0, at), Buffer.from(how.edit), reply.subarray(at + how.edit.length)]);
      }
      if (how.cut !== undefined) reply = reply.subarray(0, HEADER_BYTES + (how.cut % Math.max(1, reply.length - HEADER_BYTES)));
      return reply;
    }
  }
}

export const dnsForwardTarget: FuzzTarget = {
  name: 'dns-forward',
  description: 'a real DNS server forwarding to a hostile recursor on loopback (mutated, cut, garbage, wrong-id answers, silence); the client always gets a well-formed answer with its id within the recursor timeout, no internal errors',
  testRuns: 150,
  async setup() {
    const recursor = createSocket('udp4');
    await new Promise<void>((resolve) => recursor.bind(0, '127.0.0.1', resolve));
    let behaviour: Upstream = { kind: 'silent' };
    recursor.on('message', (query, from) => {
      let reply: Buffer | undefined;
      try {
        reply = upstreamReply(query, behaviour);
      } catch {
        reply = undefined;
      }
      if (reply !== undefined) recursor.send(reply, from.port, from.address);
    });
    const server = await startDnsServer({
      catalog: sampleCatalog(), host: '127.0.0.1', port: 0, recursors: [`127.0.0.1:${recursor.address().port}`], recursorTimeoutMs: 30,
    });
    const { port } = server.address;
    const client = createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    let onReply: ((m: Buffer) => void) | undefined;
    client.on('message', (m) => onReply?.(m));
    const names = fc.constantFrom('example.com', 'www.example.org', 'a.b.c.test', 'x.invalid');
    const property = fc.asyncProperty(upstreamArb, names, fc.nat({ max: 0xffff }), async (how, name, id) => {
      behaviour = how;
      const query = encodeQuery(name, 'A', { id });
      const answer = await withTimeout(`an answer to ${name} forwarded to a recursor that ${how.kind}`, 3000, new Promise<Buffer>((resolve) => {
        onReply = resolve;
        client.send(query, port, '127.0.0.1');
      }));
      onReply = undefined;
      checkResponse(query, answer, UDP_MIN_BYTES);
      assert.equal(server.stats().errors, 0, 'an internal error');
    });
    return {
      property,
      async teardown() {
        client.close();
        recursor.close();
        await server.close();
      },
    };
  },
};
