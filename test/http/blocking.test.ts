// Blocking queries on /v1/kv: a waiting GET wakes on a write to its key (or
// under its prefix), not on other keys; it answers the same index at timeout;
// and the wait is dropped when the client disconnects.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { WaitCall } from './fake-agent.js';
import { decodeValue, startServer, type KvJson } from './helpers.js';

// The timeout only turns a missed wake-up or abort into a failure instead of a hang.
const guard = { timeout: 15_000 };

describe('blocking queries', () => {
  test('a blocking GET ignores a write to another key and answers the write to its own key', guard, async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/kv/watched', { body: 'before' });
    await s.call('PUT', '/v1/kv/watched-not', { body: 'x' });
    const index = Number((await s.call('GET', '/v1/kv/watched')).header('x-consul-index'));

    const waiting = once(s.agent, 'wait') as Promise<[WaitCall]>;
    const blocked = s.call('GET', `/v1/kv/watched?index=${index}&wait=30s`);
    const [call] = await waiting;
    assert.equal(call.prefix, 'watched');
    assert.equal(call.afterIndex, index);
    assert.ok(call.timeoutMs >= 30_000 && call.timeoutMs <= 30_000 + 30_000 / 16, `timeout ${call.timeoutMs}`);

    // Both writes go through HTTP, so a waiter wrongly woken by the first has answered before the second lands.
    await s.call('PUT', '/v1/kv/other', { body: 'unrelated' });
    await s.call('PUT', '/v1/kv/watched', { body: 'after' });

    const r = await blocked;
    assert.equal(r.status, 200);
    const [entry] = r.json<KvJson[]>();
    assert.equal(decodeValue(entry), 'after');
    assert.equal(Number(r.header('x-consul-index')), entry.ModifyIndex);
    assert.ok(entry.ModifyIndex > index);
  });

  test('a blocking ?recurse wakes on a write anywhere under its prefix', guard, async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/kv/svc/a', { body: '1' });
    const index = Number((await s.call('GET', '/v1/kv/svc/?recurse')).header('x-consul-index'));
    const waiting = once(s.agent, 'wait');
    const blocked = s.call('GET', `/v1/kv/svc/?recurse&index=${index}&wait=30s`);
    await waiting;
    await s.call('PUT', '/v1/kv/elsewhere', { body: 'x' });
    await s.call('PUT', '/v1/kv/svc/b', { body: '2' });
    const r = await blocked;
    assert.deepEqual(r.json<KvJson[]>().map((e) => e.Key), ['svc/a', 'svc/b']);
    assert.ok(Number(r.header('x-consul-index')) > index);
  });

  test('a blocking GET whose wait ends without a change answers with the same index', guard, async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/kv/quiet', { body: 'same' });
    const index = Number((await s.call('GET', '/v1/kv/quiet')).header('x-consul-index'));
    const r = await s.call('GET', `/v1/kv/quiet?index=${index}&wait=200ms`);
    assert.equal(r.status, 200);
    assert.equal(Number(r.header('x-consul-index')), index);
    assert.equal(decodeValue(r.json<KvJson[]>()[0]), 'same');
    assert.equal(s.agent.waits.length, 1);
    assert.ok(s.agent.waits[0].timeoutMs >= 200 && s.agent.waits[0].timeoutMs <= 200 + 200 / 16);
  });

  test('a blocking GET on a missing key answers 404 once the wait ends', guard, async (t) => {
    const s = await startServer(t);
    const r = await s.call('GET', '/v1/kv/absent?index=1&wait=50ms');
    assert.equal(r.status, 404);
    assert.ok(Number(r.header('x-consul-index')) >= 1);
  });

  test('wait is capped at maxWaitMs and defaults to defaultWaitMs', guard, async (t) => {
    const s = await startServer(t, { defaultWaitMs: 1000, maxWaitMs: 2000 });
    await s.call('PUT', '/v1/kv/seed', { body: '0' });
    const index = Number((await s.call('GET', '/v1/kv/?keys')).header('x-consul-index'));
    const first = once(s.agent, 'wait');
    const capped = s.call('GET', `/v1/kv/cap?index=${index}&wait=1h`);
    await first;
    const second = once(s.agent, 'wait');
    const defaulted = s.call('GET', `/v1/kv/def?index=${index}`);
    await second;
    await s.call('PUT', '/v1/kv/cap', { body: '1' });
    await s.call('PUT', '/v1/kv/def', { body: '1' });
    assert.equal((await capped).status, 200);
    assert.equal((await defaulted).status, 200);
    const [cap, def] = s.agent.waits;
    assert.ok(cap.timeoutMs >= 2000 && cap.timeoutMs <= 2000 + 125, `capped ${cap.timeoutMs}`);
    assert.ok(def.timeoutMs >= 1000 && def.timeoutMs <= 1000 + 62, `default ${def.timeoutMs}`);
  });

  test('the wait is aborted when the client disconnects', guard, async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/kv/gone', { body: 'x' });
    const index = Number((await s.call('GET', '/v1/kv/gone')).header('x-consul-index'));
    const client = new AbortController();
    const waiting = once(s.agent, 'wait') as Promise<[WaitCall]>;
    const blocked = s.call('GET', `/v1/kv/gone?index=${index}&wait=5m`, { signal: client.signal });
    const [call] = await waiting;
    assert.ok(call.signal, 'the wait got a signal');
    assert.equal(call.signal.aborted, false);
    const aborted = once(call.signal, 'abort');
    client.abort();
    await assert.rejects(blocked);
    await aborted;
    assert.equal(call.signal.aborted, true);
    // The server is still fine.
    assert.equal((await s.call('GET', '/v1/kv/gone?raw')).text, 'x');
  });

  test('?index=0 does not block', guard, async (t) => {
    const s = await startServer(t);
    const r = await s.call('GET', '/v1/kv/nothing?index=0&wait=10m');
    assert.equal(r.status, 404);
    assert.equal(s.agent.waits.length, 0);
  });
});
