// The shipped completions and man pages are generated from the CLI's own
// definitions: they must match (`npm run docs`), render without a groff
// warning, and be what package.json's `man` field lists. And every command
// must document itself: description, details, examples.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HttpCommand } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { commandModel } from '../../src/cli/docs/model.js';
import { buildCli } from '../../src/cli/full-cli.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const model = commandModel(buildCli('konsul'));
const groff = spawnSync('groff', ['-v'], { encoding: 'utf8' }).status === 0;

describe('generated docs', () => {
  it('completions/ and man/ match the CLI (run `npm run docs` after changing a command or flag)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-docs.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('there is a man page for konsul and for every command group', () => {
    const groups = [...new Set(model.map((c) => c.words[0]))];
    const pages = readdirSync(join(ROOT, 'man'));
    for (const name of ['konsul.1', ...groups.map((g) => `konsul-${g}.1`)]) assert.ok(pages.includes(name), `man/${name}`);
    for (const group of ['agent', 'cluster', 'kv', 'services', 'catalog']) assert.ok(groups.includes(group), group);
  });

  it('package.json\'s man field lists exactly the pages in man/', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man?: string[] };
    const pages = readdirSync(join(ROOT, 'man')).map((n) => `man/${n}`).sort();
    assert.deepEqual([...(pkg.man ?? [])].sort(), pages);
  });

  it('konsul.1 has the sections a man page needs and points at every group page', () => {
    const text = readFileSync(join(ROOT, 'man', 'konsul.1'), 'utf8');
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'ENVIRONMENT', 'EXIT STATUS', 'FILES', 'SEE ALSO']) {
      assert.match(text, new RegExp(`^\\.SH ${section}$`, 'm'), section);
    }
    for (const group of new Set(model.map((c) => c.words[0]))) assert.ok(text.includes(`.BR konsul\\-${group.replace(/-/g, '\\-')} (1)`), group);
  });

  it('every page renders with groff -man -ww without a warning', { skip: !groff && 'groff is not installed' }, () => {
    for (const name of readdirSync(join(ROOT, 'man'))) {
      const r = spawnSync('groff', ['-man', '-ww', '-Tutf8', join(ROOT, 'man', name)], { encoding: 'utf8' });
      assert.equal(r.status, 0, name);
      assert.equal(r.stderr, '', `${name}: ${r.stderr}`);
      assert.ok(r.stdout.length > 200, name);
    }
  });
});

describe('every command documents itself', () => {
  for (const command of model) {
    const name = command.words.join(' ');
    it(`konsul ${name}: a description, details and at least one example`, () => {
      assert.ok(command.description.length > 10, 'description');
      assert.ok(command.details.length > 20, 'details');
      assert.ok(command.examples.length > 0, 'examples');
      for (const [what, cmd] of command.examples) {
        assert.ok(what.length > 0, 'each example says what it does');
        assert.ok(cmd.includes(`konsul ${name}`), `example "${cmd}" runs konsul ${name}`);
      }
      for (const o of command.options) assert.ok(o.description.length > 0, `${o.names.join(', ')} has a description`);
    });
  }

  it('every command that talks to an agent takes --http-addr and --json', () => {
    const talking = COMMANDS.filter((c) => c.prototype instanceof HttpCommand);
    assert.ok(talking.length >= 15, `${talking.length} commands talk to an agent`);
    for (const commandClass of talking) {
      const path = (commandClass.paths?.[0] ?? []).join(' ');
      const options = model.find((c) => c.words.join(' ') === path)?.options.flatMap((o) => o.names) ?? [];
      assert.ok(options.includes('--http-addr'), `${path}: --http-addr`);
      assert.ok(options.includes('--json'), `${path}: --json`);
    }
  });

  it('no flag takes a value in one command and none in another (the completions skip the values by name)', () => {
    const takes = new Map<string, boolean>();
    for (const c of model) for (const o of c.options) for (const n of o.names) {
      assert.ok(!takes.has(n) || takes.get(n) === o.takesValue, `${n} in konsul ${c.words.join(' ')}`);
      takes.set(n, o.takesValue);
    }
  });
});
