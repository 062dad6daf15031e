// Issue 15: `konsul members` lists members that left (`konsul leave`) or were
// removed (`konsul force-leave`, `konsul cluster leave --node`) as `left`, as Consul does, on every
// agent (the record is replicated), until the leader forgets them after the
// reconnect timeout. Real agent processes.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { TestCluster, formCluster, http, scenario, waitFor } from '../cluster/harness.js';
import { parseTable, run } from './harness.js';

describe('issue 15: konsul members shows members that left', { timeout: 180_000 }, () => {
  // Long enough to look at a left member under load, short enough to see it forgotten.
  const c = new TestCluster({ flags: ['--reconnect-timeout', '12s'] });
  const step = scenario(c); // stops the agents and removes their dirs at the end

  const rows = async (via: string): Promise<Array<Record<string, string>>> => {
    const r = await run(['members', '--http-addr', `127.0.0.1:${c.node(via).httpPort}`]);
    assert.equal(r.code, EXIT.ok, r.err);
    return parseTable(r.out);
  };
  const statusOf = async (via: string, node: string): Promise<string | undefined> => (await rows(via)).find((m) => m.NODE === node)?.STATUS;

  step('a cluster of one server and three clients, at protocol 2 (left records need it)', async () => {
    await formCluster(c, ['ms'], ['mc1', 'mc2', 'mc3']);
    await waitFor('every member listed alive', async () => {
      const all = await rows('ms');
      return all.length === 4 && all.every((m) => m.STATUS === 'alive') ? true : undefined;
    }, 30_000);
    await waitFor('the cluster at protocol 2', async () => {
      const st = JSON.parse((await http('GET', `${c.node('ms').url}/cluster/status`)).body) as { protocol?: { cluster: number } };
      return st.protocol?.cluster === 2 ? true : undefined;
    }, 30_000);
  });

  step('konsul leave: the member is listed as left, by every agent, with its address and role', async () => {
    const r = await run(['leave', '--http-addr', `127.0.0.1:${c.node('mc1').httpPort}`]);
    assert.equal(r.code, EXIT.ok, r.err);
    await c.node('mc1').exited;
    for (const via of ['ms', 'mc2']) {
      const row = await waitFor(`mc1 left, seen by ${via}`, async () => (await rows(via)).find((m) => m.NODE === 'mc1' && m.STATUS === 'left'), 10_000);
      assert.deepEqual(row, { NODE: 'mc1', ADDRESS: c.node('mc1').raftAddress, ROLE: 'client', STATUS: 'left', VOTER: 'no' });
    }
    const json = JSON.parse((await run(['members', '--json', '--http-addr', `127.0.0.1:${c.node('ms').httpPort}`])).out) as Array<{ Name: string; Status: number }>;
    assert.equal(json.find((m) => m.Name === 'mc1')?.Status, 3, 'Serf\'s status 3, left');
  });

  step('a dead member removed by another (force-leave, Consul\'s name for cluster leave --node) is listed as left too', async () => {
    // A live one would join again (and be alive), as a Consul agent does after force-leave.
    await c.kill('mc2', 'SIGKILL');
    const r = await run(['force-leave', 'mc2', '--http-addr', `127.0.0.1:${c.node('ms').httpPort}`]);
    assert.equal(r.code, EXIT.ok, r.err);
    await waitFor('mc2 left', async () => ((await statusOf('ms', 'mc2')) === 'left' ? true : undefined), 10_000);
    assert.equal(await statusOf('ms', 'mc3'), 'alive');
  });

  step('after the reconnect timeout the leader forgets them; the others stay', async () => {
    await waitFor('mc1 and mc2 forgotten', async () => {
      const names = (await rows('ms')).map((m) => m.NODE);
      return names.includes('mc1') || names.includes('mc2') ? undefined : names;
    }, 60_000);
    assert.deepEqual((await rows('mc3')).map((m) => [m.NODE, m.STATUS]).sort(), [['mc3', 'alive'], ['ms', 'alive']]);
  });
});
