#!/usr/bin/env node
// Generates the shell completions (bash, zsh, fish) and the man pages from the
// CLI's own command definitions (src/cli/docs/), so they cannot drift from
// `--help`. Needs a build first (`npm run docs` does both).
//
//   node scripts/gen-docs.mjs           write completions/ and man/
//   node scripts/gen-docs.mjs --check   exit 1 if a committed file is stale or missing, or a stray one is left

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const load = (rel) => import(new URL(`../dist/src/${rel}`, import.meta.url).href);
const { buildCli } = await load('cli/full-cli.js');
const { commandModel } = await load('cli/docs/model.js');
const { bashCompletion, zshCompletion, fishCompletion } = await load('cli/docs/completions.js');
const { manPages } = await load('cli/docs/man.js');
const { packageVersion } = await load('cli/version.js');

const model = commandModel(buildCli('konsul'));
const version = packageVersion();

/** Every generated file, by path relative to the repository. Other parts add theirs to `extraPages` below. */
const files = {
  'completions/konsul.bash': bashCompletion(model),
  'completions/_konsul': zshCompletion(model),
  'completions/konsul.fish': fishCompletion(model),
};
for (const [name, text] of Object.entries(manPages(model, version))) files[`man/${name}`] = text;

/**
 * More generated pages: [path relative to the repository, () => text]. The
 * agent's configuration page (man/konsul.conf.5) is added here.
 */
const { configManPage } = await load('agent/config-docs.js');
const extraPages = [
  ['man/konsul.conf.5', () => configManPage(version)],
];

for (const [rel, make] of extraPages) files[rel] = make();

function writeOrCheck(all) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [rel, text] of Object.entries(all)) {
    const path = join(root, rel);
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // a missing file counts as stale
      }
      if (current !== text) {
        console.error(`${rel} is stale: run \`npm run docs\``);
        stale++;
      }
    } else {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, text);
      console.log(`wrote ${rel}`);
    }
  }
  // A page left over from a command group that is gone.
  for (const name of readdirSync(join(root, 'man'))) {
    if (!(`man/${name}` in all)) {
      console.error(`man/${name} is not generated any more: delete it`);
      stale++;
    }
  }
  return stale;
}

/** package.json's `man` field lists every page in man/, so `npm install -g` installs them. */
function syncManField(all) {
  const path = join(root, 'package.json');
  const text = readFileSync(path, 'utf8');
  const pkg = JSON.parse(text);
  const man = Object.keys(all).filter((rel) => rel.startsWith('man/')).sort();
  if (JSON.stringify(pkg.man) === JSON.stringify(man)) return 0;
  if (process.argv.includes('--check')) {
    console.error('package.json\'s man field does not list the pages in man/: run `npm run docs`');
    return 1;
  }
  writeFileSync(path, `${JSON.stringify({ ...pkg, man }, null, 2)}\n`);
  console.log('wrote package.json (man)');
  return 0;
}

/**
 * The README's Consul compatibility table, generated from the HTTP route table
 * (src/http/compat.ts) between its two marker comments.
 */
async function syncReadmeCompat() {
  const { allRoutes } = await load('http/index.js');
  const { compatibilityMarkdown, README_COMPAT_BEGIN, README_COMPAT_END } = await load('http/compat.js');
  const path = join(root, 'README.md');
  const text = readFileSync(path, 'utf8');
  const begin = text.indexOf(README_COMPAT_BEGIN);
  const end = text.indexOf(README_COMPAT_END);
  if (begin < 0 || end < begin) {
    console.error(`README.md has no ${README_COMPAT_BEGIN} ... ${README_COMPAT_END} section`);
    return 1;
  }
  const next = `${text.slice(0, begin + README_COMPAT_BEGIN.length)}\n${compatibilityMarkdown(allRoutes())}\n${text.slice(end)}`;
  if (next === text) return 0;
  if (process.argv.includes('--check')) {
    console.error('README.md\'s Consul compatibility table is stale: run `npm run docs`');
    return 1;
  }
  writeFileSync(path, next);
  console.log('wrote README.md (Consul compatibility table)');
  return 0;
}

process.exit(writeOrCheck(files) + syncManField(files) + (await syncReadmeCompat()) > 0 ? 1 : 0);
