// /v1/kv over a real state machine: put/get/raw/keys/recurse/delete, cas and
// flags, 404s, size limits and the 400s for bad input.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { decodeValue, startServer, type KvJson } from './helpers.js';

describe('KV reads and writes', () => {
  test('a put value reads back as JSON with base64 value, flags and indexes, and raw as bytes', async (t) => {
    const s = await startServer(t);
    const put = await s.call('PUT', '/v1/kv/app/config?flags=42', { body: 'hello' });
    assert.equal(put.status, 200);
    assert.equal(put.text, 'true');

    const got = await s.call('GET', '/v1/kv/app/config');
    assert.equal(got.status, 200);
    assert.match(got.header('content-type') ?? '', /application\/json/);
    const [entry] = got.json<KvJson[]>();
    assert.equal(entry.Key, 'app/config');
    assert.equal(decodeValue(entry), 'hello');
    assert.equal(entry.Flags, 42);
    assert.equal(entry.LockIndex, 0);
    assert.ok(entry.CreateIndex > 0);
    assert.equal(entry.ModifyIndex, entry.CreateIndex);

    const raw = await s.call('GET', '/v1/kv/app/config?raw');
    assert.equal(raw.status, 200);
    assert.equal(raw.header('content-type'), 'application/octet-stream');
    assert.equal(raw.text, 'hello');
  });

  test('binary values survive the round trip and an empty value reads as null', async (t) => {
    const s = await startServer(t);
    const bytes = Buffer.from([0, 255, 1, 254, 10, 13]);
    await s.call('PUT', '/v1/kv/bin', { body: bytes });
    assert.deepEqual((await s.call('GET', '/v1/kv/bin?raw')).body, bytes);
    await s.call('PUT', '/v1/kv/empty', { body: '' });
    const [entry] = (await s.call('GET', '/v1/kv/empty')).json<KvJson[]>();
    assert.equal(entry.Value, null);
  });

  test('an update keeps CreateIndex and moves ModifyIndex', async (t) => {
    const s = await startServer(t);
    await s.call('PUT', '/v1/kv/k', { body: 'v1' });
    await s.call('PUT', '/v1/kv/k', { body: 'v2' });
    const [entry] = (await s.call('GET', '/v1/kv/k')).json<KvJson[]>();
    assert.equal(decodeValue(entry), 'v2');
    assert.ok(entry.ModifyIndex > entry.CreateIndex);
  });

  test('missing keys are 404 with an empty body, for a key, ?raw, ?recurse and ?keys', async (t) => {
    const s = await startServer(t);
    for (const path of ['/v1/kv/nope', '/v1/kv/nope?raw', '/v1/kv/nope/?recurse', '/v1/kv/nope?keys']) {
      const r = await s.call('GET', path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.length, 0, path);
      assert.ok(Number(r.header('x-consul-index')) >= 1, path);
    }
    // The root of an empty store lists no keys rather than 404, as Consul does.
    const root = await s.call('GET', '/v1/kv/?keys');
    assert.equal(root.status, 200);
    assert.deepEqual(root.json(), []);
  });

  test('?keys lists keys under a prefix, rolled up at the separator', async (t) => {
    const s = await startServer(t);
    for (const key of ['web/a', 'web/b/1', 'web/b/2', 'web/c', 'db/x']) await s.call('PUT', `/v1/kv/${key}`, { body: key });
    assert.deepEqual((await s.call('GET', '/v1/kv/web/?keys')).json(), ['web/a', 'web/b/1', 'web/b/2', 'web/c']);
    assert.deepEqual((await s.call('GET', '/v1/kv/web/?keys&separator=/')).json(), ['web/a', 'web/b/', 'web/c']);
    assert.deepEqual((await s.call('GET', '/v1/kv/?keys&separator=/')).json(), ['db/', 'web/']);
  });

  test('?recurse returns every entry under the prefix in key order', async (t) => {
    const s = await startServer(t);
    for (const key of ['svc/b', 'svc/a', 'svc/a/deep', 'other']) await s.call('PUT', `/v1/kv/${key}`, { body: `value of ${key}` });
    const r = await s.call('GET', '/v1/kv/svc/?recurse');
    assert.equal(r.status, 200);
    const entries = r.json<KvJson[]>();
    assert.deepEqual(entries.map((e) => e.Key), ['svc/a', 'svc/a/deep', 'svc/b']);
    assert.deepEqual(entries.map(decodeValue), ['value of svc/a', 'value of svc/a/deep', 'value of svc/b']);
  });

  test('DELETE removes one key, or a whole prefix with ?recurse', async (t) => {
    const s = await startServer(t);
    for (const key of ['t/1', 't/2', 't/3/x', 'u']) await s.call('PUT', `/v1/kv/${key}`, { body: 'x' });
    const one = await s.call('DELETE', '/v1/kv/t/1');
    assert.equal(one.status, 200);
    assert.equal(one.text, 'true');
    assert.equal((await s.call('GET', '/v1/kv/t/1')).status, 404);
    assert.equal((await s.call('GET', '/v1/kv/t/2')).status, 200);

    assert.equal((await s.call('DELETE', '/v1/kv/t/?recurse')).text, 'true');
    assert.equal((await s.call('GET', '/v1/kv/t/?recurse')).status, 404);
    assert.equal((await s.call('GET', '/v1/kv/u')).status, 200);
    assert.deepEqual(s.agent.deleteCalls.at(-1), { key: 't/', options: { recurse: true, cas: undefined } });
  });

  test('check-and-set: cas=0 only creates, cas=N only replaces ModifyIndex N', async (t) => {
    const s = await startServer(t);
    assert.equal((await s.call('PUT', '/v1/kv/lock?cas=0', { body: 'first' })).text, 'true');
    assert.equal((await s.call('PUT', '/v1/kv/lock?cas=0', { body: 'second' })).text, 'false');
    const [entry] = (await s.call('GET', '/v1/kv/lock')).json<KvJson[]>();
    assert.equal(decodeValue(entry), 'first');

    assert.equal((await s.call('PUT', `/v1/kv/lock?cas=${entry.ModifyIndex + 100}`, { body: 'stale' })).text, 'false');
    assert.equal((await s.call('PUT', `/v1/kv/lock?cas=${entry.ModifyIndex}`, { body: 'third' })).text, 'true');
    const [after] = (await s.call('GET', '/v1/kv/lock')).json<KvJson[]>();
    assert.equal(decodeValue(after), 'third');

    assert.equal((await s.call('DELETE', `/v1/kv/lock?cas=${entry.ModifyIndex}`)).text, 'false');
    assert.equal((await s.call('GET', '/v1/kv/lock')).status, 200);
    assert.equal((await s.call('DELETE', `/v1/kv/lock?cas=${after.ModifyIndex}`)).text, 'true');
    assert.equal((await s.call('GET', '/v1/kv/lock')).status, 404);
  });

  test('keys are percent-decoded and may hold any UTF-8', async (t) => {
    const s = await startServer(t);
    await s.call('PUT', `/v1/kv/${encodeURIComponent('dir/naïve key?#')}`, { body: 'ok' });
    const [entry] = (await s.call('GET', '/v1/kv/dir/?recurse')).json<KvJson[]>();
    assert.equal(entry.Key, 'dir/naïve key?#');
  });
});

describe('KV headers', () => {
  test('X-Consul-Index is never 0 and grows with each write; KnownLeader and LastContact are set', async (t) => {
    const s = await startServer(t);
    const first = await s.call('GET', '/v1/kv/?recurse');
    const i0 = Number(first.header('x-consul-index'));
    assert.ok(i0 >= 1, `index ${i0}`);
    assert.equal(first.header('x-consul-knownleader'), 'true');
    assert.equal(first.header('x-consul-lastcontact'), '0');

    await s.call('PUT', '/v1/kv/a', { body: '1' });
    const i1 = Number((await s.call('GET', '/v1/kv/a')).header('x-consul-index'));
    await s.call('PUT', '/v1/kv/a', { body: '2' });
    const i2 = Number((await s.call('GET', '/v1/kv/a')).header('x-consul-index'));
    assert.ok(i1 >= i0 && i2 > i1, `${i0} <= ${i1} < ${i2}`);
    const [entry] = (await s.call('GET', '/v1/kv/a')).json<KvJson[]>();
    assert.equal(i2, entry.ModifyIndex);
  });

  test('each consistency mode reaches the agent\'s barrier', async (t) => {
    const s = await startServer(t);
    await s.call('GET', '/v1/kv/x');
    await s.call('GET', '/v1/kv/x?stale');
    await s.call('GET', '/v1/kv/x?consistent');
    assert.deepEqual(s.agent.barrierCalls, ['default', 'stale', 'consistent']);
  });

  test('a barrier that finds no leader answers 503 with its message', async (t) => {
    const s = await startServer(t);
    const { NotLeaderError } = await import('../../src/raft/index.js');
    s.agent.barrierError = new NotLeaderError('');
    const r = await s.call('GET', '/v1/kv/x');
    assert.equal(r.status, 503);
    assert.equal(r.text, 'no known leader');
    assert.match(r.header('content-type') ?? '', /text\/plain/);
  });
});

describe('KV flags: Consul\'s uint64', () => {
  test('the full range round-trips digit for digit (JSON numbers, no lossy double), in lists, txn reads and restarts of the value', async (t) => {
    const s = await startServer(t);
    const flagsIn = (text: string): string[] => [...text.matchAll(/"Flags":(\d+)/g)].map((m) => m[1]!);
    for (const flags of ['4294967295', '4294967296', '9007199254740993', '18446744073709551615']) {
      assert.equal((await s.call('PUT', `/v1/kv/f/${flags}?flags=${flags}`, { body: 'v' })).text, 'true');
      assert.deepEqual(flagsIn((await s.call('GET', `/v1/kv/f/${flags}`)).text), [flags]);
    }
    const list = await s.call('GET', '/v1/kv/f/?recurse&pretty');
    assert.deepEqual(flagsIn(list.text.replace(/": /g, '":')), ['18446744073709551615', '4294967295', '4294967296', '9007199254740993']);
    const txn = await s.call('PUT', '/v1/txn', { body: JSON.stringify([{ KV: { Verb: 'get', Key: 'f/18446744073709551615' } }]) });
    assert.deepEqual(flagsIn(txn.text), ['18446744073709551615']);
    // Back to small flags, and a delete, leave no 64-bit flags behind.
    await s.call('PUT', '/v1/kv/f/18446744073709551615?flags=7', { body: 'v' });
    assert.deepEqual(flagsIn((await s.call('GET', '/v1/kv/f/18446744073709551615')).text), ['7']);
    // 4294967295 itself is what a record holds for "look beside it": a row left behind would show through.
    const exact = async (key: string): Promise<string[]> => {
      await s.call('PUT', `/v1/kv/${key}?flags=4294967295`, { body: 'v' });
      return flagsIn((await s.call('GET', `/v1/kv/${key}`)).text);
    };
    await s.call('DELETE', '/v1/kv/f/9007199254740993');
    assert.deepEqual(await exact('f/9007199254740993'), ['4294967295']);
    await s.call('DELETE', '/v1/kv/f/?recurse');
    assert.deepEqual(await exact('f/18446744073709551615'), ['4294967295']);
    await s.call('PUT', '/v1/kv/g?flags=4294967296', { body: 'v' });
    assert.deepEqual(await exact('g'), ['4294967295'], 'an overwrite with flags that fit drops the 64-bit row');
  });
});

describe('KV bad input', () => {
  test('bad numbers, conflicting modes, bad waits and missing keys are 400s naming the problem', async (t) => {
    const s = await startServer(t);
    const cases: Array<[string, string, RegExp]> = [
      ['PUT', '/v1/kv/k?cas=abc', /cas/],
      ['PUT', '/v1/kv/k?flags=-1', /flags/],
      ['PUT', '/v1/kv/k?flags=18446744073709551616', /invalid \?flags: "18446744073709551616" is not an integer from 0 to 18446744073709551615/],
      ['PUT', '/v1/kv/k?flags=99999999999999999999999', /flags/],
      ['PUT', '/v1/kv/k?flags=1.5', /flags/],
      ['PUT', '/v1/kv/k?flags=0x10', /flags/],
      ['PUT', '/v1/kv/k?flags=', /flags/],
      ['PUT', '/v1/kv/k?flags=%2B1', /flags/],
      ['PUT', '/v1/kv/k?flags=4294967296&acquire=4e0e2b1f-1a2b-4c3d-8e9f-001122334455', /32-bit flags/],
      ['DELETE', '/v1/kv/k?cas=1.5', /cas/],
      ['GET', '/v1/kv/k?stale&consistent', /stale.*consistent/],
      ['GET', '/v1/kv/k?index=1&wait=soon', /wait/],
      ['GET', '/v1/kv/k?index=1&wait=10', /wait/],
      ['GET', '/v1/kv/k?index=x', /index/],
      ['PUT', '/v1/kv/', /Missing key/],
      ['GET', '/v1/kv/', /Missing key/],
      ['DELETE', '/v1/kv/', /Missing key/],
      ['DELETE', '/v1/kv/k?recurse&cas=3', /recurse.*cas/],
      ['GET', `/v1/kv/${'k'.repeat(512)}`, /key too long/],
      ['PUT', `/v1/kv/${encodeURIComponent('é'.repeat(256))}`, /key too long/],
      ['GET', '/v1/kv/%E0%A4%A', /percent-encoding/],
    ];
    for (const [method, path, message] of cases) {
      const r = await s.call(method, path, method === 'PUT' ? { body: 'v' } : {});
      assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
      assert.match(r.text, message, `${method} ${path}`);
    }
    assert.equal(s.agent.putCalls.length, 0);
    assert.equal(s.agent.deleteCalls.length, 0);
    // A 511-byte key is fine.
    assert.equal((await s.call('PUT', `/v1/kv/${'k'.repeat(511)}`, { body: 'v' })).text, 'true');
  });

  test('a value over the limit is 413 without reaching the agent, and the server keeps serving', async (t) => {
    const s = await startServer(t, { maxValueBytes: 1024 });
    const exact = await s.call('PUT', '/v1/kv/fits', { body: Buffer.alloc(1024, 1) });
    assert.equal(exact.text, 'true');

    const big = await s.call('PUT', '/v1/kv/big', { body: Buffer.alloc(1025, 1) });
    assert.equal(big.status, 413);
    assert.match(big.text, /too large.*1024 bytes/);

    // A chunked body (no Content-Length) is cut off once it passes the limit.
    async function* chunks(): AsyncIterable<Buffer> {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(512, 2);
    }
    const chunked = await s.call('PUT', '/v1/kv/big', { body: Readable.from(chunks()) });
    assert.equal(chunked.status, 413);

    assert.equal(s.agent.putCalls.length, 1);
    assert.equal((await s.call('GET', '/v1/kv/big')).status, 404);
    assert.equal((await s.call('PUT', '/v1/kv/after', { body: 'small' })).text, 'true');
    assert.equal((await s.call('GET', '/v1/kv/after?raw')).text, 'small');
  });

  test('with Expect: 100-continue a too-large value is refused before the body is sent', async (t) => {
    const s = await startServer(t, { maxValueBytes: 1024 });
    const { status, sentBody } = await new Promise<{ status: number; sentBody: boolean }>((resolve, reject) => {
      let sentBody = false;
      const req = httpRequest(`${s.url}/v1/kv/big`, {
        method: 'PUT', headers: { Expect: '100-continue', 'Content-Length': String(1 << 20) },
      });
      req.on('continue', () => {
        sentBody = true;
        req.end(Buffer.alloc(1 << 20));
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, sentBody }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(status, 413);
    assert.equal(sentBody, false);
    assert.equal(s.agent.putCalls.length, 0);
  });
});
