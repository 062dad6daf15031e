// Secrets stay secret: the peer join token and ACL tokens never show in the agent's logs (at
// debug level), --print-config, /v1/agent/self, /metrics or error messages, whatever requests
// carry them (headers, ?token=, wrong ones). The leak finder is shown to find a planted secret.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe } from 'node:test';
import { BIN, http, scenario, TestCluster, waitFor } from '../cluster/harness.js';

const JOIN_TOKEN = 'join-secret-7c41d0a9e2';
const MANAGEMENT = 'mgmt-secret-5b7e21f0c3';
const APP = 'app-secret-9d02be4417';
const WRONG = 'wrong-secret-31aa6f8c05';
const SECRETS = [JOIN_TOKEN, MANAGEMENT, APP, WRONG];

/** Every secret found in `text`, by name of where it was looked for. */
function leaks(where: string, text: string): string[] {
  return SECRETS.filter((s) => text.includes(s)).map((s) => `${where} holds ${s}`);
}

describe('secrets stay out of logs, config output, agent/self, metrics and errors', () => {
  const c = new TestCluster();
  const step = scenario(c);
  const found: string[] = [];

  step('the leak finder finds a planted secret', async () => {
    assert.deepEqual(leaks('planted', `x ${APP} y`), [`planted holds ${APP}`]);
    // --node-id is not a secret setting: --print-config shows it, and the finder sees it there.
    const r = spawnSync(process.execPath, [BIN, 'agent', '--dev', '--print-config', '--node-id', WRONG], { encoding: 'utf8' });
    assert.equal(leaks('print-config', r.stdout).length, 1, r.stdout + r.stderr);
  });

  step('an agent with a join token and ACLs takes requests that carry secrets every way', async () => {
    await c.add({
      id: 's1', server: true, bootstrap: true,
      extra: ['--token', JOIN_TOKEN, '--acl-enabled', '--acl-default-policy', 'deny', '--log-level', 'debug'],
    });
    await c.start('s1');
    const url = c.node('s1').url;
    await waitFor('bootstrap', async () => {
      const r = await http('PUT', `${url}/v1/acl/bootstrap`, JSON.stringify({ BootstrapSecret: MANAGEMENT }));
      return r.status === 200 ? true : undefined;
    });
    const m = { 'x-consul-token': MANAGEMENT };
    assert.equal((await http('PUT', `${url}/v1/acl/policy`, JSON.stringify({ Name: 'app', Rules: 'key_prefix "app/" { policy = "write" }' }), 5000, m)).status, 200);
    assert.equal((await http('PUT', `${url}/v1/acl/token`, JSON.stringify({ SecretID: APP, Policies: [{ Name: 'app' }] }), 5000, m)).status, 200);
    const answers = [
      await http('PUT', `${url}/v1/kv/other/x`, 'v', 5000, { 'x-consul-token': APP }),
      await http('PUT', `${url}/v1/kv/other/x?token=${APP}`, 'v'),
      await http('GET', `${url}/v1/kv/app/x?token=${WRONG}`),
      await http('GET', `${url}/v1/kv/app/x`, undefined, 5000, { authorization: `Bearer ${WRONG}` }),
      await http('PUT', `${url}/v1/acl/token`, JSON.stringify({ SecretID: APP }), 5000, m),
      await http('POST', `${url}/cluster/join?token=${JOIN_TOKEN}`, JSON.stringify({ id: 'x', raftAddress: '127.0.0.1:1' }), 5000, m),
      await http('GET', `${url}/v1/agent/self`, undefined, 5000, m),
      await http('GET', `${url}/metrics`, undefined, 5000, m),
      await http('GET', `${url}/cluster/stats`, undefined, 5000, m),
      await http('GET', `${url}/cluster/config`, undefined, 5000, m),
    ];
    assert.equal(answers[0]!.status, 403);
    assert.equal(answers[2]!.status, 403);
    assert.match(answers[2]!.body, /^ACL not found$/);
    answers.forEach((a, i) => found.push(...leaks(`answer ${i} (${a.status})`, `${JSON.stringify(a.headers)}\n${a.body}`)));
    const self = answers[6]!;
    assert.equal(self.status, 200);
    assert.ok(answers[7]!.body.length > 100, 'metrics answered');
  });

  step('--print-config (text and JSON) hides the join token, from a flag or the environment', async () => {
    for (const args of [['--print-config'], ['--print-config', '--json']]) {
      const flag = spawnSync(process.execPath, [BIN, 'agent', '--dev', '--token', JOIN_TOKEN, ...args], { encoding: 'utf8' });
      assert.equal(flag.status, 0, flag.stderr);
      found.push(...leaks(`print-config ${args.join(' ')} (flag)`, flag.stdout + flag.stderr));
      const env = spawnSync(process.execPath, [BIN, 'agent', '--dev', ...args], { encoding: 'utf8', env: { ...process.env, KONSUL_RAFT_TOKEN: JOIN_TOKEN } });
      assert.equal(env.status, 0, env.stderr);
      assert.match(env.stdout, /hidden/);
      found.push(...leaks(`print-config ${args.join(' ')} (env)`, env.stdout + env.stderr));
    }
  });

  step('the log, at debug level, holds none of them; nothing anywhere did', async () => {
    await c.kill('s1', 'SIGTERM');
    found.push(...leaks('the agent log', c.node('s1').log()));
    assert.deepEqual(found, []);
  });
});
