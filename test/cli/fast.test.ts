// Issue 15, the fast CLI: a command line loads its own command's module and
// what that uses, never the agent, the storage engine (node-lmdb), undici or
// the other commands. Checked by listing every module a real `konsul` process
// loads (a module loader hook), not by timing; the speed itself is measured by
// scripts/cli-speed.mjs.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { MANIFEST } from '../../src/cli/commands/manifest.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'konsul.js');

/** Registers a loader hook that prints every non-builtin module URL the process loads, on stderr. */
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  'export async function load(url, context, next) { if (!url.startsWith("node:")) process._rawDebug("LOADED " + url); return next(url, context); }'));
`)}`;

/** The modules (paths under the package root) a `konsul <argv>` process loads. */
export function loadedModules(argv: string[]): string[] {
  const r = spawnSync(process.execPath, ['--import', HOOK, BIN, ...argv], {
    encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH, KONSUL_HTTP_ADDR: '127.0.0.1:1' },
  });
  return r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => decodeURIComponent(l.slice(7)).replace(`file://${ROOT}`, ''));
}

/** What a client command must not load, as a list of the offending modules (empty: fine). */
// Allowed: storage/limits.js (the key and value limits, constants without the engine), the agent's service-definition parser (services register checks a definition as the agent
// will), raft/types.js (constants the peer protocol version comes with), and the helpers other
// command groups share (*/common.js).
const ALLOWED = new Set(['dist/src/agent/local/definitions.js', 'dist/src/raft/types.js', 'dist/src/storage/limits.js']);

export function heavyModules(modules: readonly string[], ownCommand: string): string[] {
  return modules.filter((m) => !ALLOWED.has(m) && !/^dist\/src\/cli\/commands\/[a-z-]+\/common\.js$/.test(m)).filter((m) =>
    m.startsWith('dist/src/agent/') || m.startsWith('dist/src/storage/') || m.startsWith('dist/src/raft/')
    || m.includes('node_modules/node-lmdb/') || m.includes('node_modules/undici/') || m.includes('node_modules/pino/')
    || m.startsWith('dist/src/cli/full-cli') || m.endsWith('dist/src/cli/commands/index.js')
    || (m.startsWith('dist/src/cli/commands/') && !m.endsWith('/manifest.js') && !m.startsWith(`dist/src/cli/commands/${ownCommand}`)));
}

describe('issue 15: the fast CLI loads only what the command uses', () => {
  it('the manifest names every command of COMMANDS, in order, with the same paths', async () => {
    assert.equal(MANIFEST.length, COMMANDS.length, 'a command added to commands/index.ts must be added to commands/manifest.ts');
    for (const [i, entry] of MANIFEST.entries()) {
      const loaded = await entry.load();
      assert.equal(loaded, COMMANDS[i], `manifest entry ${i} loads ${loaded.name}, COMMANDS has ${COMMANDS[i]?.name}`);
      assert.deepEqual(entry.paths, loaded.paths, `${loaded.name}: manifest paths`);
    }
  });

  const cases: Array<[argv: string[], own: string]> = [
    [['version'], 'version'],
    [['kv', 'get', 'x'], 'kv/'],
    [['kv', 'put', 'x', 'y'], 'kv/'],
    [['kv', 'import', '-'], 'kv/'],
    [['__complete', 'keys', 'a'], 'completion/values'],
    [['members'], 'members'],
    [['services', 'register', '--name', 'x'], 'services/'],
    [['operator', 'raft', 'list-peers'], 'cluster/'],
  ];
  for (const [argv, own] of cases) {
    it(`konsul ${argv.join(' ')}: no agent, storage, raft, undici or other command`, () => {
      const modules = loadedModules(argv);
      assert.ok(modules.some((m) => m.startsWith(`dist/src/cli/commands/${own}`)), `it loaded its command: ${modules.join(' ')}`);
      assert.deepEqual(heavyModules(modules, own), []);
    });
  }

  it('the check catches a command line that loads the agent (konsul agent --print-config does, as it should)', () => {
    const heavy = heavyModules(loadedModules(['agent', '--print-config']), 'agent');
    assert.ok(heavy.some((m) => m.startsWith('dist/src/agent/')), heavy.join(' '));
  });
});
