// The incremental catalog operations (scale, command tag 30): one service or
// check per command, each touching only its own records and indexes whatever
// else the node holds; catalogDelta writing only what differs; and bad or
// mis-tagged operations refused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CommandDecodeError, InvalidCommandError, catalogDelta, commandVersion, decodeCommand, encodeCommand, versionCommand,
  type CatalogOp, type CheckInput, type LocalCatalogView, type NodeInput, type ServiceInput,
} from '../../src/state/index.js';
import { Applier, stateFixture } from './helpers.js';
import { ClusterVersionError, prepareProposal } from '../../src/agent/versions.js';

const n1: NodeInput = { id: 'id-n1', node: 'n1', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} };

function service(id: string, name = id, port = 80): ServiceInput {
  return { id, service: name, tags: [], address: '', port, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false };
}

function check(checkId: string, serviceId: string, status: CheckInput['status'] = 'passing', output = ''): CheckInput {
  return { checkId, name: checkId, status, notes: '', output, serviceId, type: 'ttl' };
}

const op = (o: CatalogOp) => ({ type: 'catalog' as const, op: o });

describe('catalog: incremental operations', () => {
  it('service-put adds one service beside a thousand without touching them or their indexes', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.run(op({ op: 'sync', node: n1, services: Array.from({ length: 1000 }, (_, i) => service(`s${i}`, `name${i % 10}`)), checks: [] }));
    const before = a.index;
    assert.equal(a.run(op({ op: 'service-put', node: n1, service: service('web'), checks: [check('web-ttl', 'web')], deleteChecks: [] })), true);
    const c = sm.catalog;
    assert.equal(c.nodeServices('n1').length, 1001);
    assert.equal(c.serviceIndex('web'), a.index);
    assert.equal(c.serviceIndex('name3'), before, 'other services keep their index');
    assert.equal(c.nodeService('n1', 's5')?.modifyIndex, before);
    assert.equal(c.instances('web')[0]?.checks[0]?.checkId, 'web-ttl');
    // The same put again changes nothing.
    const at = a.index;
    a.run(op({ op: 'service-put', node: n1, service: service('web'), checks: [check('web-ttl', 'web')], deleteChecks: [] }));
    assert.equal(c.catalogIndex(), at);
  });

  it('check-put changes one check; a check of a service the catalog lacks is refused on every replica', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.run(op({ op: 'service-put', node: n1, service: service('web'), checks: [check('ttl', 'web')], deleteChecks: [] }));
    assert.equal(a.run(op({ op: 'check-put', node: n1, check: check('ttl', 'web', 'critical', 'down') })), true);
    assert.equal(sm.catalog.instances('web')[0]?.status, 'critical');
    assert.equal(a.run(op({ op: 'check-put', node: n1, check: check('x', 'nope') })), false);
    assert.equal(sm.catalog.nodeCheck('n1', 'x'), undefined);
  });

  it('service-delete removes the service and the checks of it named; check-delete one check; neither touches the leader\'s node check', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.run(op({ op: 'service-put', node: n1, service: service('web'), checks: [check('a', 'web'), check('b', 'web')], deleteChecks: [] }));
    a.run(op({ op: 'check-put', node: n1, check: check('disk', '') }));
    a.run(op({ op: 'node-health', node: 'n1', status: 'passing', output: 'ok' }));
    a.run(op({ op: 'service-delete', node: 'n1', serviceId: 'web', checkIds: ['a', 'b', 'disk'] }));
    assert.equal(sm.catalog.nodeService('n1', 'web'), undefined);
    assert.deepEqual(sm.catalog.nodeChecks('n1').map((c) => c.checkId), ['disk', 'serfHealth'], 'a node-level check is not the service\'s');
    a.run(op({ op: 'check-delete', node: 'n1', checkId: 'disk' }));
    assert.deepEqual(sm.catalog.nodeChecks('n1').map((c) => c.checkId), ['serfHealth']);
    assert.throws(() => encodeCommand(op({ op: 'check-delete', node: 'n1', checkId: 'serfHealth' })), InvalidCommandError);
  });

  it('encoded under tag 30; the same JSON under the old catalog tag (or the reverse) is not a command', () => {
    const bytes = Buffer.from(encodeCommand(op({ op: 'check-delete', node: 'n1', checkId: 'x' })));
    assert.equal(bytes[0], 30);
    assert.deepEqual(decodeCommand(bytes), op({ op: 'check-delete', node: 'n1', checkId: 'x' }));
    const retagged = Buffer.from(bytes);
    retagged[0] = 5;
    assert.throws(() => decodeCommand(retagged), CommandDecodeError);
    const sync = Buffer.from(encodeCommand(op({ op: 'sync', node: n1, services: [], checks: [] })));
    assert.equal(sync[0], 5);
    sync[0] = 30;
    assert.throws(() => decodeCommand(sync), CommandDecodeError);
  });

  it('tag 30 is a protocol-2 command: it travels in the version-2 envelope, and a cluster still at version 1 refuses it', () => {
    const bytes = encodeCommand(op({ op: 'check-delete', node: 'n1', checkId: 'x' }));
    assert.equal(commandVersion(bytes), 2);
    const enveloped = Buffer.from(versionCommand(bytes, 2));
    assert.deepEqual([enveloped[0], enveloped[1], enveloped[2]], [41, 2, 30]);
    assert.deepEqual(decodeCommand(enveloped), op({ op: 'check-delete', node: 'n1', checkId: 'x' }));
    assert.deepEqual(Buffer.from(prepareProposal(bytes, 2)), enveloped);
    assert.throws(() => prepareProposal(bytes, 1), ClusterVersionError);
    // The full sync is a first-release command: bare at version 1.
    const sync = encodeCommand(op({ op: 'sync', node: n1, services: [], checks: [] }));
    assert.equal(commandVersion(sync), 1);
    assert.deepEqual(Buffer.from(prepareProposal(sync, 1)), Buffer.from(sync));
  });

  it('catalogDelta writes only what differs: one op for one changed service, nothing when equal, output alone is no change', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    const services = new Map(Array.from({ length: 200 }, (_, i) => [`s${i}`, service(`s${i}`)]));
    const checks = new Map([['t1', check('t1', 's1')]]);
    const local = (): LocalCatalogView => ({
      node: n1,
      service: (id) => services.get(id),
      check: (id) => checks.get(id),
      checksOf: (sid) => [...checks.values()].filter((c) => c.serviceId === sid).map((c) => c.checkId),
      serviceIds: () => services.keys(),
      checkIds: () => checks.keys(),
    });
    const full = catalogDelta(sm.catalog, local());
    assert.equal(full.length, 200, 'an empty catalog: one put per service (the check goes with its service)');
    for (const o of full) a.run(op(o));
    assert.deepEqual(catalogDelta(sm.catalog, local()), []);
    checks.set('t1', check('t1', 's1', 'passing', 'new output'));
    assert.deepEqual(catalogDelta(sm.catalog, local()), [], 'output alone');
    services.set('s7', service('s7', 's7', 81));
    services.delete('s9');
    const ops = catalogDelta(sm.catalog, local(), { services: ['s7', 's9'], checks: [] });
    assert.deepEqual(ops.map((o) => o.op), ['service-put', 'service-delete']);
    // A drifted catalog (a service someone removed) is found by the full comparison.
    a.run(op({ op: 'service-delete', node: 'n1', serviceId: 's3', checkIds: [] }));
    assert.deepEqual(catalogDelta(sm.catalog, local()).map((o) => o.op === 'service-put' ? o.service.id : o.op), ['s3', 's7', 'service-delete']);
  });
});
