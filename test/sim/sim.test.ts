// The simulator in `npm test`: a batch of seeds of the real core under every
// fault must show no violation, and each deliberately broken variant of the
// core (or of the driver around it) must be caught within a few hundred seeds.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed } from './run.js';
import type { SimOptions } from './cluster.js';

function failingSeeds(options: Omit<SimOptions, 'seed'>, from: number, count: number): number[] {
  const failing: number[] = [];
  for (let seed = from; seed < from + count; seed++) {
    if (runSeed({ ...options, seed }).violations.length > 0) failing.push(seed);
  }
  return failing;
}

/** The first seed in [1, limit] whose run reports a violation, with that violation. */
function firstCaught(options: Omit<SimOptions, 'seed'>, limit: number): { seed: number; violation: string } | undefined {
  for (let seed = 1; seed <= limit; seed++) {
    const result = runSeed({ ...options, seed });
    if (result.violations.length > 0) return { seed, violation: result.violations[0] };
  }
  return undefined;
}

describe('simulation of the correct core', () => {
  test('150 seeds with every fault: no violation, and no history found non-linearizable', () => {
    assert.deepEqual(failingSeeds({}, 1, 150), []);
  });

  test('7 voters and 2 learners, 30 seeds', () => {
    assert.deepEqual(failingSeeds({ voters: 7, learners: 2 }, 5000, 30), []);
  });

  test('one entry per message and heavy loss, 30 seeds', () => {
    const faults = { drop: 0.15, duplicate: 0.05, reorder: 0.2 };
    assert.deepEqual(failingSeeds({ maxSizePerMsg: 1, faults }, 6000, 30), []);
  });

  test('the runs do real work: elections, crashes, membership changes, snapshots and acknowledged writes', () => {
    const totals = { elections: 0, crashes: 0, confChanges: 0, transfers: 0, snapshotsSent: 0, okOps: 0, commits: 0 };
    for (let seed = 1; seed <= 20; seed++) {
      const { stats } = runSeed({ seed });
      for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += stats[k];
    }
    for (const [k, v] of Object.entries(totals)) assert.ok(v > 0, `${k} happened in 20 seeds (got ${v})`);
  });

  test('a seed replays to the same story', () => {
    const a = runSeed({ seed: 42, trace: true });
    const b = runSeed({ seed: 42, trace: true });
    assert.ok(a.trace.length > 10);
    assert.deepEqual(a.trace, b.trace);
    assert.deepEqual(a.stats, b.stats);
  });
});

describe('a vote-refusal window shorter than the election timeout (ops: faster failover)', () => {
  test('lease 6 ticks, refusal 8 of an election timeout of 10, followers told the leader is unreachable: 100 seeds, no violation', () => {
    assert.deepEqual(failingSeeds({ lease: { leaseTicks: 6, voteRefusalTicks: 8 } }, 12000, 100), []);
  });
});

describe('clock faults (ops)', () => {
  test('clocks drifting by up to 5% (the lease shortened by that bound): 60 seeds, no violation', () => {
    assert.deepEqual(failingSeeds({ clock: { drift: 0.05 } }, 9000, 60), []);
  });

  test('clocks drifting by up to 15% (as in the broken-variant test below): 60 seeds, no violation', () => {
    assert.deepEqual(failingSeeds({ clock: { drift: 0.15 } }, 9200, 60), []);
  });

  test('clocks drifting and jumping forward and back (no lease reads): 40 seeds, no violation', () => {
    assert.deepEqual(failingSeeds({ clock: { drift: 0.05, jumps: true } }, 9500, 40), []);
  });
});

describe('the simulator catches deliberately broken variants', () => {
  const LIMIT = 400;

  test('a vote granted without the up-to-date log check', () => {
    const caught = firstCaught({ unsafe: { voteWithoutLogCheck: true } }, LIMIT);
    assert.ok(caught, `not caught in ${LIMIT} seeds`);
  });

  test('a ReadIndex answered before the leader has committed in its term (stale read)', () => {
    const caught = firstCaught({ unsafe: { readIndexBeforeTermCommit: true } }, LIMIT);
    assert.ok(caught, `not caught in ${LIMIT} seeds`);
    assert.match(caught.violation, /linearizab/);
  });

  test('a lease read with no quorum check, once clocks drift (ops: clock faults)', () => {
    // Without drift every clock counts the election timeout alike and check-quorum deposes the old leader
    // just in time; a leader whose clock runs slow keeps serving "lease" reads after a new leader wrote.
    // Rare: the old leader must be cut off, keep its clock slow, and be asked a read after the new leader wrote.
    const caught = firstCaught({ unsafe: { leaseWithoutCheck: true }, clock: { drift: 0.15 } }, 600);
    assert.ok(caught, 'not caught in 600 seeds');
    assert.match(caught.violation, /linearizab/);
  });

  test('every message, vote grants included, sent before anything is persisted', () => {
    const caught = firstCaught({ unsafe: { sendAllBeforePersist: true } }, LIMIT);
    assert.ok(caught, `not caught in ${LIMIT} seeds`);
    assert.match(caught.violation, /durability/);
  });

  test('a follower that acknowledges appends before its fsync (the early-send rule widened to every role)', () => {
    const caught = firstCaught({ unsafe: { earlySendAllRoles: true } }, LIMIT);
    assert.ok(caught, `not caught in ${LIMIT} seeds`);
    assert.match(caught.violation, /durability/);
  });
});
