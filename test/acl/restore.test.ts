// A snapshot restore and the ACL tables, on real agents: as in Consul, the snapshot's tokens and
// policies replace the cluster's; a restore that would lock its caller out is refused with nothing
// changed; ?keep-acls (konsul snapshot restore --keep-acls) keeps the cluster's; a snapshot without
// ACL records keeps them too; the agent logs which it was.

import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import { http, scenario, TestCluster, waitFor } from '../cluster/harness.js';

const MGMT_A = 'mgmt-restore-a-71c2';
const APP_A = 'app-restore-a-0d4e';

const as = (token: string | undefined): Record<string, string> | undefined => (token === undefined ? undefined : { 'x-consul-token': token });

async function ok(method: string, url: string, token: string | undefined, body?: string | Buffer): Promise<string> {
  const r = await http(method, url, body, 15_000, as(token));
  if (r.status !== 200) throw new Error(`${method} ${url}: ${r.status} ${r.body}`);
  return r.body;
}

async function snapshot(url: string, token?: string): Promise<Buffer> {
  const { request } = await import('undici');
  const res = await request(`${url}/v1/snapshot`, { headers: as(token) });
  assert.equal(res.statusCode, 200);
  return Buffer.from(await res.body.arrayBuffer());
}

async function restore(url: string, token: string | undefined, archive: Buffer, query = ''): Promise<{ status: number; body: string }> {
  const r = await http('PUT', `${url}/v1/snapshot${query}`, archive, 30_000, as(token));
  return { status: r.status, body: r.body };
}

describe('snapshot restore and the ACL tables', () => {
  const a = new TestCluster({ flags: ['--acl-enabled', '--acl-default-policy', 'deny'] });
  const b = new TestCluster();
  const step = scenario(a);
  after(() => b.cleanup());
  let snapA: Buffer = Buffer.alloc(0);
  let snapB: Buffer = Buffer.alloc(0);
  let m2 = '';
  const urlA = (): string => a.node('a1').url;

  step('cluster A with ACLs (a management and an app token), cluster B without; a snapshot of each', async () => {
    await a.add({ id: 'a1', server: true, bootstrap: true });
    await a.start('a1');
    await waitFor('bootstrap', async () => ((await http('PUT', `${urlA()}/v1/acl/bootstrap`, JSON.stringify({ BootstrapSecret: MGMT_A }))).status === 200 ? true : undefined));
    a.token = MGMT_A;
    await ok('PUT', `${urlA()}/v1/acl/policy`, MGMT_A, JSON.stringify({ Name: 'app', Rules: 'key_prefix "app/" { policy = "write" }' }));
    await ok('PUT', `${urlA()}/v1/acl/token`, MGMT_A, JSON.stringify({ SecretID: APP_A, Policies: [{ Name: 'app' }] }));
    await ok('PUT', `${urlA()}/v1/kv/app/x`, APP_A, 'from-a');
    snapA = await snapshot(urlA(), MGMT_A);
    await b.add({ id: 'b1', server: true, bootstrap: true });
    await b.start('b1');
    await b.leader(['b1']);
    await ok('PUT', `${b.node('b1').url}/v1/kv/b-key`, undefined, 'from-b');
    snapB = await snapshot(b.node('b1').url);
    await b.cleanup();
  });

  step('a restore with a management token the snapshot does not hold: 409, and nothing changed', async () => {
    // m2: a management token made after the snapshot was taken.
    m2 = (JSON.parse(await ok('PUT', `${urlA()}/v1/acl/token`, MGMT_A, JSON.stringify({ Policies: [{ ID: '00000000-0000-0000-0000-000000000001' }] }))) as { SecretID: string }).SecretID;
    await ok('PUT', `${urlA()}/v1/kv/app/x`, APP_A, 'changed');
    const r = await restore(urlA(), m2, snapA);
    assert.equal(r.status, 409, r.body);
    assert.match(r.body, /would lock you out.*--keep-acls.*Nothing was changed/);
    assert.equal(await ok('GET', `${urlA()}/v1/kv/app/x?raw`, m2), 'changed');
    await ok('GET', `${urlA()}/v1/acl/token/self`, m2);
  });

  step('?keep-acls: the data is restored, the cluster\'s tokens stay', async () => {
    const r = await restore(urlA(), m2, snapA, '?keep-acls');
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { ACLs: string }).ACLs, 'kept');
    assert.equal(await ok('GET', `${urlA()}/v1/kv/app/x?raw`, m2), 'from-a');
    await ok('GET', `${urlA()}/v1/acl/token/self`, m2);
  });

  step('with a management token of the snapshot: its tokens and policies replace the cluster\'s (Consul\'s way), and the log says so', async () => {
    const r = await restore(urlA(), MGMT_A, snapA);
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { ACLs: string }).ACLs, 'replaced');
    const gone = await http('GET', `${urlA()}/v1/acl/token/self`, undefined, 5000, as(m2));
    assert.equal(gone.status, 403, 'a token made after the snapshot survived its restore');
    assert.equal(gone.body.trim(), 'ACL not found');
    await ok('GET', `${urlA()}/v1/acl/token/self`, MGMT_A);
    await ok('PUT', `${urlA()}/v1/kv/app/y`, APP_A, 'still-works');
    await waitFor('the warning in the log', async () => (/the restore replaced this cluster's ACL tokens and policies/.test(a.node('a1').log()) ? true : undefined), 10_000);
  });

  step('a snapshot without ACL records (cluster B) keeps the cluster\'s tokens: no lockout, no reopened bootstrap', async () => {
    const r = await restore(urlA(), MGMT_A, snapB);
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { ACLs: string }).ACLs, 'kept');
    assert.equal(await ok('GET', `${urlA()}/v1/kv/b-key?raw`, MGMT_A), 'from-b');
    await ok('GET', `${urlA()}/v1/acl/token/self`, MGMT_A);
    await ok('GET', `${urlA()}/v1/acl/token/self`, APP_A);
    const again = await http('PUT', `${urlA()}/v1/acl/bootstrap`, '{}');
    assert.equal(again.status, 403, `bootstrap reopened: ${again.status} ${again.body}`);
    await waitFor('the log line', async () => (/the snapshot holds no ACL tokens or policies/.test(a.node('a1').log()) ? true : undefined), 10_000);
  });
});
