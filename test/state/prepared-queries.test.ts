// Prepared queries as replicated state: the command's encoding and version,
// Consul's state store rules applied on every replica (a unique name, one
// empty-name template, no name that is another's ID, a live session, no
// update of a missing query), deletion with their session, restart, restore
// from a snapshot stream and an archive, template rendering and execution.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  commandVersion, decodeCommand, encodeCommand, executeQuery, InvalidCommandError, renderTemplate,
  type CatalogOp, type PreparedQueryInput, type SessionInput,
} from '../../src/state/index.js';
import { restoreProblem } from '../../src/state/machine.js';
import { parseArchive, writeArchive } from '../../src/state/archive.js';
import { SnapshotEncoder } from '../../src/storage/snapshot-format.js';
import { Applier, stateFixture } from './helpers.js';

function query(extra: Partial<PreparedQueryInput> = {}, service: Partial<PreparedQueryInput['service']> = {}): PreparedQueryInput {
  return {
    id: randomUUID(), name: 'q', session: '', token: '', template: { type: '', regexp: '', removeEmptyTags: false }, dns: { ttl: '' },
    ...extra,
    service: {
      service: 'web', failover: { nearestN: 0, datacenters: [] }, onlyPassing: false, ignoreCheckIds: [], near: '', tags: [],
      nodeMeta: {}, serviceMeta: {}, ...service,
    },
  };
}

function set(a: Applier, q: PreparedQueryInput, create = true): { ok: boolean | undefined; why: string | undefined } {
  const ok = a.run({ type: 'prepared-query', op: { op: 'set', query: q, create } });
  return { ok, why: a.sm.queries.outcome(a.index) };
}

function registerNode(a: Applier, name: string): void {
  const op: CatalogOp = {
    op: 'sync', node: { id: `id-${name}`, node: name, address: '10.0.0.1', datacenter: 'dc1', taggedAddresses: {}, meta: {} },
    services: [], checks: [],
  };
  assert.equal(a.run({ type: 'catalog', op }), true);
}

function session(node: string): SessionInput {
  return { id: randomUUID(), name: 's', node, nodeChecks: [], serviceChecks: [], lockDelayMs: 0, behavior: 'release', ttl: '', ttlMs: 0 };
}

describe('prepared-query command', () => {
  it('round-trips, is a protocol-2 command, and refuses a bad definition before it is proposed', () => {
    const q = query({ name: 'web-q', dns: { ttl: '10s' } }, { tags: ['v1', '!canary'], nodeMeta: { rack: 'r1' } });
    const bytes = encodeCommand({ type: 'prepared-query', op: { op: 'set', query: q, create: true } });
    assert.deepEqual(decodeCommand(bytes), { type: 'prepared-query', op: { op: 'set', query: q, create: true } });
    assert.equal(commandVersion(bytes), 2, 'a first-release replica does not know it: only a protocol-2 cluster may apply it');
    assert.deepEqual(decodeCommand(encodeCommand({ type: 'prepared-query', op: { op: 'delete', id: q.id } })), { type: 'prepared-query', op: { op: 'delete', id: q.id } });
    for (const [bad, why] of [
      [query({}, { service: '' }), /Must provide a Service name to query/],
      [query({ name: '' }), /Must be bound to a session/],
      [query({ id: 'nope' }), /the ID must be a UUID/],
      [query({ dns: { ttl: '-1s' } }), /must be >=0/],
      [query({ template: { type: 'name_prefix_match', regexp: '[', removeEmptyTags: false } }), /Bad Regexp/],
    ] as const) {
      assert.throws(() => encodeCommand({ type: 'prepared-query', op: { op: 'set', query: bad, create: true } }), (e: Error) => e instanceof InvalidCommandError && why.test(e.message));
    }
    // Bytes a proposer could not have made decode to an error on every replica alike.
    const json = Buffer.from(JSON.stringify({ op: 'set', create: true, query: { ...q, service: { ...q.service, tags: 'v1' } } }));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(json.length);
    const forged = Buffer.concat([Buffer.of(21, 0), length, json]);
    assert.throws(() => decodeCommand(forged), /prepared query: Service is malformed/);
  });
});

describe('prepared queries in the state machine', () => {
  it('applies Consul\'s state store rules, with the reason kept for the proposer', (t) => {
    const a = new Applier(stateFixture(t).open().sm);
    const first = query({ name: 'Web-Q' });
    assert.deepEqual(set(a, first), { ok: true, why: undefined });
    const index = a.sm.queries.index();
    assert.deepEqual(set(a, query({ name: 'web-q' })), { ok: false, why: "name 'web-q' aliases an existing query name" });
    assert.deepEqual(set(a, query({ name: first.id })), { ok: false, why: `name '${first.id}' aliases an existing query ID` });
    const missing = query({ name: 'other' });
    assert.deepEqual(set(a, missing, false), { ok: false, why: `Cannot modify non-existent prepared query: '${missing.id}'` });
    assert.deepEqual(set(a, first), { ok: false, why: `ID '${first.id}' is taken` });
    const template = { type: 'name_prefix_match', regexp: '', removeEmptyTags: false };
    assert.equal(set(a, query({ name: '', template })).ok, true);
    const lastWrite = a.index;
    assert.deepEqual(set(a, query({ name: '', template })), { ok: false, why: 'a query template with an empty name already exists' });
    assert.match(set(a, query({ name: 'bound', session: randomUUID() })).why!, /^invalid session "/);
    assert.equal(a.sm.queries.index(), lastWrite, 'refused writes leave the index where it was');
    assert.ok(a.sm.queries.index() > index);
    // An update keeps CreateIndex and moves ModifyIndex; a delete moves the index.
    assert.equal(set(a, { ...first, name: 'renamed' }, false).ok, true);
    const updated = a.sm.queries.get(first.id)!;
    assert.equal(updated.name, 'renamed');
    assert.ok(updated.modifyIndex > updated.createIndex);
    assert.equal(a.run({ type: 'prepared-query', op: { op: 'delete', id: first.id } }), true);
    assert.equal(a.sm.queries.get(first.id), undefined);
    assert.equal(a.sm.queries.index(), a.index);
  });

  it('resolves an ID, then an exact name (any case), then the longest template prefix, rendered', (t) => {
    const a = new Applier(stateFixture(t).open().sm);
    const template = { type: 'name_prefix_match', regexp: '^geo-db-(.*?)-([^-]+?)$', removeEmptyTags: true };
    const geo = query({ name: 'geo-db', template }, { service: 'mysql-${match(1)}', tags: ['${match(2)}', '${match(7)}'], near: '${name.suffix}' });
    const wide = query({ name: 'geo', template: { ...template, regexp: '' } }, { service: '${name.full}' });
    const exact = query({ name: 'geo-db-exact' });
    for (const q of [geo, wide, exact]) assert.equal(set(a, q).ok, true);
    const r = a.sm.queries;
    assert.equal(r.resolve(exact.id.toUpperCase())?.id, exact.id);
    assert.equal(r.resolve('GEO-DB-EXACT')?.id, exact.id);
    const rendered = r.resolve('geo-db-customer-primary')!;
    assert.equal(rendered.id, geo.id);
    assert.equal(rendered.service.service, 'mysql-customer');
    assert.deepEqual(rendered.service.tags, ['primary'], 'an empty match is dropped with RemoveEmptyTags');
    assert.equal(rendered.service.near, '-customer-primary');
    assert.equal(r.resolve('geography')?.service.service, 'geography');
    assert.equal(r.resolve('elsewhere'), undefined);
    // Rendering leaves the stored template as it was.
    assert.equal(r.get(geo.id)!.service.service, 'mysql-${match(1)}');
    assert.equal(renderTemplate(r.get(geo.id)!, 'geo-db-x').service.service, 'mysql-', 'a regexp that does not match gives empty groups');
  });

  it('a query bound to a session goes with it: destroyed, or invalidated by its node leaving', (t) => {
    const a = new Applier(stateFixture(t).open().sm);
    registerNode(a, 'n1');
    const s1 = session('n1');
    const s2 = session('n1');
    assert.equal(a.run({ type: 'session-create', session: s1 }), true);
    assert.equal(a.run({ type: 'session-create', session: s2 }), true);
    const q1 = query({ name: '', session: s1.id });
    const q2 = query({ name: 'kept-until-node-goes', session: s2.id });
    const free = query({ name: 'free' });
    for (const q of [q1, q2, free]) assert.equal(set(a, q).ok, true);
    assert.equal(a.run({ type: 'session-destroy', id: s1.id }), true);
    assert.deepEqual(a.sm.queries.list().map((q) => q.id).sort(), [q2.id, free.id].sort());
    assert.equal(a.run({ type: 'catalog', op: { op: 'deregister-node', node: 'n1' } }), true);
    assert.deepEqual(a.sm.queries.list().map((q) => q.id), [free.id]);
    assert.equal(a.sm.queries.index(), a.index, 'the drop moved the index');
  });

  it('survives a restart, a snapshot install and a restore (records checked, indexes rewritten, orphans dropped)', async (t) => {
    const fx = stateFixture(t);
    const src = fx.open();
    const a = new Applier(src.sm);
    registerNode(a, 'n1');
    const s = session('n1');
    assert.equal(a.run({ type: 'session-create', session: s }), true);
    const kept = query({ name: 'kept', dns: { ttl: '5s' } });
    const bound = query({ name: 'bound', session: s.id });
    for (const q of [kept, bound]) assert.equal(set(a, q).ok, true);

    // Restart: read back from the table.
    await src.close();
    const again = fx.open(src.dir);
    assert.deepEqual(again.sm.queries.list().map((q) => q.name).sort(), ['bound', 'kept']);
    assert.equal(again.sm.queries.index(), a.index);

    // A Raft snapshot installed on an empty replica.
    const dst = fx.open();
    await dst.storage.state.restoreSnapshot(again.storage.state.snapshot({ chunkBytes: 128 }));
    dst.sm.reset();
    assert.deepEqual(dst.sm.queries.get(kept.id), again.sm.queries.get(kept.id));

    // An archive restored through the log: the queries at the restore's index.
    const image = again.storage.state.snapshot();
    const parts: Buffer[] = [];
    for await (const chunk of writeArchive({ index: image.appliedIndex, term: 1, createdAt: new Date(0).toISOString(), nodeId: 'n1', datacenter: 'dc1' }, image)) parts.push(chunk);
    const archive = parseArchive(Buffer.concat(parts), { keepBody: true });
    assert.equal(archive.trailer.tables['prepared-queries'], 2);
    const target = new Applier(fx.open().sm);
    for (let i = 0; i < 10; i++) target.run({ type: 'kv-set', key: `k${i}`, value: Buffer.from('v'), flags: 0 });
    assert.equal(target.run({ type: 'restore', state: archive.body! }), true);
    const restored = target.sm.queries.get(kept.id)!;
    assert.deepEqual([restored.name, restored.dns.ttl, restored.createIndex, restored.modifyIndex], ['kept', '5s', target.index, target.index]);
    assert.equal(target.sm.queries.get(bound.id)?.session, s.id, 'its session came with the snapshot');

    // A well-formed stream whose query record is not a query is refused whole (and one keyed by another ID).
    const stream = (key: string, record: object): Buffer => {
      const e = new SnapshotEncoder(1, 1);
      e.table('prepared-queries');
      e.record(Buffer.from(key), Buffer.from(JSON.stringify(record)));
      return Buffer.concat([e.take(), e.finish()]);
    };
    const good = { ...kept, createIndex: 1, modifyIndex: 1 };
    assert.equal(restoreProblem(stream(kept.id, good)), undefined);
    assert.equal(restoreProblem(stream(kept.id, { ...good, name: 7 })), 'a prepared query record is bad');
    assert.equal(restoreProblem(stream(randomUUID(), good)), 'a prepared query record is bad');
  });
});

describe('executing a prepared query', () => {
  it('filters by tags (with !exclusions), health (IgnoreCheckIDs, OnlyPassing), node and service meta; near and limit', (t) => {
    const a = new Applier(stateFixture(t).open().sm);
    const sync = (name: string, meta: Record<string, string>, services: Array<[string, string[], Record<string, string>]>, checks: Array<[string, string, 'passing' | 'warning' | 'critical']>): void => {
      assert.equal(a.run({ type: 'catalog', op: {
        op: 'sync', node: { id: '', node: name, address: `10.0.0.${name.slice(1)}`, datacenter: 'dc1', taggedAddresses: {}, meta },
        services: services.map(([id, tags, smeta]) => ({ id, service: 'web', tags, address: '', port: 80, meta: smeta, weights: { passing: 1, warning: 1 }, enableTagOverride: false })),
        checks: checks.map(([checkId, serviceId, status]) => ({ checkId, name: checkId, status, notes: '', output: '', serviceId, type: 'ttl' })),
      } }), true);
    };
    sync('n1', { rack: 'r1' }, [['w1', ['v1', 'primary'], { env: 'prod' }]], []);
    sync('n2', { rack: 'r2' }, [['w2', ['v1', 'canary'], {}]], [['w2-up', 'w2', 'warning']]);
    sync('n3', { rack: 'r2' }, [['w3', ['V2'], { env: 'prod' }]], [['flaky', '', 'critical']]);
    const run = (service: Partial<PreparedQueryInput['service']>, options: Partial<Parameters<typeof executeQuery>[2]> = {}): string[] =>
      executeQuery(a.sm.catalog, { ...query({}, service), createIndex: 1, modifyIndex: 1 }, { agentNode: 'n2', ...options }).map((i) => i.service.id);
    const sorted = (xs: string[]): string[] => [...xs].sort();
    assert.deepEqual(sorted(run({})), ['w1', 'w2']);
    assert.deepEqual(sorted(run({ ignoreCheckIds: ['flaky'] })), ['w1', 'w2', 'w3']);
    assert.deepEqual(sorted(run({ onlyPassing: true })), ['w1']);
    assert.deepEqual(sorted(run({ tags: ['v1', '!CANARY'] })), ['w1']);
    assert.deepEqual(sorted(run({ tags: ['v2'], ignoreCheckIds: ['flaky'] })), ['w3']);
    assert.deepEqual(sorted(run({ nodeMeta: { rack: 'r2' }, ignoreCheckIds: ['flaky'] })), ['w2', 'w3']);
    assert.deepEqual(sorted(run({ serviceMeta: { env: 'prod' }, ignoreCheckIds: ['flaky'] })), ['w1', 'w3']);
    for (let seed = 0; seed < 20; seed++) {
      let x = seed + 1;
      const random = (): number => ((x = (x * 16807) % 2147483647) / 2147483647);
      assert.equal(run({ ignoreCheckIds: ['flaky'] }, { near: 'n3', random })[0], 'w3');
      assert.equal(run({ near: '_agent' }, { random })[0], 'w2');
      assert.equal(run({ ignoreCheckIds: ['flaky'] }, { near: '_ip', ipNode: 'n1', random })[0], 'w1');
      assert.equal(run({}, { limit: 1, random }).length, 1);
    }
  });
});
