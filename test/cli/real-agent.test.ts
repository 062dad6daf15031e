// The CLI against a real single-node agent in this process (the stand-in agent
// of harness.ts checks the details): the same commands must work end to end.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

describe('konsul CLI against a real agent', () => {
  let agent: RunningAgent;
  let addr: string;

  before(async () => {
    agent = await startAgent({ dev: true, httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0' }, {}, pino({ level: 'silent' }));
    addr = agent.httpAddress;
    for (let i = 0; i < 100 && agent.agent.status().leader === null; i++) await new Promise((r) => setTimeout(r, 20));
  });

  after(async () => {
    await agent.stop();
  });

  it('kv put then get round-trips a value; stdin works with "-"', async () => {
    const put = await run(['kv', 'put', '--http-addr', addr, 'app/port', '8080']);
    assert.equal(put.code, EXIT.ok, put.err);
    assert.match(put.out, /Success! Data written to: app\/port/);
    const get = await run(['kv', 'get', '--http-addr', addr, 'app/port']);
    assert.equal(get.code, EXIT.ok);
    assert.equal(get.out, '8080');
    const piped = await run(['kv', 'put', '--http-addr', addr, 'app/motd', '-'], { stdin: 'hello\nworld' });
    assert.equal(piped.code, EXIT.ok, piped.err);
    assert.equal((await run(['kv', 'get', '--http-addr', addr, 'app/motd'])).out, 'hello\nworld');
  });

  it('--quiet leaves only the exit code on success, and still reports a failure on stderr', async () => {
    const put = await run(['kv', 'put', '--quiet', '--http-addr', addr, 'quiet/key', 'v']);
    assert.deepEqual([put.code, put.out, put.err], [EXIT.ok, '', '']);
    const casFails = await run(['kv', 'put', '-q', '--cas', '0', '--http-addr', addr, 'quiet/key', 'w']);
    assert.equal(casFails.code, EXIT.failed);
    assert.equal(casFails.out, '');
    assert.match(casFails.err, /^Error: key "quiet\/key" not written: the check-and-set failed/);
    const del = await run(['kv', 'delete', '-q', '--http-addr', addr, 'quiet/key']);
    assert.deepEqual([del.code, del.out, del.err], [EXIT.ok, '', '']);
    const healthy = await run(['cluster', 'health', '--quiet', '--http-addr', addr]);
    assert.deepEqual([healthy.code, healthy.out], [EXIT.ok, '']);
    assert.equal((await run(['cluster', 'health', '--http-addr', addr])).out, 'healthy\n');
  });

  it('a missing key exits 1 with one line on stderr', async () => {
    const r = await run(['kv', 'get', '--http-addr', addr, 'no/such/key']);
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.out, '');
    assert.equal(r.err, 'Error: key "no/such/key" not found\n');
  });

  it('--json prints parseable JSON with the indexes; recurse and keys', async () => {
    await run(['kv', 'put', '--http-addr', addr, 'tree/a', '1']);
    await run(['kv', 'put', '--http-addr', addr, 'tree/b/c', '2']);
    const one = JSON.parse((await run(['kv', 'get', '--json', '--http-addr', addr, 'tree/a'])).out) as { Value: string; ModifyIndex: number };
    assert.equal(one.Value, '1');
    assert.ok(one.ModifyIndex > 0);
    const all = await run(['kv', 'get', '--recurse', '--http-addr', addr, 'tree/']);
    assert.equal(all.out, 'tree/a:1\ntree/b/c:2\n');
    const keys = JSON.parse((await run(['kv', 'get', '--keys', '--separator', '/', '--json', '--http-addr', addr, 'tree/'])).out) as string[];
    assert.deepEqual(keys, ['tree/a', 'tree/b/']);
  });

  it('cas: a stale index fails with exit 1 and leaves the value alone', async () => {
    await run(['kv', 'put', '--http-addr', addr, 'cas/k', 'first']);
    const idx = (JSON.parse((await run(['kv', 'get', '--json', '--http-addr', addr, 'cas/k'])).out) as { ModifyIndex: number }).ModifyIndex;
    assert.equal((await run(['kv', 'put', '--cas', String(idx), '--http-addr', addr, 'cas/k', 'second'])).code, EXIT.ok);
    const stale = await run(['kv', 'put', '--cas', String(idx), '--http-addr', addr, 'cas/k', 'third']);
    assert.equal(stale.code, EXIT.failed);
    assert.match(stale.err, /^Error: .*check-and-set failed/);
    assert.equal((await run(['kv', 'get', '--http-addr', addr, 'cas/k'])).out, 'second');
    assert.equal((await run(['kv', 'delete', '--http-addr', addr, 'cas/k'])).code, EXIT.ok);
    assert.equal((await run(['kv', 'get', '--http-addr', addr, 'cas/k'])).code, EXIT.failed);
  });

  it('KONSUL_HTTP_ADDR is used, and --http-addr wins over it', async () => {
    assert.equal((await run(['kv', 'get', 'app/port'], { env: { KONSUL_HTTP_ADDR: addr } })).out, '8080');
    const wrong = await run(['kv', 'get', '--http-addr', '127.0.0.1:1', 'app/port'], { env: { KONSUL_HTTP_ADDR: addr } });
    assert.equal(wrong.code, EXIT.unreachable);
  });

  it('an unreachable agent exits 3 with a hint', async () => {
    const r = await run(['cluster', 'status', '--http-addr', '127.0.0.1:1']);
    assert.equal(r.code, EXIT.unreachable);
    assert.match(r.err, /^Error: no konsul agent at 127\.0\.0\.1:1: is `konsul agent` running\? .*KONSUL_HTTP_ADDR\)\n$/);
  });

  it('usage errors exit 2', async () => {
    assert.equal((await run(['kv', 'get', '--no-such-flag', 'x'])).code, EXIT.usage);
    assert.equal((await run(['kv', 'put', '--cas', 'abc', '--http-addr', addr, 'k', 'v'])).code, EXIT.usage);
    assert.equal((await run(['kv', 'get', '--stale', '--consistent', '--http-addr', addr, 'k'])).code, EXIT.usage);
    assert.equal((await run(['cluster', 'join', '--http-addr', addr])).code, EXIT.usage);
  });

  it('cluster status, leader, peers and health describe the single-node cluster', async () => {
    const st = JSON.parse((await run(['cluster', 'status', '--json', '--http-addr', addr])).out) as { Role: string; Members: unknown[] };
    assert.equal(st.Role, 'leader');
    assert.equal(st.Members.length, 1);
    const human = await run(['cluster', 'status', '--http-addr', addr]);
    assert.match(human.out, /NODE\s+RAFT ADDRESS/);
    assert.equal((await run(['cluster', 'leader', '--http-addr', addr])).code, EXIT.ok);
    assert.equal((await run(['cluster', 'peers', '--http-addr', addr])).code, EXIT.ok);
    const health = await run(['cluster', 'health', '--http-addr', addr]);
    assert.equal(health.code, EXIT.ok, health.out);
    assert.equal(health.out, 'healthy\n');
    const snap = JSON.parse((await run(['cluster', 'snapshot', '--json', '--http-addr', addr])).out) as { Index: number };
    assert.ok(snap.Index > 1);
  });

  it('agent --help lists its flags with their KONSUL_* variables', async () => {
    const r = await run(['agent', '--help']);
    assert.equal(r.code, EXIT.ok);
    for (const flag of ['--server', '--bootstrap', '--join', '--data-dir', '--raft-addr', '--http-addr', '--token', '--tls-ca']) {
      assert.ok(r.out.includes(flag), `help mentions ${flag}`);
    }
    assert.ok(r.out.includes('KONSUL_RAFT_JOIN'));
  });

  it('a bad agent setting stops start-up with one line naming it and exit 2', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'konsul.js'), 'agent', '--data-dir', '/tmp/x', '--election-timeout', 'soon'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'Error: --election-timeout: "soon" is not a duration (examples: 300ms, 2s, 5m)\n');
  });
});
