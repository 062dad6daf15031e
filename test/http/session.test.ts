// /v1/session, KV locks (?acquire, ?release, fencing) and /v1/txn over a real
// state machine: Consul's request and response shapes, defaults, limits and
// the 400/404/409/413 answers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeValue, startServer, type KvJson, type TestServer } from './helpers.js';

async function withNodeHealth(t: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(t);
  // The fake agent's node syncs itself; the leader's serfHealth check is what a default session watches.
  for (let i = 0; i < 200 && !s.agent.state.catalog.node('n1'); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(s.agent.state.catalog.node('n1'), 'the fake agent registered its node');
  s.agent.apply({ type: 'catalog', op: { op: 'node-health', node: 'n1', status: 'passing', output: 'alive' } });
  return s;
}

async function create(s: TestServer, body: unknown = {}): Promise<string> {
  const r = await s.call('PUT', '/v1/session/create', { body: JSON.stringify(body) });
  assert.equal(r.status, 200, r.text);
  return r.json<{ ID: string }>().ID;
}

interface SessionJson {
  ID: string; Name: string; Node: string; LockDelay: number; Behavior: string; TTL: string;
  NodeChecks: string[]; Checks: string[]; ServiceChecks: unknown; CreateIndex: number; ModifyIndex: number;
}

const b64 = (v: string): string => Buffer.from(v).toString('base64');

describe('sessions over HTTP', () => {
  test('create with defaults: this node, serfHealth, 15s lock-delay, release, no TTL; info, list and node agree', async (t) => {
    const s = await withNodeHealth(t);
    const id = await create(s);
    const info = await s.call('GET', `/v1/session/info/${id}`);
    assert.equal(info.status, 200);
    assert.ok(Number(info.header('x-consul-index')) > 0);
    assert.equal(info.header('x-consul-knownleader'), 'true');
    const [one] = info.json<SessionJson[]>();
    assert.deepEqual(
      { Node: one.Node, LockDelay: one.LockDelay, Behavior: one.Behavior, TTL: one.TTL, NodeChecks: one.NodeChecks, Checks: one.Checks },
      { Node: 'n1', LockDelay: 15e9, Behavior: 'release', TTL: '', NodeChecks: ['serfHealth'], Checks: ['serfHealth'] },
    );
    assert.deepEqual((await s.call('GET', '/v1/session/list')).json<SessionJson[]>().map((x) => x.ID), [id]);
    assert.deepEqual((await s.call('GET', '/v1/session/node/n1')).json<SessionJson[]>().map((x) => x.ID), [id]);
    assert.deepEqual((await s.call('GET', '/v1/session/node/other')).json(), []);
    assert.deepEqual((await s.call('GET', `/v1/session/info/${id.replace(/.$/, id.endsWith('0') ? '1' : '0')}`)).json(), []);
  });

  test('LockDelay forms: "2s", 5 (seconds below 1000), 3e9 (nanoseconds); TTL and Behavior as given', async (t) => {
    const s = await withNodeHealth(t);
    const cases: Array<[unknown, number]> = [['2s', 2e9], [5, 5e9], [3e9, 3e9], ['0s', 0]];
    for (const [given, ns] of cases) {
      const id = await create(s, { LockDelay: given, TTL: '30s', Behavior: 'delete', Name: 'x' });
      const [one] = (await s.call('GET', `/v1/session/info/${id}`)).json<SessionJson[]>();
      assert.equal(one.LockDelay, ns, `LockDelay ${JSON.stringify(given)}`);
      assert.equal(one.TTL, '30s');
      assert.equal(one.Behavior, 'delete');
    }
  });

  test('bad bodies are 400s naming the field; a missing node or check is refused', async (t) => {
    const s = await withNodeHealth(t);
    const bad: Array<[unknown, RegExp]> = [
      [{ TTL: '5s' }, /Invalid Session TTL '5s'/],
      [{ TTL: '25h' }, /Invalid Session TTL/],
      [{ TTL: 'soon' }, /TTL/],
      [{ LockDelay: '2m' }, /LockDelay/],
      [{ LockDelay: 'x' }, /LockDelay/],
      [{ Behavior: 'explode' }, /Behavior/],
      [{ NodeChecks: 'serfHealth' }, /NodeChecks/],
      [{ Node: 'ghost' }, /Missing node registration/],
      [{ Checks: ['nope'] }, /Missing check 'nope'/],
      [[1, 2], /JSON object/],
    ];
    for (const [body, message] of bad) {
      const r = await s.call('PUT', '/v1/session/create', { body: JSON.stringify(body) });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.text, message);
    }
    assert.equal((await s.call('PUT', '/v1/session/create', { body: '{' })).status, 400);
    assert.deepEqual((await s.call('GET', '/v1/session/list')).json(), [], 'nothing was created');
  });

  test('renew answers the session, 404 when gone; destroy answers true and is idempotent', async (t) => {
    const s = await withNodeHealth(t);
    const id = await create(s, { TTL: '10s' });
    const renew = await s.call('PUT', `/v1/session/renew/${id}`);
    assert.equal(renew.status, 200);
    assert.equal(renew.json<SessionJson[]>()[0]!.ID, id);
    assert.equal(s.agent.coord.timerCount, 1, 'the leader holds one TTL timer');
    assert.equal((await s.call('PUT', `/v1/session/destroy/${id}`)).text, 'true');
    assert.equal(s.agent.coord.timerCount, 0);
    assert.equal((await s.call('PUT', `/v1/session/destroy/${id}`)).text, 'true');
    const gone = await s.call('PUT', `/v1/session/renew/${id}`);
    assert.equal(gone.status, 404);
    assert.match(gone.text, /not found/);
    assert.equal((await s.call('PUT', '/v1/session/destroy/nope')).status, 400);
  });

  test('a blocking list wakes when a session is created', async (t) => {
    const s = await withNodeHealth(t);
    const first = await s.call('GET', '/v1/session/list');
    const index = first.header('x-consul-index');
    const waiting = s.call('GET', `/v1/session/list?index=${index}&wait=5s`);
    await new Promise((r) => setTimeout(r, 50));
    const id = await create(s);
    const woke = await waiting;
    assert.ok(Number(woke.header('x-consul-index')) > Number(index));
    assert.deepEqual(woke.json<SessionJson[]>().map((x) => x.ID), [id]);
  });
});

describe('KV locks over HTTP', () => {
  test('acquire answers true with a fencing token, shows Session and LockIndex; another session gets false; release frees', async (t) => {
    const s = await withNodeHealth(t);
    const a = await create(s);
    const b = await create(s);
    const got = await s.call('PUT', `/v1/kv/svc/leader?acquire=${a}`, { body: 'node-a' });
    assert.equal(got.text, 'true');
    const token = Number(got.header('x-konsul-fencing-token'));
    assert.ok(token > 0);
    const read = await s.call('GET', '/v1/kv/svc/leader');
    const [entry] = read.json<Array<KvJson & { Session?: string }>>();
    assert.equal(entry.Session, a);
    assert.equal(entry.LockIndex, 1);
    assert.equal(entry.ModifyIndex, token, 'the token is the acquiring write\'s ModifyIndex');
    assert.equal(read.header('x-konsul-fencing-token'), String(token));
    assert.equal((await s.call('PUT', `/v1/kv/svc/leader?acquire=${b}`, { body: 'node-b' })).text, 'false');
    assert.equal((await s.call('PUT', `/v1/kv/svc/leader?release=${b}`)).text, 'false');
    assert.equal((await s.call('PUT', `/v1/kv/svc/leader?release=${a}`, { body: 'bye' })).text, 'true');
    const [after] = (await s.call('GET', '/v1/kv/svc/leader')).json<Array<KvJson & { Session?: string }>>();
    assert.equal(after.Session, undefined);
    assert.equal(decodeValue(after), 'bye');
    assert.equal((await s.call('PUT', `/v1/kv/svc/leader?acquire=${b}`)).text, 'true');
    assert.equal((await s.call('PUT', '/v1/kv/k?acquire=not-a-session')).status, 400);
    assert.equal((await s.call('PUT', `/v1/kv/k?acquire=${a}&release=${a}`)).status, 400);
    const unknown = await s.call('PUT', '/v1/kv/k?acquire=00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /invalid session/);
  });

  test('after the holder\'s session is destroyed the key is in its lock-delay: acquire answers false until it ends', async (t) => {
    const s = await withNodeHealth(t);
    const a = await create(s, { LockDelay: '300ms' });
    const b = await create(s);
    await s.call('PUT', `/v1/kv/l?acquire=${a}`);
    await s.call('PUT', `/v1/session/destroy/${a}`);
    assert.equal((await s.call('PUT', `/v1/kv/l?acquire=${b}`)).text, 'false', 'inside the lock-delay');
    const txn = await s.call('PUT', '/v1/txn', { body: JSON.stringify([{ KV: { Verb: 'lock', Key: 'l', Session: b } }]) });
    assert.equal(txn.status, 409);
    assert.match(txn.text, /lock delay/);
    await new Promise((r) => setTimeout(r, 350));
    assert.equal((await s.call('PUT', `/v1/kv/l?acquire=${b}`)).text, 'true', 'after it');
  });

  test('?fence: a write (or delete) applies only while the lock is held under that token', async (t) => {
    const s = await withNodeHealth(t);
    const a = await create(s, { LockDelay: 0 });
    const b = await create(s);
    const token = (await s.call('PUT', `/v1/kv/locks/db?acquire=${a}`)).header('x-konsul-fencing-token');
    assert.equal((await s.call('PUT', `/v1/kv/db/row?fence=${token}&fence-key=locks/db`, { body: 'by-a' })).text, 'true');
    await s.call('PUT', `/v1/session/destroy/${a}`);
    const newToken = (await s.call('PUT', `/v1/kv/locks/db?acquire=${b}`)).header('x-konsul-fencing-token');
    assert.ok(Number(newToken) > Number(token));
    assert.equal((await s.call('PUT', `/v1/kv/db/row?fence=${token}&fence-key=locks/db`, { body: 'stale' })).text, 'false');
    assert.equal((await s.call('DELETE', `/v1/kv/db/row?fence=${token}&fence-key=locks/db`)).text, 'false');
    const [row] = (await s.call('GET', '/v1/kv/db/row')).json<KvJson[]>();
    assert.equal(decodeValue(row), 'by-a', 'the stale holder changed nothing');
    assert.equal((await s.call('PUT', `/v1/kv/db/row?fence=${newToken}&fence-key=locks/db`, { body: 'by-b' })).text, 'true');
    assert.equal((await s.call('PUT', '/v1/kv/x?fence-key=locks/db')).status, 400, '?fence-key alone');
    assert.equal((await s.call('PUT', '/v1/kv/x?fence=abc')).status, 400);
  });
});

describe('/v1/txn', () => {
  test('200 with Results (values only for get), 409 with Errors and nothing applied', async (t) => {
    const s = await startServer(t);
    const ok = await s.call('PUT', '/v1/txn', {
      body: JSON.stringify([
        { KV: { Verb: 'set', Key: 'a', Value: b64('1'), Flags: 2 } },
        { KV: { Verb: 'get', Key: 'a' } },
      ]),
    });
    assert.equal(ok.status, 200);
    const body = ok.json<{ Results: Array<{ KV: KvJson }>; Errors: null }>();
    assert.equal(body.Errors, null);
    assert.equal(body.Results[0]!.KV.Value, null);
    assert.equal(decodeValue(body.Results[1]!.KV), '1');
    assert.equal(body.Results[1]!.KV.Flags, 2);
    assert.ok(Number(ok.header('x-consul-index')) > 0);

    const failed = await s.call('PUT', '/v1/txn', {
      body: JSON.stringify([
        { KV: { Verb: 'set', Key: 'b', Value: b64('2') } },
        { KV: { Verb: 'cas', Key: 'a', Value: b64('x'), Index: 1 } },
      ]),
    });
    assert.equal(failed.status, 409);
    assert.deepEqual(failed.json(), { Results: null, Errors: [{ OpIndex: 1, What: 'failed to set key "a", index is stale' }] });
    assert.equal((await s.call('GET', '/v1/kv/b')).status, 404, 'the set before the failed cas was not applied');
  });

  test('read-only transactions take ?stale and answer with the read headers', async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/kv/r', { body: 'x' });
    const r = await s.call('PUT', '/v1/txn?stale', { body: JSON.stringify([{ KV: { Verb: 'get', Key: 'r' } }]) });
    assert.equal(r.status, 200);
    assert.equal(r.header('x-consul-effective-consistency'), 'stale');
    assert.equal(r.header('x-consul-knownleader'), 'true');
    assert.ok(s.agent.barrierCalls.includes('stale'));
  });

  test('limits and bad input: 413 past 64 operations or the value size, 400 for bad operations', async (t) => {
    const s = await startServer(t, { maxValueBytes: 1024 });
    const many = Array.from({ length: 65 }, (_, i) => ({ KV: { Verb: 'set', Key: `k${i}`, Value: '' } }));
    const tooMany = await s.call('PUT', '/v1/txn', { body: JSON.stringify(many) });
    assert.equal(tooMany.status, 413);
    assert.equal(tooMany.text, 'Transaction contains too many operations (65 > 64)');
    const big = await s.call('PUT', '/v1/txn', { body: JSON.stringify([{ KV: { Verb: 'set', Key: 'k', Value: b64('x'.repeat(1025)) } }]) });
    assert.equal(big.status, 413);
    assert.match(big.text, /too large/);
    const bad: unknown[] = [
      {}, [{ KV: { Verb: 'frobnicate', Key: 'k' } }], [{ KV: { Verb: 'set', Key: '' } }], [{ KV: { Verb: 'set', Key: 'k', Value: '%%%' } }],
      [{ KV: { Verb: 'lock', Key: 'k' } }], [{ Node: { Verb: 'set' } }], [{ KV: { Verb: 'set', Key: 'k', Flags: -1 } }],
    ];
    for (const body of bad) assert.equal((await s.call('PUT', '/v1/txn', { body: JSON.stringify(body) })).status, 400, JSON.stringify(body));
    assert.equal((await s.call('GET', '/v1/kv/?recurse')).status, 404, 'nothing was written');
  });
});
