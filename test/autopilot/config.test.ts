// ---- ops2: the replicated autopilot configuration: the autopilot-config
// command (tag 42, protocol 2) round-trips and is checked on every replica's
// decode, its cas works on the ModifyIndex (0 = never written), it survives a
// restart and travels in a snapshot; GET|PUT /v1/operator/autopilot/configuration
// speak Consul's shape, keep the fields a body leaves out, and answer 400 for
// bad values.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CommandDecodeError, InvalidCommandError, commandVersion, decodeCommand, encodeCommand, type AutopilotConfig, type Command,
} from '../../src/state/index.js';
import { prepareProposal, ClusterVersionError } from '../../src/agent/versions.js';
import { Applier, stateFixture } from '../state/helpers.js';
import { startServer } from '../http/helpers.js';

const config: AutopilotConfig = {
  cleanupDeadServers: true, lastContactThresholdMs: 200, maxTrailingLogs: 250, minQuorum: 0, serverStabilizationTimeMs: 10_000,
  redundancyZoneTag: 'zone', disableUpgradeMigration: false, upgradeVersionTag: '',
};

describe('the autopilot-config command', () => {
  it('round-trips, with and without cas, and is a protocol-2 command', () => {
    for (const cmd of [{ type: 'autopilot-config', config }, { type: 'autopilot-config', config, cas: 7 }] as Command[]) {
      const bytes = encodeCommand(cmd);
      assert.equal(bytes[0], 42);
      assert.deepEqual(decodeCommand(bytes), cmd);
      assert.equal(commandVersion(bytes), 2);
      assert.deepEqual(decodeCommand(prepareProposal(bytes, 2)), cmd, 'in the versioned envelope');
      assert.throws(() => prepareProposal(bytes, 1), ClusterVersionError, 'a first-release cluster cannot apply it');
    }
  });

  it('refuses bad fields on encode and on decode', () => {
    const bad: Array<[string, unknown]> = [
      ['a zero last-contact threshold', { ...config, lastContactThresholdMs: 0 }],
      ['a negative min-quorum', { ...config, minQuorum: -1 }],
      ['a fractional trailing-logs', { ...config, maxTrailingLogs: 1.5 }],
      ['a string for a boolean', { ...config, cleanupDeadServers: 'yes' }],
      ['an unknown field', { ...config, extra: 1 }],
      ['a missing field', { ...config, redundancyZoneTag: undefined }],
    ];
    for (const [what, c] of bad) {
      assert.throws(() => encodeCommand({ type: 'autopilot-config', config: c as AutopilotConfig }), InvalidCommandError, what);
    }
    // The same bytes a proposer could not have made: a replica refuses them (a no-op, the same everywhere).
    const good = Buffer.from(encodeCommand({ type: 'autopilot-config', config }));
    const json = JSON.stringify({ ...config, minQuorum: -1 });
    const forged = Buffer.concat([good.subarray(0, 2), Buffer.from([0, 0, 0, Buffer.byteLength(json)]), Buffer.from(json)]);
    assert.throws(() => decodeCommand(forged), CommandDecodeError);
  });

  it('is applied with cas on its ModifyIndex, survives a restart and travels in a snapshot', async (t) => {
    const fixture = stateFixture(t);
    const first = fixture.open();
    const a = new Applier(first.sm);
    assert.equal(first.sm.autopilotConfig(), undefined, 'never written');
    assert.equal(a.run({ type: 'autopilot-config', config, cas: 5 }), false, 'cas 5 on a config never written');
    assert.equal(first.sm.autopilotConfig(), undefined);
    assert.equal(a.run({ type: 'autopilot-config', config, cas: 0 }), true, 'cas 0: only if never written');
    const created = a.index;
    assert.deepEqual(first.sm.autopilotConfig(), { ...config, createIndex: created, modifyIndex: created });
    assert.equal(a.run({ type: 'autopilot-config', config: { ...config, minQuorum: 3 }, cas: 0 }), false, 'cas 0 once written');
    assert.equal(a.run({ type: 'autopilot-config', config: { ...config, minQuorum: 3 }, cas: created }), true);
    const expected = { ...config, minQuorum: 3, createIndex: created, modifyIndex: a.index };
    assert.deepEqual(first.sm.autopilotConfig(), expected);
    assert.equal(a.run({ type: 'autopilot-config', config: { ...config, minQuorum: 5 }, cas: created }), false, 'a stale cas');
    assert.equal(a.run({ type: 'autopilot-config', config: { ...config, minQuorum: 2 } }), true, 'without cas: always');
    const last = { ...config, minQuorum: 2, createIndex: created, modifyIndex: a.index };

    const other = fixture.open();
    await other.storage.state.restoreSnapshot(first.storage.state.snapshot({ chunkBytes: 128 }));
    other.sm.reset();
    await first.close();
    const again = fixture.open(first.dir);
    assert.deepEqual(again.sm.autopilotConfig(), last, 'after a restart');
    assert.deepEqual(other.sm.autopilotConfig(), last, 'after a snapshot install');
  });
});

describe('GET|PUT /v1/operator/autopilot/configuration', () => {
  it('Consul\'s shape; a PUT keeps the fields it leaves out; ?cas; bad values are 400s naming the field', async (t) => {
    const s = await startServer(t);
    const first = (await s.call('GET', '/v1/operator/autopilot/configuration')).json<Record<string, unknown>>();
    assert.deepEqual(first, {
      CleanupDeadServers: true, LastContactThreshold: '600ms', MaxTrailingLogs: 250, MinQuorum: 0, ServerStabilizationTime: '5s',
      RedundancyZoneTag: '', DisableUpgradeMigration: false, UpgradeVersionTag: '', CreateIndex: 0, ModifyIndex: 0,
    });
    let r = await s.call('PUT', '/v1/operator/autopilot/configuration?cas=0', { body: JSON.stringify({ RedundancyZoneTag: 'zone', LastContactThreshold: '250ms' }) });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'true');
    const second = (await s.call('GET', '/v1/operator/autopilot/configuration')).json<Record<string, unknown>>();
    assert.equal(second.RedundancyZoneTag, 'zone');
    assert.equal(second.LastContactThreshold, '250ms');
    assert.equal(second.ServerStabilizationTime, '5s', 'left out: kept');
    assert.ok((second.ModifyIndex as number) > 0);
    r = await s.call('PUT', '/v1/operator/autopilot/configuration?cas=0', { body: JSON.stringify({ MinQuorum: 3 }) });
    assert.equal(r.text, 'false', 'a stale cas writes nothing');
    // The GET answer sent back as it is (Consul's clients do), with a duration in nanoseconds.
    r = await s.call('PUT', `/v1/operator/autopilot/configuration?cas=${second.ModifyIndex}`, {
      body: JSON.stringify({ ...second, MinQuorum: 3, ServerStabilizationTime: 2_000_000_000 }),
    });
    assert.equal(r.text, 'true');
    const third = (await s.call('GET', '/v1/operator/autopilot/configuration')).json<Record<string, unknown>>();
    assert.equal(third.MinQuorum, 3);
    assert.equal(third.ServerStabilizationTime, '2s');
    for (const [body, field] of [
      ['{"LastContactThreshold":"soon"}', 'LastContactThreshold'], ['{"MinQuorum":-1}', 'MinQuorum'], ['{"CleanupDeadServers":"no"}', 'CleanupDeadServers'],
      ['{"Bogus":1}', 'Bogus'], ['{"LastContactThreshold":"0s"}', 'threshold'],
    ] as const) {
      r = await s.call('PUT', '/v1/operator/autopilot/configuration', { body });
      assert.equal(r.status, 400, body);
      assert.match(r.text, new RegExp(field), body);
    }
    r = await s.call('PUT', '/v1/operator/autopilot/configuration?cas=x', { body: '{}' });
    assert.equal(r.status, 400);
    assert.deepEqual((await s.call('GET', '/v1/operator/autopilot/configuration')).json(), third, 'the refused PUTs changed nothing');
  });
});
