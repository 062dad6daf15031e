// `konsul kv get|put|delete` against a stand-in agent: the requests they send
// (paths, Consul query parameters, bodies), what they print, and exit codes.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { FakeAgent, run } from './harness.js';

describe('konsul kv', () => {
  let agent: FakeAgent;
  const kv = (...args: string[]): string[] => ['kv', ...args, '--http-addr', agent.address];

  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    await agent.close();
  });
  beforeEach(() => {
    agent.kv.clear();
    agent.requests.length = 0;
  });

  it('put then get round-trips a value, printed byte for byte', async () => {
    const put = await run(kv('put', 'app/greeting', 'hello, wörld'));
    assert.equal(put.code, EXIT.ok, put.err);
    assert.equal(put.out, 'Success! Data written to: app/greeting\n');
    assert.equal(agent.lastRequest().method, 'PUT');
    assert.equal(agent.lastRequest().url, '/v1/kv/app/greeting');
    assert.equal(agent.lastRequest().body, 'hello, wörld');

    const get = await run(kv('get', 'app/greeting'));
    assert.equal(get.code, EXIT.ok, get.err);
    assert.equal(get.out, 'hello, wörld');
    assert.equal(get.err, '');
  });

  it('put reads stdin when the value is "-"; left out, the value is empty (as in Consul)', async () => {
    assert.equal((await run(kv('put', 'a', '-'), { stdin: 'line 1\nline 2\n' })).code, EXIT.ok);
    assert.equal(agent.kv.get('a')?.value.toString(), 'line 1\nline 2\n');
    assert.equal((await run(kv('put', 'b'), { stdin: 'not read' })).code, EXIT.ok);
    assert.equal(agent.kv.get('b')?.value.toString(), '');
  });

  it('key segments are percent-encoded, slashes kept', async () => {
    const key = 'dir one/a?b#c%d';
    assert.equal((await run(kv('put', key, 'v'))).code, EXIT.ok);
    assert.equal(agent.lastRequest().url, '/v1/kv/dir%20one/a%3Fb%23c%25d');
    assert.equal(agent.kv.get(key)?.value.toString(), 'v');
    assert.equal((await run(kv('get', key))).out, 'v');
  });

  it('a missing key exits 1 with one line on stderr and nothing on stdout', async () => {
    const r = await run(kv('get', 'no/such/key'));
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.out, '');
    assert.equal(r.err, 'Error: key "no/such/key" not found\n');
  });

  it('--json prints the entry with its indexes and flags, parseable', async () => {
    agent.put('cfg/port', '8080', '42');
    const r = await run(kv('get', '--json', 'cfg/port'));
    assert.equal(r.code, EXIT.ok, r.err);
    const entry = JSON.parse(r.out) as Record<string, unknown>;
    assert.equal(entry.Key, 'cfg/port');
    assert.equal(entry.Value, '8080');
    assert.equal(entry.Flags, 42);
    assert.equal(typeof entry.ModifyIndex, 'number');
    assert.equal(entry.CreateIndex, entry.ModifyIndex);

    const put = JSON.parse((await run(kv('put', '--json', 'cfg/port', '9090'))).out) as unknown;
    assert.deepEqual(put, { Key: 'cfg/port', Written: true });
  });

  it('--recurse prints key:value lines in key order; --json gives an array', async () => {
    agent.put('tree/b/c', '2');
    agent.put('tree/a', '1');
    agent.put('other', 'x');
    const r = await run(kv('get', '--recurse', 'tree/'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(r.out, 'tree/a:1\ntree/b/c:2\n');
    assert.equal(agent.lastRequest().url, '/v1/kv/tree/?recurse');
    const rows = JSON.parse((await run(kv('get', '--recurse', '--json', 'tree/'))).out) as Array<{ Key: string }>;
    assert.deepEqual(rows.map((e) => e.Key), ['tree/a', 'tree/b/c']);
  });

  it('--recurse under an empty prefix prints nothing and exits 0', async () => {
    const r = await run(kv('get', '--recurse', 'empty/'));
    assert.equal(r.code, EXIT.ok);
    assert.equal(r.out, '');
    assert.deepEqual(JSON.parse((await run(kv('get', '--recurse', '--json', 'empty/'))).out), []);
  });

  it('--keys rolls up at "/" by default; --separator "" lists every key', async () => {
    agent.put('tree/a', '1');
    agent.put('tree/b/c', '2');
    agent.put('tree/b/d', '3');
    const rolled = await run(kv('get', '--keys', 'tree/'));
    assert.equal(rolled.out, 'tree/a\ntree/b/\n');
    assert.equal(agent.lastRequest().url, '/v1/kv/tree/?keys&separator=%2F');
    const all = JSON.parse((await run(kv('get', '--keys', '--separator', '', '--json', 'tree/'))).out) as string[];
    assert.deepEqual(all, ['tree/a', 'tree/b/c', 'tree/b/d']);
    assert.equal(agent.lastRequest().url, '/v1/kv/tree/?keys');
  });

  it('--stale and --consistent are sent as Consul query parameters; both at once is a usage error', async () => {
    agent.put('k', 'v');
    await run(kv('get', '--stale', 'k'));
    assert.equal(agent.lastRequest().url, '/v1/kv/k?stale');
    await run(kv('get', '--consistent', 'k'));
    assert.equal(agent.lastRequest().url, '/v1/kv/k?consistent');
    const requests = agent.requests.length;
    const both = await run(kv('get', '--stale', '--consistent', 'k'));
    assert.equal(both.code, EXIT.usage);
    assert.equal(both.err, 'Error: --stale and --consistent cannot be used together\n');
    assert.equal(agent.requests.length, requests, 'nothing is sent for a usage error');
  });

  it('--flags and --cas go in the query; a failed cas exits 1 and leaves the value alone', async () => {
    assert.equal((await run(kv('put', '--flags', '18446744073709551615', 'k', 'first'))).code, EXIT.ok);
    assert.equal(agent.lastRequest().url, '/v1/kv/k?flags=18446744073709551615');
    const index = agent.kv.get('k')?.modifyIndex ?? -1;

    const ok = await run(kv('put', '--cas', String(index), 'k', 'second'));
    assert.equal(ok.code, EXIT.ok, ok.err);
    assert.equal(agent.lastRequest().url, `/v1/kv/k?cas=${index}`);

    const stale = await run(kv('put', '--cas', String(index), 'k', 'third'));
    assert.equal(stale.code, EXIT.failed);
    assert.equal(stale.out, '');
    assert.match(stale.err, /^Error: key "k" not written: the check-and-set failed.*\n$/);
    assert.equal(stale.err.split('\n').length, 2, 'one line');
    assert.equal(agent.kv.get('k')?.value.toString(), 'second');

    const create = await run(kv('put', '--cas', '0', 'k', 'only if new'));
    assert.equal(create.code, EXIT.failed);
  });

  it('integer flags are checked before anything is sent', async () => {
    for (const bad of [['--cas', 'abc'], ['--cas', '-1'], ['--flags', '18446744073709551616'], ['--flags', '1.5']]) {
      const r = await run(kv('put', `${bad[0]}=${bad[1]}`, 'k', 'v'));
      assert.equal(r.code, EXIT.usage, bad.join(' '));
      assert.equal(r.err, `Error: ${bad[0]}: "${bad[1]}" is not an unsigned integer\n`);
    }
    assert.equal(agent.requests.length, 0);
  });

  it('--base64: put stores the decoded bytes, get prints them encoded', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    assert.equal((await run(kv('put', '--base64', 'bin', bytes.toString('base64')))).code, EXIT.ok);
    assert.deepEqual(agent.kv.get('bin')?.value, bytes);
    assert.equal((await run(kv('get', '--base64', 'bin'))).out, bytes.toString('base64'));
  });

  it('delete, delete --recurse and a failed delete --cas', async () => {
    agent.put('d/a', '1');
    agent.put('d/b', '2');
    agent.put('keep', '3');
    const one = await run(kv('delete', 'd/a'));
    assert.equal(one.code, EXIT.ok, one.err);
    assert.equal(one.out, 'Success! Deleted key: d/a\n');
    assert.equal(agent.kv.has('d/a'), false);

    const cas = await run(kv('delete', '--cas', '999', 'd/b'));
    assert.equal(cas.code, EXIT.failed);
    assert.match(cas.err, /^Error: key "d\/b" not deleted: the check-and-set failed/);
    assert.equal(agent.kv.has('d/b'), true);

    const all = await run(kv('delete', '--recurse', 'd/'));
    assert.equal(all.out, 'Success! Deleted keys with prefix: d/\n');
    assert.equal(agent.lastRequest().url, '/v1/kv/d/?recurse');
    assert.deepEqual([...agent.kv.keys()], ['keep']);
  });

  it('the agent\'s error text becomes the one-line message; exit 1', async () => {
    agent.failNext = { status: 413, body: 'value too large: 600000 bytes, the limit is 524288\nsecond line' };
    const r = await run(kv('put', 'big', 'x'));
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.err, 'Error: value too large: 600000 bytes, the limit is 524288 (HTTP 413)\n');

    agent.failNext = { status: 503, body: 'no known leader' };
    const noLeader = await run(kv('get', 'k'));
    assert.equal(noLeader.code, EXIT.failed);
    assert.equal(noLeader.err, 'Error: no known leader (HTTP 503)\n');
  });

  it('a key is needed unless reading or deleting a whole tree', async () => {
    const get = await run(kv('get'));
    assert.equal(get.code, EXIT.usage);
    assert.match(get.err, /^Error: a key is needed/);
    assert.equal((await run(kv('delete'))).code, EXIT.usage);
    assert.equal((await run(kv('put'))).code, EXIT.usage);
    assert.equal(agent.requests.length, 0);
  });
});
