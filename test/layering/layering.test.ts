// The layering rules hold on src/ as it is, and the checker reports each rule
// when a bad import is added to a copy of the tree. `konsul version` does not
// load the storage engine (checked on a real process, with a probe shown to see it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkLayers, importGraph, readSources, repoRoot, type Violation } from './check.js';

const root = repoRoot();
const tree = readSources(root);

/** The tree with `line` added at the top of `file`. */
function withImport(file: string, line: string): Map<string, string> {
  const copy = new Map(tree);
  const text = copy.get(file);
  assert.ok(text !== undefined, `${file} exists`);
  copy.set(file, `${line}\n${text}`);
  return copy;
}

function rules(violations: Violation[]): string[] {
  return [...new Set(violations.map((v) => v.rule))].sort();
}

test('src/ keeps every layering rule', () => {
  const violations = checkLayers(tree);
  assert.deepEqual(violations, [], violations.map((v) => `${v.rule}: ${v.detail}`).join('\n'));
});

test('the graph sees static, type-only, dynamic and require edges', () => {
  const files = new Map([
    ['src/a/x.ts', [
      "import { y } from '../b/y.js';",
      "import type { T } from '../c/t.js';",
      "import { type U, type V } from '../c/u.js';",
      "export { w } from '../d/w.js';",
      "const lazy = () => import('../e/lazy.js');",
      "const lib = createRequire(import.meta.url)('node-lmdb');",
    ].join('\n')],
    ['src/b/y.ts', ''], ['src/c/t.ts', ''], ['src/c/u.ts', ''], ['src/d/w.ts', ''], ['src/e/lazy.ts', ''],
  ]);
  const edges = importGraph(files).map((e) => `${e.to} ${e.kind}`).sort();
  assert.deepEqual(edges, [
    'node-lmdb static', 'src/b/y.ts static', 'src/c/t.ts type', 'src/c/u.ts type', 'src/d/w.ts static', 'src/e/lazy.ts dynamic',
  ]);
});

const broken: Array<{ what: string; file: string; line: string; rule: string }> = [
  { what: 'raft/ importing the HTTP-aware errors', file: 'src/raft/log.ts', line: "import { KonsulError } from '../errors.js';", rule: 'raft/ imports' },
  { what: 'raft/ touching the file system', file: 'src/raft/raft.ts', line: "import { readFileSync } from 'node:fs';", rule: 'raft/ imports' },
  { what: 'state/ importing the agent', file: 'src/state/machine.ts', line: "import type { AgentConfig } from '../agent/config.js';", rule: 'state/ imports' },
  { what: 'state/ importing raft/', file: 'src/state/command.ts', line: "import { Role } from '../raft/index.js';", rule: 'state/ imports' },
  { what: 'http/ importing raft/ (type only)', file: 'src/http/kv.ts', line: "import type { Ready } from '../raft/index.js';", rule: 'http/ imports' },
  { what: 'http/ importing transport/', file: 'src/http/status.ts', line: "import { PROTOCOL_VERSION } from '../transport/index.js';", rule: 'http/ imports' },
  { what: 'dns/ importing the agent', file: 'src/dns/records.ts', line: "import { nodeUuid } from '../agent/agent.js';", rule: 'dns/ imports' },
  { what: 'transport/ importing state/', file: 'src/transport/codec.ts', line: "import { encodeCommand } from '../state/command.js';", rule: 'transport/ imports' },
  { what: 'a shared root file importing a room', file: 'src/errors.ts', line: "import './http/errors.js';", rule: 'root/ imports' },
  { what: 'agent/ importing the CLI (the old version import)', file: 'src/agent/agent.ts', line: "import { packageVersion } from '../cli/version.js';", rule: 'cycle' },
  { what: 'the agent starting the HTTP server from agent/', file: 'src/agent/agent.ts', line: "import { createHttpServer } from '../http/index.js';", rule: 'cycle' },
  { what: 'the client agent loading the Raft implementation through the server relay', file: 'src/client/agent.ts', line: "import { ServerRelay } from '../relay/server-relay.js';", rule: 'client loads raft' },
  { what: 'the filter evaluator importing the RE2 engine itself (loaded with every agent)', file: 'src/http/filter/evaluate.ts', line: "import { RE2JS } from 're2js';", rule: 're2js loaded eagerly' },
  { what: 'a CLI command loading the storage barrel', file: 'src/cli/commands/kv/import.ts', line: "import { MAX_KEY_BYTES } from '../../../storage/index.js';", rule: 'cli loads storage' },
];

for (const b of broken) {
  test(`the checker reports ${b.what}`, () => {
    const found = rules(checkLayers(withImport(b.file, b.line)));
    assert.ok(found.includes(b.rule), `expected "${b.rule}", got ${JSON.stringify(found)}`);
  });
}

test('a lazy import() from the CLI is allowed (it loads only when that command runs, as `konsul agent` does)', () => {
  const copy = withImport('src/cli/commands/kv/get.ts', "const storage = () => import('../../../storage/index.js');");
  assert.deepEqual(rules(checkLayers(copy)), []);
});

// A module loaded before the CLI that reports, at exit, whether node-lmdb was loaded.
const PROBE = 'data:text/javascript,import { createRequire } from "node:module"; const r = createRequire("/");'
  + ' process.on("exit", () => process.stderr.write(`node-lmdb loaded: ${Object.keys(r.cache).some((k) => k.includes("node-lmdb"))}\\n`));';

function probe(args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', PROBE, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return /node-lmdb loaded: (true|false)/.exec(r.stderr)?.[1] ?? 'no probe output';
}

test('`konsul version` does not load the storage engine (and the probe sees it when it is loaded)', () => {
  assert.equal(probe(['-e', `await import(${JSON.stringify(join(root, 'dist/src/storage/index.js'))})`, '--input-type=module']), 'true');
  assert.equal(probe([join(root, 'bin/konsul.js'), 'version']), 'false');
});
