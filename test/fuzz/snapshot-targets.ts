// Fuzz target for the state snapshot a follower receives from its leader and
// restores: chunks of a real snapshot, mutated, truncated or rebuilt around
// hostile records, in arbitrary chunking. A restore either succeeds or fails
// with a KonsulError and leaves the store exactly as it was (atomic).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { KonsulError } from '../../src/errors.js';
import { encodeCommand, STATE_TABLES, StateMachine } from '../../src/state/index.js';
import { LmdbStateStore } from '../../src/storage/index.js';
import { SnapshotEncoder } from '../../src/storage/snapshot-format.js';
import { mutated, type FuzzTarget } from './runner.js';
import { commandArb, stateDigest } from './state-targets.js';
import { split } from './transport-targets.js';

async function snapshotBytes(store: LmdbStateStore): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.snapshot({ chunkBytes: 4096 })) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function* stream(chunks: Buffer[]): AsyncIterable<Uint8Array> {
  for (const c of chunks) yield c;
}

/** A well-formed stream (right checksum and counts) around any tables and records. */
const rebuiltArb = fc.record({
  applied: fc.oneof(fc.nat(), fc.maxSafeNat()),
  tables: fc.array(fc.record({
    name: fc.oneof(fc.constantFrom(...STATE_TABLES), fc.string({ maxLength: 8 })),
    records: fc.array(fc.tuple(
      fc.oneof(fc.string({ maxLength: 8 }).map((s) => Buffer.from(s)), fc.constant(Buffer.alloc(0)), fc.constant(Buffer.alloc(600, 0x61))),
      fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)),
    ), { maxLength: 4 }),
  }), { maxLength: 4 }),
  sorted: fc.boolean(),
  tableCountDelta: fc.constantFrom(0, 0, 0, 1, -1),
}).map(({ applied, tables, sorted, tableCountDelta }) => {
  const e = new SnapshotEncoder(applied, Math.max(0, tables.length + tableCountDelta));
  const out: Buffer[] = [];
  for (const t of tables) {
    e.table(t.name);
    const records = sorted ? [...t.records].sort(([a], [b]) => Buffer.compare(a, b)) : t.records;
    for (const [k, v] of records) e.record(k, v);
  }
  out.push(e.finish());
  return Buffer.concat(out);
});

export const snapshotTarget: FuzzTarget = {
  name: 'snapshot-restore',
  description: 'LmdbStateStore.restoreSnapshot: a real snapshot mutated or truncated, or rebuilt with a valid checksum around hostile tables and records, in any chunking; success, or a KonsulError with the store unchanged',
  testRuns: 800,
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-fuzz-snapshot-'));
    const store = LmdbStateStore.open(dir, { tables: STATE_TABLES, mapSize: 32 * 1024 * 1024 });
    const sm = new StateMachine(store);
    // A state worth snapshotting: a few hundred commands of every kind.
    const commands = fc.sample(commandArb, { numRuns: 300, seed: 1 });
    sm.apply(commands.map((c, i) => ({ index: i + 1, command: encodeCommand(c) })));
    const base = await snapshotBytes(store);
    const baseDigest = stateDigest(store, sm);

    const property = fc.asyncProperty(
      fc.oneof(
        mutated(fc.constant(base)).map((bytes) => ({ bytes, damaged: !bytes.equals(base) })),
        rebuiltArb.map((bytes) => ({ bytes, damaged: false })),
      ),
      fc.array(fc.nat(), { maxLength: 8 }),
      async ({ bytes, damaged }, cuts) => {
        // Start every case from the real state.
        if (stateDigest(store, sm) !== baseDigest) {
          await store.restoreSnapshot(stream([base]));
          sm.reset();
          assert.equal(stateDigest(store, sm), baseDigest, 'restoring the real snapshot did not give the real state back');
        }
        const applied = store.appliedIndex();
        try {
          await store.restoreSnapshot(stream(split(bytes, cuts)));
        } catch (error) {
          assert.ok(error instanceof KonsulError, `not a KonsulError: ${String((error as Error)?.stack ?? error)}`);
          assert.equal(store.appliedIndex(), applied, 'a refused restore moved the applied index');
          assert.equal(stateDigest(store, sm), baseDigest, 'a refused restore changed the store');
          return;
        }
        // Every byte of a snapshot is under its checksum or counted: a damaged real one must not restore.
        assert.ok(!damaged, 'a damaged snapshot was restored');
      },
    );
    return {
      property,
      async teardown() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
