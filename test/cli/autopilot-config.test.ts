// ---- ops2: `konsul operator autopilot get-config|set-config` against a real
// (in-process, --dev) agent: Consul's output lines, a change that keeps the
// other settings, --json, bad values as usage errors (exit 2) naming the flag,
// and a lost check-and-set race as exit 1 with Consul's advice.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { FakeAgent, run } from './harness.js';

describe('konsul operator autopilot get-config / set-config', () => {
  let agent: RunningAgent;
  before(async () => {
    agent = await startAgent({ dev: true, httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0', raftAddr: '127.0.0.1:0' }, {}, pino({ level: 'silent' }));
    for (let i = 0; i < 250 && agent.agent.status().protocol?.cluster !== 2; i++) await new Promise((r) => setTimeout(r, 20));
  });
  after(async () => {
    await agent.stop();
  });

  it('prints the defaults, changes one setting and keeps the others', async () => {
    const addr = ['--http-addr', agent.httpAddress];
    const before = await run(['operator', 'autopilot', 'get-config', ...addr]);
    assert.equal(before.code, EXIT.ok, before.err);
    assert.match(before.out, /^CleanupDeadServers = true\nLastContactThreshold = \d+(ms|s)\nMaxTrailingLogs = 250\nMinQuorum = 0\nServerStabilizationTime = \S+\nRedundancyZoneTag = ""\nDisableUpgradeMigration = false\nUpgradeVersionTag = ""\n$/);
    const set = await run(['operator', 'autopilot', 'set-config', ...addr, '--min-quorum', '3', '--cleanup-dead-servers=false', '--last-contact-threshold', '750ms']);
    assert.equal(set.code, EXIT.ok, set.err);
    assert.equal(set.out, 'Configuration updated!\n');
    const after = await run(['operator', 'autopilot', 'get-config', ...addr]);
    assert.match(after.out, /^MinQuorum = 3$/m);
    assert.match(after.out, /^CleanupDeadServers = false$/m);
    assert.match(after.out, /^LastContactThreshold = 750ms$/m);
    assert.match(after.out, /^MaxTrailingLogs = 250$/m, 'not given: kept');
    const json = JSON.parse((await run(['operator', 'autopilot', 'get-config', ...addr, '--json'])).out) as Record<string, unknown>;
    assert.equal(json.MinQuorum, 3);
    assert.ok((json.ModifyIndex as number) > 0);
    // The agent's autopilot follows the replicated record.
    assert.equal(agent.agent.autopilotConfig().minQuorum, 3);
  });

  it('bad values are usage errors naming the flag; nothing is written', async () => {
    const addr = ['--http-addr', agent.httpAddress];
    for (const [flag, value] of [['--min-quorum', '-1'], ['--last-contact-threshold', 'soon'], ['--cleanup-dead-servers', 'maybe']]) {
      const r = await run(['operator', 'autopilot', 'set-config', ...addr, `${flag}=${value}`]);
      assert.equal(r.code, EXIT.usage, `${flag}=${value}`);
      assert.match(r.err, new RegExp(flag));
    }
    const zero = await run(['operator', 'autopilot', 'set-config', ...addr, '--last-contact-threshold', '0s']);
    assert.equal(zero.code, EXIT.failed, 'the agent refuses a zero threshold (400)');
    assert.match(zero.err, /threshold/);
    assert.equal(agent.agent.autopilotConfig().minQuorum, 3);
  });

  it('a lost check-and-set race: exit 1 and Consul\'s advice to try again', async () => {
    const fake = await FakeAgent.start();
    try {
      fake.refuse = (req) => {
        if (req.method === 'GET') {
          return {
            status: 200, body: JSON.stringify({
              CleanupDeadServers: true, LastContactThreshold: '200ms', MaxTrailingLogs: 250, MinQuorum: 0, ServerStabilizationTime: '10s',
              RedundancyZoneTag: '', DisableUpgradeMigration: false, UpgradeVersionTag: '', CreateIndex: 4, ModifyIndex: 9,
            }),
          };
        }
        return { status: 200, body: 'false' };
      };
      const r = await run(['operator', 'autopilot', 'set-config', '--http-addr', fake.address, '--min-quorum', '3']);
      assert.equal(r.code, EXIT.failed);
      assert.match(r.err, /could not be atomically updated/);
      const put = fake.requests.find((q) => q.method === 'PUT')!;
      assert.match(put.url, /\?cas=9$/, 'the ModifyIndex it read');
      assert.equal((JSON.parse(put.body) as { MinQuorum: number; MaxTrailingLogs: number }).MinQuorum, 3);
    } finally {
      await fake.close();
    }
  });
});
