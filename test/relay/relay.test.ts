// The relay tree's pure pieces: a relay's feed (fan-out, committed entries
// only, snapshot when behind, silence), a replica's cursor (only the next
// committed entries, never back), the leader's client tracker, and the wire
// codec refusing malformed input.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReplicaCursor, RelayChooser } from '../../src/relay/cursor.js';
import { EntryWindow, RelayFeed, type CommittedView, type RelayEntry } from '../../src/relay/feed.js';
import { decodePullAnswer, decodePullRequest, decodeSnapshotChunk, encodePullAnswer, encodeSnapshotChunk } from '../../src/relay/protocol.js';
import { ClientTracker } from '../../src/relay/tracker.js';

const entry = (index: number): RelayEntry => ({ index, data: Buffer.from(`e${index}`) });

function view(first: number, commit: number, last = commit): CommittedView {
  return {
    firstIndex: () => first,
    commitIndex: () => commit,
    entries: (lo, hi) => {
      const out: RelayEntry[] = [];
      for (let i = lo; i <= Math.min(hi, last); i++) out.push(entry(i));
      return out;
    },
  };
}

describe('relay feed', () => {
  test('answers entries up to its commit only, a snapshot when the asked index was compacted, "full" past its fan-out', () => {
    const feed = new RelayFeed({ fanout: 2, silenceMs: 1000 });
    const a = feed.pull('c1', 'x', 5, 0, view(3, 7, 9));
    assert.equal(a.kind, 'entries');
    assert.deepEqual(a.kind === 'entries' ? a.entries.map((e) => e.index) : [], [5, 6, 7]);
    assert.equal(feed.pull('c2', 'x', 2, 0, view(3, 7)).kind, 'snapshot');
    assert.equal(feed.pull('c3', 'x', 5, 0, view(3, 7)).kind, 'full');
    // One already served is always answered.
    assert.equal(feed.pull('c1', 'x', 8, 10, view(3, 7)).kind, 'entries');
  });

  test('a silent subscriber is dropped and reported gone; joins are reported once; a full report lists everyone', () => {
    const feed = new RelayFeed({ fanout: 10, silenceMs: 1000 });
    feed.pull('c1', 'x', 1, 0, view(1, 0));
    feed.pull('c2', 'x', 1, 500, view(1, 0));
    assert.deepEqual(feed.takeReport(false), { alive: ['c1', 'c2'], gone: [] });
    assert.deepEqual(feed.takeReport(false), { alive: [], gone: [] });
    assert.deepEqual(feed.expire(1200), ['c1']);
    assert.deepEqual(feed.takeReport(false), { alive: [], gone: ['c1'] });
    assert.deepEqual(feed.takeReport(true), { alive: ['c2'], gone: [] });
  });

  test('a relay client\'s window: contiguous entries, oldest dropped past its size, reset after a snapshot', () => {
    const w = new EntryWindow(10, 1 << 20, 3);
    w.push([entry(11), entry(12), entry(13), entry(14)]);
    assert.equal(w.firstIndex(), 12);
    assert.equal(w.commitIndex(), 14);
    assert.deepEqual(w.entries(12, 14, 1 << 20).map((e) => e.index), [12, 13, 14]);
    w.reset(40);
    assert.equal(w.commitIndex(), 40);
    assert.deepEqual(w.entries(41, 41, 100), []);
  });
});

describe('replica cursor', () => {
  test('takes only the next entries at or below the commit sent with them', () => {
    const c = new ReplicaCursor(4);
    assert.deepEqual(c.accept(6, [entry(3), entry(5), entry(6), entry(7)]).map((e) => e.index), [5, 6]);
    c.advanced(6);
    assert.deepEqual(c.accept(9, [entry(8), entry(9)]), [], 'a gap: nothing');
    assert.throws(() => c.advanced(5), /go back/);
    assert.equal(c.snapshotAcceptable(5), false);
    assert.equal(c.snapshotAcceptable(6), true);
  });

  test('serves once caught up with the first commit a relay reported (or when told to serve stale)', () => {
    const c = new ReplicaCursor(2);
    assert.equal(c.serving, false);
    c.accept(4, [entry(3)]);
    c.advanced(3);
    assert.equal(c.serving, false);
    c.accept(9, [entry(4)]);
    c.advanced(4);
    assert.equal(c.serving, true, 'caught up with 4, the first commit it heard of');
    const d = new ReplicaCursor(0);
    d.serveStale();
    assert.equal(d.serving, true);
  });

  test('the chooser skips a relay that failed lately, and comes back to it when all failed', () => {
    const ch = new RelayChooser('me', 1, 5000, false);
    ch.setCandidates([{ id: 'a', address: 'a', level: 0 }, { id: 'b', address: 'b', level: 0 }, { id: 'me', address: 'm', level: 0 }]);
    assert.equal(ch.known, 2, 'never itself');
    const first = ch.choose(0)!.id;
    ch.failed(first, 0);
    const second = ch.choose(1)!.id;
    assert.notEqual(second, first);
    ch.failed(second, 2);
    assert.equal(ch.choose(3)!.id, first, 'all failed: the one that failed longest ago');
    assert.equal(ch.choose(6000)!.id, first, 'after the avoid time it is preferred again');
  });
});

describe('client tracker (the leader\'s view)', () => {
  test('alive while its relay vouches for it; gone when reported gone; a vanished relay\'s clients get a grace', () => {
    const t = new ClientTracker(1000);
    assert.equal(t.alive('c1', 0), undefined);
    t.apply({ relay: 's2', alive: ['c1', 'c2'], gone: [], full: false }, 0);
    assert.equal(t.alive('c1', 0), true);
    t.apply({ relay: 's2', alive: [], gone: ['c1'], full: false }, 10);
    assert.equal(t.alive('c1', 10), false);
    // c2 moved to s3 before s2 said it left: the newer relay's word stands.
    t.apply({ relay: 's3', alive: ['c2'], gone: [], full: false }, 20);
    t.apply({ relay: 's2', alive: [], gone: ['c2'], full: false }, 30);
    assert.equal(t.alive('c2', 30), true);
    t.relayGone('s3', 100);
    assert.equal(t.alive('c2', 500), true, 'within the grace');
    assert.equal(t.alive('c2', 1200), false, 'past the grace, not seen elsewhere');
    t.apply({ relay: 's2', alive: ['c2'], gone: [], full: true }, 1300);
    assert.equal(t.alive('c2', 1300), true);
    t.apply({ relay: 's2', alive: [], gone: [], full: true }, 1400);
    assert.equal(t.alive('c2', 1400), false, 'a full report without it');
  });
});

describe('relay wire codec', () => {
  test('a pull answer round-trips; truncated or garbage bytes are refused with a 400', () => {
    const bytes = encodePullAnswer({ kind: 'entries', commit: 9, leader: { id: 's1', address: 'a:1' } }, [entry(8), entry(9)]);
    const back = decodePullAnswer(bytes);
    assert.equal(back.header.commit, 9);
    assert.deepEqual(back.entries.map((e) => [e.index, Buffer.from(e.data).toString()]), [[8, 'e8'], [9, 'e9']]);
    assert.throws(() => decodePullAnswer(bytes.subarray(0, bytes.length - 1)), (e: Error & { httpStatus?: number }) => /malformed/.test(e.message));
    assert.throws(() => decodePullAnswer(Buffer.from([0, 0, 0, 99, 1])), /malformed/);
    const chunk = encodeSnapshotChunk({ session: 'abc', index: 7, done: false, chunk: Buffer.from('xyz') });
    assert.deepEqual({ ...decodeSnapshotChunk(chunk), chunk: decodeSnapshotChunk(chunk).chunk.toString() }, { session: 'abc', index: 7, done: false, chunk: 'xyz' });
    assert.throws(() => decodeSnapshotChunk(Buffer.alloc(3)), /malformed/);
  });

  test('a pull request with a bad field is refused, naming nothing it did not get', () => {
    const ok = decodePullRequest(Buffer.from(JSON.stringify({ id: 'c1', address: 'a:1', from: 3, waitMs: 1000, wantRelays: true })));
    assert.equal(ok.from, 3);
    for (const bad of ['', 'nope', '{}', JSON.stringify({ id: 'c1', address: 'a', from: 0, waitMs: 1 }),
      JSON.stringify({ id: 'c1', address: 'a', from: 1, waitMs: 1e9 }), JSON.stringify({ id: '', address: 'a', from: 1, waitMs: 1 })]) {
      assert.throws(() => decodePullRequest(Buffer.from(bad)), /malformed relay pull/, bad);
    }
  });
});
