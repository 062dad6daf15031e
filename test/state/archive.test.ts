// The snapshot archive format on its own: written from a real state store,
// parsed at any chunk boundary, and every truncation and every single-byte
// change refused with an ArchiveError (never a crash, never accepted).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArchiveError, ArchiveParser, parseArchive, writeArchive } from '../../src/state/archive.js';
import { STATE_TABLES, StateMachine, encodeCommand } from '../../src/state/index.js';
import { LmdbStateStore } from '../../src/storage/index.js';

describe('snapshot archive', () => {
  let dir: string;
  let store: LmdbStateStore;
  let archive: Buffer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'konsul-archive-'));
    store = LmdbStateStore.open(dir, { tables: STATE_TABLES, mapSize: 64 * 1024 * 1024 });
    const sm = new StateMachine(store);
    const items = Array.from({ length: 40 }, (_, i) => ({
      index: i + 1,
      command: encodeCommand({ type: 'kv-set', key: `k/${i}`, value: Buffer.alloc(i * 10, i), flags: i }),
    }));
    sm.apply(items);
    const image = store.snapshot({ chunkBytes: 256 });
    const header = { index: image.appliedIndex, term: 4, createdAt: '2026-01-01T00:00:00.000Z', nodeId: 'n1', datacenter: 'dc1' };
    const parts: Buffer[] = [];
    for await (const chunk of writeArchive(header, image)) parts.push(chunk);
    archive = Buffer.concat(parts);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the header, per-table counts and the state stream', () => {
    const parsed = parseArchive(archive, { keepBody: true });
    assert.equal(parsed.header.index, 40);
    assert.equal(parsed.header.term, 4);
    assert.equal(parsed.trailer.tables.kv, 40);
    assert.equal(parsed.trailer.records, Object.values(parsed.trailer.tables).reduce((a, b) => a + b, 0));
    assert.equal(parsed.body?.length, parsed.trailer.bodyBytes);
    assert.equal(parsed.size, archive.length);
  });

  it('parses the same in chunks of any size', () => {
    const whole = parseArchive(archive);
    for (const size of [1, 3, 7, 64, 1000]) {
      const p = new ArchiveParser({ keepBody: true });
      for (let at = 0; at < archive.length; at += size) p.push(archive.subarray(at, at + size));
      const got = p.end();
      assert.deepEqual({ ...got, body: undefined }, { ...whole, body: undefined }, `chunks of ${size}`);
    }
  });

  it('refuses every truncation and every single-byte change', () => {
    for (let n = 0; n < archive.length; n++) {
      assert.throws(() => parseArchive(archive.subarray(0, n)), ArchiveError, `cut at ${n}`);
    }
    for (let at = 0; at < archive.length; at++) {
      const bad = Buffer.from(archive);
      bad[at]! ^= 0x04;
      assert.throws(() => parseArchive(bad), ArchiveError, `byte ${at} changed`);
    }
  });

  it('a restore command with a damaged state stream is a no-op on the replica, with result false', () => {
    const body = parseArchive(archive, { keepBody: true }).body!;
    const dir2 = mkdtempSync(join(tmpdir(), 'konsul-archive-'));
    const other = LmdbStateStore.open(dir2, { tables: STATE_TABLES, mapSize: 64 * 1024 * 1024 });
    try {
      const sm = new StateMachine(other);
      sm.apply([{ index: 1, command: encodeCommand({ type: 'kv-set', key: 'mine', value: Buffer.from('x'), flags: 0 }) }]);
      const damaged = Buffer.from(body);
      damaged[damaged.length - 20]! ^= 0xff;
      assert.deepEqual(sm.apply([{ index: 2, command: encodeCommand({ type: 'restore', state: damaged }) }]), [false]);
      assert.deepEqual(sm.kvList('').map((e) => e.key), ['mine']);
      assert.equal(sm.appliedIndex(), 2);
      assert.deepEqual(sm.apply([{ index: 3, command: encodeCommand({ type: 'restore', state: body }) }]), [true]);
      const keys = sm.kvList('');
      assert.equal(keys.length, 40);
      assert.ok(keys.every((e) => e.modifyIndex === 3 && e.createIndex === 3));
      assert.equal(sm.kvIndex(), 3);
    } finally {
      void other.close().then(() => rmSync(dir2, { recursive: true, force: true }));
    }
  });
});
