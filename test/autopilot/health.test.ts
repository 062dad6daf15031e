// ---- ops2: the servers' health under the autopilot configuration
// (ServerHealthTracker): a server that lags by more than max-trailing-logs or
// that the leader has not heard from within the last-contact threshold is
// unhealthy; StableSince starts when it turns healthy and starts over after
// a lapse; client agents are not servers; a follower reports nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressState, Role } from '../../src/raft/index.js';
import { ServerHealthTracker } from '../../src/agent/server-health.js';
import type { AgentContext } from '../../src/agent/context.js';
import type { AutopilotConfigRecord } from '../../src/state/index.js';

const config: AutopilotConfigRecord = {
  cleanupDeadServers: true, lastContactThresholdMs: 200, maxTrailingLogs: 10, minQuorum: 0, serverStabilizationTimeMs: 1000,
  redundancyZoneTag: 'zone', disableUpgradeMigration: false, upgradeVersionTag: '', createIndex: 1, modifyIndex: 1,
};

/** A leader's view: s1 (itself), s2, s3 voters; s4 a server learner; c1 a client learner. */
function world() {
  const w = {
    role: Role.Leader, commit: 100,
    match: new Map([['s2', 100], ['s3', 100], ['s4', 95], ['c1', 100]]),
    heardAgo: new Map([['s2', 10], ['s3', 10], ['s4', 10], ['c1', 10]]),
  };
  const members = [
    { id: 's1', address: 'a1', voter: true }, { id: 's2', address: 'a2', voter: true }, { id: 's3', address: 'a3', voter: true },
    { id: 's4', address: 'a4', voter: false }, { id: 'c1', address: 'a5', voter: false },
  ];
  const ctx = {
    nodeId: 's1',
    cfg: { electionTimeoutMs: 300, stabilizationMs: 1000 },
    state: {
      autopilotConfig: () => config,
      member: (id: string) => ({ id, server: id !== 'c1' }),
      catalog: { node: (id: string) => ({ meta: { zone: id === 's4' ? 'b' : 'a' } }) },
    },
    driver: {
      lastHeard: { has: (id: string) => w.heardAgo.has(id), get: (id: string) => performance.now() - (w.heardAgo.get(id) ?? 1e9) },
      raft: {
        get role() { return w.role; },
        status: () => ({
          term: 3, commit: w.commit, lastIndex: w.commit, conf: { members },
          progress: members.filter((m) => m.id !== 's1').map((m) => ({ id: m.id, match: w.match.get(m.id)!, next: 0, state: ProgressState.Replicate, recentActive: true, voter: m.voter })),
        }),
      },
    },
  } as unknown as AgentContext;
  const heard = (id: string): number => (id === 's1' ? performance.now() : ctx.driver.lastHeard.get(id)!);
  return { w, ctx, heard };
}

describe('server health under the autopilot configuration', () => {
  it('healthy servers, client agents left out, zones from node meta', () => {
    const { ctx, heard } = world();
    const r = new ServerHealthTracker().evaluate(ctx, heard)!;
    assert.deepEqual(r.servers.map((s) => s.id), ['s1', 's2', 's3', 's4']);
    assert.ok(r.healthy);
    assert.equal(r.failureTolerance, 1);
    assert.deepEqual(r.servers.map((s) => s.zone), ['a', 'a', 'a', 'b']);
    assert.ok(r.servers.every((s) => s.stableSince !== undefined));
  });

  it('lagging past max-trailing-logs, or silent past the last-contact threshold: unhealthy; stability starts over', async () => {
    const { w, ctx, heard } = world();
    const tracker = new ServerHealthTracker();
    tracker.evaluate(ctx, heard);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(tracker.stableFor('s2') >= 15);
    w.match.set('s2', 89); // 11 behind, over 10
    w.heardAgo.set('s3', 250); // over 200ms
    let r = tracker.evaluate(ctx, heard)!;
    const by = new Map(r.servers.map((s) => [s.id, s]));
    assert.equal(by.get('s2')!.healthy, false, 'lagging');
    assert.equal(by.get('s2')!.alive, true, 'but alive');
    assert.equal(by.get('s3')!.healthy, false, 'silent');
    assert.equal(by.get('s3')!.alive, false);
    assert.equal(by.get('s3')!.lastContactMs >= 250, true);
    assert.equal(by.get('s2')!.stableSince, undefined);
    assert.equal(r.healthy, false);
    assert.equal(r.failureTolerance, 0);
    assert.equal(tracker.stableFor('s2'), 0);
    w.match.set('s2', 90); // exactly 10 behind: healthy again, stable from now
    r = tracker.evaluate(ctx, heard)!;
    assert.equal(r.servers.find((s) => s.id === 's2')!.healthy, true);
    assert.ok(tracker.stableFor('s2') < 15, 'its stabilization started over');
  });

  it('a follower reports nothing (the leader answers)', () => {
    const { w, ctx, heard } = world();
    w.role = Role.Follower;
    assert.equal(new ServerHealthTracker().evaluate(ctx, heard), undefined);
  });
});
