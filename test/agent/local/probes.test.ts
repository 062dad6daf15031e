// The check kinds Consul has beyond HTTP, TCP, TTL and script, each against a
// real peer on loopback: gRPC against @grpc/grpc-js serving the standard
// grpc.health.v1 Health service, H2PING against node:http2, UDP against a
// real socket (and a closed port, which ICMP reports), and alias checks
// through the agent's own services.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { parseCheckRegistration, parseServiceRegistration } from '../../../src/agent/local/definitions.js';
import { healthCheckRequest, healthCheckStatus } from '../../../src/agent/local/probes.js';
import { startServer } from '../../http/helpers.js';
import { watch } from './helpers.js';

// grpc.health.v1 messages, by hand: HealthCheckRequest { string service = 1 }, HealthCheckResponse { ServingStatus status = 1 }.
function decodeRequest(buf: Buffer): string {
  return buf.length === 0 ? '' : buf.subarray(2, 2 + buf[1]!).toString('utf8');
}
function encodeResponse(status: number): Buffer {
  return Buffer.from([0x08, status]);
}

/** A real gRPC server (grpc-js) with the Health service; `statuses` maps service names ('' = the server) to SERVING (1) etc. */
async function healthServer(statuses: Map<string, number>): Promise<{ port: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  server.addService({
    Check: {
      path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false,
      requestSerialize: (v: Buffer) => v, requestDeserialize: (b: Buffer) => decodeRequest(b),
      responseSerialize: (v: number) => encodeResponse(v), responseDeserialize: (b: Buffer) => b,
      originalName: 'check',
    },
  } as unknown as grpc.ServiceDefinition, {
    Check: (call: grpc.ServerUnaryCall<string, number>, callback: grpc.sendUnaryData<number>) => {
      const status = statuses.get(call.request);
      if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else callback(null, status);
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, close: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

describe('gRPC checks (grpc.health.v1)', () => {
  it('SERVING is passing; NOT_SERVING, an unknown service and a server gone are critical', async (t) => {
    const statuses = new Map([['', 1], ['billing', 1]]);
    const server = await healthServer(statuses);
    let closed = false;
    t.after(() => (closed ? undefined : server.close()));
    const def = parseCheckRegistration({ Name: 'api', GRPC: `127.0.0.1:${server.port}/billing`, Interval: '100ms', Timeout: '2s' });
    const { runner, until } = watch(t, def);
    runner.start();
    assert.equal((await until('passing')).output, `gRPC check 127.0.0.1:${server.port}/billing: success`);
    statuses.set('billing', 2);
    assert.match((await until('critical')).output, /status NOT_SERVING$/);
    statuses.set('billing', 1);
    await until('passing');
    statuses.delete('billing');
    assert.match((await until('critical')).output, /rpc error: code = 5 desc = unknown service/);
    statuses.set('billing', 1);
    await until('passing');
    await server.close();
    closed = true;
    await until('critical', 'the check to notice the server is gone');
  });

  it('the request and response encodings', () => {
    assert.deepEqual(healthCheckRequest(''), Buffer.from([0, 0, 0, 0, 0]));
    assert.deepEqual(healthCheckRequest('ab'), Buffer.from([0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]));
    assert.equal(healthCheckStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1);
    assert.equal(healthCheckStatus(Buffer.from([0, 0, 0, 0, 0])), 0);
    assert.equal(healthCheckStatus(Buffer.from([1, 0, 0, 0, 0])), undefined, 'a compressed message is not read');
  });
});

describe('H2PING checks', () => {
  it('passing while an HTTP/2 server answers PING (h2c with H2PingUseTLS false), critical once it is gone', async (t) => {
    const server = createH2Server();
    const sessions = new Set<import('node:http2').ServerHttp2Session>();
    server.on('session', (s) => sessions.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const def = parseCheckRegistration({ Name: 'h2', H2PING: `127.0.0.1:${port}`, H2PingUseTLS: false, Interval: '100ms', Timeout: '2s' });
    assert.equal(def.h2ping?.tls, false);
    assert.equal(parseCheckRegistration({ Name: 'h2', H2PING: 'x:1', Interval: '1s' }).h2ping?.tls, true, 'TLS unless told otherwise, as Consul');
    const { runner, until } = watch(t, def);
    runner.start();
    assert.equal((await until('passing')).output, 'HTTP2 ping was successful');
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.match((await until('critical')).output, /^HTTP2 ping to 127\.0\.0\.1:\d+ failed: /);
  });
});

describe('UDP checks', () => {
  it('passing while a socket listens (an answer or silence), critical when the port is closed (ICMP)', async (t) => {
    const socket = createSocket('udp4');
    socket.on('message', (msg, from) => socket.send(msg, from.port, from.address));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const { port } = socket.address();
    const def = parseCheckRegistration({ Name: 'dns', UDP: `127.0.0.1:${port}`, Interval: '100ms', Timeout: '1s' });
    const { runner, until } = watch(t, def);
    runner.start();
    assert.equal((await until('passing')).output, `UDP 127.0.0.1:${port}: Success`);
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    assert.match((await until('critical')).output, /ECONNREFUSED/);
  });
});

describe('alias checks', () => {
  it('follow the aliased service\'s health on this agent, and a missing service is critical', async (t) => {
    const s = await startServer(t);
    const register = async (body: object): Promise<void> => {
      const r = await s.call('PUT', '/v1/agent/service/register', { body: JSON.stringify(body) });
      assert.equal(r.status, 200, r.text);
    };
    await register({ Name: 'web', ID: 'web1', Port: 80, Check: { CheckID: 'web-ttl', TTL: '1m', Status: 'passing' } });
    await register({ Name: 'web-proxy', ID: 'web1-proxy', Port: 81, Check: { CheckID: 'alias', AliasService: 'web1' } });
    const aliasStatus = async (): Promise<string> => ((await s.call('GET', '/v1/agent/checks')).json<Record<string, { Status: string }>>()).alias!.Status;
    const until = async (status: string): Promise<void> => {
      for (let i = 0; i < 300; i++) {
        if ((await aliasStatus()) === status) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.fail(`the alias check never became ${status}`);
    };
    await until('passing');
    await s.call('PUT', '/v1/agent/check/fail/web-ttl');
    await until('critical');
    await s.call('PUT', '/v1/agent/check/pass/web-ttl');
    await until('passing');
    assert.equal((await s.call('GET', '/v1/agent/checks')).json<Record<string, { Type: string }>>().alias!.Type, 'alias');
    await s.call('PUT', '/v1/agent/service/deregister/web1');
    await until('critical');
    const parsed = parseServiceRegistration({ Name: 'x', Check: { AliasService: 'db', AliasNode: 'n2' } });
    assert.deepEqual(parsed.checks[0]!.alias, { serviceId: 'db', node: 'n2' });
  });
});
