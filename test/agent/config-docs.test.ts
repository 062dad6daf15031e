// konsul.conf(5) is generated from the settings table: every key, flag and
// variable is in it, and groff renders it without a single warning.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configManPage } from '../../src/agent/config-docs.js';
import { AGENT_FLAG_NAMES, SETTINGS } from '../../src/agent/config.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

function render(source: string): { status: number | null; text: string; warnings: string } {
  const r = spawnSync('groff', ['-man', '-ww', '-Tutf8', '-rHY=0', '-rLL=300n', '-P', '-c'], { input: source, encoding: 'utf8' });
  if (r.error) throw r.error;
  // Rendered text without overstriking, and hyphens as typed (roff's \- renders as U+2010 in some fonts).
  return { status: r.status, text: r.stdout.replace(/.\x08/g, '').replace(/\u2010|\u2212/g, '-'), warnings: r.stderr };
}

describe('konsul.conf(5)', () => {
  const page = configManPage('0.0.0-test');

  it('renders with groff -man -ww without warnings', () => {
    const r = render(page);
    assert.equal(r.status, 0);
    assert.equal(r.warnings, '');
    assert.match(r.text, /KONSUL\.CONF\(5\)/);
  });

  it('documents every setting: key, flag and environment variable', () => {
    const { text } = render(page);
    const flat = text.replace(/\s+/g, ' ');
    for (const s of Object.values(SETTINGS)) {
      assert.ok(flat.includes(` ${s.file} `), `key ${s.file}`);
      assert.ok(flat.includes(`Flag: ${AGENT_FLAG_NAMES[s.flag]}.`), `flag of ${s.file}`);
      for (const e of s.env) assert.ok(flat.includes(e), `${e} for ${s.file}`);
    }
  });

  it('the shipped man/konsul.conf.5 is the generated page (`npm run docs` regenerates it)', () => {
    const shipped = readFileSync(`${ROOT}man/konsul.conf.5`, 'utf8');
    assert.equal(shipped, configManPage(JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).version as string));
    assert.ok((JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).man as string[]).includes('man/konsul.conf.5'));
  });
});
