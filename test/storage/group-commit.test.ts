// Group commit against a hand-driven fsync: one transaction per turn, no
// acknowledgement before the covering fsync, one fsync in flight at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommitter, SyncScheduler } from '../../src/storage/group-commit.js';
import { StorageClosedError, StorageFailedError } from '../../src/storage/errors.js';
import { nextTurn } from './helpers.js';

/** An fsync that finishes only when the test says so. */
class ManualSync {
  pending: ((error: Error | null) => void)[] = [];
  started = 0;
  readonly fn = (done: (error: Error | null) => void): void => {
    this.started++;
    this.pending.push(done);
  };
  finish(error: Error | null = null): void {
    const done = this.pending.shift();
    assert.ok(done, 'no fsync in flight');
    done(error);
  }
}

function harness() {
  const sync = new ManualSync();
  const commits: string[][] = [];
  let failNextCommit: Error | undefined;
  const committer = new GroupCommitter<string>({
    name: 'test log',
    commit: (batches) => {
      if (failNextCommit) throw failNextCommit;
      commits.push(batches);
    },
    sync: sync.fn,
  });
  const acked = new Set<string>();
  const submit = (b: string) => committer.submit(b).then(() => { acked.add(b); });
  return { sync, commits, committer, acked, submit, failCommit: (e: Error) => { failNextCommit = e; } };
}

test('every submit of one turn goes into one commit and one fsync', async () => {
  const h = harness();
  const all = ['a', 'b', 'c', 'd', 'e'].map(h.submit);
  assert.equal(h.commits.length, 0, 'nothing is committed inside the turn');
  await nextTurn();
  assert.deepEqual(h.commits, [['a', 'b', 'c', 'd', 'e']]);
  assert.equal(h.sync.started, 1);
  h.sync.finish();
  await Promise.all(all);
  assert.deepEqual(h.committer.stats(), { batches: 5, commits: 1, syncsStarted: 1, syncsFinished: 1 });
});

test('a committed write is not acknowledged until its fsync finishes', async () => {
  const h = harness();
  void h.submit('a');
  await nextTurn();
  assert.equal(h.commits.length, 1);
  await nextTurn();
  await nextTurn();
  assert.equal(h.acked.size, 0, 'acknowledged before the fsync finished');
  h.sync.finish();
  await nextTurn();
  assert.deepEqual([...h.acked], ['a']);
});

test('writes that arrive during an fsync are held, committed together when it ends, and fsynced next', async () => {
  const h = harness();
  void h.submit('a');
  await nextTurn(); // a committed, fsync 1 running
  void h.submit('b');
  await nextTurn();
  void h.submit('c');
  await nextTurn();
  assert.deepEqual(h.commits, [['a']], 'b and c would wait for fsync 2 anyway: no commit per turn meanwhile');
  assert.equal(h.sync.started, 1, 'a second fsync started while one was in flight');

  h.sync.finish(); // fsync 1 covered only a
  assert.deepEqual(h.commits, [['a'], ['b', 'c']], 'the held writes commit as one txn the moment fsync 1 ends');
  assert.equal(h.sync.started, 2, 'and fsync 2 starts right away to cover them');
  await nextTurn();
  assert.deepEqual([...h.acked], ['a']);

  h.sync.finish();
  await nextTurn();
  assert.deepEqual([...h.acked].sort(), ['a', 'b', 'c']);
  assert.equal(h.sync.started, 2);
});

test('a failed fsync fails its writes, the held ones, and every later write', async () => {
  const h = harness();
  const a = h.committer.submit('a');
  await nextTurn();
  const b = h.committer.submit('b'); // held while fsync 1 runs
  await nextTurn();
  h.sync.finish(new Error('EIO'));
  await assert.rejects(a, StorageFailedError);
  await assert.rejects(b, StorageFailedError);
  assert.deepEqual(h.commits, [['a']], 'nothing more was committed after the failed fsync');
  await assert.rejects(h.committer.submit('c'), /fsync failed: EIO/);
});

test('a failed commit fails its group and refuses later writes', async () => {
  const h = harness();
  h.failCommit(new Error('MDB_PANIC'));
  const a = h.committer.submit('a');
  const b = h.committer.submit('b');
  await assert.rejects(a, /commit failed: MDB_PANIC/);
  await assert.rejects(b, StorageFailedError);
  await assert.rejects(h.committer.submit('c'), StorageFailedError);
});

test('close while an fsync runs still commits and fsyncs the writes held back', async () => {
  const h = harness();
  void h.submit('a');
  await nextTurn();
  const b = h.submit('b');
  await nextTurn();
  let closed = false;
  const closing = h.committer.close().then(() => { closed = true; });
  h.sync.finish();
  assert.deepEqual(h.commits, [['a'], ['b']]);
  await nextTurn();
  assert.equal(closed, false, 'close returned before the held write was fsynced');
  h.sync.finish();
  await Promise.all([b, closing]);
  assert.deepEqual([...h.acked].sort(), ['a', 'b']);
});

test('close commits what is queued, waits for its fsync, then refuses writes', async () => {
  const h = harness();
  const a = h.submit('a');
  let closed = false;
  const closing = h.committer.close().then(() => { closed = true; });
  assert.deepEqual(h.commits, [['a']], 'close commits the queued group at once');
  await nextTurn();
  assert.equal(closed, false, 'close returned while an fsync was in flight');
  h.sync.finish();
  await Promise.all([a, closing]);
  assert.ok(h.acked.has('a'));
  await assert.rejects(h.committer.submit('b'), StorageClosedError);
});

test('a sync request is answered by an fsync that starts after it', async () => {
  const sync = new ManualSync();
  const syncer = new SyncScheduler(sync.fn);
  const done: string[] = [];
  void syncer.request().then(() => { done.push('first'); });
  void syncer.request().then(() => { done.push('second'); });
  void syncer.request().then(() => { done.push('third'); });
  assert.equal(sync.started, 1, 'only one fsync in flight');
  sync.finish();
  await nextTurn();
  assert.deepEqual(done, ['first'], 'the later requests came after fsync 1 started');
  assert.equal(sync.started, 2, 'one fsync answers both waiting requests');
  sync.finish();
  await nextTurn();
  assert.deepEqual(done, ['first', 'second', 'third']);
  await syncer.idle();
});

test('a lazy write commits without an fsync of its own; the next durable write\'s fsync covers it', async () => {
  const h = harness();
  let lazyDone = false;
  const lazy = h.committer.submit('commit-index', true).then(() => { lazyDone = true; });
  await nextTurn();
  await lazy;
  assert.deepEqual(h.commits, [['commit-index']]);
  assert.ok(lazyDone, 'a lazy write resolves once committed');
  assert.equal(h.sync.started, 0, 'a lazy write asked for an fsync');
  void h.submit('entry');
  await nextTurn();
  assert.deepEqual(h.commits, [['commit-index'], ['entry']]);
  assert.equal(h.sync.started, 1, 'the durable write after it gets one fsync, which covers both');
  h.sync.finish();
  await nextTurn();
  assert.deepEqual([...h.acked], ['entry']);
});

test('a lazy write during an fsync commits at once instead of waiting for the next fsync; durable ones are still held', async () => {
  const h = harness();
  void h.submit('a');
  await nextTurn(); // a committed, fsync 1 running
  await h.committer.submit('lazy', true);
  assert.deepEqual(h.commits, [['a'], ['lazy']], 'the lazy write waited for the fsync in flight');
  assert.equal(h.acked.has('a'), false, 'a acknowledged before its fsync');
  void h.submit('b');
  void h.committer.submit('lazy2', true);
  await nextTurn();
  assert.deepEqual(h.commits, [['a'], ['lazy']], 'a durable write (and the lazy one behind it) committed during an fsync');
  h.sync.finish();
  assert.deepEqual(h.commits, [['a'], ['lazy'], ['b', 'lazy2']], 'order kept: lazy2 commits with b, after it');
  assert.equal(h.sync.started, 2);
  h.sync.finish();
  await nextTurn();
  assert.deepEqual([...h.acked], ['a', 'b']);
});

test('close fsyncs a lazy write that no durable write covered', async () => {
  const h = harness();
  await h.committer.submit('lazy', true);
  assert.equal(h.sync.started, 0);
  let closed = false;
  const closing = h.committer.close().then(() => { closed = true; });
  await nextTurn();
  assert.equal(h.sync.started, 1, 'close left a lazy commit without an fsync');
  assert.equal(closed, false);
  h.sync.finish();
  await closing;
});

test('close during an fsync, with a lazy write still queued: it is committed when the fsync ends, then fsynced', async () => {
  const h = harness();
  void h.submit('a');
  await nextTurn(); // a committed, fsync 1 running
  void h.committer.submit('lazy', true); // queued, its flush not yet run
  let closed = false;
  const closing = h.committer.close().then(() => { closed = true; });
  h.sync.finish(); // fsync 1 ends: the lazy write commits now
  assert.deepEqual(h.commits, [['a'], ['lazy']]);
  await nextTurn();
  assert.equal(h.sync.started, 2, 'close returned without an fsync covering the lazy write');
  assert.equal(closed, false);
  h.sync.finish();
  await closing;
});
