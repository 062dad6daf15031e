// Tools that depend on filters, node metadata and maintenance mode, against
// real agent processes: a Prometheus consul_sd-style discovery (its requests as
// Prometheus documents and makes them: /v1/agent/self for the datacenter, a
// blocking /v1/catalog/services?stale&node-meta=...&filter=..., then a blocking
// /v1/health/service/<name>?stale&tag=...&node-meta=... per service), and a
// load balancer that watches /v1/health/service/<name>?passing with blocking
// queries while instances are put in maintenance with the real `konsul maint`.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe } from 'node:test';
import { BIN, http, scenario, TestCluster, waitFor, waitVoters } from './harness.js';

const exec = promisify(execFile);

interface HealthEntry {
  Node: { Node: string; Address: string; Meta: Record<string, string> };
  Service: { ID: string; Service: string; Tags: string[]; Address: string; Port: number; Meta: Record<string, string> };
  Checks: Array<{ Status: string }>;
}

interface Blocking<T> { body: T; index: number }

async function blockingGet<T>(url: string, index: number, wait = '5s'): Promise<Blocking<T>> {
  const r = await http('GET', `${url}${url.includes('?') ? '&' : '?'}index=${index}&wait=${wait}`, undefined, 20_000);
  assert.equal(r.status, 200, `${url}: ${r.status} ${r.body}`);
  return { body: JSON.parse(r.body) as T, index: Number(r.headers['x-consul-index']) };
}

/** Prometheus' consul_sd: its documented settings, and the labels it makes of each instance. */
interface SdConfig { server: string; tags: string[]; nodeMeta: Record<string, string>; filter?: string; allowStale: boolean }
type Target = Record<string, string>;

async function consulSd(cfg: SdConfig): Promise<Target[]> {
  const self = JSON.parse((await http('GET', `${cfg.server}/v1/agent/self`)).body) as { Config: { Datacenter: string } };
  const dc = self.Config.Datacenter;
  const common = new URLSearchParams({ dc });
  if (cfg.allowStale) common.append('stale', '');
  for (const [k, v] of Object.entries(cfg.nodeMeta)) common.append('node-meta', `${k}:${v}`);
  const catalogQuery = new URLSearchParams(common);
  if (cfg.filter) catalogQuery.set('filter', cfg.filter);
  const services = await blockingGet<Record<string, string[]>>(`${cfg.server}/v1/catalog/services?${catalogQuery}`, 0);
  const targets: Target[] = [];
  for (const [name, tags] of Object.entries(services.body)) {
    // Prometheus watches a service only when its tags include every configured tag (client side).
    if (!cfg.tags.every((t) => tags.includes(t))) continue;
    const q = new URLSearchParams(common);
    for (const t of cfg.tags) q.append('tag', t);
    const entries = await blockingGet<HealthEntry[]>(`${cfg.server}/v1/health/service/${encodeURIComponent(name)}?${q}`, 0);
    for (const e of entries.body) {
      const worst = e.Checks.some((c) => c.Status === 'critical') ? 'critical' : e.Checks.some((c) => c.Status === 'warning') ? 'warning' : 'passing';
      const target: Target = {
        __address__: `${e.Service.Address || e.Node.Address}:${e.Service.Port}`, __meta_consul_node: e.Node.Node,
        __meta_consul_service: name, __meta_consul_service_id: e.Service.ID, __meta_consul_dc: dc,
        __meta_consul_tags: `,${e.Service.Tags.join(',')},`, __meta_consul_health: worst,
      };
      for (const [k, v] of Object.entries(e.Node.Meta)) target[`__meta_consul_metadata_${k}`] = v;
      for (const [k, v] of Object.entries(e.Service.Meta)) target[`__meta_consul_service_metadata_${k}`] = v;
      targets.push(target);
    }
  }
  return targets.sort((a, b) => a.__meta_consul_service_id!.localeCompare(b.__meta_consul_service_id!));
}

/**
 * What a load balancer does: re-issue the blocking query (a wake-up may carry
 * no change for it) until its pool differs from `pool`; at most `rounds` times.
 */
async function nextPool(url: string, after: Blocking<HealthEntry[]>, pool: (e: HealthEntry[]) => string[], rounds = 20): Promise<Blocking<HealthEntry[]>> {
  let view = after;
  for (let i = 0; i < rounds; i++) {
    view = await blockingGet<HealthEntry[]>(url, view.index, '30s');
    if (JSON.stringify(pool(view.body)) !== JSON.stringify(pool(after.body))) return view;
  }
  return view;
}

async function maint(addr: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [BIN, 'maint', '--http-addr', addr, ...args], { timeout: 20_000 });
  return stdout;
}

describe('tools that use filters, node metadata and maintenance mode, on real agents', { timeout: 300_000 }, () => {
  const c = new TestCluster();
  const step = scenario(c);
  const register = async (node: string, body: object): Promise<void> => {
    const r = await http('PUT', `${c.node(node).url}/v1/agent/service/register`, JSON.stringify(body));
    assert.equal(r.status, 200, r.body);
  };
  const ttl = { TTL: '10m', Status: 'passing' };

  step('two agents with node metadata, three services', async () => {
    await c.add({ id: 's1', server: true, bootstrap: true, extra: ['--node-meta', 'rack:r1', '--node-meta', 'env:prod'] });
    await c.start('s1');
    await c.leader(['s1']);
    await c.add({ id: 'c1', server: false, join: [c.node('s1').raftAddress], extra: ['--node-meta', 'rack:r2', '--node-meta', 'env:staging'] });
    await c.start('c1');
    await waitVoters(c, ['s1'], 's1');
    await register('s1', { Name: 'web', ID: 'web-1', Port: 8001, Tags: ['v1', 'metrics'], Meta: { team: 'a' }, Check: ttl });
    await register('c1', { Name: 'web', ID: 'web-2', Port: 8002, Tags: ['v1', 'metrics'], Check: ttl });
    await register('s1', { Name: 'api', ID: 'api-1', Port: 9001, Tags: ['internal', 'metrics'], Check: ttl });
    const nodes = await waitFor('both nodes with their metadata', async () => {
      const r = JSON.parse((await http('GET', `${c.node('s1').url}/v1/catalog/nodes`)).body) as Array<{ Node: string; Meta: Record<string, string> }>;
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(nodes.map((n) => [n.Node, n.Meta]), [['c1', { env: 'staging', rack: 'r2' }], ['s1', { env: 'prod', rack: 'r1' }]]);
    await waitFor('web-2 in the catalog', async () => (JSON.parse((await http('GET', `${c.node('s1').url}/v1/health/service/web`)).body) as unknown[]).length === 2 || undefined);
  });

  step('Prometheus consul_sd: node_meta and tags pick targets, labels carry node and service metadata', async () => {
    const targets = await consulSd({ server: c.node('c1').url, tags: ['metrics'], nodeMeta: { env: 'prod' }, allowStale: true });
    assert.deepEqual(targets.map((t) => t.__meta_consul_service_id), ['api-1', 'web-1']);
    const web = targets.find((t) => t.__meta_consul_service_id === 'web-1')!;
    assert.equal(web.__address__, '127.0.0.1:8001');
    assert.equal(web.__meta_consul_metadata_rack, 'r1');
    assert.equal(web.__meta_consul_service_metadata_team, 'a');
    assert.equal(web.__meta_consul_tags, ',v1,metrics,');
    assert.equal(web.__meta_consul_health, 'passing');
    assert.equal(web.__meta_consul_dc, 'dc1');
    const staging = await consulSd({ server: c.node('s1').url, tags: ['v1'], nodeMeta: { env: 'staging' }, allowStale: false });
    assert.deepEqual(staging.map((t) => t.__meta_consul_service_id), ['web-2']);
  });

  step('Prometheus consul_sd with a filter expression narrows the catalog; a bad one is a 400, not everything', async () => {
    const targets = await consulSd({ server: c.node('s1').url, tags: [], nodeMeta: {}, filter: 'ServiceTags contains "internal"', allowStale: true });
    assert.deepEqual(targets.map((t) => t.__meta_consul_service_id), ['api-1']);
    const bad = await http('GET', `${c.node('s1').url}/v1/catalog/services?filter=${encodeURIComponent('ServiceTags contain "x"')}`);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /^Failed to create boolean expression evaluator/);
  });

  step('a load balancer watching ?passing drains an instance in maintenance and takes it back', async () => {
    const url = `${c.node('s1').url}/v1/health/service/web?passing`;
    const pool = (entries: HealthEntry[]): string[] => entries.map((e) => e.Service.ID).sort();
    let view = await blockingGet<HealthEntry[]>(url, 0);
    assert.deepEqual(pool(view.body), ['web-1', 'web-2']);

    // The LB's blocking query is in flight when the operator drains web-2 on its own agent.
    const woken = nextPool(url, view, pool);
    assert.match(await maint(`127.0.0.1:${c.node('c1').httpPort}`, '--enable', '--service', 'web-2', '--reason', 'deploy'), /entered maintenance/);
    view = await woken;
    assert.deepEqual(pool(view.body), ['web-1'], 'the blocking query woke without web-2');
    assert.match(await maint(`127.0.0.1:${c.node('c1').httpPort}`), /service web-2\s+deploy/);

    const back = nextPool(url, view, pool);
    await maint(`127.0.0.1:${c.node('c1').httpPort}`, '--disable', '--service', 'web-2');
    view = await back;
    assert.deepEqual(pool(view.body), ['web-1', 'web-2']);

    // Node maintenance drains every instance on the node.
    await maint(`127.0.0.1:${c.node('s1').httpPort}`, '--enable', '--reason', 'kernel upgrade');
    view = await waitFor('web-1 drained', async () => {
      const v = await blockingGet<HealthEntry[]>(url, 0);
      return pool(v.body).includes('web-1') ? undefined : v;
    });
    assert.deepEqual(pool(view.body), ['web-2']);
    const checks = JSON.parse((await http('GET', `${c.node('s1').url}/v1/agent/checks`)).body) as Record<string, { Notes: string; Status: string }>;
    assert.deepEqual([checks._node_maintenance?.Status, checks._node_maintenance?.Notes], ['critical', 'kernel upgrade']);
    await maint(`127.0.0.1:${c.node('s1').httpPort}`, '--disable');
    await waitFor('web-1 back', async () => (pool((await blockingGet<HealthEntry[]>(url, 0)).body).length === 2 ? true : undefined));
  });

  step('an event fired on one agent reaches the agents its filters pick, through the log', async () => {
    const fire = await http('PUT', `${c.node('c1').url}/v1/event/fire/deploy?node=${encodeURIComponent('^s1$')}`, 'v2');
    assert.equal(fire.status, 200, fire.body);
    await http('PUT', `${c.node('s1').url}/v1/event/fire/everyone`);
    const names = async (node: string): Promise<string[]> =>
      (JSON.parse((await http('GET', `${c.node(node).url}/v1/event/list`)).body) as Array<{ Name: string }>).map((e) => e.Name);
    await waitFor('both events on s1', async () => ((await names('s1')).length === 2 ? true : undefined));
    assert.deepEqual(await names('s1'), ['deploy', 'everyone']);
    await waitFor('the unfiltered event on c1', async () => ((await names('c1')).includes('everyone') ? true : undefined));
    assert.deepEqual(await names('c1'), ['everyone']);
  });
});
