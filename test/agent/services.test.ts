// The agent's local services against a real state machine (its syncs applied
// as committed entries): anti-entropy repairs a catalog that drifted and
// writes nothing when nothing changed; a check's output alone is no change;
// registrations survive a restart; DeregisterCriticalServiceAfter.

import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parseCheckRegistration, parseServiceRegistration } from '../../src/agent/local/definitions.js';
import { LocalServices } from '../../src/agent/services.js';
import { encodeCommand, type CatalogOp, type StateMachine } from '../../src/state/index.js';
import { waitFor } from '../cluster/harness.js';
import { stateFixture } from '../state/helpers.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as never;

class Node {
  index: number;
  writes: CatalogOp[] = [];
  readonly local: LocalServices;
  constructor(readonly sm: StateMachine, readonly dataDir: string, antiEntropyIntervalMs = 100, incremental = true) {
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
      incremental: () => incremental,
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

  it('scale: a change is one incremental operation at protocol 2, the full sync while the cluster still runs protocol 1', async (t) => {
    for (const incremental of [true, false]) {
      const fixture = stateFixture(t).open();
      const node = new Node(fixture.sm, fixture.dir, 60_000, incremental);
      node.local.start();
      t.after(() => node.local.stop());
      await waitFor('the node registered at start-up', () => node.sm.catalog.node('n1'), 5000);
      await node.local.registerService(...registration({ Name: 'db', ID: 'db', Port: 5432 }));
      await node.local.registerService(...registration({ Name: 'web', ID: 'web', Port: 80 }));
      const last = node.writes[node.writes.length - 1]!;
      if (incremental) {
        assert.equal(last.op, 'service-put');
        assert.equal((last as Extract<CatalogOp, { op: 'service-put' }>).service.id, 'web', 'only the service that changed');
      } else {
        assert.equal(last.op, 'sync');
        assert.deepEqual((last as Extract<CatalogOp, { op: 'sync' }>).services.map((x) => x.id).sort(), ['db', 'web'], 'the whole node');
      }
      assert.deepEqual(node.sm.catalog.nodeServices('n1').map((x) => x.id).sort(), ['db', 'web']);
      node.local.stop();
    }
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

  it('every acknowledged registration survives a crash (no clean stop): journaled, folded when long, a torn last line dropped', async (t) => {
    const s = start(t, 60_000);
    const dir = s.node.dataDir;
    const reopen = (): Node => {
      // A second manager on the same data dir, the first one abandoned as a crash would leave it.
      const n = new Node(s.node.sm, dir, 60_000);
      n.local.start();
      t.after(() => n.local.stop());
      return n;
    };
    for (let i = 0; i < 5; i++) await s.node.local.registerService(...registration({ Name: 'web', ID: `w${i}`, Port: 8000 + i }));
    assert.equal(await s.node.local.deregisterService('w3'), true);
    await s.node.local.registerCheck(parseCheckRegistration({ CheckID: 'disk', Name: 'disk', TTL: '60s' }));
    assert.equal(await s.node.local.deregisterCheck('disk'), true);
    assert.ok(existsSync(join(dir, 'local-services.journal')), 'registrations go to the journal');
    let again = reopen();
    assert.deepEqual(again.local.listServices().map((x) => [x.id, x.port]), [['w0', 8000], ['w1', 8001], ['w2', 8002], ['w4', 8004]]);
    assert.deepEqual(again.local.listChecks(), []);
    // Loading folded the journal into the file.
    assert.equal(readFileSync(join(dir, 'local-services.journal'), 'utf8'), '');

    // A line cut short by a crash was never acknowledged: dropped, and what came before it kept.
    await again.local.registerService(...registration({ Name: 'api', ID: 'a1' }));
    appendFileSync(join(dir, 'local-services.journal'), '{"seq":99,"services":[{"id":"tor');
    again = reopen();
    assert.deepEqual(again.local.listServices().map((x) => x.id), ['a1', 'w0', 'w1', 'w2', 'w4']);

    // Past 1024 lines (and twice what the file holds) the journal is folded into the file on the next registration.
    for (let i = 0; i < 1100; i++) await again.local.registerService(...registration({ Name: 'bulk', ID: `b${i % 10}`, Port: i }));
    const journalLines = readFileSync(join(dir, 'local-services.journal'), 'utf8').split('\n').filter(Boolean).length;
    assert.ok(journalLines < 1024, `${journalLines} journal lines`);
    const last = reopen();
    assert.equal(last.local.listServices().length, 15);
    assert.equal(last.local.service('b9')?.port, 1099);
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
