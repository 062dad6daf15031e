// Command versions: the first release's bare commands still decode (version
// 1), commands of protocol 2 travel in a versioned envelope, a command this
// konsul does not understand stops the state machine (nothing of its batch
// applied) instead of being skipped, and the cluster version is replicated
// state that only ever rises.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  COMMAND_VERSION, CommandTooNewError, UnsupportedCommandError, commandVersion, decodeCommand, encodeCommand, versionCommand,
  type Command,
} from '../../src/state/index.js';
import { prepareProposal, ClusterVersionError, commonVersion } from '../../src/agent/versions.js';
import { Applier, stateFixture } from './helpers.js';

const put: Command = { type: 'kv-set', key: 'a', value: Buffer.from('1'), flags: 0 };

describe('command versions', () => {
  it('bare first-release commands are version 1 and decode as before; the envelope carries 2', () => {
    const bare = encodeCommand(put);
    assert.equal(bare[0], 1);
    assert.equal(commandVersion(bare), 1);
    const wrapped = versionCommand(bare, 2);
    assert.equal(wrapped[0], 41);
    assert.equal(wrapped[1], 2);
    assert.equal(commandVersion(wrapped), 2);
    assert.deepEqual(decodeCommand(wrapped), decodeCommand(bare));
    assert.equal(versionCommand(bare, 1), bare, 'at version 1 the bytes stay bare');
    // cluster-version is a protocol-2 command even bare.
    assert.equal(commandVersion(encodeCommand({ type: 'cluster-version', version: 2 })), 2);
    assert.equal(COMMAND_VERSION, 2);
  });

  it('a newer envelope or an unknown type is unsupported, not merely malformed', () => {
    const v3 = Buffer.concat([Buffer.of(41, 3), encodeCommand(put)]);
    assert.throws(() => decodeCommand(v3), (e) => e instanceof UnsupportedCommandError && /version 3/.test(e.message));
    assert.throws(() => decodeCommand(Buffer.of(99, 0)), (e) => e instanceof UnsupportedCommandError && /unknown type 99/.test(e.message));
    assert.throws(() => decodeCommand(Buffer.of(41, 2, 41, 2, 1)), (e) => !(e instanceof UnsupportedCommandError));
  });

  it('the leader wraps proposals for the cluster version and refuses what the cluster cannot apply yet', () => {
    const bare = encodeCommand(put);
    assert.equal(prepareProposal(bare, 1), bare, 'a version-1 cluster gets the bytes first-release replicas read');
    const two = prepareProposal(bare, 2);
    assert.deepEqual([two[0], two[1]], [41, 2]);
    assert.equal(prepareProposal(two, 2), two, 'already in the envelope: as it is');
    assert.throws(() => prepareProposal(encodeCommand({ type: 'cluster-version', version: 2 }), 1), ClusterVersionError);
    assert.throws(() => prepareProposal(Buffer.of(99, 0), 2), UnsupportedCommandError);
    assert.throws(() => prepareProposal(Buffer.of(1), 2), /malformed/);
  });
});

describe('the version the cluster can run at', () => {
  it('is the lowest newest version of every member, and unknown while one has not said', () => {
    const versions = new Map([['b', 2], ['c', 1]]);
    assert.equal(commonVersion(['a', 'b'], 'a', (id) => versions.get(id)), 2);
    assert.equal(commonVersion(['a', 'b', 'c'], 'a', (id) => versions.get(id)), 1, 'a first-release member holds the cluster at 1');
    assert.equal(commonVersion(['a', 'b', 'd'], 'a', (id) => versions.get(id)), undefined, 'd has not said');
    assert.equal(commonVersion(['a'], 'a', () => undefined), 2, 'alone: its own newest');
  });
});

describe('the state machine and versions', () => {
  it('stops at a command it does not understand: throws naming the entry, applies nothing of the batch', (t) => {
    const fx = stateFixture(t);
    const { sm } = fx.open();
    sm.apply([{ index: 1, command: encodeCommand(put) }]);
    const newer = Buffer.concat([Buffer.of(41, COMMAND_VERSION + 1), encodeCommand({ ...put, key: 'b' })]);
    assert.throws(
      () => sm.apply([{ index: 2, command: encodeCommand({ ...put, key: 'c' }) }, { index: 3, command: newer }]),
      (e) => e instanceof CommandTooNewError && e.index === 3 && /log entry 3 .* upgrade this node/.test(e.message),
    );
    assert.equal(sm.appliedIndex(), 1, 'the batch with the unknown command was not applied');
    assert.equal(sm.kvGet('c'), undefined);
    // The first release skipped what it could not decode (a no-op with result false): the broken variant this replaces.
    assert.deepEqual(sm.apply([{ index: 2, command: Buffer.of(1, 0) }]), [false], 'a malformed bare command is still the old deterministic no-op');
  });

  it('the cluster version is replicated state: raised by the command, kept across a reopen, never lowered', async (t) => {
    const fx = stateFixture(t);
    const first = fx.open();
    assert.equal(first.sm.clusterVersion(), 1);
    assert.deepEqual(first.sm.apply([{ index: 1, command: encodeCommand({ type: 'cluster-version', version: 2 }) }]), [true]);
    assert.equal(first.sm.clusterVersion(), 2);
    assert.deepEqual(first.sm.apply([{ index: 2, command: encodeCommand({ type: 'cluster-version', version: 1 }) }]), [false]);
    assert.equal(first.sm.clusterVersion(), 2);
    await first.close();
    const again = fx.open(first.dir);
    assert.equal(again.sm.clusterVersion(), 2);
  });
});

describe('snapshots carry their format version', () => {
  it('an archive or a state stream of a newer format is refused, naming it as a newer konsul\'s', async () => {
    const { ARCHIVE_MAGIC, ARCHIVE_VERSION, ArchiveError, parseArchive } = await import('../../src/state/archive.js');
    const { SnapshotDecoder } = await import('../../src/storage/snapshot-format.js');
    const newer = Buffer.concat([ARCHIVE_MAGIC, Buffer.of(ARCHIVE_VERSION + 1), Buffer.alloc(64)]);
    assert.throws(() => parseArchive(newer), (e) => e instanceof ArchiveError && /format version 2 .* written by a newer konsul/.test(e.message));
    const stream = Buffer.concat([Buffer.from('KSNP', 'latin1'), Buffer.of(2), Buffer.alloc(12)]);
    assert.throws(() => new SnapshotDecoder({ table: () => undefined, record: () => undefined }).push(stream), /state snapshot format 2 is newer than this konsul reads \(1\)/);
  });
});

describe('snapshots during a rolling upgrade', () => {
  // The first release's tables (its STATE_TABLES): a node of it refuses a stream naming any other.
  const FIRST_RELEASE_TABLES = ['catalog-checks', 'catalog-indexes', 'catalog-nodes', 'catalog-services', 'kv', 'members', 'meta'];

  it('a snapshot names only the tables that hold records, so a first-release node can install one taken before the newer tables were used', async (t) => {
    const { SnapshotDecoder } = await import('../../src/storage/snapshot-format.js');
    const { CATALOG_TABLES, KV_TABLE, MEMBERS_TABLE, META_TABLE } = await import('../../src/state/index.js');
    assert.deepEqual([...CATALOG_TABLES, KV_TABLE, MEMBERS_TABLE, META_TABLE].sort(), FIRST_RELEASE_TABLES, 'the names this test assumes');
    const fixture = stateFixture(t);
    const a = fixture.open();
    const apply = new Applier(a.sm);
    // What a cluster still at protocol 1 writes: keys, members, the catalog.
    apply.put('web/config', 'x');
    apply.run({ type: 'member-set', id: 'n1', raftAddress: '127.0.0.1:7001', httpAddress: '127.0.0.1:8501', server: true });
    apply.run({
      type: 'catalog', op: {
        op: 'register', skipNodeUpdate: false, checks: [],
        node: { id: 'u1', node: 'n1', address: '127.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
        service: { id: 'web', service: 'web', tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false },
      },
    });
    const chunks: Buffer[] = [];
    for await (const c of a.storage.state.snapshot()) chunks.push(c);
    const named: string[] = [];
    let records = 0;
    const decoder = new SnapshotDecoder({ table: (name) => void named.push(name), record: () => void records++ });
    decoder.push(Buffer.concat(chunks));
    decoder.end();
    assert.ok(named.length > 0 && records > 0);
    assert.deepEqual(named.filter((n) => !FIRST_RELEASE_TABLES.includes(n)), [], `tables a first-release node lacks: ${named.join(', ')}`);

    // Restored into a store whose other tables hold records: those come back empty, the rest as in the snapshot.
    const b = fixture.open();
    b.storage.state.applyBatch(5, (txn) => {
      txn.put('sessions', 'stale-session', Buffer.from('{}'));
      txn.put(KV_TABLE, 'other', Buffer.from('y'));
    });
    async function* stream(): AsyncGenerator<Buffer> {
      yield* chunks;
    }
    await b.storage.state.restoreSnapshot(stream());
    const [sessions, keys] = b.storage.state.read((txn) => [[...txn.scan('sessions')].length, [...txn.scan(KV_TABLE)].map((r) => r.key.toString())]);
    assert.equal(sessions, 0, 'a table the snapshot left out is empty after the restore');
    assert.deepEqual(keys, ['web/config']);
  });
});
