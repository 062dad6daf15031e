// ---- ops2: the autopilot's voter decisions on their own (planVoterChange):
// without zones every stable server votes; with redundancy zones one voter
// per zone, the standby of a zone whose voter failed is promoted and the
// failed voter then demoted; a server not yet stable for the stabilization
// time is never promoted; min-quorum and a healthy quorum are never broken.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planVoterChange } from '../../src/agent/autopilot.js';
import { failureTolerance, type HealthReport, type ServerHealth } from '../../src/agent/server-health.js';
import type { AutopilotConfig } from '../../src/state/index.js';

const base: AutopilotConfig = {
  cleanupDeadServers: true, lastContactThresholdMs: 200, maxTrailingLogs: 250, minQuorum: 0, serverStabilizationTimeMs: 1000,
  redundancyZoneTag: 'zone', disableUpgradeMigration: false, upgradeVersionTag: '',
};

/** `spec`: id:zone:V|N(:down) — e.g. 's1:a:V', 's4:b:N:down'. */
function report(specs: string[], config: Partial<AutopilotConfig> = {}): HealthReport {
  const servers: ServerHealth[] = specs.map((spec) => {
    const [id, zone, role, down] = spec.split(':');
    const healthy = down !== 'down';
    return {
      id: id!, address: '', voter: role === 'V', leader: id === 's1', healthy, alive: healthy, lastContactMs: 0, lastTerm: 1, lastIndex: 1,
      stableSince: healthy ? 0 : undefined, zone: zone!,
    };
  });
  return { healthy: servers.every((s) => s.healthy), failureTolerance: failureTolerance(servers), leader: 's1', servers, config: { ...base, ...config, createIndex: 1, modifyIndex: 1 } };
}

const stable = (ms: number) => (id: string): number => (id === 'young' ? 10 : ms);
const SIX = ['s1:a:V', 's2:a:N', 's3:b:V', 's4:b:N', 's5:c:V', 's6:c:N'];

describe('the autopilot\'s voter changes', () => {
  it('with zones and one healthy voter in each: nothing to do', () => {
    assert.equal(planVoterChange(report(SIX), stable(5000), 's1'), undefined);
  });

  it('a zone\'s voter failed: its stable standby is promoted, then the failed voter demoted', () => {
    const failed = ['s1:a:V', 's2:a:N', 's3:b:V:down', 's4:b:N', 's5:c:V', 's6:c:N'];
    assert.deepEqual(planVoterChange(report(failed), stable(5000), 's1'), {
      id: 's4', promote: true, zone: 'b', reason: 'promoted the standby server of a zone whose voter failed',
    });
    const promoted = ['s1:a:V', 's2:a:N', 's3:b:V:down', 's4:b:V', 's5:c:V', 's6:c:N'];
    assert.deepEqual(planVoterChange(report(promoted), stable(5000), 's1'), {
      id: 's3', promote: false, zone: 'b', reason: 'demoted the failed voter of a zone whose standby took over',
    });
  });

  it('a standby not yet stable for the stabilization time waits', () => {
    assert.equal(planVoterChange(report(['s1:a:V', 's3:b:V:down', 'young:b:N']), stable(5000), 's1'), undefined);
    assert.equal(planVoterChange(report(SIX.map((s) => s.replace(':V', ':N')).map((s) => (s.startsWith('s1') ? 's1:a:V' : s))), stable(500), 's1'), undefined,
      'healthy for 500ms of the 1000ms stabilization time');
  });

  it('joining servers: one voter per zone is promoted, the others stay standbys', () => {
    const joining = ['s1:a:V', 's2:a:N', 's3:b:N', 's4:b:N', 's5:c:N', 's6:c:N'];
    const first = planVoterChange(report(joining), stable(5000), 's1')!;
    assert.equal(first.promote, true);
    assert.equal(first.id, 's3', 'the zone b server that is first by id (all equally stable)');
    assert.equal(planVoterChange(report(['s1:a:V', 's2:a:N', 's3:b:V', 's4:b:N', 's5:c:N', 's6:c:N']), stable(5000), 's1')!.id, 's5');
  });

  it('a zone with two healthy voters (zones just turned on) loses one, never the leader', () => {
    const all = ['s1:a:V', 's2:a:V', 's3:b:V', 's4:b:N', 's5:c:V', 's6:c:N'];
    assert.deepEqual(planVoterChange(report(all), stable(5000), 's1'), { id: 's2', promote: false, zone: 'a', reason: 'demoted a zone\'s extra voter to a standby' });
  });

  it('min-quorum: no demotion that would leave fewer voters', () => {
    const all = ['s1:a:V', 's2:a:V', 's3:b:V', 's4:b:N', 's5:c:V', 's6:c:N'];
    assert.equal(planVoterChange(report(all, { minQuorum: 4 }), stable(5000), 's1'), undefined);
    assert.equal(planVoterChange(report(all, { minQuorum: 3 }), stable(5000), 's1')!.id, 's2');
  });

  it('no demotion that leaves the remaining voters without a healthy quorum', () => {
    // Voters s1, s2 (zone a), s3 down, s5 down: demoting s2 leaves s1, s3, s5 with one healthy of three.
    const shaky = ['s1:a:V', 's2:a:V', 's3:b:V:down', 's5:c:V:down'];
    assert.equal(planVoterChange(report(shaky), stable(5000), 's1'), undefined);
  });

  it('without zones: every stable non-voting server is promoted, nobody demoted', () => {
    const r = report(['s1::V', 's2::V', 's3::N'], { redundancyZoneTag: '' });
    assert.equal(planVoterChange(r, stable(5000), 's1')!.id, 's3');
    assert.equal(planVoterChange(report(['s1:a:V', 's2:a:V'], { redundancyZoneTag: '' }), stable(5000), 's1'), undefined,
      'zone values are ignored without a tag');
  });

  it('a server without a zone value is a zone of its own', () => {
    assert.equal(planVoterChange(report(['s1:a:V', 's2:a:N', 'x::N']), stable(5000), 's1')!.id, 'x');
  });

  it('the checker sees a broken plan: a zone left with two voters is reported', () => {
    // The property the cluster test checks, run on a plan that ignores zones: it must fail.
    const joining = ['s1:a:V', 's2:a:N', 's3:b:V', 's4:b:N', 's5:c:V', 's6:c:N'];
    const broken = planVoterChange(report(joining, { redundancyZoneTag: '' }), stable(5000), 's1');
    assert.ok(broken?.promote && ['s2', 's4', 's6'].includes(broken.id), 'without zones a standby would be promoted: a second voter in its zone');
  });
});
