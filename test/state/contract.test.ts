// state/contract.md lists the same commands as the Command union in
// state/command.ts: a new command cannot land without its line in the contract.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../layering/check.js';

/** The `type: '...'` names inside the first `export type Command =` union of `text`. */
export function commandTypes(text: string): string[] {
  const start = text.indexOf('export type Command =');
  assert.ok(start >= 0, 'a Command union');
  const end = text.indexOf(';\n', text.indexOf("type: '", start));
  const union = text.slice(start, text.indexOf('\n\n', end) === -1 ? undefined : text.indexOf('\n\n', end));
  return [...union.matchAll(/\{ type: '([a-z-]+)'/g)].map((m) => m[1]).sort();
}

test('state/contract.md names every command of the Command union, and no other', () => {
  const root = repoRoot();
  const code = commandTypes(readFileSync(join(root, 'src/state/command.ts'), 'utf8'));
  const contract = commandTypes(readFileSync(join(root, 'src/state/contract.md'), 'utf8'));
  assert.ok(code.length >= 6, `found the commands in command.ts: ${code.join(', ')}`);
  assert.deepEqual(contract, code);
});

test('the check sees a command missing from the contract', () => {
  const code = "export type Command =\n  | { type: 'kv-set'; key: string }\n  | { type: 'lock'; key: string };\n\nconst x = 1;\n";
  const contract = "export type Command =\n  | { type: 'kv-set'; key: string };\n\n";
  assert.notDeepEqual(commandTypes(contract), commandTypes(code));
  assert.deepEqual(commandTypes(code), ['kv-set', 'lock']);
});
