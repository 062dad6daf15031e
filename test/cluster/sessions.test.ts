// Sessions and locks on real agent processes (3 servers, 2 clients): the
// `consul` npm client unchanged (session create/renew/info, lock acquire and
// release, a transaction); a session invalidated by its failing TTL check, by
// its node's health turning critical when the agent is killed (and the lock
// free again after the lock-delay), by its node leaving; and a TTL that only
// the leader times, restarted on a new leader, so a failover never expires a
// session early while an unrenewed one still expires.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import Consul from 'consul';
import { TestCluster, formCluster, http, scenario, sleep, waitFor } from './harness.js';

interface KvJson { Key: string; Session?: string; LockIndex: number; ModifyIndex: number; Value: string | null }

/** Creates a session through agent `via`, retrying while the leader has not yet written the node's serfHealth check. */
async function createSession(c: TestCluster, via: string, body: Record<string, unknown> = {}): Promise<string> {
  return waitFor(`a session on ${via}`, async () => {
    const r = await http('PUT', `${c.node(via).url}/v1/session/create`, JSON.stringify(body));
    if (r.status === 200) return (JSON.parse(r.body) as { ID: string }).ID;
    if (/Missing check|critical|Missing node/.test(r.body)) return undefined;
    throw new Error(`session create on ${via}: ${r.status} ${r.body}`);
  }, 20_000, 100);
}

async function sessionExists(c: TestCluster, via: string, id: string): Promise<boolean> {
  const r = await http('GET', `${c.node(via).url}/v1/session/info/${id}`);
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as unknown[]).length > 0;
}

async function entry(c: TestCluster, via: string, key: string): Promise<KvJson | undefined> {
  const r = await http('GET', `${c.node(via).url}/v1/kv/${key}`);
  if (r.status === 404) return undefined;
  return (JSON.parse(r.body) as KvJson[])[0];
}

async function acquire(c: TestCluster, via: string, key: string, session: string, value = via): Promise<boolean> {
  const r = await http('PUT', `${c.node(via).url}/v1/kv/${key}?acquire=${session}`, value);
  assert.equal(r.status, 200, r.body);
  return r.body === 'true';
}

describe('sessions and locks on real agents', { timeout: 180_000 }, () => {
  const c = new TestCluster();
  const step = scenario(c);

  step('form a cluster of 3 servers and 2 clients', async () => {
    await formCluster(c, ['s1', 's2', 's3'], ['c1', 'c2']);
  });

  step('the consul npm client: session create, lock acquire/release, info, renew, a transaction', async () => {
    await createSession(c, 'c1'); // wait until c1's node is healthy in the catalog
    const consul = new Consul({ host: '127.0.0.1', port: c.node('c1').httpPort });
    const { ID: id } = await consul.session.create({ name: 'npm-client', ttl: '15s', lockdelay: '1s' });
    assert.equal(await consul.kv.set({ key: 'npm/lock', value: 'held', acquire: id }), true);
    const got = await consul.kv.get('npm/lock') as unknown as KvJson;
    assert.equal(got.Session, id);
    assert.equal(got.LockIndex, 1);
    const info = await consul.session.info(id);
    assert.equal(info.TTL, '15s');
    assert.equal(info.LockDelay, 1e9);
    const renewed = await consul.session.renew(id);
    assert.equal(renewed[0]!.ID, id);
    // The client sends the operations as given, in Consul's body shape.
    const operations = [
      { KV: { Verb: 'set', Key: 'npm/a', Value: Buffer.from('1').toString('base64') } },
      { KV: { Verb: 'check-session', Key: 'npm/lock', Session: id } },
      { KV: { Verb: 'get', Key: 'npm/a' } },
    ];
    const txn = await consul.transaction.create(operations as never) as unknown as { Results: Array<{ KV: KvJson }> };
    assert.equal(txn.Results.length, 3);
    assert.equal(Buffer.from(txn.Results[2]!.KV.Value!, 'base64').toString(), '1');
    assert.equal(await consul.kv.set({ key: 'npm/lock', value: 'free', release: id }), true);
    assert.equal(((await consul.kv.get('npm/lock')) as unknown as KvJson).Session, undefined);
    await consul.session.destroy(id); // the client answers nothing for destroy
    assert.deepEqual((await consul.session.list()).filter((s) => s.ID === id), []);
  });

  step('a failing TTL check associated with a session invalidates it and releases its lock', async () => {
    const s2 = c.node('s2').url;
    let r = await http('PUT', `${s2}/v1/agent/check/register`, JSON.stringify({ ID: 'lease', Name: 'lease', TTL: '60s' }));
    assert.equal(r.status, 200, r.body);
    r = await http('PUT', `${s2}/v1/agent/check/pass/lease`);
    assert.equal(r.status, 200, r.body);
    const id = await createSession(c, 's2', { NodeChecks: ['serfHealth', 'lease'], LockDelay: '0s' });
    assert.equal(await acquire(c, 's2', 'check/lock', id), true);
    r = await http('PUT', `${s2}/v1/agent/check/fail/lease`);
    assert.equal(r.status, 200, r.body);
    await waitFor('the session to be invalidated by its critical check', async () => (await sessionExists(c, 's1', id) ? undefined : true));
    assert.equal((await entry(c, 's1', 'check/lock'))!.Session, undefined, 'the lock was released');
  });

  step('killing an agent turns its node critical: its session ends and its lock is free after the lock-delay', async () => {
    const LOCK_DELAY_MS = 1000;
    const id = await createSession(c, 'c1', { LockDelay: `${LOCK_DELAY_MS}ms` });
    assert.equal(await acquire(c, 'c1', 'crash/lock', id), true);
    const other = await createSession(c, 's3');
    assert.equal(await acquire(c, 's3', 'crash/lock', other), false, 'held by c1');
    const killedAt = Date.now();
    await c.kill('c1');
    const invalidatedAt = await waitFor('c1\'s session to end', async () => (await sessionExists(c, 's3', id) ? undefined : Date.now()), 30_000);
    const freeAt = await waitFor('the lock to be acquired by another session', async () => (await acquire(c, 's3', 'crash/lock', other) ? Date.now() : undefined), 30_000, 50);
    assert.ok(freeAt - invalidatedAt >= LOCK_DELAY_MS * 0.8, `the lock-delay held the key (free ${freeAt - invalidatedAt}ms after invalidation)`);
    process.stdout.write(`# crashed agent's lock: session invalidated ${invalidatedAt - killedAt}ms after kill -9, lock free ${freeAt - killedAt}ms after (node health timeout + lock-delay ${LOCK_DELAY_MS}ms)\n`);
  });

  step('an agent that leaves takes its sessions with it', async () => {
    const id = await createSession(c, 'c2', { LockDelay: '0s', Behavior: 'delete' });
    assert.equal(await acquire(c, 'c2', 'leave/lock', id), true);
    // `konsul cluster leave` on c2: it deregisters itself from the catalog, leaves and stops.
    const r = await http('DELETE', `${c.node('c2').url}/cluster/leave/c2`);
    assert.equal(r.status, 200, r.body);
    await waitFor('c2\'s session to end', async () => (await sessionExists(c, 's1', id) ? undefined : true), 20_000);
    assert.equal(await entry(c, 's1', 'leave/lock'), undefined, 'behavior delete removed the key');
    await c.node('c2').exited;
  });

  step('TTL: timed by the leader only, restarted on a new leader (never early); renewed sessions live on', async () => {
    const leader = await c.leader(['s1', 's2', 's3']);
    const via = ['s1', 's2', 's3'].find((id) => id !== leader)!;
    const body = { TTL: '10s', NodeChecks: [], LockDelay: '0s' };
    const renewed = await createSession(c, via, body);
    const lapsing = await createSession(c, via, body);
    const createdAt = Date.now();
    let renewing = true;
    const renewer = (async () => {
      // Renewals from a follower reach the leader (whichever it is) and reset its timer.
      for (let i = 0; i < 30 && renewing; i++) {
        await http('PUT', `${c.node(via).url}/v1/session/renew/${renewed}`).catch(() => undefined);
        await sleep(3000);
      }
    })();
    await sleep(8000);
    await c.kill(leader);
    const rest = ['s1', 's2', 's3'].filter((id) => id !== leader);
    await c.leader(rest, 20_000, leader);
    // The old leader would have invalidated the unrenewed session 2 x TTL after its creation (20s).
    await sleep(Math.max(0, createdAt + 22_000 - Date.now()));
    assert.equal(await sessionExists(c, via, lapsing), true, 'not expired early by the failover');
    const goneAt = await waitFor('the unrenewed session to expire on the new leader', async () => (await sessionExists(c, via, lapsing) ? undefined : Date.now()), 30_000, 200);
    assert.ok(goneAt - createdAt >= 20_000, 'never before 2 x TTL');
    assert.equal(await sessionExists(c, via, renewed), true, 'the renewed session lives on');
    renewing = false;
    await renewer;
    process.stdout.write(`# TTL 10s across a failover at 8s: unrenewed session invalidated ${goneAt - createdAt}ms after creation\n`);
  });
});
