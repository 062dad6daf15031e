// `konsul maint` against a real in-process agent: enable, list, disable, and
// the usage errors that never reach an agent.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { run } from './harness.js';

describe('konsul maint', () => {
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

  it('enables, lists and disables node and service maintenance', async () => {
    assert.equal((await run(['services', 'register', '--http-addr', addr, '--name', 'web', '--id', 'web1', '--port', '80'])).code, EXIT.ok);
    assert.equal((await run(['maint', '--http-addr', addr])).out, 'Nothing is in maintenance mode on this agent\n');
    const on = await run(['maint', '--enable', '--service', 'web1', '--reason', 'deploy', '--http-addr', addr]);
    assert.deepEqual([on.code, on.out], [EXIT.ok, 'Service "web1" entered maintenance mode\n']);
    assert.equal((await run(['maint', '--enable', '--http-addr', addr])).code, EXIT.ok);
    const listed = JSON.parse((await run(['maint', '--json', '--http-addr', addr])).out) as Array<{ Target: string; Reason: string }>;
    assert.deepEqual(listed.map((l) => l.Target).sort(), ['node', 'service web1']);
    assert.equal(listed.find((l) => l.Target === 'service web1')?.Reason, 'deploy');
    assert.equal((await run(['maint', '--disable', '--service', 'web1', '--http-addr', addr])).code, EXIT.ok);
    assert.equal((await run(['maint', '--disable', '--http-addr', addr])).code, EXIT.ok);
    assert.equal((await run(['maint', '--http-addr', addr])).out, 'Nothing is in maintenance mode on this agent\n');
    const unknown = await run(['maint', '--enable', '--service', 'nope', '--http-addr', addr]);
    assert.equal(unknown.code, EXIT.failed);
    assert.match(unknown.err, /Unknown service ID "nope"/);
  });

  it('usage errors exit 2 with one line naming the flag', async () => {
    for (const [argv, pattern] of [
      [['maint', '--enable', '--disable'], /--enable and --disable/],
      [['maint', '--reason', 'x'], /--reason only applies with --enable/],
      [['maint', '--service', 'web1'], /--service needs --enable or --disable/],
    ] as const) {
      const r = await run([...argv, '--http-addr', addr]);
      assert.equal(r.code, EXIT.usage, r.err);
      assert.match(r.err, pattern);
    }
  });
});

describe('konsul event', () => {
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

  it('fires events with payloads (argument or stdin) and lists those meant for this agent', async () => {
    const fired = await run(['event', '--name', 'deploy', '--http-addr', addr, 'v1.2.3']);
    assert.equal(fired.code, EXIT.ok, fired.err);
    assert.match(fired.out, /^Event ID: [0-9a-f-]{36}\n$/);
    assert.equal((await run(['event', '--name', 'notes', '--http-addr', addr, '-'], { stdin: 'from stdin' })).code, EXIT.ok);
    // Meant for another node: this agent does not list it.
    assert.equal((await run(['event', '--name', 'elsewhere', '--node', '^other$', '--http-addr', addr])).code, EXIT.ok);
    const listed = JSON.parse((await run(['event', '--list', '--json', '--http-addr', addr])).out) as Array<{ Name: string; Payload: string }>;
    assert.deepEqual(listed.map((e) => [e.Name, Buffer.from(e.Payload, 'base64').toString()]), [['deploy', 'v1.2.3'], ['notes', 'from stdin']]);
    assert.match((await run(['event', '--list', '--name', 'deploy', '--http-addr', addr])).out, /deploy\s+v1\.2\.3/);
  });

  it('refuses what Consul refuses: no name, --tag without --service, a bad regex, a payload over 512 bytes', async () => {
    assert.equal((await run(['event', '--http-addr', addr])).code, EXIT.usage);
    assert.equal((await run(['event', '--name', 'x', '--tag', 'v1', '--http-addr', addr])).code, EXIT.usage);
    const badRe = await run(['event', '--name', 'x', '--node', '(', '--http-addr', addr]);
    assert.equal(badRe.code, EXIT.failed);
    assert.match(badRe.err, /Invalid \?node expression/);
    const big = await run(['event', '--name', 'x', '--http-addr', addr, 'y'.repeat(600)]);
    assert.equal(big.code, EXIT.failed);
    assert.match(big.err, /exceeds the limit of 512 bytes/);
  });
});
