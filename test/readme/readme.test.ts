// The README's shell blocks run as written (scripts/readme-test.mjs): against a
// build of this checkout, on free ports, failing on any command that fails or
// prints something other than what its `#=>` comment says.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';

const ROOT = new URL('../../../', import.meta.url).pathname;
const RUNNER = join(ROOT, 'scripts', 'readme-test.mjs');
const exec = promisify(execFile);
const hasDig = spawnSync('dig', ['-v'], { encoding: 'utf8' }).status === 0;

interface Outcome { code: number; out: string }

async function runReadme(path?: string): Promise<Outcome> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [RUNNER, ...(path ? [path] : [])], { timeout: 180_000 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function withReadme(text: string, check: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-readme-case-'));
  writeFileSync(join(dir, 'README.md'), text);
  return check(join(dir, 'README.md')).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe('README.md', () => {
  it('every runnable shell block runs and says what it should', { skip: !hasDig && 'dig is not installed (Debian: bind9-dnsutils)' }, async () => {
    const r = await runReadme();
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /README: every runnable block ran/);
    // The service-and-dig section and both cluster blocks run; the install and demo blocks say why they do not.
    assert.ok((r.out.match(/: runs \(/g) ?? []).length >= 3, r.out);
    for (const what of ['services register', 'web.service.consul SRV', '--bootstrap', 'kv get']) assert.ok(r.out.includes(what), what);
  });

  it('the runner fails on a failing command, on output that does not match #=>, and skips marked blocks', async () => {
    await withReadme('```sh\necho one\nfalse\necho never\n```\n', async (path) => {
      const r = await runReadme(path);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /README\.md:3 failed/);
      assert.ok(!r.out.includes('\nnever\n'));
    });
    await withReadme('```sh\necho hello   #=> goodbye\n```\n', async (path) => {
      const r = await runReadme(path);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /expected output containing: goodbye/);
    });
    await withReadme('<!-- readme-test: skip not here -->\n```sh\nfalse\n```\n\n```sh\necho hello   #=> hell\n```\n', async (path) => {
      const r = await runReadme(path);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /README\.md:2: skipped \(not here\)/);
    });
  });
});
