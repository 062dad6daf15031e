// ---- ops2: redundancy zones on six real server processes in three zones
// (--node-meta zone:a|b|c). The zone tag is set with `konsul operator
// autopilot set-config` (replicated): the autopilot keeps one voter per zone
// and the others as standbys. Killing a zone's voter promotes that zone's
// standby (and demotes the dead voter) while writes keep succeeding; then a
// whole second zone is lost and the cluster still has a quorum, serves writes
// and reads every acknowledged key.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { before, describe } from 'node:test';
import { BIN, TestCluster, http, scenario, waitFor } from './harness.js';

const run = promisify(execFile);
const ZONES: Record<string, string[]> = { a: ['s1', 's2'], b: ['s3', 's4'], c: ['s5', 's6'] };
const zoneOf = (id: string): string => Object.keys(ZONES).find((z) => ZONES[z]!.includes(id))!;

interface State {
  Healthy: boolean;
  FailureTolerance: number;
  Leader: string;
  Voters: string[];
  Servers: Record<string, { Status: string; Healthy: boolean; RedundancyZone: string }>;
  RedundancyZones?: Record<string, { Servers: string[]; Voters: string[] }>;
}

describe('redundancy zones: six servers in three zones', { timeout: 240_000 }, () => {
  const c = new TestCluster();
  const step = scenario(c);
  const acked = new Map<string, string>();
  let seq = 0;

  async function cli(via: string, ...args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, [BIN, ...args, '--http-addr', `127.0.0.1:${c.node(via).httpPort}`], { timeout: 30_000 });
    return stdout;
  }
  async function state(via: string): Promise<State> {
    const r = await http('GET', `${c.node(via).url}/v1/operator/autopilot/state`);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as State;
  }
  /** Until one voter per live zone as given (zone -> voter), as the leader reports it. */
  async function voters(via: string, want: (st: State) => boolean, what: string): Promise<State> {
    return waitFor(what, async () => {
      const st = await state(via);
      return want(st) ? st : undefined;
    }, 60_000, 200);
  }
  async function write(via: string): Promise<void> {
    const key = `zones/${seq++}`;
    const r = await http('PUT', `${c.node(via).url}/v1/kv/${key}`, key, 10_000);
    assert.equal(r.status, 200, `write ${key} through ${via}: ${r.status} ${r.body}`);
    assert.equal(r.body, 'true');
    acked.set(key, key);
  }
  const perZone = (st: State): Map<string, string[]> => {
    const m = new Map<string, string[]>();
    for (const v of st.Voters) m.set(zoneOf(v), [...(m.get(zoneOf(v)) ?? []), v]);
    return m;
  };

  before(async () => {
    await c.add({ id: 's1', server: true, bootstrap: true, extra: ['--node-meta', 'zone:a'] });
    await c.start('s1');
    await c.leader(['s1']);
  });

  step('set-config turns zones on (replicated) before the other servers join', async () => {
    // The cluster runs protocol 2 once the lone server raised it: the command needs it.
    await waitFor('protocol 2', async () => ((await c.status('s1')).protocol?.cluster === 2 ? true : undefined));
    const out = await cli('s1', 'operator', 'autopilot', 'set-config', '--redundancy-zone-tag', 'zone', '--server-stabilization-time', '1s');
    assert.match(out, /Configuration updated!/);
    const text = await cli('s1', 'operator', 'autopilot', 'get-config');
    assert.match(text, /^RedundancyZoneTag = "zone"$/m);
    assert.match(text, /^ServerStabilizationTime = 1s$/m);
    assert.match(text, /^CleanupDeadServers = true$/m);
    const json = JSON.parse(await cli('s1', 'operator', 'autopilot', 'get-config', '--json')) as { RedundancyZoneTag: string; ModifyIndex: number };
    assert.equal(json.RedundancyZoneTag, 'zone');
    assert.ok(json.ModifyIndex > 0);
    const join = [c.node('s1').raftAddress];
    for (const id of ['s2', 's3', 's4', 's5', 's6']) await c.add({ id, server: true, join, extra: ['--node-meta', `zone:${zoneOf(id)}`] });
    await Promise.all(['s2', 's3', 's4', 's5', 's6'].map((id) => c.start(id)));
  });

  step('one voter per zone, the other server of each zone a standby (non-voter)', async () => {
    const st = await voters('s1', (s) => {
      const z = perZone(s);
      return Object.keys(s.Servers).length === 6 && s.Voters.length === 3 && [...z.values()].every((v) => v.length === 1) && z.size === 3 && s.Healthy;
    }, 'three voters, one per zone, six healthy servers');
    for (const [id, srv] of Object.entries(st.Servers)) {
      assert.equal(srv.RedundancyZone, zoneOf(id));
      assert.equal(srv.Status === 'non-voter', !st.Voters.includes(id));
    }
    assert.deepEqual(Object.keys(st.RedundancyZones ?? {}).sort(), ['a', 'b', 'c']);
    assert.equal(st.FailureTolerance, 1);
    // The same config on a standby's replica (replicated, not the leader's flags).
    const standby = Object.keys(st.Servers).find((id) => !st.Voters.includes(id))!;
    const r = JSON.parse((await http('GET', `${c.node(standby).url}/v1/operator/autopilot/configuration?stale`)).body) as { RedundancyZoneTag: string };
    assert.equal(r.RedundancyZoneTag, 'zone');
    // The human table names each server's zone.
    const table = await cli(standby, 'operator', 'autopilot', 'state');
    assert.match(table, /ZONE/);
    for (let i = 0; i < 5; i++) await write('s1');
  });

  let lostVoter = '';
  let lostZoneWhole = '';
  step('kill a zone\'s voter: that zone\'s standby is promoted, the dead voter demoted, writes go on', async () => {
    const st = await state('s1');
    const leaderZone = zoneOf(st.Leader);
    const zone = Object.keys(ZONES).find((z) => z !== leaderZone)!;
    lostVoter = st.Voters.find((v) => zoneOf(v) === zone)!;
    const standby = ZONES[zone]!.find((id) => id !== lostVoter)!;
    await c.kill(lostVoter);
    const after = await voters(st.Leader, (s) => s.Voters.includes(standby) && !s.Voters.includes(lostVoter) && s.Voters.length === 3,
      `${standby} promoted in zone ${zone} and ${lostVoter} demoted`);
    assert.equal(after.Servers[lostVoter]!.Healthy, false);
    assert.equal(after.Servers[standby]!.Status === 'voter' || after.Servers[standby]!.Status === 'leader', true);
    for (let i = 0; i < 5; i++) await write(st.Leader);
    lostZoneWhole = Object.keys(ZONES).find((z) => z !== leaderZone && z !== zone)!;
  });

  step('lose a whole second zone as well: a quorum is left, writes succeed, every acknowledged key reads back', async () => {
    const st = await state('s1').catch(async () => state((await c.leader())));
    for (const id of ZONES[lostZoneWhole]!) await c.kill(id);
    const alive = ['s1', 's2', 's3', 's4', 's5', 's6'].filter((id) => id !== lostVoter && !ZONES[lostZoneWhole]!.includes(id));
    const leader = await c.leader(alive, 30_000);
    assert.equal(zoneOf(leader) !== lostZoneWhole, true);
    for (let i = 0; i < 5; i++) await write(leader);
    const h = await waitFor('the leader sees the lost zone', async () => {
      const r = await http('GET', `${c.node(leader).url}/v1/operator/autopilot/health`);
      return r.status === 429 ? JSON.parse(r.body) as { FailureTolerance: number; Servers: Array<{ ID: string; Healthy: boolean }> } : undefined;
    }, 30_000);
    assert.equal(h.FailureTolerance, 0, 'two of three voters left');
    assert.ok(st.Voters.length === 3);
    for (const via of alive) {
      for (const [key, value] of acked) {
        const r = await http('GET', `${c.node(via).url}/v1/kv/${key}?raw&consistent`);
        assert.equal(r.status, 200, `${key} through ${via}`);
        assert.equal(r.body, value);
      }
    }
  });
});
