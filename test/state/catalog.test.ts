// The catalog in the state machine, on a real LMDB store: a node's sync
// writes only what changed, indexes move only for what a change touched (per
// service and per node), the leader's node check, health aggregation, tags and
// case-insensitive names, restart and snapshot restore, and bad operations.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CommandDecodeError, InvalidCommandError, decodeCommand, encodeCommand,
  type CatalogOp, type CheckInput, type NodeInput, type ServiceInput,
} from '../../src/state/index.js';
import { Applier, settle, stateFixture, track } from './helpers.js';

function node(name: string, extra: Partial<NodeInput> = {}): NodeInput {
  return { id: `id-${name}`, node: name, address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {}, ...extra };
}

function service(id: string, name = id, extra: Partial<ServiceInput> = {}): ServiceInput {
  return {
    id, service: name, tags: [], address: '', port: 80, meta: {}, weights: { passing: 1, warning: 1 },
    enableTagOverride: false, ...extra,
  };
}

function check(checkId: string, serviceId: string, status: CheckInput['status'] = 'passing', extra: Partial<CheckInput> = {}): CheckInput {
  return { checkId, name: checkId, status, notes: '', output: '', serviceId, type: 'http', ...extra };
}

function sync(n: NodeInput, services: ServiceInput[], checks: CheckInput[] = []): CatalogOp {
  return { op: 'sync', node: n, services, checks };
}

describe('catalog: sync', () => {
  it('registers a node with services and checks, with CreateIndex/ModifyIndex from the Raft index', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    assert.equal(a.run({ type: 'catalog', op: sync(node('n1'), [service('web', 'web', { tags: ['v1'] })], [check('c1', 'web')]) }), true);
    const c = sm.catalog;
    assert.equal(c.node('N1')?.node, 'n1', 'node names are case-insensitive');
    assert.equal(c.node('n1')?.createIndex, a.index);
    const [inst] = c.instances('WEB');
    assert.equal(inst?.service.port, 80);
    assert.equal(inst?.service.createIndex, a.index);
    assert.equal(inst?.checks[0]?.serviceName, 'web');
    assert.deepEqual(inst?.checks[0]?.serviceTags, ['v1']);
    assert.equal(inst?.status, 'passing');
    assert.equal(c.catalogIndex(), a.index);
    assert.equal(c.serviceIndex('web'), a.index);
    assert.equal(c.nodeIndex('n1'), a.index);
    assert.deepEqual([...c.serviceNames()], [['web', ['v1']]]);
  });

  it('a sync that changes nothing writes nothing and moves no index', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    const op = sync(node('n1', { meta: { a: '1', b: '2' } }), [service('web')], [check('c1', 'web')]);
    a.run({ type: 'catalog', op });
    const at = a.index;
    // The same content with meta keys in another order is the same record.
    a.run({ type: 'catalog', op: sync(node('n1', { meta: { b: '2', a: '1' } }), [service('web')], [check('c1', 'web')]) });
    assert.equal(sm.catalog.catalogIndex(), at);
    assert.equal(sm.catalog.node('n1')?.modifyIndex, at);
    assert.equal(sm.catalog.instances('web')[0]?.service.modifyIndex, at);
  });

  it('a check status change moves only that service index; other services keep theirs', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    const services = [service('web'), service('db')];
    a.run({ type: 'catalog', op: sync(node('n1'), services, [check('cw', 'web'), check('cd', 'db')]) });
    const before = a.index;
    a.run({ type: 'catalog', op: sync(node('n1'), services, [check('cw', 'web', 'critical'), check('cd', 'db')]) });
    const c = sm.catalog;
    assert.equal(c.serviceIndex('web'), a.index);
    assert.equal(c.serviceIndex('db'), before);
    assert.equal(c.instances('web')[0]?.status, 'critical');
    assert.equal(c.instances('db')[0]?.status, 'passing');
    assert.equal(c.instances('web')[0]?.checks[0]?.modifyIndex, a.index);
    assert.equal(c.instances('web')[0]?.checks[0]?.createIndex, before);
  });

  it('services and checks missing from a sync are removed; other nodes are untouched', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.run({ type: 'catalog', op: sync(node('n1'), [service('web'), service('db')], [check('cd', 'db')]) });
    a.run({ type: 'catalog', op: sync(node('n2'), [service('web')]) });
    a.run({ type: 'catalog', op: sync(node('n1'), [service('web')]) });
    const c = sm.catalog;
    assert.deepEqual(c.nodeServices('n1').map((s) => s.id), ['web']);
    assert.deepEqual(c.nodeChecks('n1'), []);
    assert.deepEqual(c.instances('db'), []);
    assert.equal(c.serviceIndex('db'), a.index, 'removing the last instance moves the service index');
    assert.deepEqual(c.instances('web').map((i) => i.node.node), ['n1', 'n2']);
    assert.deepEqual([...c.serviceNames().keys()], ['web']);
  });

  it('instances filter by tag, case-insensitively', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.run({ type: 'catalog', op: sync(node('n1'), [service('w1', 'web', { tags: ['Primary'] }), service('w2', 'web', { tags: ['backup'] })]) });
    assert.deepEqual(sm.catalog.instances('web', 'primary').map((i) => i.service.id), ['w1']);
    assert.deepEqual(sm.catalog.instances('web', 'none'), []);
    assert.equal(sm.catalog.instances('web').length, 2);
  });

  it('a node address change moves the index of every service on it', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.run({ type: 'catalog', op: sync(node('n1'), [service('web'), service('db')]) });
    a.run({ type: 'catalog', op: sync(node('n1', { address: '10.0.0.9' }), [service('web'), service('db')]) });
    assert.equal(sm.catalog.serviceIndex('web'), a.index);
    assert.equal(sm.catalog.serviceIndex('db'), a.index);
    assert.equal(sm.catalog.instances('db')[0]?.node.address, '10.0.0.9');
  });
});

describe('catalog: the node check and deregistration', () => {
  it('node-health makes every service on the node critical, keeps it through syncs, and recovers', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    const op = sync(node('n1'), [service('web')], [check('cw', 'web')]);
    a.run({ type: 'catalog', op });
    a.run({ type: 'catalog', op: { op: 'node-health', node: 'n1', status: 'critical', output: 'gone' } });
    const c = sm.catalog;
    assert.equal(c.instances('web')[0]?.status, 'critical');
    assert.equal(c.serviceIndex('web'), a.index);
    // The agent's own sync does not carry (or remove) the leader's check.
    a.run({ type: 'catalog', op });
    assert.equal(c.nodeChecks('n1').some((x) => x.checkId === 'serfHealth'), true);
    const at = a.index - 1;
    assert.equal(c.serviceIndex('web'), at, 'an unchanged sync moved nothing');
    // The same status again is no change.
    a.run({ type: 'catalog', op: { op: 'node-health', node: 'n1', status: 'critical', output: 'gone' } });
    assert.equal(c.catalogIndex(), at);
    a.run({ type: 'catalog', op: { op: 'node-health', node: 'n1', status: 'passing', output: 'back' } });
    assert.equal(c.instances('web')[0]?.status, 'passing');
    assert.deepEqual(c.checksInState('passing').map((x) => x.checkId), ['cw', 'serfHealth']);
  });

  it('node-health for a node not in the catalog is ignored', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    assert.equal(a.run({ type: 'catalog', op: { op: 'node-health', node: 'ghost', status: 'critical', output: '' } }), false);
    assert.deepEqual(sm.catalog.nodes(), []);
  });

  it('a sync may not carry the node check', () => {
    assert.throws(() => encodeCommand({ type: 'catalog', op: sync(node('n1'), [], [check('serfHealth', '')]) }), InvalidCommandError);
  });

  it('deregister-node removes the node, its services and checks', (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    a.run({ type: 'catalog', op: sync(node('n1'), [service('web')], [check('cw', 'web')]) });
    a.run({ type: 'catalog', op: { op: 'deregister-node', node: 'N1' } });
    assert.deepEqual(sm.catalog.nodes(), []);
    assert.deepEqual(sm.catalog.instances('web'), []);
    assert.deepEqual(sm.catalog.checksInState('any'), []);
    assert.equal(sm.catalog.serviceIndex('web'), a.index);
  });
});

describe('catalog: blocking queries', () => {
  it('a service wait wakes for a change to that service only', async (t) => {
    const { sm } = stateFixture(t).open();
    const a = new Applier(sm);
    const services = [service('web'), service('db')];
    a.run({ type: 'catalog', op: sync(node('n1'), services, [check('cw', 'web'), check('cd', 'db')]) });
    const web = track(sm.catalog.waitService('web', sm.catalog.serviceIndex('web'), 60_000));
    const any = track(sm.catalog.waitCatalog(sm.catalog.catalogIndex(), 60_000));
    a.run({ type: 'catalog', op: sync(node('n1'), services, [check('cw', 'web'), check('cd', 'db', 'warning')]) });
    await settle();
    assert.equal(web.done, false, 'a change to db must not wake a wait on web');
    assert.equal(any.done, true);
    a.run({ type: 'catalog', op: sync(node('n1'), services, [check('cw', 'web', 'critical'), check('cd', 'db', 'warning')]) });
    assert.equal(await web.promise, a.index);
    assert.equal(sm.catalog.waiting, 0);
  });

  it('a wait ends on its timeout with the index then', async (t) => {
    const { sm } = stateFixture(t).open();
    assert.equal(await sm.catalog.waitNode('n1', 1, 10), 1);
  });
});

describe('catalog: persistence', () => {
  it('records and indexes survive a restart and a snapshot restore', async (t) => {
    const fixture = stateFixture(t);
    const first = fixture.open();
    const a = new Applier(first.sm);
    a.run({ type: 'catalog', op: sync(node('n1'), [service('web'), service('db')], [check('cw', 'web', 'warning')]) });
    a.run({ type: 'catalog', op: sync(node('n1'), [service('web')], [check('cw', 'web', 'warning')]) });
    const expect = {
      nodes: first.sm.catalog.nodes(), web: first.sm.catalog.instances('web'),
      webIndex: first.sm.catalog.serviceIndex('web'), dbIndex: first.sm.catalog.serviceIndex('db'),
    };
    const other = fixture.open();
    await other.storage.state.restoreSnapshot(first.storage.state.snapshot({ chunkBytes: 256 }));
    other.sm.reset();
    await first.close();
    const again = fixture.open(first.dir);
    for (const sm of [again.sm, other.sm]) {
      assert.deepEqual(sm.catalog.nodes(), expect.nodes);
      assert.deepEqual(sm.catalog.instances('web'), expect.web);
      assert.equal(sm.catalog.serviceIndex('web'), expect.webIndex);
      assert.equal(sm.catalog.serviceIndex('db'), expect.dbIndex);
    }
  });
});

describe('catalog: bad operations', () => {
  const bad: Array<[string, unknown]> = [
    ['unknown op', { op: 'nope' }],
    ['empty node name', sync(node(''), [])],
    ['port out of range', sync(node('n1'), [service('web', 'web', { port: 70000 })])],
    ['a check for an unregistered service', sync(node('n1'), [], [check('c', 'web')])],
    ['a repeated service id', sync(node('n1'), [service('web'), service('web')])],
    ['a bad status', sync(node('n1'), [service('web')], [check('c', 'web', 'fine' as 'passing')])],
    ['NUL in an id', sync(node('n1'), [service('a\u0000b')])],
  ];
  for (const [what, op] of bad) {
    it(`refuses ${what} on encode`, () => {
      assert.throws(() => encodeCommand({ type: 'catalog', op: op as CatalogOp }), InvalidCommandError);
    });
  }

  it('bytes with a bad catalog payload do not decode, and apply them as a no-op', (t) => {
    const good = encodeCommand({ type: 'catalog', op: sync(node('n1'), [service('web')]) });
    const json = JSON.stringify({ op: 'sync', node: node('n1'), services: [{ id: 'x' }], checks: [] });
    const badBytes = Buffer.concat([Buffer.of(5, 0), Buffer.alloc(4), Buffer.from(json)]);
    badBytes.writeUInt32BE(Buffer.byteLength(json), 2);
    assert.throws(() => decodeCommand(badBytes), CommandDecodeError);
    const notJson = Buffer.from(badBytes);
    notJson[6] = 0x7b; // '{' then garbage
    notJson[7] = 0x7b;
    assert.throws(() => decodeCommand(notJson), CommandDecodeError);
    assert.deepEqual(decodeCommand(good), { type: 'catalog', op: sync(node('n1'), [service('web')]) });
    const { sm } = stateFixture(t).open();
    assert.deepEqual(sm.apply([{ index: 1, command: badBytes }]), [false]);
    assert.deepEqual(sm.catalog.nodes(), []);
  });
});
