// Issue 15, on real agent processes: a normal join logs no warning; members
// during a quorum loss shows the stopped servers as failed; a client stopped
// with Ctrl-C leaves the cluster (it is not left behind as failed).

import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { describe } from 'node:test';
import { formCluster, http, scenario, TestCluster, waitFor } from './harness.js';

interface Member { Name: string; Status: number }
const ALIVE = 1;
const FAILED = 4;

async function members(c: TestCluster, via: string): Promise<Member[]> {
  return JSON.parse((await http('GET', `${c.node(via).url}/v1/agent/members`)).body) as Member[];
}

describe('issue 15: joins, Ctrl-C and quorum loss as a Consul user expects', () => {
  const c = new TestCluster();
  const step = scenario(c);

  step('three servers and a client join with no WARN in any log', async () => {
    await formCluster(c, ['s1', 's2', 's3'], ['c1']);
    await waitFor('c1 a member', async () => ((await members(c, 's1')).some((m) => m.Name === 'c1') ? true : undefined));
    for (const id of ['s1', 's2', 's3', 'c1']) {
      const warnings = c.node(id).log().split('\n').filter((l) => l.includes('"level":40') || l.includes('"level":50'));
      assert.deepEqual(warnings, [], `${id} logged a warning during a normal join`);
    }
  });

  step('the servers are the `consul` service, in the catalog and in DNS (consul.service.consul), as in Consul', async () => {
    const nodes = await waitFor('three consul instances in the catalog', async () => {
      const list = JSON.parse((await http('GET', `${c.node('c1').url}/v1/catalog/service/consul?stale`)).body) as Array<{ Node: string; ServicePort: number }>;
      return list.length === 3 ? list : undefined;
    });
    assert.deepEqual(nodes.map((n) => n.Node).sort(), ['s1', 's2', 's3']);
    assert.deepEqual(nodes.map((n) => n.ServicePort).sort(), ['s1', 's2', 's3'].map((id) => c.node(id).raftPort).sort());
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${c.node('c1').dnsPort}`]);
    const srv = await resolver.resolveSrv('consul.service.consul');
    assert.deepEqual(srv.map((r) => r.port).sort(), nodes.map((n) => n.ServicePort).sort());
  });

  step('Ctrl-C (SIGINT) on a client: it leaves, exits 0, and is no longer listed (not failed)', async () => {
    await c.kill('c1', 'SIGINT');
    assert.equal(c.node('c1').proc?.exitCode, 0);
    assert.match(c.node('c1').log(), /left the cluster/);
    const after = await members(c, 's1');
    assert.deepEqual(after.filter((m) => m.Name === 'c1'), []);
    assert.ok(after.every((m) => m.Status === ALIVE), JSON.stringify(after));
  });

  step('quorum lost: members on the survivor shows the two stopped servers as failed, itself alive', async () => {
    await c.kill('s2', 'SIGKILL');
    await c.kill('s3', 'SIGKILL');
    const seen = await waitFor('s2 and s3 failed on s1', async () => {
      const m = await members(c, 's1');
      const status = Object.fromEntries(m.map((x) => [x.Name, x.Status]));
      return status.s2 === FAILED && status.s3 === FAILED ? status : undefined;
    }, 20_000);
    assert.equal(seen.s1, ALIVE);
  });
});
