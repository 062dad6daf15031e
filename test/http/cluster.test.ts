// /v1/status, /v1/operator/raft, /cluster/* and /metrics against the fake
// agent, and the router's 404/405 answers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterStatus } from '../../src/agent/api.js';
import { startServer } from './helpers.js';

describe('Consul status and operator endpoints', () => {
  test('/v1/status/leader and /v1/status/peers give raft addresses', async (t) => {
    const s = await startServer(t);
    assert.equal((await s.call('GET', '/v1/status/leader')).json(), '127.0.0.1:7001');
    assert.deepEqual((await s.call('GET', '/v1/status/peers')).json(), ['127.0.0.1:7001', '127.0.0.1:7002']);
    for (const m of s.agent.members) m.leader = false;
    assert.equal((await s.call('GET', '/v1/status/leader')).json(), '');
  });

  test('/v1/operator/raft/configuration lists servers in Consul\'s shape', async (t) => {
    const s = await startServer(t);
    const r = await s.call('GET', '/v1/operator/raft/configuration');
    const body = r.json<{ Servers: Array<Record<string, unknown>>; Index: number }>();
    assert.deepEqual(body.Servers[0], { ID: 'n1', Node: 'n1', Address: '127.0.0.1:7001', Leader: true, Voter: true, ProtocolVersion: '3' });
    assert.equal(body.Servers[2].Voter, false);
    assert.ok(body.Index >= 1);
  });

  test('DELETE /v1/operator/raft/peer removes by id or by address, and needs exactly one', async (t) => {
    const s = await startServer(t);
    assert.equal((await s.call('DELETE', '/v1/operator/raft/peer?id=c1')).status, 200);
    assert.equal((await s.call('DELETE', '/v1/operator/raft/peer?address=127.0.0.1:7002')).status, 200);
    assert.deepEqual(s.agent.removed, ['c1', 'n2']);
    assert.equal((await s.call('DELETE', '/v1/operator/raft/peer')).status, 400);
    assert.equal((await s.call('DELETE', '/v1/operator/raft/peer?id=a&address=b:1')).status, 400);
    assert.equal((await s.call('DELETE', '/v1/operator/raft/peer?address=10.9.9.9:1')).status, 404);
    // The agent's ConfChangeError keeps its status and message.
    const unknown = await s.call('DELETE', '/v1/operator/raft/peer?id=ghost');
    assert.equal(unknown.status, 409);
    assert.equal(unknown.text, '"ghost" is not a member');
  });

  test('POST /v1/operator/raft/transfer-leader answers Success', async (t) => {
    const s = await startServer(t);
    const r = await s.call('POST', '/v1/operator/raft/transfer-leader?id=n2');
    assert.deepEqual(r.json(), { Success: true });
    assert.equal(s.agent.status().leader?.id, 'n2');
  });
});

describe('/cluster endpoints', () => {
  test('status, leader, peers, config and stats reflect the agent', async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/kv/x', { body: '1' });
    const status = (await s.call('GET', '/cluster/status')).json<ClusterStatus>();
    assert.equal(status.nodeId, 'n1');
    assert.equal(status.members.length, 3);
    assert.ok(status.appliedIndex >= 1);

    assert.deepEqual((await s.call('GET', '/cluster/leader')).json(), { id: 'n1', raftAddress: '127.0.0.1:7001', httpAddress: '127.0.0.1:8501' });
    assert.deepEqual((await s.call('GET', '/cluster/peers')).json<Array<{ id: string }>>().map((m) => m.id), ['n1', 'n2', 'c1']);

    const config = (await s.call('GET', '/cluster/config')).json<{ appliedIndex: number; members: Array<{ id: string; voter: boolean; modifyIndex: number }> }>();
    assert.deepEqual(config.members.map((m) => [m.id, m.voter]), [['n1', true], ['n2', true], ['c1', false]]);
    assert.equal(config.appliedIndex, status.appliedIndex);

    const stats = (await s.call('GET', '/cluster/stats')).json<{ nodeId: string; proposals: { committed: number } }>();
    assert.equal(stats.nodeId, 'n1');
    assert.equal(stats.proposals.committed, 1);
  });

  test('/cluster/leader is 503 when no leader is known', async (t) => {
    const s = await startServer(t);
    for (const m of s.agent.members) m.leader = false;
    const r = await s.call('GET', '/cluster/leader');
    assert.equal(r.status, 503);
    assert.match(r.text, /no known leader/);
  });

  test('POST /cluster/join passes a valid request on and answers the status', async (t) => {
    const s = await startServer(t);
    const r = await s.call('POST', '/cluster/join', {
      body: JSON.stringify({ id: 'n3', address: '10.0.0.3:7000', httpAddress: '10.0.0.3:8500' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 200);
    assert.ok(r.json<ClusterStatus>().members.some((m) => m.id === 'n3'));
    await s.call('POST', '/cluster/join', { body: JSON.stringify({ raftAddress: '10.0.0.4:7000', server: false }) });
    assert.deepEqual(s.agent.joinCalls, [
      { id: 'n3', raftAddress: '10.0.0.3:7000', httpAddress: '10.0.0.3:8500', server: true },
      { id: '', raftAddress: '10.0.0.4:7000', httpAddress: undefined, server: false },
    ]);
  });

  test('POST /cluster/join rejects bad bodies with a 400 that names the field, and oversized ones with 413', async (t) => {
    const s = await startServer(t, { maxBodyBytes: 256 });
    const cases: Array<[string, RegExp]> = [
      ['{"id": "n3", "address": ', /malformed JSON/],
      ['[1, 2]', /object/],
      ['{"id": "n3"}', /"address" is required/],
      ['{"id": 7, "address": "h:1"}', /"id"/],
      ['{"id": "n3", "address": "no-port"}', /"address" must be host:port/],
      ['{"id": "n3", "address": "h:1", "httpAddress": "h:99999"}', /"httpAddress"/],
      ['{"id": "n3", "address": "h:1", "server": "yes"}', /"server"/],
      ['{"id": "n3", "address": "h:1", "raftAddress": "h:2"}', /differ/],
    ];
    for (const [body, message] of cases) {
      const r = await s.call('POST', '/cluster/join', { body });
      assert.equal(r.status, 400, body);
      assert.match(r.text, message, body);
    }
    const big = await s.call('POST', '/cluster/join', { body: JSON.stringify({ id: 'x'.repeat(300), address: 'h:1' }) });
    assert.equal(big.status, 413);
    assert.equal(s.agent.joinCalls.length, 0);
    assert.equal((await s.call('GET', '/cluster/status')).status, 200);
  });

  test('DELETE /cluster/leave/:id removes the member', async (t) => {
    const s = await startServer(t);
    const r = await s.call('DELETE', '/cluster/leave/c1');
    assert.deepEqual(r.json(), { removed: 'c1' });
    assert.deepEqual(s.agent.removed, ['c1']);
  });

  test('POST /cluster/snapshot and /cluster/transfer-leader', async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/kv/x', { body: '1' });
    assert.deepEqual((await s.call('POST', '/cluster/snapshot')).json(), { index: s.agent.state.appliedIndex(), term: 3 });
    assert.deepEqual((await s.call('POST', '/cluster/transfer-leader')).json(), { leader: 'n2' });
    assert.deepEqual((await s.call('POST', '/cluster/transfer-leader?id=n1')).json(), { leader: 'n1' });
  });
});

describe('metrics and routing', () => {
  test('/metrics serves the agent\'s registry text with its content type', async (t) => {
    const s = await startServer(t);
    const r = await s.call('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.header('content-type'), s.agent.metricsContentType);
    assert.match(r.text, /konsul_test_total 7/);
    assert.equal((await s.call('GET', '/v1/agent/metrics?format=prometheus')).text, r.text);
  });

  test('unknown paths are 404 and known paths with the wrong method are 405 with Allow', async (t) => {
    const s = await startServer(t);
    for (const path of ['/', '/v1/nothing', '/cluster/status/extra', '/v1/kv', '/cluster/leave/']) {
      assert.equal((await s.call('GET', path)).status, 404, path);
    }
    const wrong = await s.call('POST', '/v1/kv/k');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.header('allow'), 'GET, PUT, DELETE, HEAD');
    const join = await s.call('GET', '/cluster/join');
    assert.equal(join.status, 405);
    assert.equal(join.header('allow'), 'POST');
  });

  test('an unexpected error is a 500 that is logged and does not stop the server', async (t) => {
    const logged: object[] = [];
    const noop = (): void => {};
    const s = await startServer(t, { logger: { debug: noop, info: noop, warn: noop, error: (obj: object) => logged.push(obj) } });
    s.agent.stats = () => {
      throw new TypeError('boom');
    };
    const r = await s.call('GET', '/cluster/stats');
    assert.equal(r.status, 500);
    assert.equal(r.text, 'internal server error');
    assert.equal(logged.length, 1);
    assert.equal((await s.call('GET', '/cluster/status')).status, 200);
  });

  test('onResponse sees every request\'s method and status', async (t) => {
    const seen: Array<[string, number]> = [];
    const s = await startServer(t, { onResponse: (method, code) => seen.push([method, code]) });
    await s.call('PUT', '/v1/kv/a', { body: 'x' });
    await s.call('GET', '/v1/kv/missing');
    await s.call('GET', '/nowhere');
    assert.deepEqual(seen, [['PUT', 200], ['GET', 404], ['GET', 404]]);
  });
});
