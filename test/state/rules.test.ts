// State-machine rules that only a slow cluster test or a hang used to guard:
// cas compares ModifyIndex (not CreateIndex) once a key has changed, and a
// recursive delete wakes the watchers of every parent prefix. Each waiting
// test has a short timeout so that a missed wake-up fails fast.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Applier, settle, stateFixture, track } from './helpers.js';

const LONG = 600_000;

describe('cas after two updates', () => {
  it('cas with the CreateIndex fails once the key was updated; cas with the ModifyIndex succeeds', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.put('k', 'one');
    a.put('other', 'x');
    a.put('k', 'two');
    const entry = sm.kvGet('k')!;
    assert.ok(entry.modifyIndex > entry.createIndex, 'the two indexes differ after an update');
    assert.equal(a.put('k', 'three', { cas: entry.createIndex }), false, 'cas against CreateIndex is refused');
    assert.equal(sm.kvGet('k')!.value.toString(), 'two');
    assert.equal(a.del('k', { cas: entry.createIndex }), false, 'a delete with cas against CreateIndex is refused');
    assert.equal(a.put('k', 'three', { cas: entry.modifyIndex }), true, 'cas against ModifyIndex sets');
    const after = sm.kvGet('k')!;
    assert.equal(after.value.toString(), 'three');
    assert.equal(a.del('k', { cas: after.modifyIndex }), true, 'a delete with the current ModifyIndex deletes');
    assert.equal(sm.kvGet('k'), undefined);
  });
});

describe('a recursive delete wakes parent-prefix watchers', { timeout: 5_000 }, () => {
  it('watchers on "", "a", "a/" and "a/b/" wake when "a/b/" is deleted recursively; "c/" does not', async (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    for (const k of ['a/b/1', 'a/b/2', 'a/x', 'c/1']) a.put(k, 'v');
    const at = a.index;
    const waiters = ['', 'a', 'a/', 'a/b/'].map((prefix) => ({ prefix, w: track(sm.waitKv(prefix, at, LONG)) }));
    const sibling = track(sm.waitKv('c/', at, LONG));
    await settle();
    assert.ok(waiters.every(({ w }) => !w.done), 'nothing woke before the delete');
    a.del('a/b/', { recurse: true });
    for (const { prefix, w } of waiters) assert.equal(await w.promise, a.index, `the watcher on "${prefix}" woke at the delete`);
    await settle();
    assert.equal(sibling.done, false, 'a sibling prefix stays asleep');
    a.put('c/2', 'v');
    assert.equal(await sibling.promise, a.index, 'and wakes for a write of its own');
    assert.equal(sm.kvGet('a/b/1'), undefined);
    assert.equal(sm.kvGet('a/x')?.value.toString(), 'v');
  });
});
