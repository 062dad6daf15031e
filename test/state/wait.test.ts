// Blocking queries on the state machine: a waiter wakes when a change touches
// its prefix (a write under it, a delete under it, a recursive delete above or
// below it) and not otherwise; the timeout and an abort resolve it with the
// index then; reset() after a restore wakes everyone.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Applier, settle, stateFixture, track } from './helpers.js';

const LONG = 600_000;

describe('state machine: blocking waits', { timeout: 10_000 }, () => {
  it('a write under the prefix wakes the waiter with the new index; writes elsewhere do not', async (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('svc/web', '1');
    const start = sm.kvPrefixIndex('svc/');
    const w = track(sm.waitKv('svc/', start, LONG));
    a.put('other/x', '1');
    a.put('svc', 'a shorter key is not under svc/');
    a.put('svb/x', '1');
    a.run({ type: 'member-set', id: 'n1', raftAddress: 'r', httpAddress: 'h', server: true });
    await settle();
    assert.equal(w.done, false, 'unrelated changes do not wake it');
    assert.equal(sm.waiting, 1);
    a.put('svc/db', '2');
    assert.equal(await w.promise, a.index);
    assert.equal(sm.waiting, 0);
  });

  it('returns at once when the prefix is already past the index', async (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('k/1', 'v');
    assert.equal(await sm.waitKv('k/', a.index - 1, LONG), a.index);
    assert.equal(await sm.waitKv('', 0, LONG), a.index);
    assert.equal(sm.waiting, 0);
  });

  it('deletes wake the prefixes they touch: a key under it, a parent prefix, a prefix under it', async (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    for (const k of ['svc/web/1', 'svc/web/2', 'svc/db/1', 'x/1']) a.put(k, 'v');
    const at = a.index;
    const web = track(sm.waitKv('svc/web/', at, LONG));
    const svc = track(sm.waitKv('svc/', at, LONG));
    const db = track(sm.waitKv('svc/db/', at, LONG));
    const x = track(sm.waitKv('x/', at, LONG));

    a.del('svc/web/absent');
    await settle();
    assert.deepEqual([web.done, svc.done, db.done, x.done], [false, false, false, false], 'deleting nothing wakes no one');

    a.del('svc/web/1');
    assert.equal(await web.promise, a.index);
    assert.equal(await svc.promise, a.index);
    await settle();
    assert.equal(db.done, false);

    const db2 = track(sm.waitKv('svc/db/', at, LONG));
    const svc2 = track(sm.waitKv('svc/', a.index, LONG));
    a.del('svc/', { recurse: true });
    assert.equal(await db.promise, a.index, 'a recursive delete of a parent wakes a child prefix');
    assert.equal(await db2.promise, a.index);
    assert.equal(await svc2.promise, a.index);

    const top = track(sm.waitKv('', sm.kvIndex(), LONG));
    a.del('x/', { recurse: true });
    assert.equal(await x.promise, a.index);
    assert.equal(await top.promise, a.index, 'a recursive delete wakes the prefixes above it');
    assert.equal(sm.waiting, 0);
  });

  it('with many prefixes watched, one write wakes exactly the prefixes of its key, each waiter once', async (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('seed', 'v');
    const at = sm.kvIndex();
    // More distinct prefixes than the key has characters, and several waiters on one prefix.
    const prefixes = ['', 'a', 'a/', 'a/b', 'a/b/c', 'a/bc', 'b', 'a/c', 'x/', 'y/', 'z/', 'ab', 'a/b/c/d'];
    const waiters = prefixes.flatMap((p) => [0, 1, 2].map(() => ({ prefix: p, w: track(sm.waitKv(p, at, LONG)) })));
    a.put('a/b/c', 'v');
    await settle();
    const woken = [...new Set(waiters.filter((x) => x.w.done).map((x) => x.prefix))].sort();
    assert.deepEqual(woken, ['', 'a', 'a/', 'a/b', 'a/b/c']);
    for (const x of waiters.filter((y) => y.w.done)) assert.equal(x.w.value, a.index);
    assert.equal(waiters.filter((x) => x.w.done).length, 15);
    assert.equal(sm.waiting, waiters.length - 15);
    sm.reset();
    await settle();
    assert.equal(sm.waiting, 0);
  });

  it('waiters on few prefixes are found the same way (the other lookup path)', async (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('seed', 'v');
    const at = sm.kvIndex();
    const hit = track(sm.waitKv('long/prefix/', at, LONG));
    const miss = track(sm.waitKv('long/prefiX/', at, LONG));
    a.put('long/prefix/and/a/long/key', 'v');
    assert.equal(await hit.promise, a.index);
    await settle();
    assert.equal(miss.done, false);
    sm.reset();
    assert.equal(await miss.promise, sm.kvIndex(), 'reset starts a new delete history at the KV index');
  });

  it('the timeout resolves with the current index, not before it is due', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('k', 'v');
    const now = sm.kvPrefixIndex('k');
    const w = track(sm.waitKv('k', now, 10_000));
    t.mock.timers.tick(9_999);
    await settle();
    assert.equal(w.done, false);
    a.put('elsewhere', 'v');
    t.mock.timers.tick(1);
    assert.equal(await w.promise, now);
    assert.equal(sm.waiting, 0);
  });

  it('an abort resolves early with the current index; an aborted signal resolves at once', async (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('k', 'v');
    const now = sm.kvPrefixIndex('k');
    const ac = new AbortController();
    const w = track(sm.waitKv('k', now, LONG, ac.signal));
    await settle();
    assert.equal(w.done, false);
    ac.abort();
    assert.equal(await w.promise, now);
    assert.equal(sm.waiting, 0);
    assert.equal(await sm.waitKv('k', now, LONG, ac.signal), now);
    assert.equal(sm.waiting, 0);
    // A waiter that was woken no longer listens to its signal.
    const ac2 = new AbortController();
    const w2 = sm.waitKv('k', now, LONG, ac2.signal);
    a.put('k', 'v2');
    assert.equal(await w2, a.index);
    ac2.abort();
    assert.equal(sm.waiting, 0);
  });

  it('reset() after a snapshot restore wakes every waiter with the restored index', async (t) => {
    const fx = stateFixture(t);
    const src = fx.open();
    const a = new Applier(src.sm);
    for (let i = 0; i < 50; i++) a.put(`k/${i}`, `v${i}`);
    const dst = fx.open();
    const b = new Applier(dst.sm);
    b.put('mine', 'x');
    const onK = track(dst.sm.waitKv('k/', dst.sm.kvPrefixIndex('k/'), LONG));
    const onMine = track(dst.sm.waitKv('mine', dst.sm.kvPrefixIndex('mine'), LONG));
    await dst.storage.state.restoreSnapshot(src.storage.state.snapshot());
    await settle();
    assert.equal(onK.done, false, 'the restore alone wakes no one');
    dst.sm.reset();
    assert.equal(await onK.promise, src.sm.kvPrefixIndex('k/'));
    assert.equal(await onMine.promise, src.sm.kvIndex(), 'a prefix the restore emptied reports the restored KV index');
    assert.equal(dst.sm.waiting, 0);
  });
});
