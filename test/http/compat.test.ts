// The README's Consul compatibility table is the route table's: regenerated
// here and compared, and the comparison is shown to notice a route whose
// parameters changed without the README following.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { compatibilityMarkdown, consulOnly, CONSUL_ENDPOINTS, README_COMPAT_BEGIN, README_COMPAT_END } from '../../src/http/compat.js';
import { allRoutes } from '../../src/http/index.js';
import type { RouteSpec } from '../../src/http/types.js';

const README = new URL('../../../README.md', import.meta.url);

/** Why the README's table is not the route table's, or undefined when it is. */
function drift(readme: string, routes: readonly RouteSpec[]): string | undefined {
  const begin = readme.indexOf(README_COMPAT_BEGIN);
  const end = readme.indexOf(README_COMPAT_END);
  if (begin < 0 || end < begin) return 'the README has no generated compatibility section';
  const committed = readme.slice(begin + README_COMPAT_BEGIN.length, end).trim();
  return committed === compatibilityMarkdown(routes).trim() ? undefined : 'the README\'s compatibility table is stale: run `npm run docs`';
}

describe('README compatibility table', () => {
  const readme = readFileSync(README, 'utf8');

  test('matches the route table', () => {
    assert.equal(drift(readme, allRoutes()), undefined);
  });

  test('a route whose parameters change without the README is caught', () => {
    const changed = allRoutes().map((r) => (r.path === '/v1/health/service/:service' ? { ...r, params: (r.params ?? []).filter((p) => p !== 'passing') } : r));
    assert.match(drift(readme, changed) ?? '', /stale/);
    const dropped = allRoutes().filter((r) => r.path !== '/v1/catalog/datacenters');
    assert.match(drift(readme, dropped) ?? '', /stale/);
  });

  test('every route declares its parameters, and every Consul path is listed once', () => {
    for (const r of allRoutes()) assert.ok(r.params !== undefined, `${r.method} ${r.path} does not declare its query parameters`);
    const keys = CONSUL_ENDPOINTS.map((e) => `${e.method} ${e.path}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.ok(consulOnly(allRoutes()).length < CONSUL_ENDPOINTS.length);
  });
});
