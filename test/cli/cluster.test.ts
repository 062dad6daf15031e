// `konsul cluster ...` against a stand-in agent: status, leader, peers, stats,
// health (and its exit code), join, leave, transfer-leader and snapshot.

import assert from 'node:assert/strict';
import { consulStyle } from '../../src/cli/output.js';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { FakeAgent, healthyStatus, run } from './harness.js';

function threeNodes(): ReturnType<typeof healthyStatus> {
  const st = healthyStatus();
  st.members.push(
    { id: 'node-two', raftAddress: '127.0.0.1:7002', httpAddress: '127.0.0.1:8502', voter: true, leader: false, healthy: true, matchIndex: 12, lastContactMs: 40 },
    { id: 'n3', raftAddress: '127.0.0.1:7003', httpAddress: '', voter: false, leader: false, healthy: true, matchIndex: 9, lastContactMs: 1500 },
  );
  return st;
}

describe('konsul cluster', () => {
  let agent: FakeAgent;
  const cluster = (...args: string[]): string[] => ['cluster', ...args, '--http-addr', agent.address];

  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    await agent.close();
  });
  beforeEach(() => {
    agent.status = threeNodes();
    agent.requests.length = 0;
  });

  it('status prints the node, leader, quorum and an aligned members table', async () => {
    const r = await run(cluster('status'));
    assert.equal(r.code, EXIT.ok, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines[0], 'Node:     n1 (leader, term 3)');
    assert.match(lines[1], /^Leader: +n1 \(raft 127\.0\.0\.1:7001, http 127\.0\.0\.1:8501\)$/);
    assert.match(lines[2], /^Quorum: +yes$/);
    const table = lines.slice(lines.indexOf('') + 1);
    assert.equal(table.length, 4);
    assert.match(table[0], /^NODE +RAFT ADDRESS +HTTP ADDRESS +ROLE +HEALTH +MATCH INDEX +LAST CONTACT$/);
    // Every column starts at the same offset on every row.
    for (const header of ['RAFT ADDRESS', 'ROLE', 'MATCH INDEX']) {
      const col = table[0].indexOf(header);
      for (const row of table.slice(1)) {
        assert.equal(row[col - 1], ' ', `${header} aligned in "${row}"`);
        assert.notEqual(row[col], ' ', `${header} aligned in "${row}"`);
      }
    }
    assert.match(table[2], /^node-two +127\.0\.0\.1:7002 +127\.0\.0\.1:8502 +voter +healthy +12 +40ms$/);
    assert.match(table[3], /^n3 +127\.0\.0\.1:7003 +- +non-voter +healthy +9 +1500ms$/);
  });

  it('status --json is the agent\'s status, parseable', async () => {
    const r = await run(cluster('status', '--json'));
    assert.deepEqual(JSON.parse(r.out), consulStyle(agent.status), 'the agent\'s status, in Consul\'s naming style');
  });

  it('leader prints who leads; with no leader it exits 1', async () => {
    const r = await run(cluster('leader'));
    assert.equal(r.code, EXIT.ok);
    assert.equal(r.out, 'n1  raft 127.0.0.1:7001  http 127.0.0.1:8501\n');
    assert.deepEqual(JSON.parse((await run(cluster('leader', '--json'))).out), consulStyle(agent.status.leader));

    agent.status.leader = null;
    const none = await run(cluster('leader'));
    assert.equal(none.code, EXIT.failed);
    assert.equal(none.out, '');
    assert.match(none.err, /^Error: no leader[^\n]*\n$/);
  });

  it('peers lists every member', async () => {
    const r = await run(cluster('peers'));
    assert.equal(r.code, EXIT.ok);
    assert.deepEqual(r.out.trimEnd().split('\n').slice(1).map((l) => l.split(/ +/)[0]), ['n1', 'node-two', 'n3']);
    assert.equal((JSON.parse((await run(cluster('peers', '--json'))).out) as unknown[]).length, 3);
  });

  it('stats prints nested counters as dotted key: value lines', async () => {
    const r = await run(cluster('stats'));
    assert.equal(r.code, EXIT.ok);
    assert.equal(r.out, 'nodeId: n1\nterm: 3\nproposals.committed: 7\nproposals.failed: 0\nstorage.logBytes: 4096\n');
    assert.deepEqual(JSON.parse((await run(cluster('stats', '--json'))).out), consulStyle(agent.stats));
  });

  it('health: "healthy" and exit 0 for a led cluster with a quorum and every member answering', async () => {
    const r = await run(cluster('health'));
    assert.equal(r.code, EXIT.ok, r.out);
    assert.equal(r.out, 'healthy\n');
  });

  it('health: no leader exits 1 and says so', async () => {
    agent.status.leader = null;
    agent.status.quorum = false;
    const r = await run(cluster('health'));
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.out, 'unhealthy: no leader is known\nunhealthy: no quorum of voters is answering\n');
    const json = JSON.parse((await run(cluster('health', '--json'))).out) as { Healthy: boolean; Problems: string[] };
    assert.equal(json.Healthy, false);
    assert.equal(json.Problems.length, 2);
  });

  it('health: an unreachable member exits 1 and is named', async () => {
    agent.status.members[2].healthy = false;
    const r = await run(cluster('health'));
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.out, 'unhealthy: member n3 (127.0.0.1:7003) is unreachable\n');
  });

  it('join sends the raft address (and id / non-voter when given)', async () => {
    const r = await run(cluster('join', '--address', '10.1.2.3:7000'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(JSON.parse(agent.lastRequest().body), { raftAddress: '10.1.2.3:7000', server: true });
    assert.equal(r.out, 'Joined node-at-10.1.2.3:7000 (10.1.2.3:7000): the cluster has 4 members\n');

    await run(cluster('join', '--address', '10.1.2.4:7000', '--id', 'n5', '--non-voter'));
    assert.deepEqual(JSON.parse(agent.lastRequest().body), { id: 'n5', raftAddress: '10.1.2.4:7000', server: false });
  });

  it('join without --address is a usage error and sends nothing', async () => {
    const r = await run(cluster('join'));
    assert.equal(r.code, EXIT.usage);
    assert.equal(r.err, 'Error: --address is required: the raft address (host:port) of the agent to add\n');
    assert.equal(agent.requests.length, 0);
  });

  it('leave without --node removes the agent itself (its id from /cluster/status)', async () => {
    const r = await run(cluster('leave'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(agent.requests.map((q) => `${q.method} ${q.url}`), ['GET /cluster/status', 'DELETE /cluster/leave/n1']);
    assert.equal(r.out, 'Removed n1 from the cluster\n');
  });

  it('leave --node removes that member; its id is percent-encoded', async () => {
    agent.status.members.push({ id: 'odd id/1', raftAddress: '127.0.0.1:7009', httpAddress: '', voter: false, leader: false });
    const r = await run(cluster('leave', '--node', 'odd id/1', '--json'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(agent.requests.map((q) => `${q.method} ${q.url}`), ['DELETE /cluster/leave/odd%20id%2F1']);
    assert.deepEqual(JSON.parse(r.out), { Removed: 'odd id/1' });
    assert.equal(agent.status.members.some((m) => m.id === 'odd id/1'), false);
  });

  it('a refused membership change exits 1 with the agent\'s reason', async () => {
    agent.failNext = { status: 409, body: 'a membership change is already in progress' };
    const r = await run(cluster('leave', '--node', 'n3'));
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.err, 'Error: a membership change is already in progress (HTTP 409)\n');
  });

  it('transfer-leader, to the best voter or to --node', async () => {
    const any = await run(cluster('transfer-leader'));
    assert.equal(any.code, EXIT.ok, any.err);
    assert.equal(agent.lastRequest().url, '/cluster/transfer-leader');
    assert.equal(any.out, 'Leader is now n2\n');
    const to = await run(cluster('transfer-leader', '--node', 'node-two', '--json'));
    assert.equal(agent.lastRequest().url, '/cluster/transfer-leader?id=node-two');
    assert.deepEqual(JSON.parse(to.out), { Leader: 'node-two' });
  });

  it('snapshot reports the index and term', async () => {
    const r = await run(cluster('snapshot'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(agent.lastRequest().method, 'POST');
    assert.equal(r.out, 'Snapshot at index 12 (term 3); log compacted\n');
    assert.deepEqual(JSON.parse((await run(cluster('snapshot', '--json'))).out), { Index: 12, Term: 3 });
  });

  it('an answer that is not JSON is a one-line error, not a stack trace', async () => {
    agent.failNext = { status: 200, body: '<html>proxy login</html>' };
    const r = await run(cluster('status'));
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.err, `Error: the agent at http://${agent.address} answered GET /cluster/status with something that is not JSON\n`);
  });
});
