// The shipped completions and man page are generated from the CLI's own
// definitions; this fails when a command or flag changed and they were not
// regenerated (`npm run docs`).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';

const ROOT = new URL('../../../', import.meta.url).pathname;

it('completions/ and man/ match the CLI (run `npm run docs` after changing a command or flag)', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-docs.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
