// `konsul snapshot save|restore|inspect` and `konsul kv export|import` against
// the real HTTP server over a real state machine (test/http's FakeAgent):
// files written whole, inspect output, round trips, and bad input refused
// with one line and the right exit code before anything is written.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Progress } from '../../src/cli/commands/snapshot/common.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { createHttpServer } from '../../src/http/index.js';
import { FakeAgent } from '../http/fake-agent.js';
import { deadAddress, run } from './harness.js';

interface Served { agent: FakeAgent; addr: string; server: Server }

async function serve(): Promise<Served> {
  const agent = new FakeAgent();
  const server = createHttpServer({ agent });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { agent, server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close(s: Served): Promise<void> {
  const closed = new Promise<void>((resolve) => s.server.close(() => resolve()));
  s.server.closeAllConnections();
  await closed;
  await s.agent.close();
}

const BINARY = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x0a]);

function kvOf(s: Served): Array<{ key: string; flags: number | bigint; value: string }> {
  return s.agent.state.kvList('').map((e) => ({ key: e.key, flags: e.flags, value: e.value.toString('base64') }));
}

describe('konsul snapshot', () => {
  let a: Served;
  let b: Served;
  let dir: string;
  before(async () => {
    a = await serve();
    b = await serve();
    dir = mkdtempSync(join(tmpdir(), 'konsul-snapcli-'));
    a.agent.apply({ type: 'kv-set', key: 'app/name', value: Buffer.from('alpha'), flags: 3 });
    a.agent.apply({ type: 'kv-set', key: 'app/bin', value: BINARY, flags: 4294967295 });
    b.agent.apply({ type: 'kv-set', key: 'b/only', value: Buffer.from('b'), flags: 0 });
  });
  after(async () => {
    await close(a);
    await close(b);
    rmSync(dir, { recursive: true, force: true });
  });

  it('save writes a verified archive (no temp file left) that inspect reads back', async () => {
    const file = join(dir, 'a.snap');
    const saved = await run(['snapshot', 'save', '--json', '--http-addr', a.addr, file]);
    assert.equal(saved.code, EXIT.ok, saved.err);
    const info = JSON.parse(saved.out) as Record<string, unknown>;
    assert.equal(info.Index, a.agent.state.appliedIndex());
    assert.equal(info.Size, readFileSync(file).length);
    assert.equal(info.Verified, true);
    assert.deepEqual(readdirSync(dir), ['a.snap']);

    const inspected = await run(['snapshot', 'inspect', '--json', file]);
    assert.equal(inspected.code, EXIT.ok, inspected.err);
    const json = JSON.parse(inspected.out) as Record<string, unknown>;
    assert.deepEqual(json, info);
    assert.equal((json.Tables as Record<string, number>).kv, 2, 'table names are data: kept as they are');
    assert.match(json.Sha256 as string, /^[0-9a-f]{64}$/);

    const human = await run(['snapshot', 'inspect', file]);
    assert.equal(human.code, EXIT.ok);
    assert.match(human.out, new RegExp(`^Index\\s+${info.Index}$`, 'm'));
    assert.match(human.out, /^Term\s+3$/m);
    assert.match(human.out, /^SHA-256\s+[0-9a-f]{64} \(verified\)$/m);
    assert.match(human.out, /^kv\s+2$/m);

    const plain = await run(['snapshot', 'save', '--http-addr', a.addr, join(dir, 'plain.snap')]);
    assert.equal(plain.code, EXIT.ok, plain.err);
    assert.match(plain.out, /^Saved snapshot to .*plain\.snap: index \d+, term 3, \d+ records, .* \(verified\)\n$/);
    assert.equal(plain.err, '', 'no progress when stderr is not a terminal');
  });

  it('restore replaces the other store\'s KV with the file\'s, bytes and flags alike', async () => {
    const file = join(dir, 'a.snap');
    const r = await run(['snapshot', 'restore', '--json', '--http-addr', b.addr, file]);
    assert.equal(r.code, EXIT.ok, r.err);
    const answer = JSON.parse(r.out) as { Index: number; SnapshotIndex: number; Tables: Record<string, number> };
    assert.equal(answer.Tables.kv, 2);
    assert.equal(answer.Index, b.agent.state.appliedIndex());
    assert.deepEqual(kvOf(b), kvOf(a));
    assert.deepEqual(b.agent.state.kvGet('app/bin')?.value, BINARY);
  });

  it('a truncated or altered file is refused by inspect and by restore, and nothing is sent', async () => {
    const good = readFileSync(join(dir, 'a.snap'));
    const cut = join(dir, 'cut.snap');
    writeFileSync(cut, good.subarray(0, good.length - 1));
    const flipped = Buffer.from(good);
    flipped[40]! ^= 0x20;
    const bad = join(dir, 'bad.snap');
    writeFileSync(bad, flipped);
    const restoresBefore = b.agent.restoreCalls.length;
    const kvBefore = kvOf(b);
    for (const [file, why] of [[cut, /truncated/], [bad, /invalid snapshot archive/]] as const) {
      const inspect = await run(['snapshot', 'inspect', file]);
      assert.equal(inspect.code, EXIT.failed);
      assert.equal(inspect.out, '');
      assert.match(inspect.err, why);
      assert.ok(inspect.err.includes(file), 'the error names the file');
      assert.equal(inspect.err.trim().split('\n').length, 1, 'one line');
      const restore = await run(['snapshot', 'restore', '--http-addr', b.addr, file]);
      assert.equal(restore.code, EXIT.failed);
      assert.match(restore.err, why);
    }
    assert.equal(b.agent.restoreCalls.length, restoresBefore);
    assert.deepEqual(kvOf(b), kvBefore);
  });

  it('usage errors exit 2; a missing file or directory and an absent agent are one-line failures', async () => {
    assert.equal((await run(['snapshot', 'inspect'])).code, EXIT.usage);
    assert.equal((await run(['snapshot', 'save'])).code, EXIT.usage);
    const missing = await run(['snapshot', 'inspect', join(dir, 'nope.snap')]);
    assert.equal(missing.code, EXIT.failed);
    assert.match(missing.err, /nope\.snap: no such file/);
    const noDir = await run(['snapshot', 'save', '--http-addr', a.addr, join(dir, 'no', 'such', 'x.snap')]);
    assert.equal(noDir.code, EXIT.failed);
    assert.match(noDir.err, /x\.snap: cannot write beside it \(ENOENT\)/);
    const gone = await deadAddress();
    const target = join(dir, 'never.snap');
    const unreachable = await run(['snapshot', 'save', '--http-addr', gone, target]);
    assert.equal(unreachable.code, EXIT.unreachable);
    assert.equal(existsSync(target), false);
  });

  it('shows progress only on a terminal and only past 1 MiB', () => {
    const writes: string[] = [];
    const sink = (tty: boolean): Writable => Object.assign(new Writable({ write(c, _e, cb) { writes.push(String(c)); cb(); } }), { isTTY: tty });
    const piped = new Progress(sink(false), 'Saving snapshot');
    piped.update(50 * 1024 * 1024);
    piped.done();
    assert.deepEqual(writes, []);
    const tty = new Progress(sink(true), 'Saving snapshot');
    tty.update(1000);
    assert.deepEqual(writes, []);
    tty.update(3 * 1024 * 1024);
    tty.done();
    assert.match(writes[0] ?? '', /Saving snapshot: 3\.0 MiB/);
    assert.equal(writes.length, 2, 'the line is cleared at the end');
  });
});

describe('konsul kv export | import', () => {
  let a: Served;
  let b: Served;
  let dir: string;
  before(async () => {
    a = await serve();
    b = await serve();
    dir = mkdtempSync(join(tmpdir(), 'konsul-kvexp-'));
    a.agent.apply({ type: 'kv-set', key: 'cfg/bin', value: BINARY, flags: 42 });
    a.agent.apply({ type: 'kv-set', key: 'cfg/empty', value: Buffer.alloc(0), flags: 0 });
    a.agent.apply({ type: 'kv-set', key: 'cfg/ünï', value: Buffer.from('text'), flags: 4294967295 });
    a.agent.apply({ type: 'kv-set', key: 'other', value: Buffer.from('no'), flags: 0 });
  });
  after(async () => {
    await close(a);
    await close(b);
    rmSync(dir, { recursive: true, force: true });
  });

  it('export prints Consul\'s format: Key, Flags, base64 Value, in key order', async () => {
    const r = await run(['kv', 'export', '--http-addr', a.addr, 'cfg/']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(JSON.parse(r.out), [
      { Key: 'cfg/bin', Flags: 42, Value: BINARY.toString('base64') },
      { Key: 'cfg/empty', Flags: 0, Value: '' },
      { Key: 'cfg/ünï', Flags: 4294967295, Value: Buffer.from('text').toString('base64') },
    ]);
    const none = await run(['kv', 'export', '--http-addr', a.addr, 'nothing/']);
    assert.equal(none.code, EXIT.ok);
    assert.deepEqual(JSON.parse(none.out), []);
  });

  it('import writes an export back byte for byte, from a file or stdin, optionally under a prefix', async () => {
    const exported = (await run(['kv', 'export', '--http-addr', a.addr])).out;
    const file = join(dir, 'all.json');
    writeFileSync(file, exported);
    const r = await run(['kv', 'import', '--json', '--http-addr', b.addr, file]);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(JSON.parse(r.out), { Imported: 4, Keys: ['cfg/bin', 'cfg/empty', 'cfg/ünï', 'other'] });
    assert.deepEqual(kvOf(b), kvOf(a));

    const piped = await run(['kv', 'import', '--prefix', 'copy/', '--http-addr', b.addr, '-'], { stdin: exported });
    assert.equal(piped.code, EXIT.ok, piped.err);
    assert.equal(piped.out, 'Imported 4 entries from stdin\n');
    assert.deepEqual(b.agent.state.kvGet('copy/cfg/bin')?.value, BINARY);
    assert.equal(b.agent.state.kvGet('copy/cfg/bin')?.flags, 42);
  });

  it('64-bit flags go through get --json, export and import digit for digit', async () => {
    const wide = '18446744073709551615';
    assert.equal((await run(['kv', 'put', '--http-addr', a.addr, '--flags', wide, 'wide/k', 'v'])).code, EXIT.ok);
    const got = await run(['kv', 'get', '--json', '--http-addr', a.addr, 'wide/k']);
    assert.match(got.out, new RegExp(`"Flags": ${wide}\\b`));
    const exported = await run(['kv', 'export', '--http-addr', a.addr, 'wide/']);
    assert.match(exported.out, new RegExp(`"Flags": ${wide}\\b`));
    const imported = await run(['kv', 'import', '--http-addr', b.addr, '--prefix', 'copy/', '-'], { stdin: exported.out });
    assert.equal(imported.code, EXIT.ok, imported.err);
    assert.equal(b.agent.state.kvGet('copy/wide/k')?.flags, BigInt(wide));
  });

  it('a malformed file is refused before the first write, naming the entry', async () => {
    const good = { Key: 'ok/1', Flags: 0, Value: 'aGk=' };
    const cases: Array<[string, string, RegExp]> = [
      ['not JSON', '{', /not JSON/],
      ['not an array', '{"Key":"a"}', /expected a JSON array/],
      ['an entry that is not an object', JSON.stringify([good, 7]), /entry 1 is not an object/],
      ['a missing key', JSON.stringify([good, { Flags: 0, Value: '' }]), /entry 1: "Key" must be a non-empty string/],
      ['bad base64', JSON.stringify([good, { Key: 'x', Flags: 0, Value: 'not base64!' }]), /entry 1 \("x"\): "Value" must be base64/],
      ['flags over uint64', `[${JSON.stringify(good)}, {"Key":"x","Flags":18446744073709551616,"Value":""}]`, /"Flags" must be an integer from 0 to 18446744073709551615/],
      ['fractional flags', JSON.stringify([good, { Key: 'x', Flags: 1.5, Value: '' }]), /"Flags" must be an integer/],
      ['negative flags', JSON.stringify([good, { Key: 'x', Flags: -1, Value: '' }]), /"Flags" must be an integer/],
      ['a key twice', JSON.stringify([good, good]), /key "ok\/1" appears twice/],
      ['a key over 511 bytes', JSON.stringify([good, { Key: 'k'.repeat(512), Flags: 0, Value: '' }]), /512 bytes; the limit is 511/],
    ];
    const applied = b.agent.state.appliedIndex();
    const puts = b.agent.putCalls.length;
    for (const [what, text, message] of cases) {
      const r = await run(['kv', 'import', '--http-addr', b.addr, '-'], { stdin: text });
      assert.equal(r.code, EXIT.failed, what);
      assert.match(r.err, message, what);
      assert.equal(r.err.trim().split('\n').length, 1, `${what}: one line`);
      assert.equal(r.out, '');
    }
    assert.equal(b.agent.putCalls.length, puts, 'nothing was written');
    assert.equal(b.agent.state.appliedIndex(), applied);
    const missing = await run(['kv', 'import', '--http-addr', b.addr, join(dir, 'nope.json')]);
    assert.equal(missing.code, EXIT.failed);
    assert.match(missing.err, /nope\.json: no such file/);
    assert.equal((await run(['kv', 'import', '--http-addr', b.addr])).code, EXIT.usage);
  });
});
