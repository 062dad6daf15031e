// The protocol around the answers: rcodes (NXDOMAIN, NODATA, REFUSED, NOTIMP,
// FORMERR, BADVERS), header flags, EDNS, truncation to the UDP limit with the
// whole answer over TCP, TCP framing and connection handling, and random
// input that must never stop the server from answering.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { FakeCatalog } from './fake-catalog.js';
import {
  dataOf, encodeQuery, frame, openTcp, rawHeader, rawQuestion, rcodeOf, startDns, tcpExchange, udpExchange, udpFirstReply, type TestDns,
} from './helpers.js';

type Decoded = dnsPacket.DecodedPacket & { rcode: string; opcode: string };

async function udpDecoded(port: number, message: Buffer): Promise<Decoded> {
  const reply = await udpExchange(port, message);
  assert.ok(reply, 'expected an answer');
  return dnsPacket.decode(reply) as Decoded;
}

/** The OPT record of a reply, if any. */
function optOf(packet: dnsPacket.DecodedPacket): dnsPacket.OptAnswer | undefined {
  return packet.additionals?.find((r): r is dnsPacket.OptAnswer => r.type === 'OPT');
}

const WEB_A = rawQuestion(['web', 'service', 'consul']);

describe('negative answers', () => {
  test('an unknown name is NXDOMAIN, authoritative, with the SOA in the authority section', async (t) => {
    const dns = await startDns(t);
    const reply = await dns.ask('nope.service.consul', 'A');
    assert.equal(rcodeOf(reply), 'NXDOMAIN');
    assert.equal(reply.flag_aa, true);
    assert.equal(reply.answers?.length, 0);
    const [soa] = reply.authorities ?? [];
    assert.equal(soa.type, 'SOA');
    assert.equal(soa.name, 'consul');
    const data = (soa as dnsPacket.SoaAnswer).data;
    assert.equal(data.mname, 'ns.consul');
    assert.equal(data.rname, 'hostmaster.consul');
    assert.equal(data.minimum, 0);
  });

  test('a name with no record of the asked type is NODATA: NOERROR, no answer, the SOA', async (t) => {
    const dns = await startDns(t);
    for (const [name, type] of [['web.service.consul', 'AAAA'], ['web.service.consul', 'TXT'], ['node-b.node.consul', 'SRV'], ['consul', 'A']] as const) {
      const reply = await dns.ask(name, type);
      assert.equal(rcodeOf(reply), 'NOERROR', `${name} ${type}`);
      assert.equal(reply.answers?.length, 0, `${name} ${type}`);
      assert.equal(reply.authorities?.[0]?.type, 'SOA', `${name} ${type}`);
    }
    await assert.rejects(dns.resolver().resolve6('web.service.consul'), { code: 'ENODATA' });
  });

  test('names outside the domain are REFUSED (no recursors): not authoritative, no recursion offered', async (t) => {
    const dns = await startDns(t);
    const reply = await dns.ask('example.com', 'A');
    assert.equal(rcodeOf(reply), 'REFUSED');
    assert.equal(reply.flag_aa, false);
    assert.equal(reply.flag_ra, false);
    assert.equal(reply.questions?.[0].name, 'example.com');
    assert.equal(rcodeOf(await dns.ask('consul.example.com', 'A')), 'REFUSED');
    assert.equal(rcodeOf(await dns.ask('notconsul', 'A')), 'REFUSED');
  });

  test('another class than IN is REFUSED; a label holding a dot names nothing', async (t) => {
    const dns = await startDns(t);
    const chaos = await udpDecoded(dns.port, Buffer.concat([rawHeader(7, [1, 0, 0, 0]), rawQuestion(['web', 'service', 'consul'], 1, 3)]));
    assert.equal(chaos.rcode, 'REFUSED');
    const dotted = await udpDecoded(dns.port, Buffer.concat([rawHeader(8, [1, 0, 0, 0]), rawQuestion(['web.service', 'consul'])]));
    assert.equal(dotted.rcode, 'NXDOMAIN');
  });
});

describe('header and EDNS', () => {
  test('the id and RD are echoed; AA set for our names; RA clear without recursors', async (t) => {
    const dns = await startDns(t);
    const withRd = await dns.ask('web.service.consul', 'A', { id: 0xbeef });
    assert.equal(withRd.id, 0xbeef);
    assert.equal(withRd.type, 'response');
    assert.equal(withRd.flag_rd, true);
    assert.equal(withRd.flag_aa, true);
    assert.equal(withRd.flag_ra, false);
    assert.equal(withRd.flag_tc, false);
    const withoutRd = await dns.ask('web.service.consul', 'A', { id: 1, flags: 0 });
    assert.equal(withoutRd.flag_rd, false);
  });

  test('an OPT record is echoed when the query had one, and only then', async (t) => {
    const dns = await startDns(t);
    const edns = await dns.ask('web.service.consul', 'A', { edns: 1232 });
    const opt = optOf(edns);
    assert.ok(opt, 'OPT echoed');
    assert.equal(opt.ednsVersion, 0);
    assert.ok(opt.udpPayloadSize >= 512);
    assert.equal(optOf(await dns.ask('web.service.consul', 'A')), undefined);
    // Negative and refused answers echo it too.
    assert.ok(optOf(await dns.ask('nope.service.consul', 'A', { edns: 1232 })));
    assert.ok(optOf(await dns.ask('example.com', 'A', { edns: 1232 })));
  });

  test('an EDNS version we do not speak gets BADVERS', async (t) => {
    const dns = await startDns(t);
    const query = dnsPacket.encode({
      type: 'query', id: 9, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'web.service.consul' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }],
    });
    const reply = await udpDecoded(dns.port, query);
    assert.equal(reply.answers?.length, 0);
    // BADVERS is 16: the upper bits (1) travel in the OPT record.
    assert.equal(optOf(reply)?.extendedRcode, 1);
    assert.equal(reply.rcode, 'NOERROR');
  });
});

const OPCODES: Record<number, string> = { 1: 'IQUERY', 2: 'STATUS', 4: 'NOTIFY', 5: 'UPDATE' };

describe('what we do not serve, and malformed queries', () => {
  test('AXFR and IXFR are NOTIMP', async (t) => {
    const dns = await startDns(t);
    assert.equal(rcodeOf(await dns.askTcp('consul', 'AXFR')), 'NOTIMP');
    assert.equal(rcodeOf(await dns.ask('consul', 'IXFR')), 'NOTIMP');
  });

  test('opcodes other than QUERY are NOTIMP, with the id and opcode echoed', async (t) => {
    const dns = await startDns(t);
    for (const opcode of [1, 2, 4, 5]) {
      const reply = await udpDecoded(dns.port, Buffer.concat([rawHeader(300 + opcode, [1, 0, 0, 0], opcode << 11), WEB_A]));
      assert.equal(reply.rcode, 'NOTIMP', `opcode ${opcode}`);
      assert.equal(reply.id, 300 + opcode);
      assert.equal(reply.opcode, OPCODES[opcode]);
    }
  });

  test('FORMERR, id echoed, for broken queries', async (t) => {
    const dns = await startDns(t);
    const valid = Buffer.concat([rawHeader(0, [1, 0, 0, 0]), WEB_A]);
    const cases: Array<[string, Buffer]> = [
      ['no question', rawHeader(11, [0, 0, 0, 0])],
      ['two questions', Buffer.concat([rawHeader(12, [2, 0, 0, 0]), WEB_A, WEB_A])],
      ['a question count with nothing after the header', rawHeader(13, [1, 0, 0, 0])],
      ['a question cut short', Buffer.concat([rawHeader(14, [1, 0, 0, 0]), WEB_A.subarray(0, WEB_A.length - 2)])],
      ['a label running past the end', Buffer.concat([rawHeader(15, [1, 0, 0, 0]), Buffer.from([40, 0x61, 0x62])])],
      ['a compression pointer in the question', Buffer.concat([rawHeader(16, [1, 0, 0, 0]), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])])],
      ['trailing bytes', Buffer.concat([rawHeader(17, [1, 0, 0, 0]), WEB_A, Buffer.from([1, 2, 3])])],
      ['an answer in a query', Buffer.concat([rawHeader(18, [1, 1, 0, 0]), WEB_A])],
      ['an additional count with no record', Buffer.concat([rawHeader(19, [1, 0, 0, 1]), WEB_A])],
      ['two OPT records', (() => {
        const q = dnsPacket.decode(encodeQuery('web.service.consul', 'A', { edns: 1232, id: 20 }));
        return dnsPacket.encode({ ...q, additionals: [...q.additionals!, ...q.additionals!] });
      })()],
    ];
    for (const [what, message] of cases) {
      const reply = await udpDecoded(dns.port, message);
      assert.equal(reply.rcode, 'FORMERR', what);
      assert.equal(reply.id, message.readUInt16BE(0), what);
      assert.equal(reply.type, 'response', what);
    }
    // A query marked as a response: FORMERR over TCP; over UDP it is dropped
    // (answering could set two servers replying to each other forever).
    const qr = Buffer.from(valid);
    qr.writeUInt16BE(0x8100, 2);
    qr.writeUInt16BE(21, 0);
    const [tcpReply] = await tcpExchange(dns.port, [qr]);
    assert.equal(rcodeOf(dnsPacket.decode(tcpReply)), 'FORMERR');
    const first = await udpFirstReply(dns.port, [qr, encodeQuery('web.service.consul', 'A', { id: 22 })]);
    assert.equal(first && dnsPacket.decode(first).id, 22);
    assert.equal(dns.server.stats().errors, 0);
  });

  test('a datagram shorter than a header gets no answer, and the server goes on', async (t) => {
    const dns = await startDns(t);
    const short = [0, 1, 11].map((size) => Buffer.alloc(size, 0x41));
    const first = await udpFirstReply(dns.port, [...short, encodeQuery('web.service.consul', 'A', { id: 99 })]);
    assert.equal(first && dnsPacket.decode(first).id, 99, 'the first reply answers the valid query');
    assert.equal(dns.server.stats().dropped, 3);
    assert.equal((await dns.resolver().resolve4('web.service.consul')).length, 3);
  });
});

describe('random input', () => {
  /** Messages built to reach every branch of the parser: noise, cut and flipped queries, wrong counts. */
  function fuzzMessages(seed: number, count: number): Buffer[] {
    const base = [
      encodeQuery('web.service.consul', 'A'), encodeQuery('_web._tcp.service.dc1.consul', 'SRV', { edns: 4096 }),
      encodeQuery('node-a.node.consul', 'ANY'), encodeQuery('example.org', 'MX', { edns: 600 }),
    ];
    const fromBase = fc.constantFrom(...base);
    const arbitrary = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 600 }).map((b) => Buffer.from(b)),
      fc.tuple(fromBase, fc.nat()).map(([q, n]) => q.subarray(0, n % (q.length + 1))),
      fc.tuple(fromBase, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([q, at, byte]) => {
        const copy = Buffer.from(q);
        copy[at % copy.length] = byte;
        return copy;
      }),
      fc.tuple(fromBase, fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 })).map(([q, counts]) => {
        const copy = Buffer.from(q);
        counts.forEach((c, i) => copy.writeUInt16BE(c, 4 + 2 * i));
        return copy;
      }),
      fc.tuple(fromBase, fc.uint8Array({ maxLength: 64 })).map(([q, tail]) => Buffer.concat([q, tail])),
    );
    return fc.sample(arbitrary, { numRuns: count, seed });
  }

  test('over UDP: every reply is a well-formed response to a message sent, and valid queries still work', async (t) => {
    const dns = await startDns(t);
    const messages = fuzzMessages(20240601, 1500);
    const sentIds = new Set(messages.filter((m) => m.length >= 2).map((m) => m.readUInt16BE(0)));
    const socket = createSocket('udp4');
    t.after(() => socket.close());
    const replies: Buffer[] = [];
    socket.on('message', (reply) => replies.push(reply));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < messages.length; i += 100) {
      for (const message of messages.slice(i, i + 100)) socket.send(message, dns.port, '127.0.0.1');
      // The server reads datagrams in order: once this is answered, the batch was handled.
      assert.equal((await dns.resolver().resolve4('web.service.consul')).length, 3);
    }
    await dns.ask('web.service.consul', 'A');
    assert.ok(replies.length > 100, `only ${replies.length} replies`);
    for (const reply of replies) {
      const decoded = dnsPacket.decode(reply);
      assert.equal(decoded.type, 'response');
      assert.ok(sentIds.has(decoded.id!));
    }
    const stats = dns.server.stats();
    assert.equal(stats.errors, 0, 'no internal error');
    assert.ok(stats.formerr > 0 && stats.dropped > 0);
  });

  test('over TCP: garbage closes its own connection only', async (t) => {
    const dns = await startDns(t);
    const keeper = await openTcp(dns.port);
    t.after(() => keeper.close());
    assert.equal(rcodeOf(dnsPacket.decode(await keeper.query(encodeQuery('web.service.consul', 'A', { id: 1 })))), 'NOERROR');
    for (const [i, message] of fuzzMessages(7, 60).entries()) {
      const framed = i % 2 === 0;
      const replies = await tcpExchange(dns.port, [message], { framed, end: true });
      for (const reply of replies) assert.equal(dnsPacket.decode(reply).type, 'response');
    }
    assert.equal(rcodeOf(dnsPacket.decode(await keeper.query(encodeQuery('web.service.consul', 'A', { id: 2 })))), 'NOERROR');
    assert.equal(dns.server.stats().errors, 0);
  });
});

describe('truncation', () => {
  async function startBig(t: Parameters<typeof startDns>[0], instances = 100): Promise<TestDns> {
    const catalog = new FakeCatalog();
    for (let i = 0; i < instances; i++) {
      const node = `big-${String(i).padStart(3, '0')}`;
      catalog.addNode(node, `10.9.${i >> 8}.${i & 255}`).addService({ node, service: 'big', port: 7000 + i });
    }
    return startDns(t, catalog);
  }

  test('over UDP without EDNS: at most 512 bytes, whole records, TC set', async (t) => {
    const dns = await startBig(t);
    for (const type of ['A', 'SRV'] as const) {
      const reply = await udpExchange(dns.port, encodeQuery('big.service.consul', type));
      assert.ok(reply && reply.length <= 512, `${type}: ${reply?.length} bytes`);
      const decoded = dnsPacket.decode(reply);
      assert.equal(decoded.flag_tc, true, type);
      assert.ok(decoded.answers!.length > 0 && decoded.answers!.length < 100, `${type}: ${decoded.answers!.length} answers`);
      assert.equal(dnsPacket.decode.bytes, reply.length, 'no partial record');
    }
  });

  test('over UDP with EDNS: up to the advertised size', async (t) => {
    const dns = await startBig(t);
    const small = await udpExchange(dns.port, encodeQuery('big.service.consul', 'A', { edns: 1232 }));
    assert.ok(small && small.length <= 1232 && small.length > 512, `${small?.length} bytes`);
    const decoded = dnsPacket.decode(small);
    assert.equal(decoded.flag_tc, true);
    assert.ok(optOf(decoded), 'OPT kept when truncating');
    // 100 A records fit in 4096 bytes.
    const whole = dnsPacket.decode((await udpExchange(dns.port, encodeQuery('big.service.consul', 'A', { edns: 4096 })))!);
    assert.equal(whole.flag_tc, false);
    assert.equal(whole.answers?.length, 100);
    // A size below 512 counts as 512; above 4096 as 4096.
    const tiny = await udpExchange(dns.port, encodeQuery('big.service.consul', 'A', { edns: 100 }));
    assert.ok(tiny && tiny.length > 400 && tiny.length <= 512);
    const huge = await udpExchange(dns.port, encodeQuery('big.service.consul', 'SRV', { edns: 65_000 }));
    assert.ok(huge && huge.length <= 4096);
    assert.equal(dnsPacket.decode(huge).flag_tc, true);
  });

  test('over TCP the whole answer comes, and a real client retries there by itself', async (t) => {
    const dns = await startBig(t);
    const reply = await dns.askTcp('big.service.consul', 'SRV');
    assert.equal(reply.flag_tc, false);
    assert.equal(reply.answers?.length, 100);
    assert.equal(dataOf(reply.additionals, 'A').length, 100);
    assert.equal((await dns.resolver().resolveSrv('big.service.consul')).length, 100);
    assert.equal((await dns.resolver().resolve4('big.service.consul')).length, 100);
    assert.ok(dns.server.stats().truncated >= 2);
  });

  test('when only some additional records fit, they belong to the answers that did', async (t) => {
    // 60 SRV records fit in 4096 bytes; their 60 address records do not all fit after them.
    const dns = await startBig(t, 60);
    const reply = dnsPacket.decode((await udpExchange(dns.port, encodeQuery('big.service.consul', 'SRV', { edns: 4096 })))!);
    assert.equal(reply.flag_tc, true);
    assert.equal(reply.answers?.length, 60);
    const targets = new Set(dataOf<{ target: string }>(reply.answers, 'SRV').map((s) => s.target));
    const glue = (reply.additionals ?? []).filter((r) => r.type === 'A');
    assert.ok(glue.length > 0 && glue.length < 60, `${glue.length} address records`);
    for (const record of glue) assert.ok(targets.has(record.name), `${record.name} is not a target`);
  });
});

describe('TCP connections', () => {
  test('several queries on one connection, in one write, each answered with its id', async (t) => {
    const dns = await startDns(t);
    const queries = [1, 2, 3].map((id) => encodeQuery(id === 2 ? 'node-a.node.consul' : 'web.service.consul', 'A', { id }));
    const replies = await tcpExchange(dns.port, queries);
    assert.deepEqual(replies.map((r) => dnsPacket.decode(r).id).sort(), [1, 2, 3]);
  });

  test('a frame split over many writes is put back together', async (t) => {
    const dns = await startDns(t);
    const client = await openTcp(dns.port);
    t.after(() => client.close());
    const query = encodeQuery('web.service.consul', 'SRV', { id: 77 });
    for (const byte of frame(query)) {
      client.writeRaw(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const reply = dnsPacket.decode(await client.next());
    assert.equal(reply.id, 77);
    assert.equal(reply.answers?.length, 3);
  });

  test('a frame too short for a header closes that connection, not the others', async (t) => {
    const dns = await startDns(t);
    const good = await openTcp(dns.port);
    const bad = await openTcp(dns.port);
    t.after(() => {
      good.close();
      bad.close();
    });
    bad.writeRaw(Buffer.from([0, 3, 1, 2, 3]));
    await bad.closed;
    assert.equal(rcodeOf(dnsPacket.decode(await good.query(encodeQuery('web.service.consul', 'A')))), 'NOERROR');
  });

  test('an idle connection is closed', async (t) => {
    const dns = await startDns(t, undefined, { tcpIdleTimeoutMs: 50 });
    const client = await openTcp(dns.port);
    t.after(() => client.close());
    assert.equal(rcodeOf(dnsPacket.decode(await client.query(encodeQuery('web.service.consul', 'A')))), 'NOERROR');
    await client.closed;
    await waitUntil(() => dns.server.stats().tcpConnections === 0);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
