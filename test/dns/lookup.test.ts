// Consul-style lookups against a real server over real sockets: A, AAAA and
// SRV through Node's c-ares resolver, the rest with hand-built packets.
// Names, tags, RFC 2782, datacenters, nodes, health, TTLs, the apex, shuffling
// and the answer cache.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dataOf, rcodeOf, sampleCatalog, startDns } from './helpers.js';
import { FakeCatalog } from './fake-catalog.js';

const sorted = <T>(xs: T[]): T[] => [...xs].sort();

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, code);
    return true;
  });
}

describe('service lookups', () => {
  test('A: every instance, the service address or else the node address', async (t) => {
    const dns = await startDns(t);
    assert.deepEqual(sorted(await dns.resolver().resolve4('web.service.consul')), ['10.0.0.1', '10.0.0.2', '192.168.1.30']);
  });

  test('AAAA for an IPv6 instance; ANY gives both families', async (t) => {
    const catalog = sampleCatalog().addService({ node: 'node-v6', service: 'web', id: 'web-v6', port: 8083 });
    const dns = await startDns(t, catalog);
    assert.deepEqual(await dns.resolver().resolve6('db.service.consul'), ['fd00::6']);
    assert.deepEqual(await dns.resolver().resolve6('web.service.consul'), ['fd00::6']);
    const any = await dns.ask('web.service.consul', 'ANY');
    assert.deepEqual(sorted(dataOf(any.answers, 'A')), ['10.0.0.1', '10.0.0.2', '192.168.1.30']);
    assert.deepEqual(dataOf(any.answers, 'AAAA'), ['fd00::6']);
  });

  test('two instances on one node give one A record', async (t) => {
    const catalog = sampleCatalog().addService({ node: 'node-a', service: 'web', id: 'web-2', port: 9090 });
    const dns = await startDns(t, catalog);
    assert.deepEqual(sorted(await dns.resolver().resolve4('web.service.consul')), ['10.0.0.1', '10.0.0.2', '192.168.1.30']);
    assert.equal((await dns.resolver().resolveSrv('web.service.consul')).length, 4);
  });

  test('SRV: priority 1, the passing weight, the port, node or addr targets, their addresses in the additional section', async (t) => {
    const dns = await startDns(t);
    const records = (await dns.resolver().resolveSrv('web.service.consul')).sort((a, b) => a.port - b.port);
    assert.deepEqual(records, [
      { name: 'node-a.node.dc1.consul', port: 8080, priority: 1, weight: 10 },
      { name: 'node-b.node.dc1.consul', port: 8081, priority: 1, weight: 10 },
      // The instance with its own address gets a target named by that address, in hex.
      { name: 'c0a8011e.addr.dc1.consul', port: 8082, priority: 1, weight: 10 },
    ]);
    const raw = await dns.ask('web.service.consul', 'SRV');
    const glue = new Map((raw.additionals ?? []).map((r) => [r.name, (r as { data: string }).data]));
    assert.deepEqual(Object.fromEntries(glue), {
      'node-a.node.dc1.consul': '10.0.0.1',
      'node-b.node.dc1.consul': '10.0.0.2',
      'c0a8011e.addr.dc1.consul': '192.168.1.30',
    });
  });

  test('an SRV target for an IPv6 service address gets an AAAA in the additional section', async (t) => {
    const catalog = sampleCatalog().addService({ node: 'node-a', service: 'api', address: 'fd00::1:2', port: 7000 });
    const dns = await startDns(t, catalog);
    const raw = await dns.ask('api.service.consul', 'SRV');
    const [target] = dataOf<{ target: string }>(raw.answers, 'SRV');
    assert.equal(target.target, 'fd000000000000000000000000010002.addr.dc1.consul');
    assert.deepEqual(raw.additionals?.filter((r) => r.type === 'AAAA').map((r) => [r.name, (r as { data: string }).data]),
      [['fd000000000000000000000000010002.addr.dc1.consul', 'fd00::1:2']]);
    // And the target name resolves by itself.
    assert.deepEqual(await dns.resolver().resolve6('fd000000000000000000000000010002.addr.dc1.consul'), ['fd00::1:2']);
  });

  test('a service with a hostname address: SRV targets the hostname, A answers a CNAME to it (as Consul)', async (t) => {
    const catalog = new FakeCatalog().addNode('n1', '10.1.0.1')
      .addService({ node: 'n1', service: 'ext', address: 'db.example.com', port: 5432 });
    const dns = await startDns(t, catalog);
    assert.deepEqual(await dns.resolver().resolveSrv('ext.service.consul'), [{ name: 'db.example.com', port: 5432, priority: 1, weight: 1 }]);
    const a = await dns.ask('ext.service.consul', 'A');
    assert.equal(rcodeOf(a), 'NOERROR');
    assert.deepEqual(dataOf(a.answers, 'CNAME'), ['db.example.com']);
    assert.deepEqual(await dns.resolver().resolveCname('ext.service.consul'), ['db.example.com']);
  });

  test('tag lookups: <tag>.<service>.service', async (t) => {
    const dns = await startDns(t);
    assert.deepEqual(sorted(await dns.resolver().resolve4('v1.web.service.consul')), ['10.0.0.1', '192.168.1.30']);
    assert.deepEqual(await dns.resolver().resolve4('v2.web.service.consul'), ['10.0.0.2']);
    assert.deepEqual(await dns.resolver().resolve4('PRIMARY.web.service.consul'), ['10.0.0.1']);
    await rejectsWith(dns.resolver().resolve4('v9.web.service.consul'), 'ENOTFOUND');
  });

  test('RFC 2782: _service._tcp and _service._udp mean any tag, _service._tag filters', async (t) => {
    const dns = await startDns(t);
    assert.equal((await dns.resolver().resolveSrv('_web._tcp.service.consul')).length, 3);
    assert.equal((await dns.resolver().resolveSrv('_web._udp.service.consul')).length, 3);
    assert.deepEqual((await dns.resolver().resolveSrv('_web._v2.service.consul')).map((r) => r.port), [8081]);
    assert.deepEqual(sorted((await dns.resolver().resolveSrv('_web._v1.service.consul')).map((r) => r.port)), [8080, 8082]);
  });

  test('names are case-insensitive and the question is echoed as asked', async (t) => {
    const dns = await startDns(t);
    assert.deepEqual(sorted(await dns.resolver().resolve4('WeB.SeRvIcE.CoNsUl')), ['10.0.0.1', '10.0.0.2', '192.168.1.30']);
    const raw = await dns.ask('WEB.Service.consul', 'A');
    assert.equal(raw.questions?.[0].name, 'WEB.Service.consul');
    assert.ok(raw.answers?.every((r) => r.name === 'WEB.Service.consul'));
  });

  test('the datacenter label: ours answers, another is NXDOMAIN', async (t) => {
    const dns = await startDns(t, sampleCatalog(), { datacenter: 'EU-West' });
    assert.equal((await dns.resolver().resolve4('web.service.eu-west.consul')).length, 3);
    assert.equal((await dns.resolver().resolve4('web.service.consul')).length, 3);
    assert.deepEqual(await dns.resolver().resolve4('node-b.node.eu-west.consul'), ['10.0.0.2']);
    await rejectsWith(dns.resolver().resolve4('web.service.dc1.consul'), 'ENOTFOUND');
    // SRV targets carry our datacenter.
    const srv = await dns.resolver().resolveSrv('v2.web.service.consul');
    assert.equal(srv[0].name, 'node-b.node.eu-west.consul');
  });

  test('a configured domain replaces consul.', async (t) => {
    const dns = await startDns(t, sampleCatalog(), { domain: 'Konsul.Internal' });
    assert.equal((await dns.resolver().resolve4('web.service.konsul.internal')).length, 3);
    assert.equal(rcodeOf(await dns.ask('web.service.consul', 'A')), 'REFUSED');
  });

  test('unsupported shapes inside the domain are NXDOMAIN', async (t) => {
    const dns = await startDns(t);
    for (const name of ['service.consul', 'a.b.web.service.consul', 'web.consul', 'dc1.consul', 'web.query.consul', 'zz.addr.consul']) {
      assert.equal(rcodeOf(await dns.ask(name, 'A')), 'NXDOMAIN', name);
    }
  });
});

describe('health', () => {
  test('a warning instance is served with its warning weight; a critical one never', async (t) => {
    const catalog = sampleCatalog().setCheck('node-b', 'web', 'warning').setCheck('node-a', 'web', 'critical');
    const dns = await startDns(t, catalog);
    assert.deepEqual(sorted(await dns.resolver().resolve4('web.service.consul')), ['10.0.0.2', '192.168.1.30']);
    const byPort = new Map((await dns.resolver().resolveSrv('web.service.consul')).map((r) => [r.port, r.weight]));
    assert.deepEqual(Object.fromEntries(byPort), { 8081: 1, 8082: 10 });
  });

  test('a critical node check takes every service on the node out', async (t) => {
    const catalog = sampleCatalog().setCheck('node-c', '', 'critical');
    const dns = await startDns(t, catalog);
    assert.deepEqual(sorted(await dns.resolver().resolve4('web.service.consul')), ['10.0.0.1', '10.0.0.2']);
  });

  test('onlyPassing drops warning instances too', async (t) => {
    const catalog = sampleCatalog().setCheck('node-b', 'web', 'warning');
    const dns = await startDns(t, catalog, { onlyPassing: true });
    assert.deepEqual(sorted(await dns.resolver().resolve4('web.service.consul')), ['10.0.0.1', '192.168.1.30']);
  });

  test('no healthy instance left: NXDOMAIN with the SOA', async (t) => {
    const catalog = sampleCatalog().setCheck('node-v6', 'db', 'critical');
    const dns = await startDns(t, catalog);
    const raw = await dns.ask('db.service.consul', 'AAAA');
    assert.equal(rcodeOf(raw), 'NXDOMAIN');
    assert.equal(raw.authorities?.[0].type, 'SOA');
  });
});

describe('nodes, addresses and the apex', () => {
  test('<node>.node: A, AAAA, and the node meta as TXT', async (t) => {
    const dns = await startDns(t);
    assert.deepEqual(await dns.resolver().resolve4('node-a.node.consul'), ['10.0.0.1']);
    assert.deepEqual(await dns.resolver().resolve4('NODE-A.node.dc1.consul'), ['10.0.0.1']);
    assert.deepEqual(await dns.resolver().resolve6('node-v6.node.consul'), ['fd00::6']);
    assert.deepEqual(await dns.resolver().resolveTxt('node-a.node.consul'), [['rack=r1']]);
    await rejectsWith(dns.resolver().resolve4('ghost.node.consul'), 'ENOTFOUND');
    await rejectsWith(dns.resolver().resolve6('node-a.node.consul'), 'ENODATA');
  });

  test('a node known by a hostname answers with a CNAME', async (t) => {
    const catalog = new FakeCatalog().addNode('edge', 'edge.example.com');
    const dns = await startDns(t, catalog);
    assert.deepEqual(dataOf((await dns.ask('edge.node.consul', 'A')).answers, 'CNAME'), ['edge.example.com']);
  });

  test('<hex>.addr names resolve to the address they spell', async (t) => {
    const dns = await startDns(t);
    assert.deepEqual(await dns.resolver().resolve4('0a000001.addr.dc1.consul'), ['10.0.0.1']);
    assert.deepEqual(await dns.resolver().resolve6('fd000000000000000000000000000006.addr.consul'), ['fd00::6']);
    await rejectsWith(dns.resolver().resolve6('0a000001.addr.consul'), 'ENODATA');
  });

  test('the apex answers SOA and NS; ns.<domain> resolves to the server address', async (t) => {
    const dns = await startDns(t);
    const soa = await dns.resolver().resolveSoa('consul');
    assert.equal(soa.nsname, 'ns.consul');
    assert.equal(soa.hostmaster, 'hostmaster.consul');
    assert.equal(soa.serial, dns.catalog.catalogIndex());
    assert.equal(soa.minttl, 0);
    assert.ok(soa.refresh > 0 && soa.retry > 0 && soa.expire > soa.refresh);
    assert.deepEqual(await dns.resolver().resolveNs('consul'), ['ns.consul']);
    const ns = await dns.ask('consul', 'NS');
    assert.deepEqual(dataOf(ns.additionals, 'A'), ['127.0.0.1']);
    assert.deepEqual(await dns.resolver().resolve4('ns.consul'), ['127.0.0.1']);
  });
});

describe('TTLs', () => {
  test('node lookups carry nodeTtlSeconds; services their own, the wildcard, or 0', async (t) => {
    const dns = await startDns(t, sampleCatalog(), { nodeTtlSeconds: 30, serviceTtlSeconds: { WEB: 15, 'd*': 7 } });
    const ttls = async (name: string, type: 'A' | 'AAAA' | 'SRV'): Promise<number[]> => {
      const reply = await dns.ask(name, type);
      return [...(reply.answers ?? []), ...(reply.additionals ?? [])].map((r) => (r as { ttl: number }).ttl);
    };
    assert.deepEqual(await ttls('node-a.node.consul', 'A'), [30]);
    assert.deepEqual([...new Set(await ttls('web.service.consul', 'SRV'))], [15]);
    assert.deepEqual(await ttls('db.service.consul', 'AAAA'), [7]);
    const plain = await startDns(t, sampleCatalog().addService({ node: 'node-a', service: 'cache', port: 6379 }),
      { serviceTtlSeconds: { '*': 5, web: 60 } });
    const cache = await plain.ask('cache.service.consul', 'A');
    assert.deepEqual(cache.answers?.map((r) => (r as { ttl: number }).ttl), [5]);
    const none = await startDns(t);
    assert.deepEqual((await none.ask('web.service.consul', 'A')).answers?.map((r) => (r as { ttl: number }).ttl), [0, 0, 0]);
  });
});

describe('shuffling and the cache', () => {
  test('answers come in varying orders across responses, always the same set', async (t) => {
    const catalog = new FakeCatalog();
    for (let i = 1; i <= 6; i++) catalog.addNode(`n${i}`, `10.2.0.${i}`).addService({ node: `n${i}`, service: 'app', port: 9000 + i });
    const dns = await startDns(t, catalog);
    const aOrders = new Set<string>();
    const srvOrders = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const a = dataOf<string>((await dns.ask('app.service.consul', 'A')).answers, 'A');
      assert.equal(new Set(a).size, 6);
      aOrders.add(a.join(','));
      const srv = dataOf<{ port: number }>((await dns.ask('app.service.consul', 'SRV')).answers, 'SRV').map((r) => r.port);
      assert.deepEqual(sorted(srv), [9001, 9002, 9003, 9004, 9005, 9006]);
      srvOrders.add(srv.join(','));
    }
    // 40 draws from 720 orders: all equal would mean no shuffling (chance 720^-39 otherwise).
    assert.ok(aOrders.size > 1, `A answers always in one order: ${[...aOrders][0]}`);
    assert.ok(srvOrders.size > 1, `SRV answers always in one order: ${[...srvOrders][0]}`);
  });

  test('repeated questions come from the cache; a catalog change is seen by the very next query', async (t) => {
    const dns = await startDns(t);
    assert.equal((await dns.resolver().resolve4('web.service.consul')).length, 3);
    const callsAfterFirst = dns.catalog.instanceCalls;
    for (let i = 0; i < 5; i++) assert.equal((await dns.resolver().resolve4('web.service.consul')).length, 3);
    assert.equal(dns.catalog.instanceCalls, callsAfterFirst, 'cached answers should not read the catalog again');
    assert.ok(dns.server.stats().cacheHits >= 5);

    dns.catalog.addNode('node-d', '10.0.0.4').addService({ node: 'node-d', service: 'web', port: 8084 });
    assert.deepEqual(sorted(await dns.resolver().resolve4('web.service.consul')), ['10.0.0.1', '10.0.0.2', '10.0.0.4', '192.168.1.30']);
    dns.catalog.setCheck('node-d', 'web', 'critical');
    assert.equal((await dns.resolver().resolve4('web.service.consul')).length, 3);
    dns.catalog.removeService('node-a', 'web').removeService('node-b', 'web').removeService('node-c', 'web');
    await rejectsWith(dns.resolver().resolve4('web.service.consul'), 'ENOTFOUND');
    // The SOA serial follows the catalog index.
    const soa = (await dns.ask('web.service.consul', 'A')).authorities?.[0] as { data: { serial: number } };
    assert.equal(soa.data.serial, dns.catalog.catalogIndex());
  });
});
