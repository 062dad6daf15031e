// A cluster is closed from its first second: a server bootstrapping beyond loopback creates a join
// secret (mode 0600) and prints the line that joins others; an agent beyond loopback with no secret
// does not start; --insecure-peers starts with a warning, and the closed cluster refuses it.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { spawnSync } from 'node:child_process';
import { BIN, freePort, http, scenario, sleep, TestCluster, waitFor } from './harness.js';

describe('closed from the first second', () => {
  const c = new TestCluster();
  const step = scenario(c);
  // Listening on every interface (beyond loopback), dialled and advertised on 127.0.0.1.
  const everywhere = async (): Promise<string[]> => {
    const port = await freePort();
    return ['--raft-addr', `0.0.0.0:${port}`, '--advertise', `127.0.0.1:${port}`];
  };
  let secret = '';
  let s1Advertise = '';

  step('a server bootstrapping beyond loopback creates a secret and prints the join line', async () => {
    const flags = await everywhere();
    s1Advertise = flags[3]!;
    await c.add({ id: 's1', server: true, bootstrap: true, extra: flags });
    await c.start('s1');
    const file = join(c.node('s1').dataDir, 'cluster.secret');
    secret = readFileSync(file, 'utf8').trim();
    assert.ok(secret.length >= 32);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(c.node('s1').log().includes(`konsul agent --server --join ${s1Advertise} --token ${secret}`), 'no join line printed');
  });

  step('an agent beyond loopback with no secret does not start, and says what to give', async () => {
    const r = spawnSync(process.execPath, [BIN, 'agent', '--server', '--node-id', 'x', '--data-dir', join(c.dir, 'x'), ...(await everywhere()),
      '--http-addr', `127.0.0.1:${await freePort()}`, '--dns-addr', `127.0.0.1:${await freePort()}`, '--join', s1Advertise], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /--raft-addr: 0\.0\.0\.0:\d+ is beyond loopback: give the cluster's join secret \(--token/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  step('with the secret a server joins; with --insecure-peers one starts, warned, and is refused', async () => {
    await c.add({ id: 's2', server: true, join: [s1Advertise], extra: [...(await everywhere()), '--token', secret] });
    await c.start('s2');
    await waitFor('s2 a member', async () => ((await c.status('s1')).members.some((m) => m.id === 's2') ? true : undefined), 30_000);
    await c.add({ id: 'open', server: true, join: [s1Advertise], extra: [...(await everywhere()), '--insecure-peers'] });
    await c.start('open');
    await sleep(3000);
    assert.match(c.node('open').log(), /open beyond loopback with no join secret and no mutual TLS \(--insecure-peers\)/);
    assert.ok(!(await c.status('s1')).members.some((m) => m.id === 'open'), 'a node without the secret joined');
    assert.match(c.node('s1').log(), /refused peer handshake/);
  });

  // scale: a client agent pulls the committed log from a relay over the same checked transport.
  step('a client agent is fed by a relay only with the secret; one with the wrong secret is refused and never joins', async () => {
    await http('PUT', `${c.node('s1').url}/v1/kv/closed/greeting`, 'hello');
    await c.add({ id: 'c1', server: false, join: [s1Advertise], extra: [...(await everywhere()), '--token', secret] });
    await c.start('c1');
    await waitFor('c1 reads its own replica', async () => {
      const r = await http('GET', `${c.node('c1').url}/v1/kv/closed/greeting?stale&raw`, undefined, 3000);
      return r.status === 200 && r.body === 'hello' ? true : undefined;
    }, 30_000);
    await c.add({ id: 'c2', server: false, join: [s1Advertise], extra: [...(await everywhere()), '--token', 'not-the-secret'] });
    await c.start('c2');
    await sleep(3000);
    assert.doesNotMatch(c.node('c2').log(), /subscribed to a relay/, 'a client with the wrong secret was fed');
    assert.equal((await http('GET', `${c.node('c2').url}/v1/kv/closed/greeting?stale&raw`, undefined, 15_000)).status, 404);
    const members = JSON.parse((await http('GET', `${c.node('s1').url}/v1/agent/members`)).body) as Array<{ Name: string }>;
    assert.ok(members.some((m) => m.Name === 'c1'), 'the client with the secret is a member');
    assert.ok(!members.some((m) => m.Name === 'c2'), 'a client with the wrong secret joined');
    await c.kill('c2', 'SIGKILL');
  });

  step('restarted without --token, the first server keeps the secret from its data dir', async () => {
    await c.kill('s1', 'SIGTERM');
    await c.start('s1');
    await c.leader(['s1', 's2'], 30_000);
    const before = c.node('s1').log().split('\n').filter((l) => l.includes('--token')).length;
    assert.equal(before, 1, 'the join line is printed only when the secret is created');
  });
});
