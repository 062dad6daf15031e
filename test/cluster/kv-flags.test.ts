// Consul's uint64 KV flags on real agents over real HTTP: written through a
// client agent (forwarded to the leader as a protocol-2 command), read back
// digit for digit on every agent, 400 for what is not a uint64, carried by a
// snapshot archive and its restore, and kept by a restart (data dir format 3).

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { http, scenario, TestCluster, waitFor, waitVoters } from './harness.js';

const MAX = '18446744073709551615';
const flagsOf = (body: string): string[] => [...body.matchAll(/"Flags":(\d+)/g)].map((m) => m[1]!);

describe('64-bit KV flags on real agents', { timeout: 240_000 }, () => {
  const c = new TestCluster();
  const step = scenario(c);
  const url = (id: string): string => c.node(id).url;

  step('a server and a client agent at protocol 2', async () => {
    await c.add({ id: 's1', server: true, bootstrap: true });
    await c.start('s1');
    await c.leader(['s1']);
    await c.add({ id: 'c1', server: false, join: [c.node('s1').raftAddress] });
    await c.start('c1');
    await waitVoters(c, ['s1'], 's1');
    await waitFor('the cluster at protocol 2', async () => {
      const r = JSON.parse((await http('GET', `${url('s1')}/cluster/status`)).body) as { protocol?: { cluster: number } };
      return r.protocol?.cluster === 2 ? true : undefined;
    });
  });

  step('written through the client, read exactly on both agents; bad flags are 400s', async () => {
    for (const flags of ['4294967296', '9007199254740993', MAX]) {
      const put = await http('PUT', `${url('c1')}/v1/kv/flags/${flags}?flags=${flags}`, 'v');
      assert.equal(put.status, 200, put.body);
      for (const id of ['c1', 's1']) assert.deepEqual(flagsOf((await http('GET', `${url(id)}/v1/kv/flags/${flags}?stale`)).body), [flags]);
    }
    assert.deepEqual(flagsOf((await http('GET', `${url('s1')}/v1/kv/flags/?recurse`)).body), [MAX, '4294967296', '9007199254740993']);
    for (const bad of ['-1', '18446744073709551616', '1e3', 'abc', '0x1']) {
      const r = await http('PUT', `${url('c1')}/v1/kv/flags/bad?flags=${encodeURIComponent(bad)}`, 'v');
      assert.equal(r.status, 400, `?flags=${bad}: ${r.status} ${r.body}`);
      assert.match(r.body, /invalid \?flags/);
    }
    assert.equal((await http('GET', `${url('s1')}/v1/kv/flags/bad`)).status, 404);
  });

  step('a snapshot archive carries them; its restore brings them back after they changed', async () => {
    const archive = Buffer.from(await (await fetch(`${url('s1')}/v1/snapshot`)).arrayBuffer());
    await http('PUT', `${url('c1')}/v1/kv/flags/${MAX}?flags=1`, 'v');
    await http('DELETE', `${url('c1')}/v1/kv/flags/4294967296`);
    const r = await http('PUT', `${url('s1')}/v1/snapshot`, archive);
    assert.equal(r.status, 200, r.body);
    for (const id of ['s1', 'c1']) {
      await waitFor(`the restored flags on ${id}`, async () => {
        const got = flagsOf((await http('GET', `${url(id)}/v1/kv/flags/?recurse&stale`)).body);
        return got.join() === [MAX, '4294967296', '9007199254740993'].join() ? true : undefined;
      });
    }
  });

  step('a restarted agent reads them from its data dir', async () => {
    await c.kill('c1', 'SIGTERM');
    await c.start('c1');
    const got = await waitFor('c1 serving', async () => {
      const r = await http('GET', `${url('c1')}/v1/kv/flags/${MAX}?stale`);
      return r.status === 200 ? r.body : undefined;
    });
    assert.deepEqual(flagsOf(got), [MAX]);
  });
});
