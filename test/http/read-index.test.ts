// Every read answer carries X-Consul-Index (>= 1), found or not: KV in all its
// forms (?raw, ?recurse, ?keys, ?keys with a separator), the catalog and
// health reads. A client's next blocking query depends on it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startServer } from './helpers.js';

const READS = [
  '/v1/kv/app/config', '/v1/kv/app/config?raw', '/v1/kv/app/?recurse', '/v1/kv/app/?keys', '/v1/kv/?keys&separator=/',
  '/v1/kv/missing', '/v1/kv/missing?raw', '/v1/kv/missing/?recurse', '/v1/kv/missing?keys',
  '/v1/kv/app/config?stale', '/v1/kv/app/?keys&consistent',
  '/v1/catalog/services', '/v1/catalog/nodes', '/v1/catalog/service/web', '/v1/catalog/node/nobody',
  '/v1/health/service/web', '/v1/health/checks/web', '/v1/health/node/nobody', '/v1/health/state/any',
];

describe('X-Consul-Index on every read answer', { timeout: 30_000 }, () => {
  test('each read path answers with an index of at least 1', async (t) => {
    const s = await startServer(t);
    assert.equal((await s.call('PUT', '/v1/kv/app/config', { body: 'v' })).status, 200);
    const missing: string[] = [];
    for (const path of READS) {
      const r = await s.call('GET', path);
      assert.ok(r.status === 200 || r.status === 404, `${path}: ${r.status} ${r.text}`);
      const index = Number(r.header('x-consul-index'));
      if (!(index >= 1)) missing.push(`${path} (${r.status})`);
    }
    assert.deepEqual(missing, []);
  });
});
