// A rolling upgrade sends Raft snapshots both ways: a node of the previous
// release (releases.json, built from this repository's history) must install a
// snapshot this tree takes while the cluster still runs protocol 1. Its state
// store refuses a stream that names a table it lacks, so this tree leaves empty
// tables out of its snapshots; the test restores this tree's snapshot into the
// release's own store code, and shows that a stream naming a newer table (one
// holding records) is still refused there, which is what the rule avoids.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { STATE_TABLES, StateMachine, encodeCommand, type Command } from '../../src/state/index.js';
import { openStorage } from '../../src/storage/index.js';
import { buildRelease, haveCommit, previousRelease } from './release.js';

interface OldStorage {
  state: {
    restoreSnapshot(stream: AsyncIterable<Uint8Array>): Promise<{ appliedIndex: number }>;
    read<T>(fn: (txn: { scan(table: string): Iterable<{ key: Buffer; value: Buffer }> }) => T): T;
  };
  close(): Promise<void>;
}

const release = previousRelease();
const skip = haveCommit(release.commit) ? false : `the release's commit ${release.commit.slice(0, 12)} is not in this clone`;

describe(`snapshots this tree takes install on konsul ${release.version}`, { skip, timeout: 240_000 }, () => {
  it('a snapshot of a protocol-1 cluster installs on the previous release; one naming a newer table holding records is refused there', async () => {
    const built = buildRelease(release);
    const oldStorage = (await import(pathToFileURL(join(built.root, 'dist', 'src', 'storage', 'index.js')).href)) as {
      openStorage(dir: string, options: { state: { tables: readonly string[] } }): OldStorage;
    };
    const oldState = (await import(pathToFileURL(join(built.root, 'dist', 'src', 'state', 'index.js')).href)) as { STATE_TABLES: readonly string[] };
    const dirs: string[] = [];
    const dir = (): string => {
      const d = mkdtempSync(join(tmpdir(), 'konsul-compat-'));
      dirs.push(d);
      return d;
    };
    const storage = openStorage(dir(), { state: { tables: STATE_TABLES } });
    try {
      const sm = new StateMachine(storage.state);
      let index = 0;
      const run = (cmd: Command): void => void sm.apply([{ index: ++index, command: encodeCommand(cmd) }]);
      // What a cluster at protocol 1 writes: keys, members, the catalog.
      run({ type: 'kv-set', key: 'web/config', value: Buffer.from('v1'), flags: 0 });
      run({ type: 'member-set', id: 'n1', raftAddress: '127.0.0.1:7001', httpAddress: '127.0.0.1:8501', server: true });
      run({
        type: 'catalog', op: {
          op: 'register', skipNodeUpdate: false, checks: [],
          node: { id: 'u1', node: 'n1', address: '127.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
          service: { id: 'web', service: 'web', tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false },
        },
      });
      const take = async (): Promise<Buffer[]> => {
        const chunks: Buffer[] = [];
        for await (const c of storage.state.snapshot()) chunks.push(c);
        return chunks;
      };
      async function* replay(chunks: Buffer[]): AsyncGenerator<Buffer> {
        yield* chunks;
      }

      const old = oldStorage.openStorage(dir(), { state: { tables: oldState.STATE_TABLES } });
      try {
        const restored = await old.state.restoreSnapshot(replay(await take()));
        assert.equal(restored.appliedIndex, index);
        const keys = old.state.read((txn) => [...txn.scan('kv')].map((r) => r.key.toString()));
        assert.deepEqual(keys, ['web/config']);

        // A newer table with records in it: the release refuses the stream (so the rule above matters).
        storage.state.applyBatch(++index, (txn) => txn.put('sessions', 's1', Buffer.from('{}')));
        await assert.rejects(old.state.restoreSnapshot(replay(await take())), /sessions/);
        const still = old.state.read((txn) => [...txn.scan('kv')].map((r) => r.key.toString()));
        assert.deepEqual(still, ['web/config'], 'the refused restore changed nothing');
      } finally {
        await old.close();
      }
    } finally {
      await storage.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
