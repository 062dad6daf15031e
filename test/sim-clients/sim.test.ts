// The client-replica simulator at a small seed count: 3 voters and 1,000
// clients under relay crashes and partitions and client restarts; the leader's
// messages per committed entry do not depend on the number of clients; clients
// refused by every relay are taken past a fan-out (overflow); and the checkers
// catch the broken variants.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runClientSim } from './sim.js';

test('1,000 clients through a relay tree hold only committed prefixes and converge after calm', () => {
  for (const seed of [1, 2]) {
    const r = runClientSim({ seed, clients: 1000, duration: 12_000, calm: 8000 });
    assert.deepEqual(r.violations, [], `seed ${seed}`);
    assert.ok(r.stats.committed > 100, `seed ${seed}: the cluster made progress (${r.stats.committed})`);
    assert.ok(r.stats.relayCrashes + r.stats.relayPartitions > 0 && r.stats.clientRestarts > 0, `seed ${seed}: faults happened`);
    assert.ok(r.stats.snapshots > 0, `seed ${seed}: some client caught up from a relay's snapshot`);
    assert.ok(r.stats.convergedAfter >= 0, `seed ${seed}: converged`);
    assert.ok(r.stats.maxFanout <= 48 + r.stats.maxOverflow, `seed ${seed}: no relay served more than its fan-out but for overflow (${r.stats.maxFanout}, ${r.stats.maxOverflow})`);
    assert.equal(r.stats.maxDepth, 3, `seed ${seed}: clients hung off relay clients`);
  }
});

test('the leader sends the same messages per committed entry with 0, 100 and 1,000 clients', () => {
  const runs = [0, 100, 1000].map((clients) => {
    const r = runClientSim({ seed: 7, clients, duration: 5000, calm: 5000, faults: false });
    assert.deepEqual(r.violations, []);
    return r.stats;
  });
  const perEntry = runs.map((s) => s.leaderMessagesPerEntry);
  assert.ok(perEntry[0]! > 0);
  assert.deepEqual(perEntry, [perEntry[0], perEntry[0], perEntry[0]], `leader messages per entry: ${perEntry.join(', ')}`);
  // The only thing a client ever gets from the leader: one "go elsewhere" per leadership it tried.
  runs.forEach((s, i) => assert.ok(s.leaderRedirects <= [0, 100, 1000][i]! * s.leaderChanges, `redirects ${s.leaderRedirects}`));
});

test('the checker catches a relay that forwards uncommitted entries', () => {
  const r = runClientSim({ seed: 1, clients: 100, duration: 5000, calm: 3000, broken: 'relay-forwards-uncommitted' });
  assert.ok(r.violations.some((v) => /which no server has committed|the committed entry there is/.test(v)), r.violations.join('\n'));
});

test('the checker catches a client that restarts and serves from a log ahead of the relay\'s commit', () => {
  let caught: string | undefined;
  for (let seed = 1; seed <= 10 && !caught; seed++) {
    const r = runClientSim({ seed, clients: 200, duration: 12_000, calm: 3000, broken: 'client-serves-ahead-after-restart' });
    caught = r.violations.find((v) => /which no server has committed|the committed entry there is/.test(v));
  }
  assert.ok(caught, 'no seed of 10 caught the broken client');
});

test('with more clients than the relays\' fan-outs, the ones refused everywhere are taken as overflow and converge; without overflow the checker sees them starve', () => {
  // 2 followers with a fan-out of 20 and no relay clients: room for 40 of 60 clients.
  const opts = { clients: 60, relayEvery: 0, fanout: 20, duration: 8000, calm: 6000 };
  for (const seed of [1, 2]) {
    const r = runClientSim({ seed, ...opts });
    assert.deepEqual(r.violations, [], `seed ${seed}`);
    assert.ok(r.stats.maxOverflow > 0, `seed ${seed}: some clients were taken past a fan-out`);
    assert.ok(r.stats.convergedAfter >= 0, `seed ${seed}: converged`);
  }
  const broken = runClientSim({ seed: 1, ...opts, broken: 'no-overflow' });
  assert.ok(broken.violations.some((v) => /did not converge/.test(v)), broken.violations.join('\n'));
});
