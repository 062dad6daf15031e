// `konsul maint` against a real in-process agent: enable, list, disable, and
// the usage errors that never reach an agent.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/agent/main.js';
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
    const listed = JSON.parse((await run(['maint', '--json', '--http-addr', addr])).out) as Array<{ target: string; reason: string }>;
    assert.deepEqual(listed.map((l) => l.target).sort(), ['node', 'service web1']);
    assert.equal(listed.find((l) => l.target === 'service web1')?.reason, 'deploy');
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
