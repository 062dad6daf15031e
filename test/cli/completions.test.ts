// The completion scripts in their real shells: bash (COMP_WORDS and the
// function), zsh (the function with compsys's _describe/compadd recorded) and
// fish (`complete -C`), for commands, subcommands after option values, flags,
// and values asked of a real agent through the hidden `konsul __complete`.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { commandModel } from '../../src/cli/docs/model.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { buildCli } from '../../src/cli/full-cli.js';
import { deadAddress, run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'konsul.js');
const exec = promisify(execFile);
const model = commandModel(buildCli('konsul'));
const clusterVerbs = model.filter((c) => c.words[0] === 'cluster').map((c) => c.words[1]).sort();
const kvVerbs = model.filter((c) => c.words[0] === 'kv').map((c) => c.words[1]).sort();

const has = (shell: string): boolean => spawnSync(shell, ['-c', 'exit 0']).status === 0;

/** A directory on PATH where `konsul` is this checkout's bin/konsul.js, as after `npm install -g`. */
const binDir = mkdtempSync(join(tmpdir(), 'konsul-path-'));
symlinkSync(BIN, join(binDir, 'konsul'));
after(() => rmSync(binDir, { recursive: true, force: true }));

interface Env { [name: string]: string }

/** Run `shell` on `script` (without blocking this process's event loop: an agent may run in it). */
async function shell(name: string, args: string[], env: Env = {}): Promise<string> {
  const { stdout } = await exec(name, args, {
    cwd: ROOT,
    env: { PATH: `${binDir}:${process.env.PATH ?? ''}`, HOME: binDir, ...env },
    timeout: 20_000,
  });
  return stdout;
}

/** What bash's completion function offers for `line` (the last word is the one being completed). */
async function bash(words: string[], env?: Env): Promise<string[]> {
  // As readline hands them over: a word with ':' is split there (COMP_WORDBREAKS), 127.0.0.1 : 8500.
  const split = words.flatMap((w) => (w.includes(':') ? w.split(/(:)/).filter((x) => x !== '') : [w]));
  const script = `
    source completions/konsul.bash
    complete -p konsul | grep -q -- '-F _konsul' || { echo "not registered" >&2; exit 1; }
    COMP_WORDS=(${split.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
    _konsul
    printf '%s\\n' "\${COMPREPLY[@]}"`;
  return (await shell('bash', ['--norc', '-c', script], env)).split('\n').filter((l) => l !== '');
}

/**
 * What the zsh function offers: zsh -f sources the script, compsys's _describe
 * and compadd are replaced by recorders that print the candidates matching the
 * word being completed (what compsys itself would keep).
 */
async function zsh(words: string[], env?: Env): Promise<string[]> {
  const script = `
    compdef() { :; }
    _describe() { local arr=\${@[-1]}; local -a names=(\${\${(P)arr}%%:*}); names=(\${names//\\\\:/:}); print -rl -- \${(M)names:#\${words[CURRENT]}*}; }
    compadd() { while (( $# )) && [[ $1 != -- ]]; do shift; done; shift; print -rl -- "$@"; }
    _files() { print -r -- '<files>'; }
    source completions/_konsul
    words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=\${#words}
    _konsul`;
  return (await shell('zsh', ['-f', '-c', script], env)).split('\n').filter((l) => l !== '');
}

/** What fish offers for the command line (its real completion engine, `complete -C`), words only. */
async function fish(line: string, env?: Env): Promise<string[]> {
  const script = `source completions/konsul.fish; complete -C '${line}'`;
  return (await shell('fish', ['--no-config', '-c', script], env)).split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0] ?? '');
}

describe('konsul completion <shell>', () => {
  for (const [name, file] of [['bash', 'konsul.bash'], ['zsh', '_konsul'], ['fish', 'konsul.fish']]) {
    it(`${name}: prints completions/${file}`, async () => {
      const r = await run(['completion', name]);
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal(r.out, readFileSync(join(ROOT, 'completions', file), 'utf8'));
    });
  }

  it('an unknown shell is a usage error naming the choices', async () => {
    const r = await run(['completion', 'tcsh']);
    assert.equal(r.code, EXIT.usage);
    assert.equal(r.err, 'Error: shell: "tcsh" is not one of bash, zsh, fish\n');
  });

  it('__complete is hidden from --help and the generated docs', async () => {
    const r = await run(['--help']);
    assert.ok(!r.out.includes('__complete'));
    assert.ok(!model.some((c) => c.words[0] === '__complete'));
  });
});

describe('completions in the real shells', () => {
  it('bash: commands, subcommands after an option and its value, flags', { skip: !has('bash') && 'bash is not installed' }, async () => {
    assert.deepEqual(await bash(['konsul', 'clu']), ['cluster']);
    assert.deepEqual((await bash(['konsul', 'cluster', ''])).sort(), clusterVerbs);
    assert.deepEqual((await bash(['konsul', '--http-addr', '10.0.0.1:8500', 'kv', ''])).sort(), kvVerbs);
    assert.deepEqual(await bash(['konsul', '--http-addr', 'cluster', 'k']), ['kv'], 'a host named "cluster" given to --http-addr is not the group');
    assert.deepEqual(await bash(['konsul', 'kv', 'get', '--se']), ['--separator']);
    assert.deepEqual(await bash(['konsulctl', 'members', '--js']), ['--json']);
  });

  it('zsh: the same, through _describe', { skip: !has('zsh') && 'zsh is not installed' }, async () => {
    assert.deepEqual(await zsh(['konsul', 'clu']), ['cluster']);
    assert.deepEqual((await zsh(['konsul', 'cluster', ''])).sort(), clusterVerbs);
    assert.deepEqual((await zsh(['konsul', '--http-addr', '10.0.0.1:8500', 'kv', ''])).sort(), kvVerbs);
    assert.deepEqual(await zsh(['konsul', '--http-addr', 'cluster', 'k']), ['kv']);
    assert.deepEqual(await zsh(['konsul', 'kv', 'get', '--se']), ['--separator']);
    const syntax = spawnSync('zsh', ['-n', join(ROOT, 'completions', '_konsul')], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
  });

  it('fish: the same, through complete -C', { skip: !has('fish') && 'fish is not installed' }, async () => {
    assert.deepEqual(await fish('konsul clu'), ['cluster']);
    assert.deepEqual((await fish('konsul cluster ')).sort(), clusterVerbs);
    assert.deepEqual((await fish('konsul --http-addr 10.0.0.1:8500 kv ')).sort(), kvVerbs);
    assert.deepEqual(await fish('konsul --http-addr cluster k'), ['kv']);
    assert.deepEqual(await fish('konsul kv get --se'), ['--separator']);
    assert.deepEqual(await fish('konsulctl clu'), ['cluster']);
  });
});

describe('dynamic completions from a real agent', () => {
  let agent: RunningAgent;
  let addr: string;

  before(async () => {
    agent = await startAgent({ dev: true, httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0', nodeId: 'node-one' }, {}, pino({ level: 'silent' }));
    addr = agent.httpAddress;
    for (let i = 0; i < 200 && agent.agent.status().leader === null; i++) await new Promise((r) => setTimeout(r, 20));
    for (const argv of [
      ['services', 'register', '--name', 'web-frontend', '--port', '8080'],
      ['services', 'register', '--name', 'worker', '--port', '9090'],
      ['kv', 'put', 'config/web/port', '8080'],
      ['kv', 'put', 'config/worker', 'x'],
    ]) {
      const r = await run([...argv, '--http-addr', addr]);
      assert.equal(r.code, EXIT.ok, r.err);
    }
    // The catalog learns of the services through anti-entropy; wait until it lists them.
    for (let i = 0; i < 200; i++) {
      const r = await run(['__complete', '--http-addr', addr, 'services']);
      if (r.out.includes('web-frontend')) break;
      await new Promise((res) => setTimeout(res, 25));
    }
  });

  after(async () => {
    await agent.stop();
  });

  it('__complete lists service names, service ids, node ids and one level of KV keys, by prefix', async () => {
    assert.equal((await run(['__complete', '--http-addr', addr, 'services', 'we'])).out, 'web-frontend\n');
    assert.equal((await run(['__complete', '--http-addr', addr, 'service-ids'])).out, 'web-frontend\nworker\n');
    assert.equal((await run(['__complete', '--http-addr', addr, 'nodes'])).out, 'node-one\n');
    assert.equal((await run(['__complete', '--http-addr', addr, 'keys', 'con'])).out, 'config/\n');
    assert.equal((await run(['__complete', '--http-addr', addr, 'keys', 'config/w'])).out, 'config/web/\nconfig/worker\n');
  });

  it('__complete prints nothing and exits 0 when no agent answers', async () => {
    const r = await run(['__complete', '--http-addr', await deadAddress(), 'services']);
    assert.deepEqual([r.code, r.out, r.err], [EXIT.ok, '', '']);
    const bad = await run(['__complete', '--http-addr', 'not an address', 'keys']);
    assert.deepEqual([bad.code, bad.out, bad.err], [EXIT.ok, '', '']);
  });

  it('bash completes a service name, a KV key and --node from the agent named by KONSUL_HTTP_ADDR or --http-addr', { skip: !has('bash') && 'bash is not installed' }, async () => {
    assert.deepEqual(await bash(['konsul', 'catalog', 'service', 'web'], { KONSUL_HTTP_ADDR: addr }), ['web-frontend']);
    assert.deepEqual(await bash(['konsul', '--http-addr', addr, 'kv', 'get', 'config/we']), ['config/web/']);
    assert.deepEqual(await bash(['konsul', 'cluster', 'leave', '--http-addr', addr, '--node', '']), ['node-one']);
  });

  it('zsh and fish complete a service name from the agent', { skip: (!has('zsh') || !has('fish')) && 'zsh or fish is not installed' }, async () => {
    assert.deepEqual(await zsh(['konsul', 'catalog', 'service', 'web'], { KONSUL_HTTP_ADDR: addr }), ['web-frontend']);
    assert.deepEqual(await fish('konsul catalog service web', { KONSUL_HTTP_ADDR: addr }), ['web-frontend']);
    assert.deepEqual(await fish(`konsul services deregister --http-addr ${addr} w`), ['web-frontend', 'worker']);
  });

  it('with no agent, completing a service offers nothing and prints no error', { skip: !has('bash') && 'bash is not installed' }, async () => {
    assert.deepEqual(await bash(['konsul', 'catalog', 'service', ''], { KONSUL_HTTP_ADDR: await deadAddress() }), []);
  });
});
