// Starting and stopping the server: one port for UDP and TCP, clear errors for
// bad options, how names are read, and (when dig is installed) a real dig.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import { startDnsServer } from '../../src/dns/index.js';
import { classifyName } from '../../src/dns/names.js';
import { FakeCatalog } from './fake-catalog.js';
import { encodeQuery, openTcp, sampleCatalog, startDns, tcpExchange, udpExchange } from './helpers.js';

const run = promisify(execFile);

describe('listening', () => {
  test('port 0: UDP and TCP answer on the one port reported', async (t) => {
    const dns = await startDns(t);
    assert.equal(dns.server.address.host, '127.0.0.1');
    assert.ok(dns.server.address.port > 0);
    const udp = await udpExchange(dns.port, encodeQuery('web.service.consul', 'A'));
    const [tcp] = await tcpExchange(dns.port, [encodeQuery('web.service.consul', 'A')]);
    assert.equal(dnsPacket.decode(udp!).answers?.length, 3);
    assert.equal(dnsPacket.decode(tcp).answers?.length, 3);
  });

  test('a fixed port whose TCP side is taken fails start-up, and frees the UDP side', async (t) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    await assert.rejects(startDnsServer({ catalog: sampleCatalog(), host: '127.0.0.1', port }), { code: 'EADDRINUSE' });
    blocker.close();
    await new Promise((resolve) => blocker.once('close', resolve));
    // The same port is free again for both.
    const server = await startDnsServer({ catalog: sampleCatalog(), host: '127.0.0.1', port });
    await server.close();
  });

  test('close() ends open TCP connections and stops answering', async (t) => {
    const dns = await startDns(t);
    const client = await openTcp(dns.port);
    await client.query(encodeQuery('web.service.consul', 'A'));
    assert.equal(dns.server.stats().tcpConnections, 1);
    await dns.server.close();
    await client.closed;
    assert.equal(await udpExchange(dns.port, encodeQuery('web.service.consul', 'A'), 200), undefined);
    await dns.server.close(); // twice is fine
  });
});

describe('options', () => {
  const base = { catalog: new FakeCatalog(), host: '127.0.0.1', port: 0 };
  const cases: Array<[string, object, RegExp]> = [
    ['no catalog', { catalog: undefined }, /catalog is required/],
    ['empty host', { host: '' }, /host must be/],
    ['port out of range', { port: 70_000 }, /port must be a whole number from 0 to 65535/],
    ['bad domain', { domain: 'bad..domain' }, /domain "bad..domain" is not a domain name/],
    ['bad datacenter', { datacenter: 'dc.1' }, /datacenter "dc.1" must be one DNS label/],
    ['negative node TTL', { nodeTtlSeconds: -1 }, /nodeTtlSeconds must be a whole number/],
    ['fractional service TTL', { serviceTtlSeconds: { web: 1.5 } }, /serviceTtlSeconds\["web"\] must be a whole number/],
    ['bad recursor', { recursors: ['8.8.8.8:99999'] }, /recursors\[0\] "8.8.8.8:99999" is not host\[:port\]/],
    ['zero recursor timeout', { recursorTimeoutMs: 0 }, /recursorTimeoutMs must be a whole number from 1/],
  ];
  for (const [what, override, message] of cases) {
    test(`${what} fails start-up with a message naming the option`, async () => {
      await assert.rejects(startDnsServer({ ...base, ...override } as Parameters<typeof startDnsServer>[0]), (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /^startDnsServer: /);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test('recursors may be host, host:port, [v6]:port or a bare IPv6 address', async (t) => {
    const server = await startDnsServer({ ...base, recursors: ['10.0.0.53', '10.0.0.53:5353', '[::1]:53', 'fd00::53', 'dns.local'] });
    t.after(() => server.close());
  });
});

describe('reading names', () => {
  const table: Array<[string, ReturnType<typeof classifyName>]> = [
    ['consul', { kind: 'apex' }],
    ['ns.consul', { kind: 'nameserver' }],
    ['web.service.consul', { kind: 'service', service: 'web', tag: undefined }],
    ['web.service.dc1.consul', { kind: 'service', service: 'web', tag: undefined }],
    ['v1.web.service.consul', { kind: 'service', service: 'web', tag: 'v1' }],
    // api (issue 18): prepared queries by name or ID, with the datacenter forms
    ['web-primary.query.consul', { kind: 'query', query: 'web-primary' }],
    ['geo.db.query.dc1.consul', { kind: 'query', query: 'geo.db' }],
    ['8f246b77-f3e1-4f88-9b48-8ec93abf3e05.query.dc1.dc.consul', { kind: 'query', query: '8f246b77-f3e1-4f88-9b48-8ec93abf3e05' }],
    ['web.query.dc2.consul', { kind: 'none' }],
    ['query.consul', { kind: 'none' }],
    ['_web._tcp.service.consul', { kind: 'service', service: 'web', tag: undefined }],
    ['_web._udp.service.dc1.consul', { kind: 'service', service: 'web', tag: undefined }],
    ['_web._v1.service.consul', { kind: 'service', service: 'web', tag: 'v1' }],
    // A service may be called 'service'; and one label before .service never reads as a datacenter.
    ['service.service.consul', { kind: 'service', service: 'service', tag: undefined }],
    ['node1.node.consul', { kind: 'node', node: 'node1' }],
    ['my.dotted.node.node.dc1.consul', { kind: 'node', node: 'my.dotted.node' }],
    ['7f000001.addr.dc1.consul', { kind: 'addr', ip: '127.0.0.1', family: 4 }],
    ['web.service.dc2.consul', { kind: 'none' }],
    ['web.consul', { kind: 'none' }],
    ['service.consul', { kind: 'none' }],
    ['a.b.c.service.consul', { kind: 'none' }],
    ['consul.com', { kind: 'outside' }],
    ['notconsul', { kind: 'outside' }],
    ['web.service.xconsul', { kind: 'outside' }],
    ['', { kind: 'outside' }],
  ];
  for (const [name, expected] of table) {
    test(`'${name}' reads as ${expected.kind}`, () => {
      assert.deepEqual(classifyName(name, 'consul', 'dc1'), expected);
    });
  }
});

describe('dig', () => {
  test('dig @127.0.0.1 -p PORT web.service.consul SRV +short', async (t) => {
    try {
      await run('dig', ['-v']);
    } catch {
      t.skip('dig is not installed (apt-get install bind9-dnsutils)');
      return;
    }
    const dns = await startDns(t);
    const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(dns.port), 'web.service.consul', 'SRV', '+short', '+tries=1', '+time=2']);
    assert.deepEqual(stdout.trim().split('\n').sort(), [
      '1 10 8080 node-a.node.dc1.consul.',
      '1 10 8081 node-b.node.dc1.consul.',
      '1 10 8082 c0a8011e.addr.dc1.consul.',
    ]);
    // And dig's own retry over TCP after TC.
    const big = new FakeCatalog();
    for (let i = 0; i < 50; i++) big.addNode(`n${i}`, `10.3.0.${i}`).addService({ node: `n${i}`, service: 'many', port: 1000 + i });
    const bigDns = await startDns(t, big);
    const many = await run('dig', ['@127.0.0.1', '-p', String(bigDns.port), 'many.service.consul', 'SRV', '+short', '+noedns', '+tries=1', '+time=2']);
    assert.equal(many.stdout.trim().split('\n').length, 50);
  });
});
