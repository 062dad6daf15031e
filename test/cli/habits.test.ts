// Issue 15: a Consul user's habits, each a friction point found by trying the
// CLI as a new user; every test here failed before its fix.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { konsulInvocation, talkLines } from '../../src/cli/commands/demo.js';
import { consulFlags } from '../../src/cli/main.js';
import { closest, editDistance } from '../../src/cli/suggest.js';
import { run } from './harness.js';

describe('issue 15: Consul habits in the CLI', () => {
  let agent: RunningAgent;
  let addr: string;
  const dir = mkdtempSync(join(tmpdir(), 'konsul-habits-'));

  before(async () => {
    agent = await startAgent({ dev: true, httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0', raftAddr: '127.0.0.1:0' }, {}, pino({ level: 'silent' }));
    addr = agent.httpAddress;
    for (let i = 0; i < 250 && agent.agent.status().leader === null; i++) await new Promise((r) => setTimeout(r, 20));
    for (const [k, v] of [['app/a', '1'], ['app/b', '2']]) assert.equal((await run(['kv', 'put', '--http-addr', addr, k, v])).code, EXIT.ok);
  });
  after(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Consul\'s single-dash long flags work where they name one of ours (-recurse, -http-addr=...)', async () => {
    const r = await run(['kv', 'get', '-recurse', `-http-addr=${addr}`, 'app']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(r.out, 'app/a:1\napp/b:2\n');
    // Short flags and values are left alone; an unknown single-dash word is still refused.
    assert.deepEqual(consulFlags(['-q', '-recurse', '--', '-recurse'], new Set(['--recurse'])), ['-q', '--recurse', '--', '-recurse']);
    const bad = await run(['kv', 'get', '-recursive', '--http-addr', addr, 'app']);
    assert.equal(bad.code, EXIT.usage);
    assert.match(bad.err, /^Error: unknown option "-recursive" \(did you mean "--recurse"\?\)/);
  });

  it('"did you mean" for a mistyped command, subcommand or flag', async () => {
    assert.equal((await run(['membr'])).err, 'Error: unknown command "membr" (did you mean "konsul members"?); see `konsul --help` for the list of commands\n');
    const flag = await run(['kv', 'get', '--recurce', '--http-addr', addr, 'app']);
    assert.equal(flag.code, EXIT.usage);
    assert.equal(flag.err, 'Error: unknown option "--recurce" (did you mean "--recurse"?); see `konsul kv get --help`\n');
    assert.match((await run(['kv', 'gte', 'x'])).err, /did you mean "konsul kv get"\?/);
    assert.match((await run(['zzzzzz'])).err, /^Error: unknown command "zzzzzz"; see/, 'nothing close: no suggestion');
    assert.equal(editDistance('stauts', 'status'), 1, 'a swap is one edit');
    assert.equal(closest('qqq', ['members']), undefined);
  });

  it('`konsul help` and `konsul help <command>`', async () => {
    const overview = await run(['help']);
    assert.equal(overview.code, EXIT.ok);
    assert.match(overview.out, /^  konsul kv get\s+Read a key/m);
    const one = await run(['help', 'kv', 'put']);
    assert.equal(one.code, EXIT.ok, one.err);
    assert.match(one.out, /Write a key/);
    assert.match(one.out, /--cas/);
  });

  it('operator raft list-peers | remove-peer | transfer-leader answer to Consul\'s names', async () => {
    const peers = await run(['operator', 'raft', 'list-peers', '--http-addr', addr]);
    assert.equal(peers.code, EXIT.ok, peers.err);
    assert.match(peers.out, /^NODE\s+RAFT ADDRESS/);
    assert.match(peers.out, /leader/);
    const noId = await run(['operator', 'raft', 'remove-peer', '--http-addr', addr]);
    assert.equal(noId.code, EXIT.usage);
    assert.match(noId.err, /--id is needed/);
    const transfer = await run(['operator', 'raft', 'transfer-leader', '-id', 'nobody', '--http-addr', addr]);
    assert.equal(transfer.code, EXIT.failed, 'a real request was made (and refused: no such voter)');
  });

  it('kv put: no value writes an empty value (stdin untouched); @file reads the file; - reads stdin', async () => {
    const empty = await run(['kv', 'put', '--http-addr', addr, 'put/empty'], { stdin: 'not this' });
    assert.equal(empty.code, EXIT.ok, empty.err);
    assert.equal((await run(['kv', 'get', '--http-addr', addr, 'put/empty'])).out, '');
    const file = join(dir, 'value.txt');
    writeFileSync(file, 'from the file\n');
    assert.equal((await run(['kv', 'put', '--http-addr', addr, 'put/file', `@${file}`])).code, EXIT.ok);
    assert.equal((await run(['kv', 'get', '--http-addr', addr, 'put/file'])).out, 'from the file\n');
    assert.equal((await run(['kv', 'put', '--http-addr', addr, 'put/stdin', '-'], { stdin: 'piped' })).code, EXIT.ok);
    assert.equal((await run(['kv', 'get', '--http-addr', addr, 'put/stdin'])).out, 'piped');
    const missing = await run(['kv', 'put', '--http-addr', addr, 'put/x', `@${join(dir, 'nope')}`]);
    assert.equal(missing.code, EXIT.failed);
    assert.match(missing.err, /nope: no such file \(a value starting with @ names a file to read\)\n$/);
  });

  it('--json speaks Consul\'s names: kv get --recurse --json | jq -r \'.[].Key\' works', async () => {
    const r = await run(['kv', 'get', '--recurse', '--json', '--http-addr', addr, 'app']);
    assert.deepEqual((JSON.parse(r.out) as Array<{ Key: string }>).map((e) => e.Key), ['app/a', 'app/b']);
    const leader = JSON.parse((await run(['cluster', 'leader', '--json', '--http-addr', addr])).out) as Record<string, unknown>;
    assert.deepEqual(Object.keys(leader).sort(), ['HttpAddress', 'ID', 'RaftAddress']);
  });

  it('missing argument says which', async () => {
    assert.equal((await run(['kv', 'put'])).err, 'Error: missing argument <key>; see `konsul kv put --help`\n');
    assert.equal((await run(['kv', 'put', '--flags', '3'])).err, 'Error: missing argument <key>; see `konsul kv put --help`\n');
    assert.match((await run(['kv', 'import'])).err, /^Error: missing argument <file>;/);
  });

  it('konsul --help is short and readable: one line a command, no #0, no line over 100 characters', async () => {
    const r = await run(['--help']);
    const lines = r.out.split('\n');
    // 90 until sec's 13 acl and tls commands (one line each); folding them to one line a group is left to do.
    // 108: ops2's operator autopilot get-config and set-config, under an Autopilot heading of their own.
    assert.ok(lines.length <= 108, `${lines.length} lines (one a command)`);
    assert.doesNotMatch(r.out, /#0/);
    for (const line of lines) assert.ok(line.length <= 100, line);
    const agentHelp = await run(['agent', '--help']);
    assert.doesNotMatch(agentHelp.out, /#0/);
    const usage = agentHelp.out.split('\n').find((l) => l.startsWith('$ konsul agent')) ?? '';
    assert.ok(usage.length > 0 && usage.length <= 100, usage);
  });

  it('kv import of a file that is not JSON: the whole reason on one line', async () => {
    const file = join(dir, 'not.json');
    writeFileSync(file, 'hello world\nsecond line\n');
    const r = await run(['kv', 'import', '--http-addr', addr, file]);
    assert.equal(r.code, EXIT.failed);
    assert.match(r.err, /^Error: .*not\.json: not JSON \(.*\); a kv export file is a JSON array of \{"Key","Flags","Value"\} objects\n$/);
  });

  it('konsul demo prints commands that work here: konsul when on PATH, npx konsul in the checkout, else node .../bin/konsul.js', () => {
    const root = new URL('../../../', import.meta.url).pathname.replace(/\/$/, '');
    const binDir = join(dir, 'path-bin');
    mkdirSync(binDir, { recursive: true });
    symlinkSync(join(root, 'bin', 'konsul.js'), join(binDir, 'konsul'));
    assert.deepEqual(konsulInvocation({ PATH: `/nonexistent:${binDir}` }, '/'), { prefix: 'konsul', onPath: true });
    assert.deepEqual(konsulInvocation({ PATH: '/usr/bin' }, join(root, 'src')), { prefix: 'npx konsul', onPath: false });
    assert.deepEqual(konsulInvocation({ PATH: '/usr/bin' }, '/'), { prefix: `node ${root}/bin/konsul.js`, onPath: false });
    const talk = talkLines({ PATH: '/usr/bin' }, root, '127.0.0.1:8504', '127.0.0.1:8604');
    assert.equal(talk.commands[1], 'npx konsul members');
    assert.match(talk.hint.join('\n'), /npm link[\s\S]*npm install -g[\s\S]*export PATH="[^"]*\/bin:\$PATH"/);
    assert.deepEqual(talkLines({ PATH: binDir }, '/', 'h:1', 'h:2').hint, [], 'no hint when konsul is on PATH');
  });

  it('a CLI command passes a TTL check: check pass|warn|fail CHECK_ID [--note]', async () => {
    assert.equal((await run(['services', 'register', '--http-addr', addr, '--name', 'cron', '--check-ttl', '30s'])).code, EXIT.ok);
    const status = async (): Promise<{ Status: string; Output: string }> => {
      const r = await fetch(`http://${addr}/v1/agent/checks`);
      return ((await r.json()) as Record<string, { Status: string; Output: string }>)['service:cron'] ?? { Status: '', Output: '' };
    };
    assert.equal((await status()).Status, 'critical');
    const pass = await run(['check', 'pass', 'service:cron', '--note', 'all good', '--http-addr', addr]);
    assert.equal(pass.code, EXIT.ok, pass.err);
    assert.equal(pass.out, 'Check service:cron is passing\n');
    const passing = await status();
    assert.deepEqual([passing.Status, passing.Output], ['passing', 'all good']);
    assert.equal((await run(['check', 'warn', 'service:cron', '--http-addr', addr])).code, EXIT.ok);
    assert.equal((await status()).Status, 'warning');
    assert.equal((await run(['check', 'fail', 'service:cron', '--http-addr', addr])).code, EXIT.ok);
    assert.equal((await status()).Status, 'critical');
    const unknown = await run(['check', 'pass', 'nope', '--http-addr', addr]);
    assert.equal(unknown.code, EXIT.failed);
    assert.match(unknown.err, /^Error: check "nope" not updated: /);
  });
});
