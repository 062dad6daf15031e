// Runs the conformance suite (conformance.ts) against the real route table,
// and against a table with one deliberately broken route, to show that the
// suite catches a route that ignores a parameter.

import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { allRoutes } from '../../src/http/index.js';
import type { RouteSpec } from '../../src/http/types.js';
import { startServer, TestControl, type TestServer } from './helpers.js';
import { runConformance, seed } from './conformance.js';

function freshServer(t: TestContext, routes?: RouteSpec[]): () => Promise<TestServer> {
  return async () => {
    const control = new TestControl();
    const s = await startServer(t, routes ? { routes, defaultWaitMs: 20_000, control } : { defaultWaitMs: 20_000, control });
    await seed(s);
    return s;
  };
}

/** The route table with one route's handler replaced by a variant that drops a query parameter before serving. */
function ignoring(method: string, path: string, param: string): RouteSpec[] {
  return allRoutes().map((r) => (r.method === method && r.path === path ? {
    ...r, handler: (ctx) => { (ctx.query as URLSearchParams).delete(param); return r.handler(ctx); },
  } : r));
}

describe('Consul API conformance (route table x Consul documentation)', () => {
  test('every parameter each route takes changes the answer as Consul documents; every other is a 400; unserved endpoints 404', async (t) => {
    const failures = await runConformance(freshServer(t));
    assert.deepEqual(failures, []);
  });

  test('the suite catches a route that ignores a parameter it claims', async (t) => {
    for (const [method, path, param] of [
      ['GET', '/v1/health/service/:service', 'passing'],
      ['GET', '/v1/catalog/nodes', 'filter'],
      ['GET', '/v1/catalog/service/:service', 'node-meta'],
      // the cases that replaced the COVERED_ELSEWHERE list, and the prepared query's own
      ['PUT', '/v1/kv/*key', 'fence-key'],
      ['GET', '/v1/agent/monitor', 'loglevel'],
      ['GET', '/v1/session/list', 'index'],
      ['GET', '/v1/query/:uuid/execute', 'near'],
      ['GET', '/v1/query/:uuid/execute', 'limit'],
    ] as const) {
      const routes = ignoring(method, path, param).filter((r) => r.path === path);
      const failures = await runConformance(freshServer(t, ignoring(method, path, param)), routes, { unserved: false });
      assert.ok(failures.some((f) => f.startsWith(`${method} ${path} ${param}:`)), `a route ignoring ?${param} went unnoticed: ${JSON.stringify(failures)}`);
    }
  });
});
