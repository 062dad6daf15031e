// Bugs the fuzz targets found, each pinned by the smallest input that showed it.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import type fc from 'fast-check';
import { ConfigError, resolveConfig } from '../../src/agent/config.js';
import { encodeCommand, STATE_TABLES, StateMachine } from '../../src/state/index.js';
import type { CatalogOp, CheckInput, ServiceInput } from '../../src/state/catalog.js';
import { LmdbStateStore, SnapshotCorruptionError } from '../../src/storage/index.js';
import { SnapshotEncoder } from '../../src/storage/snapshot-format.js';
import { rcodeOf, startDns } from '../dns/helpers.js';
import { dnsServerTarget } from './dns-targets.js';

describe('fuzz regressions: agent config', () => {
  it('--dev with --join is a ConfigError naming --dev, not a TypeError (found by agent-config)', () => {
    assert.throws(() => resolveConfig({ dev: true, join: '127.0.0.1:7000' }, {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /^--dev: bootstrap starts a new cluster; do not combine it with --join$/);
      return true;
    });
  });

  it('--dev with the server turned off is a ConfigError naming --dev, not a TypeError (found by agent-config)', () => {
    assert.throws(() => resolveConfig({ dev: true }, { KONSUL_SERVER: 'false' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /^--dev: only a server can bootstrap a cluster/);
      return true;
    });
  });
});

describe('fuzz regressions: config errors stay on one line', () => {
  it('a config file whose JSON error quotes a newline gives a one-line error (found by agent-config)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-fuzz-regression-'));
    try {
      const path = join(dir, 'bad.json');
      writeFileSync(path, Buffer.from([10, 0]));
      assert.throws(() => resolveConfig({ config: path, dev: true }, {}), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.ok(!err.message.includes('\n'), JSON.stringify(err.message));
        assert.match(err.message, /bad\.json: not valid JSON/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a value with a newline is quoted on one line (found by agent-config)', () => {
    assert.throws(() => resolveConfig({ dev: true, nodeId: 'a\nb' }, {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.message, `--node-id: "a\\nb" must be 1-128 letters, digits, '.', '_' or '-'`);
      return true;
    });
  });
});

describe('fuzz regressions: snapshot restore', () => {
  it('a snapshot holding a key LMDB cannot store is a SnapshotCorruptionError and restores nothing (found by snapshot-restore)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-fuzz-regression-'));
    const store = LmdbStateStore.open(dir, { tables: STATE_TABLES, mapSize: 16 * 1024 * 1024 });
    try {
      store.applyBatch(5, (txn) => txn.put('kv', 'kept', Buffer.from('v')));
      for (const key of [Buffer.alloc(600, 0x61), Buffer.alloc(0)]) {
        const e = new SnapshotEncoder(9, 1);
        e.table('kv');
        e.record(key, Buffer.from('x'));
        const bytes = e.finish();
        await assert.rejects(store.restoreSnapshot((async function* () { yield bytes; })()), (err: unknown) => {
          assert.ok(err instanceof SnapshotCorruptionError, String(err));
          assert.match(err.message, new RegExp(`a ${key.length}-byte key in table kv`));
          return true;
        });
        assert.equal(store.appliedIndex(), 5);
        assert.equal(store.read((txn) => txn.get('kv', 'kept'))?.toString(), 'v');
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fuzz regressions: DNS forwarding', () => {
  it('garbage or another question from a recursor is not relayed; a real answer after it is (found by dns-forward)', async (t) => {
    const recursor = createSocket('udp4');
    await new Promise<void>((resolve) => recursor.bind(0, '127.0.0.1', resolve));
    t.after(() => recursor.close());
    let mode: 'garbage-then-answer' | 'other-question' = 'garbage-then-answer';
    recursor.on('message', (query, from) => {
      const q = dnsPacket.decode(query);
      const answer = (name: string): Buffer => dnsPacket.encode({
        type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: [{ type: 'A', name }],
        answers: [{ type: 'A', name, ttl: 5, data: '192.0.2.7' }],
      });
      if (mode === 'garbage-then-answer') {
        const garbage = Buffer.from([0, 0, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        garbage.writeUInt16BE(q.id!, 0);
        recursor.send(garbage, from.port, from.address);
        setTimeout(() => recursor.send(answer(q.questions![0]!.name), from.port, from.address), 10);
      } else {
        recursor.send(answer('evil.example'), from.port, from.address);
      }
    });
    const dns = await startDns(t, undefined, { recursors: [`127.0.0.1:${recursor.address().port}`], recursorTimeoutMs: 300 });
    const relayed = await dns.ask('example.com', 'A', { id: 99 });
    assert.equal(relayed.id, 99);
    assert.equal(rcodeOf(relayed), 'NOERROR');
    assert.deepEqual(relayed.answers?.map((a) => (a as { data: string }).data), ['192.0.2.7']);
    mode = 'other-question';
    const refused = await dns.ask('example.com', 'A', { id: 100 });
    assert.equal(refused.id, 100);
    assert.equal(rcodeOf(refused), 'SERVFAIL', 'an answer to another name was relayed');
    assert.equal(dns.server.stats().errors, 0);
  });
});

describe('fuzz regressions: catalog views are the same on every replica', () => {
  it('service name spelling and an instance\'s check order do not depend on apply vs load order (found by state-command)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-fuzz-regression-'));
    const open = (): { store: LmdbStateStore; sm: StateMachine } => {
      const store = LmdbStateStore.open(dir, { tables: STATE_TABLES, mapSize: 16 * 1024 * 1024 });
      return { store, sm: new StateMachine(store) };
    };
    const svc = (id: string): ServiceInput => ({
      id, service: `svc-${id}`, tags: [], address: '', port: 0, meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false,
    });
    const check = (checkId: string, serviceId: string): CheckInput => ({
      checkId, name: checkId, status: 'passing', notes: '', output: '', type: 'ttl', serviceId,
    });
    const op: CatalogOp = {
      op: 'sync',
      node: { node: 'n1', id: '', address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
      // Applied in this order; loaded back in key order ('H' < 'h', ' ' < '!').
      services: [svc('h'), svc('H')],
      checks: [check('!', 'h'), check(' ', '')],
    };
    const view = (sm: StateMachine): string => JSON.stringify({
      names: [...sm.catalog.serviceNames()],
      instances: [...sm.catalog.serviceNames().keys()].map((n) => sm.catalog.instances(n)),
    });
    let live = open();
    try {
      assert.deepEqual(live.sm.apply([{ index: 1, command: encodeCommand({ type: 'catalog', op }) }]), [true]);
      const before = view(live.sm);
      await live.store.close();
      live = open();
      assert.equal(view(live.sm), before);
      assert.deepEqual([...live.sm.catalog.serviceNames().keys()], ['svc-H']);
      assert.deepEqual(live.sm.catalog.instances('svc-h')[1]!.checks.map((c) => c.checkId), [' ', '!']);
    } finally {
      await live.store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fuzz regressions: the checkers themselves', () => {
  it("dns-server's check after a campaign is not fooled by the late answer of a case the time limit abandoned (CI, seed 866292306)", async () => {
    const prepared = await dnsServerTarget.setup();
    try {
      // A case in flight when the campaign's time ran out: fast-check stops awaiting it, its answer still comes.
      // A bare header (no question) is answered FORMERR.
      const header = Buffer.alloc(12);
      header.writeUInt16BE(0x4242, 0);
      const abandoned = (prepared.property as fc.IAsyncProperty<[unknown]>).run([{ kind: 'udp', message: header }]);
      abandoned.catch(() => {});
      await prepared.after!();
    } finally {
      await prepared.teardown();
    }
  });
});
