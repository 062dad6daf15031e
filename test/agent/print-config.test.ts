// `konsul agent --print-config [--json]` as a user runs it: the effective
// settings and their sources on stdout, exit 0 without starting; a bad config
// is one line on stderr naming the file and the key, exit 2.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { PrintedConfig } from '../../src/agent/config.js';

const BIN = new URL('../../../bin/konsul.js', import.meta.url).pathname;

function konsul(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string; err: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KONSUL_')));
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...clean, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('konsul agent --print-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-print-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  writeFileSync(join(dir, '10-base.json'), JSON.stringify({ data_dir: data, node_id: 'p1', http_addr: '127.0.0.1:9500', log_level: 'debug' }));
  writeFileSync(join(dir, '20-web.json'), JSON.stringify({ service: { name: 'web', port: 80, check: { name: 'alive', ttl: '10s' } } }));

  it('--json: every setting with its value and source; flags beat the environment beat the files', () => {
    const r = konsul(['agent', '--config', dir, '--print-config', '--json', '--log-level', 'warn'], { KONSUL_HTTP_BIND_ADDR: '127.0.0.1:9600' });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const p = JSON.parse(r.out) as PrintedConfig;
    assert.deepEqual({ ...p.settings.log_level }, { value: 'warn', source: 'flag', from: '--log-level', flag: '--log-level', env: 'KONSUL_LOG_LEVEL', reloadable: true });
    assert.equal(p.settings.http_addr.value, '127.0.0.1:9600');
    assert.equal(p.settings.http_addr.from, 'KONSUL_HTTP_BIND_ADDR');
    assert.equal(p.settings.node_id.from, join(dir, '10-base.json'));
    assert.equal(p.settings.election_timeout.source, 'default');
    assert.deepEqual(p.files, [join(dir, '10-base.json'), join(dir, '20-web.json')]);
    assert.deepEqual(p.services, [{ id: 'web', name: 'web', checks: ['service:web'], file: join(dir, '20-web.json') }]);
  });

  it('without --json: an aligned table, and it never opens the data dir', () => {
    const r = konsul(['agent', '--config', dir, '--print-config']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.match(lines[0], /^KEY +VALUE +FROM$/);
    const valueAt = lines[0].indexOf('VALUE');
    const row = lines.find((l) => l.startsWith('node_id '))!;
    assert.equal(row.slice(valueAt).split(/\s+/)[0], 'p1');
    assert.ok(row.endsWith(join(dir, '10-base.json')));
    assert.ok(lines.some((l) => /^election_timeout +300ms +default$/.test(l)));
    assert.ok(r.out.includes(`service web (web; checks service:web) from ${join(dir, '20-web.json')}`));
    assert.equal(spawnSync('test', ['-e', data]).status, 1, 'the data dir was not created');
  });

  it('a bad config: one line naming the file and the key, exit 2', () => {
    const bad = mkdtempSync(join(tmpdir(), 'konsul-print-bad-'));
    after(() => rmSync(bad, { recursive: true, force: true }));
    writeFileSync(join(bad, 'a.json'), JSON.stringify({ data_dir: '/tmp/x', dns_adr: '127.0.0.1:53' }));
    const r = konsul(['agent', '--config', bad, '--print-config', '--json']);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.equal(r.err, `Error: ${join(bad, 'a.json')}: unknown setting "dns_adr" (did you mean "dns_addr"?); see konsul.conf(5) for the keys\n`);
    const run = konsul(['agent', '--config', bad]);
    assert.equal(run.code, 2);
    assert.equal(run.err.split('\n').length, 2, 'one line');
  });

  it('--json without --print-config is a usage error', () => {
    const r = konsul(['agent', '--dev', '--json']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^Error: --json only applies to --print-config/);
  });
});

describe('issue 15: settings a Consul user trips over', () => {
  it('KONSUL_HTTP_ADDR tells the CLI where to talk; the agent listens on --http-addr / KONSUL_HTTP_BIND_ADDR / http_addr', () => {
    const r = konsul(['agent', '--dev', '--print-config', '--json'], { KONSUL_HTTP_ADDR: '127.0.0.1:8504' });
    assert.equal(r.code, 0, r.err);
    const p = JSON.parse(r.out) as PrintedConfig;
    assert.equal(p.settings.http_addr.value, '127.0.0.1:8500');
    assert.equal(p.settings.http_addr.source, 'default');
    const bound = JSON.parse(konsul(['agent', '--dev', '--print-config', '--json'], { KONSUL_HTTP_BIND_ADDR: '127.0.0.1:9601' }).out) as PrintedConfig;
    assert.equal(bound.settings.http_addr.value, '127.0.0.1:9601');
  });

  it('--print-config works without --data-dir (it starts nothing) and shows none', () => {
    const r = konsul(['agent', '--print-config']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^data_dir\s+-\s+default$/m);
  });
});

describe('issue 15: --dev --data-dir', () => {
  it('a data dir given with --dev is the user\'s: the summary says it is kept, and it is', async () => {
    const { spawn } = await import('node:child_process');
    const { existsSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'konsul-devdir-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const data = join(dir, 'data');
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KONSUL_')));
    const agent = spawn(process.execPath, [BIN, 'agent', '--dev', '--data-dir', data, '--http-addr', '127.0.0.1:0', '--dns-addr', '127.0.0.1:0', '--raft-addr', '127.0.0.1:0'],
      { env: clean, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    agent.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const exited = new Promise((r) => agent.once('exit', r));
    for (let i = 0; i < 300 && !err.includes('data dir'); i++) await new Promise((r) => setTimeout(r, 50));
    agent.kill('SIGTERM');
    await exited;
    assert.match(err, new RegExp(`data dir  ${data} \\(yours: kept at exit\\)`));
    assert.doesNotMatch(err, /removed at exit/);
    assert.ok(existsSync(data), 'the data dir is still there');
  });
});
