// The agent's settings: precedence (flags, then KONSUL_* variables, then the
// config file, then defaults) and one clear error naming each bad setting.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, parseHostPort, resolveConfig } from '../../src/agent/config.js';
import { parseSettingDuration as parseDuration } from '../../src/duration.js';

/** Every temporary dir this file made, removed when it ends. */
const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const base = { dataDir: '/tmp/x', nodeId: 'n1' };

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), 'one line');
    return error.message;
  }
  assert.fail('expected a ConfigError');
}

describe('agent settings', () => {
  it('defaults: a client on 0.0.0.0:7000, HTTP 127.0.0.1:8500, DNS 127.0.0.1:8600, 300ms elections', () => {
    const c = resolveConfig(base, {});
    assert.equal(c.server, false);
    assert.equal(c.bootstrap, false);
    assert.deepEqual(c.raftAddr, { host: '0.0.0.0', port: 7000 });
    assert.deepEqual(c.httpAddr, { host: '127.0.0.1', port: 8500 });
    assert.deepEqual(c.dnsAddr, { host: '127.0.0.1', port: 8600 });
    assert.equal(c.electionTimeoutMs, 300);
    assert.equal(c.heartbeatIntervalMs, 50);
    assert.ok(c.leaderLeaseMs < c.electionTimeoutMs);
    assert.equal(c.maxValueBytes, 512 * 1024);
    assert.notEqual(c.advertise.split(':')[0], '0.0.0.0');
  });

  it('--dev is a bootstrapping server with no data dir needed', () => {
    const c = resolveConfig({ dev: true }, {});
    assert.equal(c.server, true);
    assert.equal(c.bootstrap, true);
    assert.equal(c.dataDir, undefined);
  });

  it('flags win over KONSUL_* variables, which win over the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-config-'));
    made.push(dir);
    const file = join(dir, 'konsul.json');
    writeFileSync(file, JSON.stringify({ node_id: 'from-file', http_addr: '127.0.0.1:9001', raft_addr: '127.0.0.1:7101', server: true }));
    const env = { KONSUL_HTTP_BIND_ADDR: '127.0.0.1:9002', KONSUL_RAFT_JOIN: 'a:7000,b' };
    const c = resolveConfig({ config: file, dataDir: dir, httpAddr: '127.0.0.1:9003' }, env);
    assert.equal(c.nodeId, 'from-file');
    assert.equal(c.httpAddr.port, 9003);
    assert.equal(c.raftAddr.port, 7101);
    assert.equal(c.server, true);
    assert.deepEqual(c.join, ['a:7000', 'b:7000']);
    assert.equal(resolveConfig({ config: file, dataDir: dir }, env).httpAddr.port, 9002);
    assert.equal(resolveConfig({ config: file, dataDir: dir }, {}).httpAddr.port, 9001);
  });

  it('each bad setting stops start-up with one line naming it', () => {
    assert.match(errorOf(() => resolveConfig({ nodeId: 'n1' }, {})), /^--data-dir/);
    assert.match(errorOf(() => resolveConfig({ ...base, httpAddr: 'nope:http' }, {})), /^--http-addr: "nope:http"/);
    assert.match(errorOf(() => resolveConfig(base, { KONSUL_RAFT_BIND_ADDR: 'host:99999' })), /^KONSUL_RAFT_BIND_ADDR/);
    assert.match(errorOf(() => resolveConfig({ ...base, electionTimeout: 'soon' }, {})), /^--election-timeout: "soon" is not a duration/);
    assert.match(errorOf(() => resolveConfig({ ...base, electionTimeout: '100ms', heartbeatInterval: '80ms' }, {})), /^--heartbeat-interval/);
    assert.match(errorOf(() => resolveConfig({ ...base, bootstrap: true }, {})), /^--bootstrap: only a server/);
    assert.match(errorOf(() => resolveConfig({ ...base, server: true, bootstrap: true, join: 'a:1' }, {})), /^--bootstrap/);
    assert.match(errorOf(() => resolveConfig({ ...base, nodeId: 'bad id' }, {})), /^--node-id/);
    assert.match(errorOf(() => resolveConfig({ ...base, tlsCert: '/nonexistent' }, {})), /mutual TLS needs all three/);
    assert.match(errorOf(() => resolveConfig({ ...base, maxValueSize: '1TB' }, {})), /^--max-value-size/);
    assert.match(errorOf(() => resolveConfig(base, { KONSUL_SERVER: 'maybe' })), /^KONSUL_SERVER: expected true or false/);
    assert.match(errorOf(() => resolveConfig({ ...base, deadServerTimeout: '1s' }, {})), /^--dead-server-timeout/);
    assert.match(errorOf(() => resolveConfig({ ...base, config: '/nonexistent.json' }, {})), /^--config: cannot read/);
    const dir = mkdtempSync(join(tmpdir(), 'konsul-config-'));
    made.push(dir);
    writeFileSync(join(dir, 'bad.json'), '{"data_dir": "/x", "colour": "blue"}');
    assert.match(errorOf(() => resolveConfig({ config: join(dir, 'bad.json') }, {})), /unknown setting "colour"/);
    writeFileSync(join(dir, 'broken.json'), '{');
    assert.match(errorOf(() => resolveConfig({ config: join(dir, 'broken.json') }, {})), /not valid JSON/);
  });

  it('parses durations and addresses the way the help says', () => {
    assert.equal(parseDuration('300ms'), 300);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration('5 m'), undefined);
    assert.equal(parseDuration('s'), undefined);
    assert.deepEqual(parseHostPort('[::1]:7000'), { host: '::1', port: 7000 });
    assert.deepEqual(parseHostPort('node2', 7000), { host: 'node2', port: 7000 });
    assert.equal(parseHostPort('node2'), undefined);
    assert.equal(parseHostPort('a:b:c'), undefined);
  });

  it('discovery settings: datacenter, domain, recursors, DNS TTLs, node health, anti-entropy', () => {
    const d = resolveConfig(base, {});
    assert.equal(d.datacenter, 'dc1');
    assert.deepEqual(d.dns, {
      domain: 'consul.', recursors: [], onlyPassing: false, nodeTtlSeconds: 0, serviceTtlSeconds: {}, udpAnswerLimit: 3, aRecordLimit: 0,
    });
    assert.equal(d.nodeHealthTimeoutMs, 2000);
    assert.equal(d.antiEntropyIntervalMs, 60_000);
    const c = resolveConfig({
      ...base, datacenter: 'EU-West', domain: 'Example.Internal', recursor: '1.1.1.1, 10.0.0.2:5353', dnsOnlyPassing: true,
      dnsNodeTtl: '30s', dnsServiceTtl: 'web=10s,*=5s', nodeHealthTimeout: '5s', antiEntropyInterval: '10s',
      dnsUdpAnswerLimit: '5', dnsARecordLimit: '2',
    }, {});
    assert.equal(c.datacenter, 'eu-west');
    assert.deepEqual(c.dns, {
      domain: 'example.internal.', recursors: ['1.1.1.1:53', '10.0.0.2:5353'], onlyPassing: true, nodeTtlSeconds: 30,
      serviceTtlSeconds: { 'web': 10, '*': 5 }, udpAnswerLimit: 5, aRecordLimit: 2,
    });
    assert.equal(c.nodeHealthTimeoutMs, 5000);
    assert.equal(c.antiEntropyIntervalMs, 10_000);
    assert.deepEqual(resolveConfig(base, { KONSUL_DNS_SERVICE_TTL: 'db=1m' }).dns.serviceTtlSeconds, { db: 60 });
  });

  it('bad discovery settings name the flag or variable', () => {
    assert.match(errorOf(() => resolveConfig({ ...base, datacenter: 'dc_1' }, {})), /^--datacenter: /);
    assert.match(errorOf(() => resolveConfig({ ...base, domain: 'a..b' }, {})), /^--domain: /);
    assert.match(errorOf(() => resolveConfig({ ...base, recursor: 'a:b:c' }, {})), /^--recursor: /);
    assert.match(errorOf(() => resolveConfig(base, { KONSUL_DNS_SERVICE_TTL: 'web' })), /^KONSUL_DNS_SERVICE_TTL: .*service=duration/);
    assert.match(errorOf(() => resolveConfig({ ...base, dnsServiceTtl: 'web=soon' }, {})), /^--dns-service-ttl: web/);
    assert.match(errorOf(() => resolveConfig({ ...base, nodeHealthTimeout: '500ms' }, {})), /^--node-health-timeout: must be at least two election timeouts/);
    assert.match(errorOf(() => resolveConfig({ ...base, dnsUdpAnswerLimit: '0' }, {})), /^--dns-udp-answer-limit: /);
  });

  it('node metadata: the flag repeats, the variable lists pairs, a file gives an object; Consul\'s limits', () => {
    assert.deepEqual(resolveConfig(base, {}).nodeMeta, {});
    assert.deepEqual(resolveConfig({ ...base, nodeMeta: ['rack:r1', 'env:prod:blue'] }, {}).nodeMeta, { rack: 'r1', env: 'prod:blue' });
    assert.deepEqual(resolveConfig(base, { KONSUL_NODE_META: 'rack:r2,zone:a' }).nodeMeta, { rack: 'r2', zone: 'a' });
    assert.match(errorOf(() => resolveConfig({ ...base, nodeMeta: ['rack'] }, {})), /^--node-meta: "rack" is not key:value/);
    assert.match(errorOf(() => resolveConfig({ ...base, nodeMeta: ['consul-x:1'] }, {})), /^--node-meta: .*reserved/);
    assert.match(errorOf(() => resolveConfig({ ...base, nodeMeta: ['a b:1'] }, {})), /^--node-meta: key "a b"/);
    assert.match(errorOf(() => resolveConfig({ ...base, nodeMeta: [`k:${'x'.repeat(513)}`] }, {})), /longer than 512 bytes/);
  });
});
