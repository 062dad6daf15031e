// Names outside the domain with recursors configured: forwarded over UDP to a
// fake upstream DNS server on loopback and relayed, the next recursor tried
// when one is silent or fails, SERVFAIL when none answers; RA set throughout.

import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { describe, test, type TestContext } from 'node:test';
import dnsPacket from 'dns-packet';
import { rcodeOf, startDns, tcpExchange, encodeQuery } from './helpers.js';

interface Upstream {
  address: string;
  /** Every query it received, decoded. */
  received: dnsPacket.DecodedPacket[];
}

/**
 * A UDP DNS server on loopback. 'answer' gives every A question 203.0.113.7 (and a
 * TXT naming itself); 'servfail' answers SERVFAIL; 'silent' reads and never answers.
 */
async function upstream(t: TestContext, behaviour: 'answer' | 'servfail' | 'silent', tag = 'up'): Promise<Upstream> {
  const socket: Socket = createSocket('udp4');
  const received: dnsPacket.DecodedPacket[] = [];
  socket.on('message', (message, from) => {
    const query = dnsPacket.decode(message);
    received.push(query);
    if (behaviour === 'silent') return;
    const question = query.questions![0];
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (behaviour === 'servfail' ? 2 : 0),
      questions: query.questions,
      answers: behaviour === 'answer'
        ? [{ type: 'A', name: question.name, ttl: 60, data: '203.0.113.7' }, { type: 'TXT', name: question.name, ttl: 60, data: tag }]
        : [],
    });
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.after(() => socket.close());
  return { address: `127.0.0.1:${socket.address().port}`, received };
}

describe('recursors', () => {
  test('a name outside the domain is forwarded and the answer relayed with the client id; RA set', async (t) => {
    const up = await upstream(t, 'answer');
    const dns = await startDns(t, undefined, { recursors: [up.address] });
    assert.deepEqual(await dns.resolver().resolve4('www.example.com'), ['203.0.113.7']);
    const raw = await dns.ask('api.example.org', 'A', { id: 0x1234 });
    assert.equal(raw.id, 0x1234);
    assert.equal(raw.flag_ra, true);
    assert.equal(rcodeOf(raw), 'NOERROR');
    assert.equal(up.received.at(-1)?.questions?.[0].name, 'api.example.org');
    // Our own names never go upstream, and say recursion is available.
    const before = up.received.length;
    const local = await dns.ask('web.service.consul', 'A');
    assert.equal(local.answers?.length, 3);
    assert.equal(local.flag_ra, true);
    assert.equal(rcodeOf(await dns.ask('nope.service.consul', 'A')), 'NXDOMAIN');
    assert.equal(up.received.length, before);
    assert.ok(dns.server.stats().forwarded >= 2);
  });

  test('forwarding works for a TCP client too', async (t) => {
    const up = await upstream(t, 'answer');
    const dns = await startDns(t, undefined, { recursors: [up.address] });
    const [reply] = await tcpExchange(dns.port, [encodeQuery('www.example.com', 'A', { id: 5 })]);
    const decoded = dnsPacket.decode(reply);
    assert.equal(decoded.id, 5);
    assert.equal((decoded.answers?.[0] as { data: string }).data, '203.0.113.7');
  });

  test('a silent recursor is given its timeout, then the next one answers', async (t) => {
    const silent = await upstream(t, 'silent');
    const second = await upstream(t, 'answer', 'second');
    const dns = await startDns(t, undefined, { recursors: [silent.address, second.address], recursorTimeoutMs: 100 });
    const reply = await dns.ask('www.example.com', 'TXT');
    assert.equal(rcodeOf(reply), 'NOERROR');
    assert.equal(silent.received.length, 1);
    assert.equal(second.received.length, 1);
  });

  test('a recursor that fails is passed over for one that answers', async (t) => {
    const failing = await upstream(t, 'servfail');
    const good = await upstream(t, 'answer', 'good');
    const dns = await startDns(t, undefined, { recursors: [failing.address, good.address] });
    const reply = await dns.ask('www.example.com', 'TXT');
    assert.equal(rcodeOf(reply), 'NOERROR');
    assert.deepEqual((reply.answers?.find((r) => r.type === 'TXT') as { data: Buffer[] }).data.map(String), ['good']);
  });

  test('when no recursor answers in time: SERVFAIL with RA, and the server keeps answering', async (t) => {
    const a = await upstream(t, 'silent');
    const b = await upstream(t, 'silent');
    const dns = await startDns(t, undefined, { recursors: [a.address, b.address], recursorTimeoutMs: 100 });
    const reply = await dns.ask('www.example.com', 'A', { id: 77 });
    assert.equal(rcodeOf(reply), 'SERVFAIL');
    assert.equal(reply.id, 77);
    assert.equal(reply.flag_ra, true);
    assert.equal(a.received.length, 1);
    assert.equal(b.received.length, 1);
    assert.equal((await dns.resolver().resolve4('web.service.consul')).length, 3);
  });

  test('a recursor whose port is closed is passed over without waiting for its timeout', async (t) => {
    // Bind and close: the kernel then refuses datagrams to that port (ICMP port unreachable).
    const gone = createSocket('udp4');
    await new Promise<void>((resolve) => gone.bind(0, '127.0.0.1', resolve));
    const closedAddress = `127.0.0.1:${gone.address().port}`;
    await new Promise<void>((resolve) => gone.close(resolve));
    const live = await upstream(t, 'answer', 'live');
    const dns = await startDns(t, undefined, { recursors: [closedAddress, live.address], recursorTimeoutMs: 60_000 });
    // ask() gives up after 2 s, far inside the 60 s the closed recursor would otherwise get.
    const reply = await dns.ask('www.example.com', 'A');
    assert.equal(rcodeOf(reply), 'NOERROR');
    assert.equal(live.received.length, 1);
  });
});
