// Shared helpers for the storage tests: temp data dirs that clean themselves
// up, entry builders, and raw LMDB access for tampering with stored bytes.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { EntryType, type Entry } from '../../src/raft/types.js';
import { openEnv, type LmdbDbi, type LmdbTxn } from '../../src/storage/lmdb.js';

/** A fresh directory under the OS temp dir, removed when the test ends. */
export function tempDir(t: TestContext, label = 'storage'): string {
  const dir = mkdtempSync(join(tmpdir(), `konsul-${label}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function entry(index: number, term: number, text = `cmd-${index}`): Entry {
  return { index, term, type: EntryType.Normal, data: Buffer.from(text) };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

/** Plain comparable shape: Buffer vs Uint8Array must not matter to deepEqual. */
export function plain(list: readonly Entry[]): { index: number; term: number; type: EntryType; data: string }[] {
  return list.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Buffer.from(e.data).toString('hex') }));
}

/** Open an env the store has closed and change its bytes behind the store's back. */
export function tamper(path: string, dbiName: string, edit: (txn: LmdbTxn, dbi: LmdbDbi) => void): void {
  const opened = openEnv(path, 1024 ** 3, 8);
  try {
    const dbi = opened.env.openDbi({ name: dbiName, create: false, keyIsBuffer: true });
    const txn = opened.env.beginTxn();
    try {
      edit(txn, dbi);
      txn.commit();
    } catch (error) {
      txn.abort();
      throw error;
    }
  } finally {
    opened.release();
  }
}

export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
