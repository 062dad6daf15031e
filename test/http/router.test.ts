// Unit checks of the HTTP helpers: the router's matching and Go-style durations.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpError, Router, parseDuration } from '../../src/http/index.js';

describe('Router', () => {
  const noop = (): void => {};
  const router = new Router([
    { method: 'GET', path: '/v1/kv/*key', handler: noop },
    { method: 'PUT', path: '/v1/kv/*key', handler: noop },
    { method: 'DELETE', path: '/cluster/leave/:id', handler: noop },
    { method: 'GET', path: '/cluster/status', handler: noop },
  ]);

  test('a rest parameter takes the remainder, slashes included, decoded', () => {
    const m = router.match('GET', '/v1/kv/a/b%2Fc/d%20e');
    assert.equal(m.kind, 'found');
    assert.deepEqual(m.kind === 'found' && m.params, { key: 'a/b/c/d e' });
    const root = router.match('PUT', '/v1/kv/');
    assert.deepEqual(root.kind === 'found' && root.params, { key: '' });
  });

  test('a named parameter takes exactly one non-empty segment', () => {
    const m = router.match('DELETE', '/cluster/leave/n%201');
    assert.deepEqual(m.kind === 'found' && m.params, { id: 'n 1' });
    assert.equal(router.match('DELETE', '/cluster/leave/').kind, 'not-found');
    assert.equal(router.match('DELETE', '/cluster/leave/a/b').kind, 'not-found');
  });

  test('HEAD is served by GET routes; another method gets the allowed list', () => {
    assert.equal(router.match('HEAD', '/cluster/status').kind, 'found');
    assert.deepEqual(router.match('POST', '/v1/kv/x'), { kind: 'method-not-allowed', allowed: ['GET', 'PUT', 'HEAD'] });
  });

  test('bad percent-encoding is a 400 HttpError', () => {
    assert.throws(() => router.match('GET', '/v1/kv/%ZZ'), (e: unknown) => e instanceof HttpError && e.kind === 'invalid');
  });
});

describe('parseDuration (Go format)', () => {
  test('accepts what Go accepts', () => {
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('100ms'), 100);
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('500us'), 0.5);
    assert.equal(parseDuration('-2s'), -2000);
  });

  test('refuses what Go refuses', () => {
    for (const bad of ['', '10', 's', '1x', '1s2', 'ms', '1..5s', ' 1s', '1 s', '--1s']) assert.equal(parseDuration(bad), undefined, bad);
  });
});
