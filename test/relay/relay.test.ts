// The relay tree's pure pieces: a relay's feed (fan-out, committed entries
// only, snapshot when behind, silence), a replica's cursor (only the next
// committed entries, never back), the leader's client tracker, and the wire
// codec refusing malformed input.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReplicaCursor, RelayChooser } from '../../src/relay/cursor.js';
import { EntryWindow, RelayFeed, type CommittedView, type RelayEntry } from '../../src/relay/feed.js';
import { decodePullAnswer, decodePullRequest, decodeSnapshotChunk, encodePullAnswer, encodeSnapshotChunk } from '../../src/relay/protocol.js';
import { RelayServer, mergeReports } from '../../src/relay/server.js';
import { ClientTracker, type RelayReport } from '../../src/relay/tracker.js';

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
    assert.deepEqual(feed.takeReport(false), { alive: ['c1', 'c2'], gone: [], epochs: { c1: 0, c2: 0 } });
    assert.deepEqual(feed.takeReport(false), { alive: [], gone: [] });
    assert.deepEqual(feed.expire(1200), ['c1']);
    assert.deepEqual(feed.takeReport(false), { alive: [], gone: ['c1'], epochs: { c1: 0 } });
    assert.deepEqual(feed.takeReport(true), { alive: ['c2'], gone: [], epochs: { c2: 0 } });
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

describe('relay server (held pulls)', () => {
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

  function relayOver(commit: { at: number }, reads: { n: number }): RelayServer {
    const v: CommittedView = {
      firstIndex: () => 1,
      commitIndex: () => commit.at,
      entries: (lo, hi) => {
        reads.n++;
        return view(1, commit.at).entries(lo, hi, 1 << 20);
      },
    };
    return new RelayServer({
      view: v, fanout: 10, silenceMs: 5000, snapshot: () => { throw new Error('no snapshot here'); },
      leader: () => ({ id: 's1', address: '127.0.0.1:1' }), relays: () => [], logger: quiet,
    });
  }

  test('a held pull is answered as soon as the commit moves, and the pulls woken together share one read and one encoded answer', async () => {
    const commit = { at: 5 };
    const reads = { n: 0 };
    const relay = relayOver(commit, reads);
    try {
      // Subscribe (answered at once: nothing new, the subscriber is new), then hold pulls for index 6.
      for (const id of ['c1', 'c2', 'c3']) await relay.pull({ id, address: 'x', from: 6, waitMs: 0, wantRelays: false, epoch: 1 });
      let settled = 0;
      const held = ['c1', 'c2', 'c3'].map((id) => relay.pull({ id, address: 'x', from: 6, waitMs: 30_000, wantRelays: false, epoch: 1 }).then((b) => { settled++; return b; }));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, 0, 'nothing new: the pulls are held');
      reads.n = 0;
      commit.at = 7;
      relay.notify();
      const answers = await Promise.all(held);
      for (const b of answers) {
        const a = decodePullAnswer(Buffer.from(b));
        assert.equal(a.header.held, true);
        assert.equal(a.header.commit, 7);
        assert.deepEqual(a.entries.map((e) => e.index), [6, 7]);
      }
      assert.ok(answers[0] === answers[1] && answers[1] === answers[2], 'one encoded answer shared by the three');
      assert.equal(reads.n, 1, 'the entries were read once');
      assert.equal(relay.counters.answersShared, 2);
      // A pull with entries already waiting is answered at once, not marked held.
      const now = decodePullAnswer(Buffer.from(await relay.pull({ id: 'c1', address: 'x', from: 7, waitMs: 30_000, wantRelays: false, epoch: 1 })));
      assert.equal(now.header.held, undefined);
      assert.deepEqual(now.entries.map((e) => e.index), [7]);
    } finally {
      relay.stop();
    }
  });

  test('pulls woken together but asking from different indexes get their own entries', async () => {
    const commit = { at: 5 };
    const relay = relayOver(commit, { n: 0 });
    try {
      await relay.pull({ id: 'c1', address: 'x', from: 6, waitMs: 0, wantRelays: false, epoch: 1 });
      await relay.pull({ id: 'c2', address: 'x', from: 6, waitMs: 0, wantRelays: false, epoch: 1 });
      const a = relay.pull({ id: 'c1', address: 'x', from: 6, waitMs: 30_000, wantRelays: false, epoch: 1 });
      const b = relay.pull({ id: 'c2', address: 'x', from: 6, waitMs: 30_000, wantRelays: true, epoch: 1 });
      commit.at = 6;
      relay.notify();
      const [ea, eb] = [decodePullAnswer(Buffer.from(await a)), decodePullAnswer(Buffer.from(await b))];
      assert.deepEqual(ea.entries.map((e) => e.index), [6]);
      assert.deepEqual(eb.header.relays, [], 'the one that asked for the relay list gets it');
      assert.equal(ea.header.relays, undefined);
    } finally {
      relay.stop();
    }
  });
});

describe('relay overflow: no host left without a relay', () => {
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

  test('a full relay admits a subscriber that says every relay refused it; a relay that stops taking subscribers keeps such ones', () => {
    const feed = new RelayFeed({ fanout: 1, silenceMs: 1000 });
    assert.equal(feed.pull('c1', 'x', 1, 0, view(1, 0)).kind, 'entries');
    assert.equal(feed.pull('c2', 'x', 1, 0, view(1, 0)).kind, 'full');
    assert.equal(feed.pull('c2', 'x', 1, 0, view(1, 0), 1, true).kind, 'entries', 'overflow: taken past the fan-out');
    assert.equal(feed.overflowAdmitted, 1);
    assert.equal(feed.sendAway(), 1, 'c1 is sent away');
    assert.deepEqual([...feed.subscribers.keys()], ['c2'], 'the overflow subscriber stays');
    feed.accepting = false;
    assert.equal(feed.pull('c3', 'x', 1, 0, view(1, 0)).kind, 'full');
    assert.equal(feed.pull('c3', 'x', 1, 0, view(1, 0), 1, true).kind, 'entries', 'a leader stepping aside still takes an overflow subscriber');
  });

  test('on a relay that takes no subscribers (the leader), an overflow subscriber\'s held pull stays held while others pull', async () => {
    const relay = new RelayServer({
      view: view(1, 5), fanout: 10, silenceMs: 5000, snapshot: () => { throw new Error('no snapshot here'); },
      leader: () => ({ id: 's1', address: '127.0.0.1:1' }), relays: () => [], logger: quiet, accepting: () => false,
    });
    try {
      const first = decodePullAnswer(Buffer.from(await relay.pull({ id: 'c1', address: 'x', from: 6, waitMs: 0, wantRelays: false, epoch: 1, overflow: true })));
      assert.equal(first.header.kind, 'entries');
      let settled = false;
      const held = relay.pull({ id: 'c1', address: 'x', from: 6, waitMs: 30_000, wantRelays: false, epoch: 1 }).then((b) => { settled = true; return b; });
      // Another client is refused; that must not answer c1's held pull (it would pull again at once, forever).
      const other = decodePullAnswer(Buffer.from(await relay.pull({ id: 'c2', address: 'x', from: 6, waitMs: 0, wantRelays: false, epoch: 1 })));
      assert.equal(other.header.kind, 'full');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false);
      assert.equal(relay.stats().overflowAdmitted, 1);
      assert.equal(relay.stats().subscribers, 1);
      relay.stop();
      await held.catch(() => undefined);
    } finally {
      relay.stop();
    }
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

/**
 * The race behind discovery.test.ts's "killing the client turns its node check
 * critical": a client subscribes to the sole server s1 (the leader) with epoch
 * 1, s2 joins, s1 stops taking subscribers and sends it away, it subscribes to
 * s2 with epoch 2; s2's "alive" reaches the leader before the leader's own
 * word about epoch 1. Then the client dies and s2 reports it gone. Returns
 * whether the tracker still counts it alive long after. `strip` runs the
 * relays as before epochs (no epochs, no "moved").
 */
function raceAfterMove(strip: boolean): { aliveWhileMoving: boolean[]; aliveAfterDeath: boolean | undefined; relay: string | undefined } {
  const t = new ClientTracker(1000);
  const deliver = (r: RelayReport, now: number): void => {
    t.apply(strip ? { relay: r.relay, alive: r.alive, gone: r.gone, full: r.full } : r, now);
  };
  const s1 = new RelayFeed({ fanout: 10, silenceMs: 1000 });
  const s2 = new RelayFeed({ fanout: 10, silenceMs: 1000 });
  s1.pull('c1', 'x', 1, 0, view(1, 0), 1);
  // s2 joins: s1 (now the leader of two servers) sends its subscribers away.
  s1.accepting = false;
  const s1Late = s1.takeReport(false);
  assert.deepEqual(s1Late, { alive: ['c1'], gone: [], epochs: { c1: 1 } });
  s1.sendAway();
  const s1Moved = s1.takeReport(false);
  assert.deepEqual(s1Moved, { alive: [], gone: [], moved: ['c1'], epochs: { c1: 1 } }, 'sent away: moved, not gone, and no longer alive');
  assert.equal(s1.pull('c1', 'x', 1, 10, view(1, 0), 1).kind, 'full');
  s2.pull('c1', 'x', 1, 20, view(1, 0), 2);
  const aliveWhileMoving: boolean[] = [];
  // s2's alive reaches the leader first; then s1's word about epoch 1, late: its "alive" (as the old feed still
  // sent it after letting the client go, or a report retried after a failed delivery), then its "moved".
  deliver({ relay: 's2', ...s2.takeReport(false), full: false }, 40);
  aliveWhileMoving.push(t.alive('c1', 40) === true);
  deliver({ relay: 's1', ...s1Late, full: false }, 50);
  aliveWhileMoving.push(t.alive('c1', 50) === true);
  deliver({ relay: 's1', ...s1Moved, full: false }, 60);
  aliveWhileMoving.push(t.alive('c1', 60) === true);
  // Calm: still alive long past the grace (it pulls s2).
  s2.pull('c1', 'x', 1, 900, view(1, 0), 2);
  aliveWhileMoving.push(t.alive('c1', 3000) === true);
  // The client dies: s2 expires it and reports it gone.
  assert.deepEqual(s2.expire(3000), ['c1']);
  deliver({ relay: 's2', ...s2.takeReport(false), full: false }, 3000);
  return { aliveWhileMoving, aliveAfterDeath: t.alive('c1', 10_000), relay: t.relayOf('c1')?.relay };
}

describe('client tracker: subscriptions moving between relays', () => {
  test('a late report about an older subscription changes nothing; the dead client is dead (the checker catches relays without epochs)', () => {
    const now = raceAfterMove(false);
    assert.deepEqual(now.aliveWhileMoving, [true, true, true, true], 'alive throughout the move: no flap');
    assert.equal(now.relay, 's2', "the newer subscription's relay stands");
    assert.equal(now.aliveAfterDeath, false, 'gone, as its current relay said');
    // The old behaviour: s1's late "alive" took the client back under s1, and s2's "gone" was ignored.
    const old = raceAfterMove(true);
    assert.equal(old.relay, 's1');
    assert.equal(old.aliveAfterDeath, true, 'the broken variant keeps a dead client alive: the scenario reproduces the bug');
  });

  test('"moved" gives a grace, not a death: a client sent away that turns up nowhere is dead after it', () => {
    const t = new ClientTracker(1000);
    t.apply({ relay: 's1', alive: ['c1'], gone: [], full: false, epochs: { c1: 5 } }, 0);
    t.apply({ relay: 's1', alive: [], gone: [], moved: ['c1'], full: false, epochs: { c1: 5 } }, 100);
    assert.equal(t.alive('c1', 900), true, 'within the grace');
    assert.equal(t.alive('c1', 1200), false, 'never turned up elsewhere');
    t.apply({ relay: 's2', alive: ['c1'], gone: [], full: false, epochs: { c1: 6 } }, 1300);
    assert.equal(t.alive('c1', 5000), true);
    // A "gone" or "moved" about epoch 5 (s1's, delivered late) is about a subscription that ended.
    t.apply({ relay: 's1', alive: [], gone: ['c1'], full: false, epochs: { c1: 5 } }, 5000);
    t.apply({ relay: 's2', alive: [], gone: [], moved: ['c1'], full: false, epochs: { c1: 5 } }, 5000);
    assert.equal(t.alive('c1', 9000), true);
    // Back at s1 with a newer epoch, then expired there and re-admitted with the same epoch (it paused): alive.
    t.apply({ relay: 's1', alive: ['c1'], gone: [], full: false, epochs: { c1: 7 } }, 9000);
    t.apply({ relay: 's2', alive: [], gone: ['c1'], full: false, epochs: { c1: 6 } }, 9100);
    assert.equal(t.alive('c1', 9100), true, "s2's gone is about the subscription it left");
    t.apply({ relay: 's1', alive: [], gone: ['c1'], full: false, epochs: { c1: 7 } }, 9200);
    assert.equal(t.alive('c1', 9200), false);
    t.apply({ relay: 's1', alive: ['c1'], gone: [], full: false, epochs: { c1: 7 } }, 9300);
    assert.equal(t.alive('c1', 9300), true);
  });

  test('a relay re-reports a subscriber that subscribed anew; an undelivered report merged with the next keeps the newer word', () => {
    const feed = new RelayFeed({ fanout: 10, silenceMs: 1000 });
    feed.pull('c1', 'x', 1, 0, view(1, 0), 3);
    feed.takeReport(false);
    feed.pull('c1', 'x', 1, 10, view(1, 0), 3);
    assert.deepEqual(feed.takeReport(false), { alive: [], gone: [] }, 'the same subscription: nothing new');
    feed.pull('c1', 'x', 1, 20, view(1, 0), 4);
    assert.deepEqual(feed.takeReport(false), { alive: ['c1'], gone: [], epochs: { c1: 4 } });
    const older = { alive: ['c1', 'c2'], gone: ['c3'], epochs: { c1: 4, c2: 1, c3: 9 } };
    const newer = { alive: ['c3'], gone: ['c1'], moved: ['c2'], epochs: { c1: 4, c2: 1, c3: 10 } };
    assert.deepEqual(mergeReports(older, newer), { alive: ['c3'], gone: ['c1'], moved: ['c2'], epochs: { c3: 10, c1: 4, c2: 1 } });
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
    assert.equal(ok.epoch, 0, 'a subscriber that sends no epoch');
    assert.equal(decodePullRequest(Buffer.from(JSON.stringify({ id: 'c1', address: 'a:1', from: 3, waitMs: 1, epoch: 7 }))).epoch, 7);
    for (const bad of ['', 'nope', '{}', JSON.stringify({ id: 'c1', address: 'a', from: 0, waitMs: 1 }),
      JSON.stringify({ id: 'c1', address: 'a', from: 1, waitMs: 1e9 }), JSON.stringify({ id: '', address: 'a', from: 1, waitMs: 1 }),
      JSON.stringify({ id: 'c1', address: 'a', from: 1, waitMs: 1, epoch: -1 }), JSON.stringify({ id: 'c1', address: 'a', from: 1, waitMs: 1, epoch: 'x' })]) {
      assert.throws(() => decodePullRequest(Buffer.from(bad)), /malformed relay pull/, bad);
    }
  });
});
