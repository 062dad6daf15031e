// A real cluster of agent processes on loopback: bootstrap, join, writes
// through any agent, kill -9 and SIGSTOP of the leader under load, restarts,
// a join brought up by snapshot, a whole-cluster crash, leave and rejoin, and
// stale reads on a client while the servers have no quorum.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestCluster, Writer, formCluster, http, scenario, sleep, waitFor, waitVoters } from './harness.js';

describe('a real cluster of agent processes', { timeout: 300_000 }, () => {
  const c = new TestCluster();

  before(async () => {
    await formCluster(c, ['s1', 's2', 's3'], ['c1', 'c2']);
  });

  const step = scenario(c);

  step('servers are voters; clients hold a full replica outside the Raft configuration', async () => {
    const st = await c.status('s1');
    const byId = new Map(st.members.map((m) => [m.id, m]));
    assert.equal(byId.size, 3);
    for (const id of ['s1', 's2', 's3']) assert.equal(byId.get(id)!.voter, true, `${id} is a voter`);
    const client = await c.status('c1');
    assert.equal(client.role, 'client');
    // Every agent is a member as Consul lists them (servers and clients).
    const members = JSON.parse((await http('GET', `${c.node('s1').url}/v1/agent/members`)).body) as Array<{ Name: string }>;
    assert.deepEqual(members.map((m) => m.Name).sort(), ['c1', 'c2', 's1', 's2', 's3']);
  });

  step('a write through any agent is readable from every agent', async () => {
    for (const id of ['s1', 's2', 's3', 'c1', 'c2']) {
      const r = await c.put(id, `any/${id}`, `from-${id}`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, 'true');
    }
    for (const reader of ['s1', 's2', 's3', 'c1', 'c2']) {
      for (const writer of ['s1', 's2', 's3', 'c1', 'c2']) {
        // Default and consistent reads see every acknowledged write at once.
        assert.equal(await c.value(reader, `any/${writer}`, ''), `from-${writer}`);
      }
    }
    // The agent that took the write answers a stale read with it too (it waited to apply it).
    assert.equal(await c.value('c2', 'any/c2', 'stale'), 'from-c2');
  });

  step('cas through a follower: the second writer with a stale index loses', async () => {
    await c.put('s2', 'cas/k', 'one');
    const got = await c.get('c1', 'cas/k');
    const modify = (JSON.parse(got.body) as Array<{ ModifyIndex: number }>)[0].ModifyIndex;
    const first = await c.put('s3', 'cas/k', 'two', `?cas=${modify}`);
    const second = await c.put('c2', 'cas/k', 'three', `?cas=${modify}`);
    assert.equal(first.body, 'true');
    assert.equal(second.body, 'false');
    assert.equal(await c.value('s1', 'cas/k'), 'two');
  });

  step('kill -9 of the leader under write load: a new leader, and every acknowledged write survives', async () => {
    const leader = await c.leader();
    const writer = new Writer(c, 'kill9');
    const targets = (): string[] => ['s1', 's2', 's3', 'c1', 'c2'].filter((id) => c.node(id).running);
    writer.start(targets, 4);
    await waitFor('some writes before the kill', () => (writer.acked.size >= 50 ? true : undefined));
    await c.kill(leader, 'SIGKILL');
    const survivors = targets();
    const next = await c.leader(survivors, 15_000, leader);
    assert.notEqual(next, leader);
    const before = writer.acked.size;
    await waitFor('writes succeed again', () => (writer.acked.size >= before + 50 ? true : undefined));
    await writer.stop();
    const seen = await c.dump(next, 'kill9');
    for (const [k, v] of writer.acked) assert.equal(seen.get(k), v, `acknowledged ${k} is there`);
    await c.start(leader);
    await waitFor(`${leader} catches up`, async () => {
      const dump = await c.dump(leader, 'kill9', 'stale');
      for (const [k, v] of writer.acked) if (dump.get(k) !== v) return undefined;
      return true;
    });
  });

  step('SIGSTOP of the leader: another takes over; the old one follows once resumed', async () => {
    const leader = await c.leader();
    c.signal(leader, 'SIGSTOP');
    try {
      const others = ['s1', 's2', 's3', 'c1', 'c2'].filter((id) => id !== leader);
      const next = await waitFor('a new leader while the old one is paused', async () => {
        const st = await c.status(others[0]);
        return st.leader && st.leader.id !== leader ? st.leader.id : undefined;
      });
      assert.notEqual(next, leader);
      const r = await c.put(others[1], 'paused/k', 'written-while-paused');
      assert.equal(r.body, 'true');
    } finally {
      c.signal(leader, 'SIGCONT');
    }
    await waitFor('the resumed node sees the write', async () =>
      (await c.value(leader, 'paused/k', 'stale')) === 'written-while-paused' ? true : undefined);
    const st = await c.status(leader);
    assert.notEqual(st.role, 'leader');
  });

  step('a node restarted after a clean stop catches up on what it missed', async () => {
    await c.kill('s3', 'SIGINT');
    for (let i = 0; i < 20; i++) assert.equal((await c.put('s1', `missed/${i}`, `m${i}`)).body, 'true');
    await c.start('s3');
    await waitFor('s3 has what it missed', async () => ((await c.value('s3', 'missed/19', 'stale')) === 'm19' ? true : undefined));
  });

  step('a new server joins after the log was compacted and is brought up by a snapshot', async () => {
    for (let i = 0; i < 30; i++) assert.equal((await c.put('c1', `snap/${i}`, `s${i}`)).body, 'true');
    const leader = await c.leader();
    // Every server compacts its own log: whichever leads when s4 joins (a loaded machine may move leadership) must send a snapshot.
    for (const id of ['s1', 's2', 's3']) {
      await waitFor(`${id} has the writes`, async () => ((await c.value(id, 'snap/29', 'stale')) === 's29' ? true : undefined));
      const snap = await http('POST', `${c.node(id).url}/cluster/snapshot`);
      assert.equal(snap.status, 200, snap.body);
      const { index } = JSON.parse(snap.body) as { index: number };
      assert.ok(index > 30, `${id} compacted up to ${index}`);
    }
    await c.add({ id: 's4', server: true, join: [c.node('c2').raftAddress] });
    await c.start('s4');
    await waitFor('s4 has the data', async () => ((await c.value('s4', 'snap/29', 'stale')) === 's29' ? true : undefined));
    const stats = JSON.parse((await http('GET', `${c.node('s4').url}/cluster/stats`)).body) as { storage: { snapshotsInstalled: number } };
    assert.ok(stats.storage.snapshotsInstalled >= 1, 's4 installed a snapshot');
    await waitVoters(c, ['s1', 's2', 's3', 's4'], leader);
  });

  step('leave and rejoin: the member is out of the configuration before the process exits', async () => {
    const r = await http('DELETE', `${c.node('s4').url}/cluster/leave/s4`);
    assert.equal(r.status, 200, r.body);
    const code = await c.node('s4').exited;
    assert.equal(code, 0);
    const st = await c.status('s1');
    assert.ok(!st.members.some((m) => m.id === 's4'), 's4 is gone from the configuration');
    // Rejoin with a fresh data dir, by address.
    c.node('s4').spec.join = [c.node('s2').raftAddress];
    const { rmSync } = await import('node:fs');
    rmSync(c.node('s4').dataDir, { recursive: true, force: true });
    await c.start('s4');
    await waitVoters(c, ['s1', 's2', 's3', 's4'], 's1');
    // And leave again for the steps below, with SIGTERM on a client: it leaves too.
    await http('DELETE', `${c.node('s4').url}/cluster/leave/s4`);
    await c.node('s4').exited;
    await c.kill('c2', 'SIGTERM');
    assert.equal(c.node('c2').exitCode, 0);
    const after = await c.status('s1');
    assert.deepEqual(after.members.map((m) => m.id).sort(), ['s1', 's2', 's3']);
    const members = JSON.parse((await http('GET', `${c.node('s1').url}/v1/agent/members`)).body) as Array<{ Name: string }>;
    assert.deepEqual(members.map((m) => m.Name).sort(), ['c1', 's1', 's2', 's3'], 'the client that left is no member');
  });

  step('a client keeps answering stale reads while the servers have lost quorum', async () => {
    await c.put('s1', 'quorum/k', 'before');
    await waitFor('c1 has it', async () => ((await c.value('c1', 'quorum/k', 'stale')) === 'before' ? true : undefined));
    const leader = await c.leader(['s1', 's2', 's3']);
    const followers = ['s1', 's2', 's3'].filter((id) => id !== leader);
    await c.kill(followers[0], 'SIGKILL');
    await c.kill(followers[1], 'SIGKILL');
    try {
      // The leader steps down (check-quorum); the client still serves its replica.
      await waitFor('no leader', async () => ((await c.status('c1')).leader === null ? true : undefined), 10_000);
      const stale = await c.get('c1', 'quorum/k', '?stale');
      assert.equal(stale.status, 200);
      assert.equal(stale.headers['x-consul-knownleader'], 'false');
      const consistent = await c.get('c1', 'quorum/k', '?consistent');
      assert.equal(consistent.status, 503);
    } finally {
      await c.start(followers[0]);
      await c.start(followers[1]);
    }
    await c.leader(['s1', 's2', 's3', 'c1']);
    assert.equal(await c.value('c1', 'quorum/k'), 'before');
  });

  step('kill -9 of every node during writes, restart all: no acknowledged write is lost', async () => {
    const ids = ['s1', 's2', 's3', 'c1'];
    const writer = new Writer(c, 'crash');
    writer.start(() => ids.filter((id) => c.node(id).running), 4);
    await waitFor('writes flowing', () => (writer.acked.size >= 100 ? true : undefined));
    await Promise.all(ids.map((id) => c.kill(id, 'SIGKILL')));
    await writer.stop();
    await Promise.all(ids.map((id) => c.start(id)));
    const leader = await c.leader(ids);
    const seen = await c.dump(leader, 'crash');
    let lost = 0;
    for (const [k, v] of writer.acked) if (seen.get(k) !== v) lost++;
    assert.equal(lost, 0, `${lost} of ${writer.acked.size} acknowledged writes lost`);
    await sleep(0);
  });
});

describe('dead members are removed after the dead-server timeout', { timeout: 120_000 }, () => {
  const c = new TestCluster({ flags: ['--dead-server-timeout', '2s'] });

  after(async () => {
    await c.cleanup();
  });

  it('a killed client and then a killed voter of three are removed; of two voters, a dead one stays', async () => {
    await formCluster(c, ['d1', 'd2', 'd3'], ['dc']);
    await c.kill('dc', 'SIGKILL');
    // A client is no Raft member: it is reaped from the members and the catalog.
    await waitFor('the dead client removed', async () => {
      const members = JSON.parse((await http('GET', `${c.node('d1').url}/v1/agent/members`)).body) as Array<{ Name: string }>;
      const nodes = JSON.parse((await http('GET', `${c.node('d1').url}/v1/catalog/nodes`)).body) as Array<{ Node: string }>;
      return members.some((m) => m.Name === 'dc') || nodes.some((n) => n.Node === 'dc') ? undefined : true;
    }, 30_000);
    // A dead voter of three: the other two are a healthy majority of the remaining two, so it goes.
    const leader = await c.leader(['d1', 'd2', 'd3']);
    const victim = ['d1', 'd2', 'd3'].find((id) => id !== leader)!;
    await c.kill(victim, 'SIGKILL');
    await waitFor('the dead voter removed', async () => {
      const st = await c.status(leader);
      return st.members.some((m) => m.id === victim) ? undefined : true;
    }, 30_000);
    // Of the last two voters, one dies: the survivor alone is not a quorum of two, so it is kept.
    const other = ['d1', 'd2', 'd3'].find((id) => id !== leader && id !== victim)!;
    await c.kill(other, 'SIGKILL');
    await sleep(4000);
    const st = await c.status(leader);
    assert.ok(st.members.some((m) => m.id === other), 'the second dead voter is still a member');
  });
});
