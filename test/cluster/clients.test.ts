// Client agents at a small size on real processes: 3 servers and 5 clients,
// each client a replica fed by a relay (no Raft membership), answering HTTP
// and DNS from its own copy; a relay killed and a client restarted mid-run;
// a client killed with -9 drops out of DNS on every other agent.

import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { describe } from 'node:test';
import { TestCluster, formCluster, http, scenario, waitFor } from './harness.js';

const SERVERS = ['s1', 's2', 's3'];
const CLIENTS = ['c1', 'c2', 'c3', 'c4', 'c5'];

async function srvPorts(c: TestCluster, id: string, name: string): Promise<number[]> {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${c.node(id).dnsPort}`]);
  try {
    return (await r.resolveSrv(name)).map((a) => a.port).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw error;
  }
}

async function staleValue(c: TestCluster, id: string, key: string): Promise<string | undefined> {
  const r = await http('GET', `${c.node(id).url}/v1/kv/${key}?stale&raw`, undefined, 3000);
  return r.status === 200 ? r.body : undefined;
}

/** The value on every listed agent's own replica (HTTP ?stale), once they all have it. */
async function visibleEverywhere(c: TestCluster, ids: string[], key: string, value: string): Promise<void> {
  await waitFor(`${key}=${value} on ${ids.join(',')}`, async () => {
    for (const id of ids) if ((await staleValue(c, id, key)) !== value) return undefined;
    return true;
  }, 20_000);
}

async function stats(c: TestCluster, id: string): Promise<{ role: string; client?: { relay: string | null } }> {
  return JSON.parse((await http('GET', `${c.node(id).url}/cluster/stats`)).body) as { role: string; client?: { relay: string | null } };
}

describe('client agents fed through relays', { timeout: 240_000 }, () => {
  const c = new TestCluster({ flags: ['--node-health-timeout', '2s'] });
  const step = scenario(c);

  step('3 servers and 5 clients: clients are no Raft members, every one holds a replica fed by a follower', async () => {
    await formCluster(c, SERVERS, CLIENTS);
    const leader = await c.leader(SERVERS);
    const st = await c.status(leader);
    assert.deepEqual(st.members.map((m) => m.id).sort(), SERVERS, 'the Raft configuration holds the servers only');
    for (const id of CLIENTS) {
      const s = await waitFor(`${id} subscribed`, async () => {
        const x = await stats(c, id);
        return x.client?.relay ? x : undefined;
      });
      assert.equal(s.role, 'client');
      assert.notEqual(s.client!.relay, leader, `${id} is fed by a follower, not the leader`);
    }
    await waitFor('every client in the catalog', async () => {
      const nodes = JSON.parse((await http('GET', `${c.node(leader).url}/v1/catalog/nodes`)).body) as Array<{ Node: string }>;
      return CLIENTS.every((id) => nodes.some((n) => n.Node === id)) ? true : undefined;
    });
    // A client's /metrics tells where its memory is, under the names a server's prom-client uses.
    const text = (await http('GET', `${c.node(CLIENTS[0]!).url}/metrics`)).body;
    const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
    const [rss, total, used] = ['process_resident_memory_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes'].map(value);
    assert.ok(used! > 0 && used! <= total! && total! < rss!, `heap used ${used}, total ${total}, rss ${rss}:\n${text}`);
  });

  step('a write through a client is visible on every agent\'s HTTP; a service registered on a client is in every agent\'s DNS', async () => {
    const r = await c.put('c1', 'greeting', 'hello');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'true');
    await visibleEverywhere(c, [...SERVERS, ...CLIENTS], 'greeting', 'hello');
    const reg = await http('PUT', `${c.node('c2').url}/v1/agent/service/register`, JSON.stringify({ Name: 'web', ID: 'web-c2', Port: 8082 }));
    assert.equal(reg.status, 200, reg.body);
    for (const id of [...SERVERS, ...CLIENTS]) {
      await waitFor(`web in DNS on ${id}`, async () => ((await srvPorts(c, id, 'web.service.consul')).includes(8082) ? true : undefined));
    }
  });

  step('registrations on a client: many at once all reach the catalog; one deregistered right after it was registered leaves nothing behind', async () => {
    const base = c.node('c3').url;
    const leader = await c.leader(SERVERS);
    const catalog = async (name: string): Promise<string[]> => {
      const r = await http('GET', `${c.node(leader).url}/v1/catalog/service/${name}?consistent`);
      assert.equal(r.status, 200, r.body);
      return (JSON.parse(r.body) as Array<{ ServiceID: string }>).map((x) => x.ServiceID).sort();
    };
    // 200 at 16 in flight: each is answered once the catalog has it.
    const ids = Array.from({ length: 200 }, (_, i) => `many-${i}`);
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const r = await http('PUT', `${base}/v1/agent/service/register`, JSON.stringify({ Name: 'many', ID: id, Port: 9000 }));
        assert.equal(r.status, 200, r.body);
      }
    }));
    assert.deepEqual(await catalog('many'), [...ids].sort());
    // Register then deregister at once, each answered before the next: the deregistration must find the
    // registration in this client's replica, or the catalog keeps an instance no agent holds.
    for (let i = 0; i < 20; i++) {
      const id = `flap-${i}`;
      assert.equal((await http('PUT', `${base}/v1/agent/service/register`, JSON.stringify({ Name: 'flap', ID: id, Port: 9100 }))).status, 200);
      assert.equal((await http('PUT', `${base}/v1/agent/service/deregister/${id}`)).status, 200);
    }
    assert.deepEqual(await catalog('flap'), []);
    for (const id of ids) assert.equal((await http('PUT', `${base}/v1/agent/service/deregister/${id}`)).status, 200);
    assert.deepEqual(await catalog('many'), []);
  });

  step('a relay killed with -9: its clients move to another relay and keep receiving writes', async () => {
    const leader = await c.leader(SERVERS);
    const relays = new Map<string, string>();
    for (const id of CLIENTS) relays.set(id, (await stats(c, id)).client!.relay!);
    const victim = [...relays.values()].find((r) => r !== leader)!;
    await c.kill(victim);
    const rest = [...SERVERS.filter((s) => s !== victim), ...CLIENTS];
    await c.put(leader, 'after-relay-kill', 'still-flowing');
    await visibleEverywhere(c, rest, 'after-relay-kill', 'still-flowing');
    for (const id of CLIENTS) {
      const relay = (await stats(c, id)).client!.relay;
      assert.notEqual(relay, victim, `${id} left the dead relay`);
    }
    await c.start(victim);
  });

  step('a client restarted catches up from its relay and serves what it missed', async () => {
    await c.kill('c3');
    const leader = await c.leader(SERVERS);
    for (let i = 0; i < 20; i++) assert.equal((await c.put(leader, `missed/${i}`, `v${i}`)).status, 200);
    await c.start('c3');
    await visibleEverywhere(c, ['c3'], 'missed/19', 'v19');
    assert.equal(await staleValue(c, 'c3', 'greeting'), 'hello', 'what it held before the restart is still there');
  });

  step('a client killed with -9: its node turns critical and its services drop out of DNS on every other agent', async () => {
    await c.kill('c2');
    const others = [...SERVERS, ...CLIENTS.filter((id) => id !== 'c2')];
    for (const id of others) {
      await waitFor(`web gone from DNS on ${id}`, async () => ((await srvPorts(c, id, 'web.service.consul')).length === 0 ? true : undefined), 20_000);
    }
    const checks = JSON.parse((await http('GET', `${c.node('c1').url}/v1/health/node/c2?stale`)).body) as Array<{ CheckID: string; Status: string }>;
    assert.equal(checks.find((x) => x.CheckID === 'serfHealth')?.Status, 'critical');
  });

  step('a relay client (KONSUL_RELAY=1) feeds a leaf client; when it is killed the leaf moves to a server', async () => {
    const join = SERVERS.map((id) => c.node(id).raftAddress);
    await c.add({ id: 'r1', server: false, join, env: { KONSUL_RELAY: '1' } });
    await c.start('r1');
    const leader = await c.leader(SERVERS);
    await waitFor('r1 announced as a relay in the catalog', async () => {
      const nodes = JSON.parse((await http('GET', `${c.node(leader).url}/v1/catalog/nodes`)).body) as Array<{ Node: string; Meta: Record<string, string> }>;
      return nodes.find((n) => n.Node === 'r1')?.Meta['konsul-relay'] ? true : undefined;
    });
    await c.add({ id: 'l1', server: false, join });
    await c.start('l1');
    await waitFor('l1 fed by r1', async () => ((await stats(c, 'l1')).client?.relay === 'r1' ? true : undefined));
    assert.equal((await c.put(leader, 'deep', 'one')).status, 200);
    await visibleEverywhere(c, ['r1', 'l1'], 'deep', 'one');
    await c.kill('r1');
    assert.equal((await c.put(leader, 'deep', 'two')).status, 200);
    await visibleEverywhere(c, ['l1'], 'deep', 'two');
    assert.notEqual((await stats(c, 'l1')).client?.relay, 'r1');
  });

  step('a client that leaves (SIGTERM) is out of the catalog and the member records', async () => {
    await c.kill('c4', 'SIGTERM');
    assert.equal(c.node('c4').exitCode, 0, c.node('c4').log().slice(-2000));
    const leader = await c.leader(SERVERS);
    await waitFor('c4 out of the catalog', async () => {
      const nodes = JSON.parse((await http('GET', `${c.node(leader).url}/v1/catalog/nodes`)).body) as Array<{ Node: string }>;
      return nodes.some((n) => n.Node === 'c4') ? undefined : true;
    });
  });
});
