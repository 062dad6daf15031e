// The data dir's format version: a new store records format 3; a first-release
// (format 1) or format-2 data dir is copied whole and then migrated in one transaction; a
// data dir of a newer format is refused before anything is written; and the
// first release's own check refuses a migrated data dir.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  backupDir, DATA_FORMAT, DataDirTooNewError, LmdbStateStore, openStorage, stateDir, StorageCorruptionError,
} from '../../src/storage/index.js';
import { decodeAppliedIndex } from '../../src/storage/codec.js';
import { tamper, tempDir } from './helpers.js';

const tables = ['kv'];

/** The applied-index record as the first release wrote it: crc32 | version 1 | u64 index. */
function firstReleaseApplied(index: number): Buffer {
  const b = Buffer.alloc(13);
  b[4] = 1;
  b.writeBigUInt64BE(BigInt(index), 5);
  b.writeUInt32BE(crc32(b.subarray(4)), 0);
  return b;
}

async function writeSome(dir: string): Promise<void> {
  const s = openStorage(dir, { state: { tables } });
  s.state.applyBatch(5, (txn) => txn.put('kv', 'k', Buffer.from('v')));
  await s.state.sync();
  await s.close();
}

/** Turn a data dir into what the first release left: no format record, applied index of record version 1. */
function makeFirstRelease(dir: string, index: number): void {
  tamper(stateDir(dir), '__meta', (txn, dbi) => {
    txn.del(dbi, Buffer.from('format'));
    txn.putBinary(dbi, Buffer.from('appliedIndex'), firstReleaseApplied(index));
  });
}

test('a new data dir records format 3', async (t) => {
  const dir = tempDir(t);
  await writeSome(dir);
  assert.equal(DATA_FORMAT, 3);
  assert.equal(LmdbStateStore.peekFormat(stateDir(dir)), 3);
  const s = openStorage(dir, { state: { tables } });
  t.after(() => s.close());
  assert.equal(s.migrated, undefined);
  assert.equal(s.state.formatVersion, 3);
});

test('a format-2 data dir (64-bit KV flags unknown to it) is copied, then stamped format 3; its data stays', async (t) => {
  const dir = tempDir(t);
  await writeSome(dir);
  tamper(stateDir(dir), '__meta', (txn, dbi) => txn.putBinary(dbi, Buffer.from('format'), Buffer.of(0, 2)));
  assert.equal(LmdbStateStore.peekFormat(stateDir(dir)), 2);
  const s = openStorage(dir, { state: { tables } });
  t.after(() => s.close());
  assert.deepEqual(s.migrated, { from: 2, to: 3, backup: backupDir(dir, 2) });
  assert.equal(s.state.formatVersion, 3);
  assert.equal(s.state.appliedIndex(), 5);
  assert.equal(s.state.read((txn) => txn.get('kv', 'k'))?.toString(), 'v');
  assert.equal(LmdbStateStore.peekFormat(join(backupDir(dir, 2), 'state')), 2);
});

test('a first-release data dir is copied, then migrated atomically; its data and applied index stay', async (t) => {
  const dir = tempDir(t);
  await writeSome(dir);
  makeFirstRelease(dir, 5);
  assert.equal(LmdbStateStore.peekFormat(stateDir(dir)), 1);
  const s = openStorage(dir, { state: { tables } });
  assert.deepEqual(s.migrated, { from: 1, to: 3, backup: backupDir(dir, 1) });
  assert.equal(s.state.formatVersion, 3);
  assert.equal(s.state.appliedIndex(), 5);
  assert.equal(s.state.read((txn) => txn.get('kv', 'k'))?.toString(), 'v');
  await s.close();
  // The copy is the format-1 data dir as it was: both environments, the old applied record.
  const backup = backupDir(dir, 1);
  assert.deepEqual(readdirSync(backup).sort(), ['raft', 'state']);
  assert.ok(existsSync(join(backup, 'state', 'data.mdb')));
  assert.equal(LmdbStateStore.peekFormat(join(backup, 'state')), 1);
  assert.ok(!existsSync(`${backup}.partial`));
  // Opened again: format 3, nothing to migrate.
  const again = openStorage(dir, { state: { tables } });
  t.after(() => again.close());
  assert.equal(again.migrated, undefined);
});

test('the first release refuses a migrated data dir: its applied-index check knows only record version 1', async (t) => {
  const dir = tempDir(t);
  await writeSome(dir);
  let stored: Buffer | undefined;
  tamper(stateDir(dir), '__meta', (txn, dbi) => {
    stored = Buffer.from(txn.getBinary(dbi, Buffer.from('appliedIndex'))!);
  });
  assert.equal(stored![4], 2, 'formats 2 and 3 seal the applied index with record version 2');
  // The first release's decodeAppliedIndex: the same CRC check, then version === 1 or "unknown format version".
  const firstRelease = (buf: Buffer): number => {
    if (buf[4] !== 1) throw new StorageCorruptionError('appliedIndex', `unknown format version ${buf[4]}`);
    return Number(buf.readBigUInt64BE(5));
  };
  assert.throws(() => firstRelease(stored!), /corrupt appliedIndex: unknown format version 2/);
  assert.equal(decodeAppliedIndex(stored!), 5);
  assert.equal(decodeAppliedIndex(firstReleaseApplied(5)), 5, 'this konsul reads both');
});

test('a data dir of a newer format is refused in one line, and left untouched', async (t) => {
  const dir = tempDir(t);
  await writeSome(dir);
  tamper(stateDir(dir), '__meta', (txn, dbi) => txn.putBinary(dbi, Buffer.from('format'), Buffer.of(0, 4)));
  assert.throws(
    () => openStorage(dir, { state: { tables } }),
    (e) => e instanceof DataDirTooNewError && e.format === 4 && !e.message.includes('\n')
      && /format 4, written by a newer konsul; this one reads formats up to 3/.test(e.message),
  );
  assert.equal(LmdbStateStore.peekFormat(stateDir(dir)), 4);
  assert.ok(!existsSync(backupDir(dir, 4)));
});
