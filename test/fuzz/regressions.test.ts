// Bugs the fuzz targets found, each pinned by the smallest input that showed it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, resolveConfig } from '../../src/agent/config.js';

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
