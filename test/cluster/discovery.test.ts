// Service discovery on real agent processes: a service registered with a
// client agent, with an HTTP check against a server this test controls, is
// found by DNS (SRV and A, through Node's c-ares resolver) and HTTP on another
// agent; a failing check removes it; killing the client turns its node check
// critical and removes its services; a restart brings them back (the
// registration was kept in the data dir); 100 instances truncate over UDP and
// come whole over TCP; a client that leaves takes its services with it.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe } from 'node:test';
import dnsPacket from 'dns-packet';
import { TestCluster, formCluster, http, scenario, waitFor } from './harness.js';

const CHECK_INTERVAL_MS = 200;

function resolverFor(c: TestCluster, id: string): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${c.node(id).dnsPort}`]);
  return r;
}

/** SRV answers for `name` from agent `id`, or [] for NXDOMAIN / no data. */
async function srv(c: TestCluster, id: string, name: string): Promise<Array<{ name: string; port: number }>> {
  try {
    return await resolverFor(c, id).resolveSrv(name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw error;
  }
}

async function healthPassing(c: TestCluster, id: string, service: string): Promise<Array<{ Node: { Node: string } }>> {
  const r = await http('GET', `${c.node(id).url}/v1/health/service/${service}?passing&stale`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Array<{ Node: { Node: string } }>;
}

async function nodeCheckStatus(c: TestCluster, via: string, node: string): Promise<string | undefined> {
  const r = await http('GET', `${c.node(via).url}/v1/health/node/${node}?stale`);
  const checks = JSON.parse(r.body) as Array<{ CheckID: string; Status: string }>;
  return checks.find((x) => x.CheckID === 'serfHealth')?.Status;
}

/** One query over UDP (EDNS size when given) and the decoded answer. */
function udpQuery(port: number, name: string, type: 'SRV' | 'A', ednsSize?: number): Promise<dnsPacket.Packet & { flag_tc?: boolean }> {
  const query = dnsPacket.encode({
    type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: ednsSize ? [{ type: 'OPT', name: '.', udpPayloadSize: ednsSize } as dnsPacket.Answer] : [],
  });
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no UDP answer'));
    }, 3000);
    sock.once('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      const p = dnsPacket.decode(msg) as dnsPacket.Packet & { flag_tc?: boolean; size?: number };
      (p as { size?: number }).size = msg.length;
      resolve(p);
    });
    sock.send(query, port, '127.0.0.1');
  });
}

function tcpQuery(port: number, name: string, type: 'SRV' | 'A'): Promise<dnsPacket.Packet> {
  const query = dnsPacket.streamEncode({ type: 'query', id: 7, questions: [{ type, name, class: 'IN' }] });
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.setTimeout(3000, () => {
      sock.destroy();
      reject(new Error('no TCP answer'));
    });
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.end();
        resolve(dnsPacket.streamDecode(buf));
      }
    });
    sock.write(query);
  });
}

describe('service discovery on real agents', { timeout: 300_000 }, () => {
  // No udp_answer_limit (Consul's default of 3 is tested in test/dns): the 100-instance step checks truncation by size.
  const c = new TestCluster({ flags: ['--node-health-timeout', '1s', '--dns-udp-answer-limit', '1000'] });
  let backend: Server;
  let backendStatus = 200;
  let backendUrl = '';

  before(async () => {
    backend = createServer((_req, res) => {
      res.statusCode = backendStatus;
      res.end(backendStatus === 200 ? 'ok' : 'broken');
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/health`;
    await formCluster(c, ['s1', 's2', 's3'], ['c1']);
  });

  const step = scenario(c);
  after(() => backend.close());

  step('a service registered on a client agent is found by DNS and HTTP on another agent', async () => {
    const r = await http('PUT', `${c.node('c1').url}/v1/agent/service/register`, JSON.stringify({
      Name: 'web', ID: 'web-1', Port: 8080, Tags: ['v1'],
      Check: { HTTP: backendUrl, Interval: `${CHECK_INTERVAL_MS}ms`, Timeout: '1s' },
    }));
    assert.equal(r.status, 200, r.body);
    const answers = await waitFor('web in DNS on s2', async () => {
      const a = await srv(c, 's2', 'web.service.consul');
      return a.length > 0 ? a : undefined;
    });
    assert.deepEqual(answers.map((a) => [a.name, a.port]), [['c1.node.dc1.consul', 8080]]);
    assert.deepEqual(await resolverFor(c, 's2').resolve4('web.service.consul'), ['127.0.0.1']);
    assert.deepEqual((await srv(c, 's3', '_web._v1.service.consul')).map((a) => a.port), [8080]);
    assert.deepEqual(await srv(c, 's3', '_web._v2.service.consul'), []);
    assert.deepEqual((await healthPassing(c, 's3', 'web')).map((i) => i.Node.Node), ['c1']);
    assert.deepEqual(await resolverFor(c, 's1').resolve4('c1.node.consul'), ['127.0.0.1']);
  });

  step('a failing HTTP check removes the instance from answers within the interval and a second', async () => {
    backendStatus = 500;
    const failedAt = Date.now();
    await waitFor('web gone from DNS on s2', async () => ((await srv(c, 's2', 'web.service.consul')).length === 0 ? true : undefined),
      CHECK_INTERVAL_MS + 1000, 20);
    assert.deepEqual(await healthPassing(c, 's2', 'web'), []);
    process.stderr.write(`# check failure to DNS removal: ${Date.now() - failedAt} ms\n`);
    backendStatus = 200;
    await waitFor('web back in DNS on s2', async () => ((await srv(c, 's2', 'web.service.consul')).length === 1 ? true : undefined));
  });

  step('killing the client turns its node check critical and removes its services; a restart brings them back', async () => {
    assert.equal(await nodeCheckStatus(c, 's1', 'c1'), 'passing');
    await c.kill('c1');
    await waitFor('c1 node check critical', async () => ((await nodeCheckStatus(c, 's2', 'c1')) === 'critical' ? true : undefined));
    assert.deepEqual(await srv(c, 's2', 'web.service.consul'), []);
    assert.deepEqual(await healthPassing(c, 's3', 'web'), []);
    await c.start('c1');
    await waitFor('c1 node check passing', async () => ((await nodeCheckStatus(c, 's2', 'c1')) === 'passing' ? true : undefined));
    await waitFor('web back in DNS', async () => ((await srv(c, 's3', 'web.service.consul')).length === 1 ? true : undefined));
    const services = JSON.parse((await http('GET', `${c.node('c1').url}/v1/agent/services`)).body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(services), ['web-1'], 'the registration survived the restart');
  });

  step('100 instances: UDP answers are cut with TC set, TCP carries them all', async () => {
    const url = c.node('s1').url;
    for (let i = 0; i < 100; i++) {
      const r = await http('PUT', `${url}/v1/agent/service/register`, JSON.stringify({ Name: 'big', ID: `big-${i}`, Port: 10_000 + i }));
      assert.equal(r.status, 200, r.body);
    }
    const port = c.node('s2').dnsPort;
    // s2 may lag s1 by a few entries: all 100 first (over TCP), then the UDP answer is cut.
    await waitFor('all 100 instances on s2', async () => ((await tcpQuery(port, 'big.service.consul', 'SRV')).answers!.length === 100 ? true : undefined));
    const udp = await waitFor('big registered everywhere', async () => {
      const p = await udpQuery(port, 'big.service.consul', 'SRV');
      return p.flag_tc ? p : undefined;
    });
    assert.ok((udp as { size?: number }).size! <= 512, `a UDP answer of ${(udp as { size?: number }).size} bytes`);
    assert.ok(udp.answers!.length < 100);
    const edns = await udpQuery(port, 'big.service.consul', 'SRV', 4096);
    assert.ok((edns as { size?: number }).size! <= 4096);
    assert.ok(edns.answers!.length > udp.answers!.length, 'a larger EDNS size carries more answers');
    const tcp = await tcpQuery(port, 'big.service.consul', 'SRV');
    assert.equal(tcp.answers!.length, 100);
    assert.equal(new Set(tcp.answers!.map((a) => (a as unknown as { data: { port: number } }).data.port)).size, 100);
  });

  step('a client that leaves takes its services out of the catalog', async () => {
    await c.kill('c1', 'SIGTERM');
    await waitFor('c1 gone from the catalog', async () => {
      const r = await http('GET', `${c.node('s2').url}/v1/catalog/nodes?stale`);
      const nodes = (JSON.parse(r.body) as Array<{ Node: string }>).map((n) => n.Node);
      return nodes.includes('c1') ? undefined : nodes;
    });
    const r = await http('GET', `${c.node('s3').url}/v1/catalog/service/web?stale`);
    assert.deepEqual(JSON.parse(r.body), []);
  });
});
