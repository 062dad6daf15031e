// The konsul command line as a whole: which agent it talks to (--http-addr,
// KONSUL_HTTP_ADDR), exit codes 0/1/2/3 with one-line errors, help, version,
// `konsul agent` flags, and bin/konsul.js as a real process.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AGENT_FLAG_NAMES, type AgentFlags } from '../../src/cli/agent-flags.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { PROTOCOL_VERSION } from '../../src/transport/codec.js';
import { FakeAgent, run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'konsul.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** An address where nothing listens: a server's port, after that server closed. */
async function deadAddress(): Promise<string> {
  const gone = await FakeAgent.start();
  const address = gone.address;
  await gone.close();
  return address;
}

function oneErrorLine(err: string): void {
  assert.match(err, /^Error: [^\n]+\n$/, `one line starting "Error: ", got ${JSON.stringify(err)}`);
}

describe('konsul: which agent, exit codes, errors', () => {
  let agent: FakeAgent;
  let dead: string;

  before(async () => {
    agent = await FakeAgent.start();
    agent.put('where', 'the fake agent');
    dead = await deadAddress();
  });
  after(async () => {
    await agent.close();
  });

  it('an unreachable agent exits 3 with one line naming the address and the fix', async () => {
    const r = await run(['kv', 'get', 'where', '--http-addr', dead]);
    assert.equal(r.code, EXIT.unreachable);
    assert.equal(r.out, '');
    assert.equal(
      r.err,
      `Error: no konsul agent at ${dead}: is \`konsul agent\` running? (connect ECONNREFUSED; set --http-addr or KONSUL_HTTP_ADDR)\n`,
    );
    assert.equal(process.exitCode, 0, 'run() resets it; main() set it to 3 before');
  });

  it('KONSUL_HTTP_ADDR is used when there is no --http-addr', async () => {
    const r = await run(['kv', 'get', 'where'], { env: { KONSUL_HTTP_ADDR: agent.address } });
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(r.out, 'the fake agent');
  });

  it('--http-addr wins over KONSUL_HTTP_ADDR', async () => {
    const toLive = await run(['kv', 'get', 'where', '--http-addr', agent.address], { env: { KONSUL_HTTP_ADDR: dead } });
    assert.equal(toLive.code, EXIT.ok, toLive.err);
    const toDead = await run(['kv', 'get', 'where', '--http-addr', dead], { env: { KONSUL_HTTP_ADDR: agent.address } });
    assert.equal(toDead.code, EXIT.unreachable);
  });

  it('--http-addr takes host:port, :port and http:// URLs', async () => {
    const port = agent.address.split(':')[1];
    for (const form of [agent.address, `:${port}`, `http://${agent.address}`, `http://${agent.address}/`]) {
      const r = await run(['kv', 'get', 'where', '--http-addr', form]);
      assert.equal(r.code, EXIT.ok, `${form}: ${r.err}`);
    }
  });

  it('a malformed address is a usage error naming where it came from', async () => {
    const flag = await run(['kv', 'get', 'where', '--http-addr', 'ftp://x:1']);
    assert.equal(flag.code, EXIT.usage);
    assert.match(flag.err, /^Error: --http-addr: "ftp:\/\/x:1" is not host:port/);
    const env = await run(['kv', 'get', 'where'], { env: { KONSUL_HTTP_ADDR: 'a b:c' } });
    assert.equal(env.code, EXIT.usage);
    assert.match(env.err, /^Error: KONSUL_HTTP_ADDR: "a b:c" is not host:port/);
  });

  it('an agent that does not answer in time fails with exit 1, not "unreachable"', async () => {
    const slow = await FakeAgent.start();
    slow.hang = true;
    try {
      const r = await run(['cluster', 'status', '--http-addr', slow.address], { httpTimeoutMs: 300 });
      assert.equal(r.code, EXIT.failed);
      assert.equal(r.err, `Error: the agent at http://${slow.address} did not answer GET /cluster/status within 0.3s\n`);
      const put = await run(['kv', 'put', 'k', 'v', '--http-addr', slow.address], { httpTimeoutMs: 300 });
      assert.match(put.err, /within 0\.3s; the change may still take effect\n$/);
    } finally {
      await slow.close();
    }
  });

  it('a bad flag exits 2 with one line pointing at the command\'s help', async () => {
    const r = await run(['kv', 'get', '--no-such-flag', 'x']);
    assert.equal(r.code, EXIT.usage);
    assert.equal(r.out, '');
    assert.equal(r.err, 'Error: unknown option "--no-such-flag"; see `konsul kv get --help`\n');
  });

  it('unknown commands and bare groups exit 2 and say what exists', async () => {
    const unknown = await run(['nope']);
    assert.equal(unknown.code, EXIT.usage);
    assert.equal(unknown.err, 'Error: unknown command "nope"; see `konsul --help` for the list of commands\n');
    const bare = await run(['kv']);
    assert.equal(bare.code, EXIT.usage);
    assert.equal(bare.err, 'Error: "kv" needs a subcommand: get, put, delete, export, import; see `konsul --help`\n');
    const typo = await run(['cluster', 'stauts']);
    assert.equal(typo.code, EXIT.usage);
    assert.match(typo.err, /^Error: unknown command "cluster stauts" \(did you mean "konsul cluster status"\?\); "cluster" has: status, leader, .*snapshot\n$/);
  });

  it('every failure is exactly one "Error: " line on stderr, never a stack trace', async () => {
    const failing: string[][] = [
      ['kv', 'get', 'a', 'b'],
      ['kv', 'put'],
      ['kv', 'get', '--separator'],
      ['kv', 'delete', '--recurse', '--cas', '3', 'x/'],
      ['--bogus'],
      ['cluster', 'join', '--address'],
      ['kv', 'get', 'missing', '--http-addr', agent.address],
      ['cluster', 'status', '--http-addr', dead],
    ];
    for (const argv of failing) {
      const r = await run(argv);
      assert.notEqual(r.code, EXIT.ok, argv.join(' '));
      oneErrorLine(r.err);
      assert.doesNotMatch(r.err, /\bat .*\.js:\d+/, 'no stack frames');
    }
  });

  it('--help of a command shows its description, options and examples; exit 0', async () => {
    const r = await run(['kv', 'put', '--help']);
    assert.equal(r.code, EXIT.ok);
    assert.equal(r.err, '');
    for (const text of ['Write a key', '--cas', '--flags', '--base64', '--http-addr', '--json', 'Examples', 'konsul kv put --cas 42']) {
      assert.ok(r.out.includes(text), `kv put --help mentions ${text}`);
    }
  });

  it('konsul --help lists the commands, under the name it was invoked as', async () => {
    const r = await run(['--help'], { binaryName: 'konsulctl' });
    assert.equal(r.code, EXIT.ok);
    for (const text of ['konsulctl agent', 'konsulctl kv get', 'konsulctl cluster transfer-leader', 'konsulctl version']) {
      assert.ok(r.out.includes(text), `help mentions ${text}`);
    }
  });

  it('konsul <group> --help lists the group\'s commands with their descriptions and exits 0', async () => {
    const r = await run(['cluster', '--help']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /^konsul cluster: inspect and change the Raft cluster\n/);
    for (const verb of ['status', 'leader', 'peers', 'join', 'leave', 'transfer-leader']) assert.match(r.out, new RegExp(`^  konsul cluster ${verb}\\b`, 'm'));
    assert.match(r.out, /The current leader; exits 1 when there is none/);
    const kv = await run(['kv', '-h']);
    assert.equal(kv.code, EXIT.ok);
    assert.match(kv.out, /^  konsul kv put <key> \[value\]$/m);
    const bare = await run(['kv']);
    assert.equal(bare.code, EXIT.usage, 'a group without a command is still a usage error');
  });

  it('version and --version print the package.json version, the peer protocol version and Node\'s', async () => {
    for (const argv of [['version'], ['--version'], ['-v']]) {
      const r = await run(argv);
      assert.equal(r.code, EXIT.ok);
      assert.equal(r.out, `konsul ${VERSION}\nprotocol ${PROTOCOL_VERSION}\nnode ${process.version}\n`);
    }
    const json = await run(['version', '--json']);
    assert.equal(json.code, EXIT.ok);
    assert.deepEqual(JSON.parse(json.out), { Version: VERSION, Protocol: PROTOCOL_VERSION, Node: process.version });
  });
});

describe('konsul agent', () => {
  it('--help lists every agent flag with its KONSUL_* variable', async () => {
    const r = await run(['agent', '--help']);
    assert.equal(r.code, EXIT.ok);
    for (const flag of Object.values(AGENT_FLAG_NAMES)) assert.ok(r.out.includes(flag), `agent --help mentions ${flag}`);
    for (const env of ['KONSUL_RAFT_JOIN', 'KONSUL_DATA_DIR', 'KONSUL_RAFT_ELECTION_TIMEOUT']) assert.ok(r.out.includes(env), env);
  });

  it('hands only the given flags to the agent, strings as typed, with the environment', async () => {
    const calls: Array<{ flags: AgentFlags; env: NodeJS.ProcessEnv | undefined }> = [];
    const env = { KONSUL_LOG_LEVEL: 'debug' };
    const r = await run(
      ['agent', '--server', '--join', 'a:7000,b:7000', '--node-id', 's2', '--election-timeout', 'soon', '--max-value-size', '1MiB'],
      { env, runAgent: async (flags, e) => { calls.push({ flags, env: e }); return 0; } },
    );
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].flags, { server: true, join: 'a:7000,b:7000', nodeId: 's2', electionTimeout: 'soon', maxValueSize: '1MiB' });
    assert.equal(calls[0].env, env);
  });

  it('every agent flag reaches the agent under its AgentFlags name', async () => {
    const argv = ['agent'];
    const expected: Record<string, string | string[] | boolean> = {};
    for (const [name, flag] of Object.entries(AGENT_FLAG_NAMES)) {
      if (['server', 'bootstrap', 'dev', 'dnsOnlyPassing', 'enableScriptChecks', 'aclEnabled', 'httpsVerifyIncoming', 'insecurePeers', 'relay'].includes(name)) {
        argv.push(flag);
        expected[name] = true;
      } else {
        argv.push(flag, `value-of-${name}`);
        expected[name] = name === 'config' || name === 'nodeMeta' ? [`value-of-${name}`] : `value-of-${name}`;
      }
    }
    let got: AgentFlags | undefined;
    await run(argv, { runAgent: async (flags) => { got = flags; return 0; } });
    assert.deepEqual(got, expected);
  });

  it('the agent\'s exit code is the command\'s; a bad flag never starts it', async () => {
    let started = 0;
    const runAgent = async (): Promise<number> => { started++; return 1; };
    assert.equal((await run(['agent', '--dev'], { runAgent })).code, 1);
    const bad = await run(['agent', '--no-such-flag'], { runAgent });
    assert.equal(bad.code, EXIT.usage);
    assert.equal(bad.err, 'Error: unknown option "--no-such-flag"; see `konsul agent --help`\n');
    assert.equal(started, 1);
  });
});

describe('bin/konsul.js as a real process', () => {
  it('`konsul version` prints the version and exits 0', () => {
    const r = spawnSync(process.execPath, [BIN, 'version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `konsul ${VERSION}\nprotocol ${PROTOCOL_VERSION}\nnode ${process.version}\n`);
  });

  it('exits with the CLI\'s code: 3 for an unreachable agent', async () => {
    const dead = await deadAddress();
    const r = spawnSync(process.execPath, [BIN, 'kv', 'get', 'k'], { encoding: 'utf8', env: { ...process.env, KONSUL_HTTP_ADDR: dead } });
    assert.equal(r.status, EXIT.unreachable);
    oneErrorLine(r.stderr);
  });

  it('started through a link named konsulctl, it calls itself konsulctl', () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsulctl-'));
    try {
      symlinkSync(BIN, join(dir, 'konsulctl'));
      const r = spawnSync(process.execPath, [join(dir, 'konsulctl'), '--help'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.includes('konsulctl kv get'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without a build in dist/, it says to run npm install and exits 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-unbuilt-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(BIN, join(dir, 'bin', 'konsul.js'));
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'konsul.js'), 'version'], { encoding: 'utf8' });
      assert.equal(r.status, 2);
      assert.equal(r.stdout, '');
      oneErrorLine(r.stderr);
      assert.ok(r.stderr.includes('npm install'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
