// Consul's DNS forms beyond the basic ones, over real sockets: <dc>.dc names,
// RFC 2782 without .service, PTR reverse lookups of node and service
// addresses, and udp_answer_limit / a_record_limit with Consul's defaults.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dataOf, rcodeOf, startDns } from './helpers.js';
import { FakeCatalog } from './fake-catalog.js';

const sorted = <T>(xs: T[]): T[] => [...xs].sort();

describe('Consul DNS forms', () => {
  test('<dc>.dc: web.service.dc1.dc.consul and node-a.node.dc1.dc.consul; another dc is NXDOMAIN', async (t) => {
    const dns = await startDns(t);
    assert.deepEqual(sorted(await dns.resolver().resolve4('web.service.dc1.dc.consul')), ['10.0.0.1', '10.0.0.2', '192.168.1.30']);
    assert.deepEqual(await dns.resolver().resolve4('node-a.node.dc1.dc.consul'), ['10.0.0.1']);
    assert.equal((await dns.resolver().resolveSrv('_web._v2.service.dc1.dc.consul')).length, 1);
    assert.equal(rcodeOf(await dns.ask('web.service.dc2.dc.consul', 'A')), 'NXDOMAIN');
  });

  test('_web._tcp.consul without .service, with and without the datacenter', async (t) => {
    const dns = await startDns(t);
    assert.equal((await dns.resolver().resolveSrv('_web._tcp.consul')).length, 3);
    assert.equal((await dns.resolver().resolveSrv('_web._tcp.dc1.consul')).length, 3);
    assert.deepEqual((await dns.resolver().resolveSrv('_web._v2.consul')).map((r) => r.port), [8081]);
  });

  test('PTR: a node address gives the node, a service address the service; unknown addresses are not ours', async (t) => {
    const dns = await startDns(t);
    assert.deepEqual(await dns.resolver().reverse('10.0.0.1'), ['node-a.node.dc1.consul']);
    assert.deepEqual(await dns.resolver().reverse('192.168.1.30'), ['web.service.dc1.consul']);
    assert.deepEqual(await dns.resolver().reverse('fd00::6'), ['node-v6.node.dc1.consul']);
    // No recursor: an address nothing has is refused, like any name outside the domain.
    assert.equal(rcodeOf(await dns.ask('9.9.9.9.in-addr.arpa', 'PTR')), 'REFUSED');
    assert.equal(rcodeOf(await dns.ask('1.0.0.10.in-addr.arpa', 'A')), 'NOERROR');
  });

  test('node metadata as TXT records', async (t) => {
    const catalog = new FakeCatalog().addNode('n1', '10.1.0.1', { rack: 'r1', env: 'prod' });
    const dns = await startDns(t, catalog);
    assert.deepEqual(sorted((await dns.resolver().resolveTxt('n1.node.consul')).map((r) => r.join(''))), ['env=prod', 'rack=r1']);
  });
});

describe('udp_answer_limit and a_record_limit', () => {
  function manyInstances(): FakeCatalog {
    const catalog = new FakeCatalog();
    for (let i = 1; i <= 8; i++) catalog.addNode(`n${i}`, `10.2.0.${i}`).addService({ node: `n${i}`, service: 'api', port: 9000 + i });
    return catalog;
  }

  test('Consul\'s default: 3 answers over UDP (a random 3, no TC), all of them over TCP', async (t) => {
    const dns = await startDns(t, manyInstances(), { udpAnswerLimit: undefined });
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const udp = await dns.ask('api.service.consul', 'A');
      assert.equal(udp.answers?.length, 3);
      assert.equal(udp.flag_tc, false);
      for (const a of dataOf(udp.answers, 'A')) seen.add(String(a));
    }
    // Different instances across responses, not always the same three.
    assert.ok(seen.size > 3, `only ${[...seen].join(', ')} were ever answered`);
    assert.equal((await dns.askTcp('api.service.consul', 'A')).answers?.length, 8);
    assert.equal((await dns.ask('api.service.consul', 'SRV')).answers?.length, 3);
  });

  test('a_record_limit caps A answers over TCP too; udp_answer_limit is settable', async (t) => {
    const dns = await startDns(t, manyInstances(), { udpAnswerLimit: 5, aRecordLimit: 2 });
    assert.equal((await dns.askTcp('api.service.consul', 'A')).answers?.length, 2);
    assert.equal((await dns.ask('api.service.consul', 'SRV')).answers?.length, 5);
    assert.equal((await dns.askTcp('api.service.consul', 'SRV')).answers?.length, 8);
  });
});
