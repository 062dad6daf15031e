// The agent's local services against a real state machine (its syncs applied
// as committed entries): anti-entropy repairs a catalog that drifted and
// writes nothing when nothing changed; a check's output alone is no change;
// registrations survive a restart; DeregisterCriticalServiceAfter.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { parseServiceRegistration } from '../../src/agent/local/definitions.js';
import { LocalServices } from '../../src/agent/services.js';
import { encodeCommand, type CatalogOp, type StateMachine } from '../../src/state/index.js';
import { waitFor } from '../cluster/harness.js';
import { stateFixture } from '../state/helpers.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as never;

class Node {
  index: number;
  writes: CatalogOp[] = [];
  readonly local: LocalServices;
  constructor(readonly sm: StateMachine, dataDir: string, antiEntropyIntervalMs = 100) {
    this.index = sm.appliedIndex();
    this.local = new LocalServices({
      dataDir,
      node: () => ({ id: 'uuid-n1', node: 'n1', address: '127.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} }),
      catalog: sm.catalog,
      write: async (op) => {
        this.writes.push(op);
        this.apply(op);
      },
      ready: () => true,
      antiEntropyIntervalMs,
      logger: quiet,
    });
  }
  apply(op: CatalogOp): void {
    this.sm.apply([{ index: ++this.index, command: encodeCommand({ type: 'catalog', op }) }]);
  }
}

function start(t: TestContext, antiEntropyIntervalMs = 100): { node: Node; restart(): Promise<Node> } {
  const fixture = stateFixture(t);
  let opened = fixture.open();
  let node = new Node(opened.sm, opened.dir, antiEntropyIntervalMs);
  node.local.start();
  t.after(() => node.local.stop());
  return {
    node,
    async restart() {
      node.local.stop();
      await opened.close();
      opened = fixture.open(opened.dir);
      node = new Node(opened.sm, opened.dir, antiEntropyIntervalMs);
      node.local.start();
      return node;
    },
  };
}

function registration(body: unknown): Parameters<LocalServices['registerService']> {
  const { service, checks } = parseServiceRegistration(body);
  return [service, checks];
}

describe('local services and anti-entropy', () => {
  it('registering writes one sync; unchanged rounds write nothing; a drifted catalog is repaired', async (t) => {
    const { node } = start(t);
    // At start-up the agent puts its node in the catalog.
    await waitFor('the node registered at start-up', () => node.sm.catalog.node('n1'), 5000);
    assert.equal(node.writes.length, 1);
    await node.local.registerService(...registration({ Name: 'web', Port: 80, Check: { TTL: '60s', Status: 'passing' } }));
    assert.equal(node.writes.length, 2);
    assert.equal(node.sm.catalog.instances('web').length, 1);
    // Several anti-entropy rounds with nothing to do: no writes.
    const quietFrom = node.local.counters.unchanged;
    await waitFor('three quiet rounds', () => (node.local.counters.unchanged >= quietFrom + 3 ? true : undefined), 5000);
    assert.equal(node.writes.length, 2);

    // Someone else removed the node (a leader that thought it gone, an operator): the next round puts it back.
    node.apply({ op: 'deregister-node', node: 'n1' });
    assert.equal(node.sm.catalog.instances('web').length, 0);
    await waitFor('the node back in the catalog', () => (node.sm.catalog.instances('web').length === 1 ? true : undefined), 5000);
    assert.equal(node.writes.length, 3);
  });

  it('a TTL status change is written; the same status with new output is not', async (t) => {
    const { node } = start(t, 60_000);
    await node.local.registerService(...registration({ Name: 'web', ID: 'w', Check: { CheckID: 'ttl', TTL: '60s', Status: 'passing' } }));
    const before = node.writes.length;
    await node.local.updateTtl('ttl', 'passing', 'still fine');
    await node.local.updateTtl('ttl', 'passing', 'fine again');
    assert.equal(node.writes.length, before, 'output alone is not written');
    await node.local.updateTtl('ttl', 'critical', 'broken');
    assert.equal(node.writes.length, before + 1);
    const [inst] = node.sm.catalog.instances('web');
    assert.equal(inst?.status, 'critical');
    assert.equal(inst?.checks[0]?.output, 'broken');
    await assert.rejects(node.local.updateTtl('nope', 'passing'), /Unknown check ID/);
    // Output is capped as the runner caps it, locally too.
    await node.local.updateTtl('ttl', 'critical', 'x'.repeat(10_000));
    const local = node.local.listChecks()[0]!;
    assert.ok(Buffer.byteLength(local.output) < 5000, `local output of ${local.output.length} bytes`);
  });

  it('registrations and check statuses survive a restart', async (t) => {
    const s = start(t, 60_000);
    await s.node.local.registerService(...registration({ Name: 'web', ID: 'w', Tags: ['a'], Check: { CheckID: 'ttl', TTL: '60s' } }));
    await s.node.local.updateTtl('ttl', 'warning', 'slow');
    // No wait: a clean stop saves the status change that was still pending.
    const again = await s.restart();
    assert.deepEqual(again.local.listServices().map((x) => [x.id, x.tags]), [['w', ['a']]]);
    assert.deepEqual(again.local.listChecks().map((c) => [c.definition.id, c.status, c.output]), [['ttl', 'warning', 'slow']]);
    assert.equal(again.sm.catalog.instances('web')[0]?.status, 'warning');
  });

  it('DeregisterCriticalServiceAfter removes a service whose check stayed critical', async (t) => {
    const { node } = start(t, 60_000);
    await node.local.registerService(...registration({
      Name: 'flaky', Check: { TTL: '200ms', Status: 'passing', DeregisterCriticalServiceAfter: '300ms' },
    }));
    assert.equal(node.sm.catalog.instances('flaky').length, 1);
    await waitFor('flaky deregistered', () => (node.local.listServices().length === 0 ? true : undefined), 5000);
    await waitFor('flaky gone from the catalog', () => (node.sm.catalog.instances('flaky').length === 0 ? true : undefined), 5000);
  });
});
