// GET /v1/operator/autopilot/health and /state on a real 3-server cluster with
// a client agent: every server healthy with a failure tolerance of one, the
// same answer through a follower and the client (they ask the leader); a
// killed server turns the answer unhealthy (429) with no failure tolerance left.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestCluster, formCluster, http, waitFor } from './harness.js';

interface Health {
  Healthy: boolean;
  FailureTolerance: number;
  Servers: Array<{ ID: string; Healthy: boolean; Voter: boolean; Leader: boolean; SerfStatus: string; LastIndex: number; ProtocolVersion: number | null }>;
}

describe('autopilot health and state (Consul\'s shapes)', { timeout: 120_000 }, () => {
  const c = new TestCluster();
  before(async () => {
    await formCluster(c, ['s1', 's2', 's3'], ['c1']);
  });
  after(() => c.cleanup());

  it('every server healthy, tolerance 1, the same through a follower and a client agent; clients are not servers', async () => {
    const leader = await c.leader();
    const follower = ['s1', 's2', 's3'].find((id) => id !== leader)!;
    for (const via of [leader, follower, 'c1']) {
      const h = await waitFor(`healthy through ${via}`, async () => {
        const r = await http('GET', `${c.node(via).url}/v1/operator/autopilot/health`);
        return r.status === 200 ? JSON.parse(r.body) as Health : undefined;
      });
      assert.equal(h.Healthy, true);
      assert.equal(h.FailureTolerance, 1);
      assert.deepEqual(h.Servers.map((s) => s.ID).sort(), ['s1', 's2', 's3']);
      assert.ok(h.Servers.every((s) => s.Voter && s.SerfStatus === 'alive' && s.ProtocolVersion === 2));
      assert.equal(h.Servers.filter((s) => s.Leader).length, 1);
    }
    const st = JSON.parse((await http('GET', `${c.node(follower).url}/v1/operator/autopilot/state`)).body) as {
      Healthy: boolean; Leader: string; Voters: string[]; Servers: Record<string, { Status: string }>;
    };
    assert.equal(st.Healthy, true);
    assert.equal(st.Leader, leader);
    assert.deepEqual(st.Voters.sort(), ['s1', 's2', 's3']);
    assert.equal(st.Servers[leader]!.Status, 'leader');
    assert.equal(st.Servers[follower]!.Status, 'voter');
  });

  it('a killed server: unhealthy (429), failure tolerance 0, that server failed', async () => {
    const leader = await c.leader();
    const victim = ['s1', 's2', 's3'].find((id) => id !== leader)!;
    await c.kill(victim);
    const h = await waitFor('the leader sees it', async () => {
      const r = await http('GET', `${c.node(leader).url}/v1/operator/autopilot/health`);
      return r.status === 429 ? JSON.parse(r.body) as Health : undefined;
    });
    assert.equal(h.Healthy, false);
    assert.equal(h.FailureTolerance, 0);
    const dead = h.Servers.find((s) => s.ID === victim)!;
    assert.equal(dead.Healthy, false);
    assert.equal(dead.SerfStatus, 'failed');
  });
});
