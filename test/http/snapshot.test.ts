// /v1/snapshot over a real state machine: GET streams a checked archive whose
// index is X-Consul-Index; PUT restores it into another store (KV byte for
// byte with flags, the catalog, indexes moving forward, blocking queries
// woken); corrupt, truncated, empty and oversized bodies change nothing.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request } from 'undici';
import { parseArchive } from '../../src/state/archive.js';
import { MAX_RESTORE_BYTES } from '../../src/http/snapshot.js';
import { startServer, type KvJson, type TestServer } from './helpers.js';

const BINARY = Buffer.from([0, 255, 1, 254, 0x80, 10, 13, 0]);

function syncNode(s: TestServer, node: string, service: string, port: number): void {
  const ok = s.agent.apply({
    type: 'catalog',
    op: {
      op: 'sync',
      node: { id: `id-${node}`, node, address: '10.0.0.9', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
      services: [{
        id: service, service, tags: ['v1'], address: '', port, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false,
      }],
      checks: [],
    },
  });
  assert.ok(ok);
}

async function fill(s: TestServer): Promise<void> {
  assert.equal((await s.call('PUT', '/v1/kv/app/name', { body: 'alpha' })).status, 200);
  assert.equal((await s.call('PUT', '/v1/kv/app/bin?flags=4294967295', { body: BINARY })).status, 200);
  assert.equal((await s.call('PUT', '/v1/kv/app/empty?flags=7', { body: '' })).status, 200);
  assert.equal((await s.call('PUT', '/v1/kv/other/ü-key', { body: 'x' })).status, 200);
  syncNode(s, 'web-1', 'web', 8080);
  assert.ok(s.agent.apply({ type: 'member-set', id: 'a-member', raftAddress: '10.0.0.1:7000', httpAddress: '10.0.0.1:8500', server: true }));
}

async function kvDump(s: TestServer): Promise<Array<{ key: string; flags: number; value: string }>> {
  const r = await s.call('GET', '/v1/kv/?recurse');
  if (r.status === 404) return [];
  assert.equal(r.status, 200);
  return r.json<KvJson[]>().map((e) => ({ key: e.Key, flags: e.Flags, value: e.Value ?? '' }));
}

async function save(s: TestServer, query = ''): Promise<Buffer> {
  const r = await s.call('GET', `/v1/snapshot${query}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.header('content-type'), 'application/octet-stream');
  return r.body;
}

describe('GET /v1/snapshot', () => {
  test('streams a checked archive at the state\'s index, with counts per table', async (t) => {
    const s = await startServer(t);
    await fill(s);
    const r = await s.call('GET', '/v1/snapshot');
    assert.equal(r.status, 200);
    const archive = parseArchive(r.body);
    assert.equal(Number(r.header('x-consul-index')), archive.header.index);
    assert.equal(archive.header.index, s.agent.state.appliedIndex());
    assert.equal(r.header('x-konsul-snapshot-term'), String(archive.header.term));
    assert.equal(archive.header.nodeId, 'n1');
    assert.equal(archive.trailer.tables.kv, 4);
    assert.equal(archive.trailer.tables['catalog-services'], 1);
    // node n1 (the fake agent's own, synced at start) and web-1
    assert.equal(archive.trailer.tables['catalog-nodes'], 2);
    assert.equal(archive.size, r.body.length);
    assert.deepEqual(s.agent.barrierCalls.slice(-2), ['default', 'stale']);
  });

  test('?stale skips the leader round trip; ?consistent is refused', async (t) => {
    const s = await startServer(t);
    await save(s, '?stale');
    assert.deepEqual(s.agent.barrierCalls, ['stale', 'stale']);
    const r = await s.call('GET', '/v1/snapshot?consistent');
    assert.equal(r.status, 400);
  });
  test('a client that hangs up mid-stream ends the read transaction', async (t) => {
    const s = await startServer(t);
    const big = Buffer.alloc(256 * 1024, 1);
    for (let i = 0; i < 24; i++) s.agent.apply({ type: 'kv-set', key: `big/${i}`, value: big, flags: 0 });
    // The store's open snapshot images (a private field: what would keep LMDB from growing its map).
    const open = (): number => (s.agent as unknown as { store: { snapshots: Set<unknown> } }).store.snapshots.size;
    const controller = new AbortController();
    const res = await request(`${s.url}/v1/snapshot`, { signal: controller.signal });
    assert.equal(res.statusCode, 200);
    for await (const _chunk of res.body) break;
    controller.abort();
    const deadline = Date.now() + 10_000;
    while (open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(open(), 0);
    // And the agent serves the next one whole.
    assert.equal(parseArchive(await save(s)).trailer.tables.kv, 24);
  });
});

describe('PUT /v1/snapshot', () => {
  test('restores KV (bytes and flags) and the catalog into another store, indexes moving forward', async (t) => {
    const a = await startServer(t);
    await fill(a);
    const archive = await save(a);

    const b = await startServer(t);
    assert.ok(b.agent.apply({ type: 'member-set', id: 'b-member', raftAddress: '10.1.0.1:7000', httpAddress: '10.1.0.1:8500', server: true }));
    for (let i = 0; i < 30; i++) await b.call('PUT', `/v1/kv/b-only/${i}`, { body: 'b' });
    const before = Number((await b.call('GET', '/v1/kv/?recurse')).header('x-consul-index'));
    const catalogBefore = Number((await b.call('GET', '/v1/catalog/services')).header('x-consul-index'));

    // A blocking query on B, waiting past B's current index, must wake with the restore.
    const blocked = b.call('GET', `/v1/kv/b-only/?recurse&index=${before}&wait=30s`);
    await new Promise<void>((resolve) => b.agent.once('wait', () => resolve()));

    assert.equal(b.agent.state.waiting, 1);
    const r = await b.call('PUT', '/v1/snapshot', { body: archive });
    assert.equal(r.status, 200, r.text);
    // Applying the restore finished the waiter itself (not its 30 s timeout).
    assert.equal(b.agent.state.waiting, 0);
    const answer = r.json<{ Index: number; SnapshotIndex: number; Records: number; Tables: Record<string, number> }>();
    assert.equal(answer.SnapshotIndex, parseArchive(archive).header.index);
    assert.equal(answer.Tables.kv, 4);

    assert.deepEqual(await kvDump(b), await kvDump(a));
    const bin = await b.call('GET', '/v1/kv/app/bin?raw');
    assert.deepEqual(bin.body, BINARY);
    const entry = (await b.call('GET', '/v1/kv/app/bin')).json<KvJson[]>()[0]!;
    assert.equal(entry.Flags, 4294967295);
    assert.equal(entry.ModifyIndex, answer.Index);
    assert.equal(entry.CreateIndex, answer.Index);

    const woke = await blocked;
    assert.equal(woke.status, 404, 'b-only/ is gone after the restore');
    assert.ok(Number(woke.header('x-consul-index')) > before);

    const after = Number((await b.call('GET', '/v1/kv/?recurse')).header('x-consul-index'));
    assert.ok(after > before, `KV index ${after} > ${before}`);
    const services = await b.call('GET', '/v1/catalog/service/web');
    assert.equal(services.status, 200);
    const [web] = services.json<Array<{ Node: string; ServicePort: number; ModifyIndex: number }>>();
    assert.equal(web?.Node, 'web-1');
    assert.equal(web?.ServicePort, 8080);
    assert.equal(web?.ModifyIndex, answer.Index);
    assert.ok(Number(services.header('x-consul-index')) > catalogBefore);
    // Members are B's own: a restore does not touch them.
    assert.deepEqual(b.agent.state.members().map((m) => m.id), ['b-member']);
  });

  test('a corrupt, truncated, empty or foreign body is refused with 400 and nothing changes', async (t) => {
    const a = await startServer(t);
    await fill(a);
    const archive = await save(a);
    const b = await startServer(t);
    await b.call('PUT', '/v1/kv/keep', { body: 'me' });
    const before = await kvDump(b);
    const applied = b.agent.state.appliedIndex();

    const flipped = Buffer.from(archive);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    // A byte only the SHA-256 covers: a digit of the header's timestamp (the JSON stays valid).
    const headerOnly = Buffer.from(archive);
    headerOnly[archive.indexOf('"createdAt":"') + 13]! ^= 0x01;
    const cases: Array<[string, Buffer, RegExp]> = [
      ['one flipped bit in the state data', flipped, /checksum|state data/],
      ['one flipped bit in the header', headerOnly, /checksum mismatch/],
      ['truncated', archive.subarray(0, archive.length - 10), /truncated/],
      ['cut in the header', archive.subarray(0, 12), /truncated/],
      ['not an archive', Buffer.from('{"Key":"x"}'), /bad magic/],
      ['empty', Buffer.alloc(0), /empty/],
      ['with bytes after the checksum', Buffer.concat([archive, Buffer.from('x')]), /after the checksum/],
    ];
    for (const [what, body, message] of cases) {
      const r = await b.call('PUT', '/v1/snapshot', { body });
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.match(r.text, message, what);
    }
    assert.deepEqual(await kvDump(b), before);
    assert.equal(b.agent.state.appliedIndex(), applied, 'nothing was applied');
    assert.equal(b.agent.restoreCalls.length, 0);
  });

  test('a body over the limit is refused with 413 before it is read', async (t) => {
    const s = await startServer(t);
    const r = await s.call('PUT', '/v1/snapshot', { body: Buffer.alloc(MAX_RESTORE_BYTES + 1) });
    assert.equal(r.status, 413);
    assert.match(r.text, /at most 8388608 bytes/);
  });
});
