// Snapshots across real clusters: `konsul snapshot save` from a follower of a
// 3-server cluster A, then `konsul snapshot restore` through a follower of a
// freshly bootstrapped 3-server cluster B. Every member of B ends with A's KV
// (bytes and flags), reads it from its own replica, keeps it across a restart
// of the whole cluster, keeps B's membership, sees indexes only move forward
// and has its blocking queries woken; B's agents put their own nodes back in
// the catalog. A corrupt file is refused and changes nothing.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { promisify } from 'node:util';
import { parseArchive } from '../../src/state/archive.js';
import { BIN, TestCluster, formCluster, http, scenario, waitFor, waitVoters } from './harness.js';

const run = promisify(execFile);

async function konsul(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, KONSUL_HTTP_ADDR: '' }, timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}

interface Entry { Key: string; Flags: number; Value: string | null; CreateIndex: number; ModifyIndex: number }

const BINARY = Buffer.from([0, 0xff, 0x10, 0x80, 0x0d, 0x0a]);

describe('snapshot save from one real cluster, restore into another', { timeout: 300_000 }, () => {
  const a = new TestCluster();
  const b = new TestCluster();
  const stepA = scenario(a);
  const stepB = scenario(b);
  const file = join(a.dir, 'a.snap');
  let expected: Array<{ Key: string; Flags: number; Value: string | null }> = [];
  let bIndexBefore = 0;
  let restoreIndex = 0;

  stepA('cluster A: 3 servers, 60 writes, a binary value with flags; saved from a follower', async () => {
    await formCluster(a, ['a1', 'a2', 'a3'], []);
    const leader = await a.leader();
    const follower = ['a1', 'a2', 'a3'].find((id) => id !== leader)!;
    for (let i = 0; i < 60; i++) assert.equal((await a.put(follower, `app/k${i % 20}`, `v${i}`)).body, 'true');
    assert.equal((await http('PUT', `${a.node(leader).url}/v1/kv/app/bin?flags=4294967295`, BINARY)).body, 'true');
    assert.equal((await a.put(leader, 'app/empty', '', '?flags=7')).body, 'true');
    const all = await a.get(leader, '', '?recurse&consistent');
    expected = (JSON.parse(all.body) as Entry[]).map((e) => ({ Key: e.Key, Flags: e.Flags, Value: e.Value }));
    assert.equal(expected.length, 22);
    assert.deepEqual(expected.find((e) => e.Key === 'app/bin'), { Key: 'app/bin', Flags: 4294967295, Value: BINARY.toString('base64') });

    const saved = await konsul(['snapshot', 'save', '--json', '--http-addr', `127.0.0.1:${a.node(follower).httpPort}`, file]);
    assert.equal(saved.code, 0, saved.err);
    const info = JSON.parse(saved.out) as { Index: number; Tables: Record<string, number> };
    // Read at the leader's index: it holds every write acknowledged before it.
    assert.ok(info.Index >= 62, `index ${info.Index}`);
    assert.equal(info.Tables.kv, 22);
    assert.equal(info.Tables.members, 3);

    const inspected = await konsul(['snapshot', 'inspect', file]);
    assert.equal(inspected.code, 0, inspected.err);
    assert.match(inspected.out, new RegExp(`^Index\\s+${info.Index}$`, 'm'));
    assert.match(inspected.out, /^Node\s+a[123]$/m);
    await a.stopAll();
  });

  stepB('cluster B: a new 3-server cluster with data of its own, and a blocking query waiting', async () => {
    await formCluster(b, ['b1', 'b2', 'b3'], []);
    const leader = await b.leader();
    for (let i = 0; i < 5; i++) assert.equal((await b.put(leader, `b-only/${i}`, 'b')).body, 'true');
    const r = await b.get(leader, '', '?recurse&consistent');
    bIndexBefore = Number(r.headers['x-consul-index']);
    assert.ok(bIndexBefore > 0);
  });

  stepB('a corrupt file is refused by restore and B is unchanged', async () => {
    const bytes = readFileSync(file);
    bytes[bytes.length - 40]! ^= 0xff;
    const bad = join(b.dir, 'bad.snap');
    writeFileSync(bad, bytes);
    const r = await konsul(['snapshot', 'restore', '--http-addr', `127.0.0.1:${b.node('b1').httpPort}`, bad]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error: .*bad\.snap: invalid snapshot archive/);
    // The agent refuses it too, if a client skipped the check.
    const put = await http('PUT', `${b.node('b2').url}/v1/snapshot`, bytes);
    assert.equal(put.status, 400);
    assert.equal((await b.dump('b1', 'b-only/')).size, 5);
    assert.equal((await b.dump('b1', 'app/')).size, 0);
  });

  stepB('restore through a follower: every member of B has A\'s KV, indexes forward, waiters woken, B\'s members', async () => {
    const leader = await b.leader();
    const follower = ['b1', 'b2', 'b3'].find((id) => id !== leader)!;
    const other = ['b1', 'b2', 'b3'].find((id) => id !== leader && id !== follower)!;
    // Its wait outlasts this test's time limit: only the restore can end it.
    const blocked = http('GET', `${b.node(other).url}/v1/kv/b-only/?recurse&index=${bIndexBefore}&wait=9m`, undefined, 600_000);

    const r = await konsul(['snapshot', 'restore', '--json', '--http-addr', `127.0.0.1:${b.node(follower).httpPort}`, file]);
    assert.equal(r.code, 0, r.err);
    const answer = JSON.parse(r.out) as { Index: number; SnapshotIndex: number };
    restoreIndex = answer.Index;
    assert.equal(answer.SnapshotIndex, parseArchive(readFileSync(file)).header.index);
    assert.ok(restoreIndex > bIndexBefore, `restore index ${restoreIndex} > ${bIndexBefore}`);

    const woke = await blocked;
    assert.equal(woke.status, 404, 'the blocking query on b-only/ returns: its keys are gone');
    assert.ok(Number(woke.headers['x-consul-index']) > bIndexBefore);

    for (const id of ['b1', 'b2', 'b3']) {
      // Each member's own replica (stale), once it applied the restore.
      const got = await waitFor(`A's data on ${id}`, async () => {
        const res = await b.get(id, '', '?recurse&stale');
        const entries = JSON.parse(res.body) as Entry[];
        return entries.some((e) => e.Key === 'app/bin') ? { res, entries } : undefined;
      });
      assert.deepEqual(got.entries.map((e) => ({ Key: e.Key, Flags: e.Flags, Value: e.Value })), expected, id);
      for (const e of got.entries) {
        assert.equal(e.ModifyIndex, restoreIndex, `${id} ${e.Key}: ModifyIndex is the restore's`);
        assert.equal(e.CreateIndex, restoreIndex);
      }
      assert.ok(Number(got.res.headers['x-consul-index']) >= restoreIndex);
      const status = await b.status(id);
      assert.deepEqual(status.members.map((m) => m.id).sort(), ['b1', 'b2', 'b3'], `${id}: B keeps its own members`);
    }
  });

  stepB('B\'s agents put their own nodes back into the catalog after the restore; A\'s nodes are not B\'s', async () => {
    for (const id of ['b1', 'b2', 'b3']) {
      await waitFor(`${id}'s catalog lists b1, b2, b3`, async () => {
        const r = await http('GET', `${b.node(id).url}/v1/catalog/nodes?stale`);
        const names = (JSON.parse(r.body) as Array<{ Node: string }>).map((n) => n.Node).sort();
        return names.join(',') === 'b1,b2,b3' ? true : undefined;
      }, 20_000);
    }
  });

  stepB('after B is killed and restarted, every member still has A\'s KV and the index did not go back', async () => {
    await b.stopAll();
    await Promise.all(['b1', 'b2', 'b3'].map((id) => b.start(id)));
    await waitVoters(b, ['b1', 'b2', 'b3'], 'b1');
    await b.leader();
    for (const id of ['b1', 'b2', 'b3']) {
      const r = await b.get(id, '', '?recurse&stale');
      const entries = JSON.parse(r.body) as Entry[];
      assert.deepEqual(entries.map((e) => ({ Key: e.Key, Flags: e.Flags, Value: e.Value })), expected, id);
      assert.ok(Number(r.headers['x-consul-index']) >= restoreIndex, `${id}: X-Consul-Index ${r.headers['x-consul-index']} >= ${restoreIndex}`);
    }
    // And B takes new writes as usual.
    assert.equal((await b.put('b2', 'after/restore', 'yes')).body, 'true');
    assert.equal(await b.value('b3', 'after/restore'), 'yes');
  });

  stepB('a restore near the size limit (7 MiB, one Raft entry) into the same cluster reaches every member', async () => {
    const value = Buffer.alloc(100 * 1024);
    for (let i = 0; i < 76; i++) {
      value.fill(i);
      assert.equal((await http('PUT', `${b.node('b1').url}/v1/kv/big/${String(i).padStart(2, '0')}`, value)).body, 'true');
    }
    const big = join(b.dir, 'big.snap');
    const saved = await konsul(['snapshot', 'save', '--json', '--http-addr', `127.0.0.1:${b.node('b3').httpPort}`, big]);
    assert.equal(saved.code, 0, saved.err);
    const size = (JSON.parse(saved.out) as { Size: number }).Size;
    assert.ok(size > 7 * 1024 * 1024 && size < 8 * 1024 * 1024, `size ${size}`);
    const del = await http('DELETE', `${b.node('b2').url}/v1/kv/big/?recurse`);
    assert.equal(del.status, 200);
    assert.equal((await b.dump('b1', 'big/')).size, 0);

    const r = await konsul(['snapshot', 'restore', '--http-addr', `127.0.0.1:${b.node('b2').httpPort}`, big]);
    assert.equal(r.code, 0, r.err);
    for (const id of ['b1', 'b2', 'b3']) {
      const entries = await waitFor(`big/ back on ${id}`, async () => {
        const res = await b.get(id, 'big/', '?recurse&stale');
        if (res.status !== 200) return undefined;
        const list = JSON.parse(res.body) as Entry[];
        return list.length === 76 ? list : undefined;
      }, 30_000);
      for (const [i, e] of entries.entries()) {
        const bytes = Buffer.from(e.Value ?? '', 'base64');
        assert.equal(bytes.length, 100 * 1024);
        assert.ok(bytes.every((x) => x === i), `${id} ${e.Key}`);
      }
      assert.equal((await b.dump(id, 'app/', 'stale')).size, 22, `${id}: what was there at the save is back too`);
    }
  });

  stepB('a member that was down during a restore catches up with it when it comes back', async () => {
    await b.kill('b3');
    const leader = await b.leader(['b1', 'b2'], 15_000, 'b3');
    const r = await konsul(['snapshot', 'restore', '--http-addr', `127.0.0.1:${b.node(leader).httpPort}`, file]);
    assert.equal(r.code, 0, r.err);
    assert.equal((await b.dump(leader, 'big/')).size, 0, 'A\'s snapshot has no big/');
    await b.start('b3');
    await waitFor('b3 back with A\'s data and nothing else', async () => {
      const res = await b.get('b3', '', '?recurse&stale');
      if (res.status !== 200) return undefined;
      const entries = (JSON.parse(res.body) as Entry[]).map((e) => ({ Key: e.Key, Flags: e.Flags, Value: e.Value }));
      return JSON.stringify(entries) === JSON.stringify(expected) ? true : undefined;
    }, 30_000);
  });
});
