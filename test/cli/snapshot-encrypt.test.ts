// `konsul snapshot save --encrypt KEYFILE`, and restore/inspect --decrypt: AES-256-GCM sealed
// files round-trip; a wrong key, a flipped byte anywhere, a cut or a missing key are each refused
// in one line, with nothing sent to the agent. The agent has ACLs on: the CLI's --token is used.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { createHttpServer } from '../../src/http/index.js';
import { ArchiveDecryptor, decryptArchive, encryptArchive, ENCRYPTED_HEADER_BYTES, MAX_CHUNK_BYTES } from '../../src/state/archive-crypto.js';
import { FakeAgent } from '../http/fake-agent.js';
import { run } from './harness.js';

const SECRET = 'snapshot-mgmt-secret';

describe('encrypted snapshots', () => {
  let agent: FakeAgent;
  let server: Server;
  let addr: string;
  let dir: string;
  let keyFile: string;
  let otherKey: string;

  before(async () => {
    agent = new FakeAgent();
    server = createHttpServer({ agent, acl: { enabled: true, defaultPolicy: 'deny' } });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    agent.apply({ type: 'acl', op: { op: 'bootstrap', token: {
      accessorId: 'a-1', secretId: SECRET, description: 'm', policies: ['00000000-0000-0000-0000-000000000001'], local: false, createTime: '',
    } } });
    agent.apply({ type: 'kv-set', key: 'app/secret', value: Buffer.from('the plaintext value'), flags: 0 });
    dir = mkdtempSync(join(tmpdir(), 'konsul-snapenc-'));
    keyFile = join(dir, 'snap.key');
    writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    otherKey = join(dir, 'other.key');
    writeFileSync(otherKey, randomBytes(32).toString('hex'), { mode: 0o600 });
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('save --encrypt writes a sealed file that inspect and restore open with the key', async () => {
    const file = join(dir, 'sealed.snap');
    const denied = await run(['snapshot', 'save', '--http-addr', addr, '--encrypt', keyFile, file]);
    assert.equal(denied.code, EXIT.failed, 'saved without a token');
    assert.match(denied.err, /Permission denied/);

    const saved = await run(['snapshot', 'save', '--json', '--http-addr', addr, '--token', SECRET, '--encrypt', keyFile, file]);
    assert.equal(saved.code, EXIT.ok, saved.err);
    assert.equal((JSON.parse(saved.out) as { Encrypted?: boolean }).Encrypted, true);
    const bytes = readFileSync(file);
    assert.equal(bytes.subarray(0, 8).toString('latin1'), 'KSNAPENC');
    assert.ok(!bytes.includes(Buffer.from('the plaintext value')), 'the value is readable in the file');

    const inspected = await run(['snapshot', 'inspect', '--json', '--decrypt', keyFile, file]);
    assert.equal(inspected.code, EXIT.ok, inspected.err);
    assert.equal((JSON.parse(inspected.out) as { Tables: Record<string, number> }).Tables.kv, 1);

    agent.apply({ type: 'kv-delete', key: 'app/secret' });
    const restored = await run(['snapshot', 'restore', '--http-addr', addr, '--decrypt', keyFile, file], { env: { KONSUL_HTTP_TOKEN: SECRET } });
    assert.equal(restored.code, EXIT.ok, restored.err);
    assert.equal(agent.state.kvGet('app/secret')?.value.toString(), 'the plaintext value');
  });

  it('a wrong key, a flipped byte, a cut file or a missing key: one clear line, nothing restored', async () => {
    const good = readFileSync(join(dir, 'sealed.snap'));
    const flippedAt = (at: number): string => {
      const b = Buffer.from(good);
      b[at]! ^= 0x01;
      const f = join(dir, `flip-${at}.snap`);
      writeFileSync(f, b);
      return f;
    };
    const cut = join(dir, 'cut.snap');
    writeFileSync(cut, good.subarray(0, good.length - 5));
    const restoresBefore = agent.restoreCalls.length;
    const cases: Array<[string[], RegExp]> = [
      [['--decrypt', otherKey, join(dir, 'sealed.snap')], /wrong key: this snapshot was encrypted with another key/],
      [['--decrypt', keyFile, flippedAt(ENCRYPTED_HEADER_BYTES + 10)], /damaged: chunk 0 .* fails authentication; the file was changed/],
      [['--decrypt', keyFile, flippedAt(good.length - 1)], /damaged: .*fails authentication/],
      [['--decrypt', keyFile, flippedAt(3)], /not an encrypted konsul snapshot|--decrypt was given but the snapshot is not encrypted/],
      [['--decrypt', keyFile, cut], /cut short/],
      [[join(dir, 'sealed.snap')], /the snapshot is encrypted; pass --decrypt KEYFILE/],
    ];
    for (const [args, why] of cases) {
      for (const verb of ['inspect', 'restore'] as const) {
        const extra = verb === 'restore' ? ['--http-addr', addr, '--token', SECRET] : [];
        const r = await run(['snapshot', verb, ...extra, ...args]);
        assert.equal(r.code, EXIT.failed, `${verb} ${args.join(' ')}: ${r.err}`);
        assert.match(r.err, why);
        assert.equal(r.err.trim().split('\n').length, 1, `${verb}: not one line: ${r.err}`);
        assert.equal(r.out, '');
      }
    }
    assert.equal(agent.restoreCalls.length, restoresBefore);
  });

  it('the sealed stream refuses reordered and dropped chunks; a bad key file is a usage error', async () => {
    const key = randomBytes(32);
    const plain = randomBytes(MAX_CHUNK_BYTES * 2 + 100);
    const sealed = encryptArchive(plain, key);
    assert.deepEqual(decryptArchive(sealed, key), plain);
    const chunk = 4 + MAX_CHUNK_BYTES + 16;
    const head = sealed.subarray(0, ENCRYPTED_HEADER_BYTES);
    const c0 = sealed.subarray(ENCRYPTED_HEADER_BYTES, ENCRYPTED_HEADER_BYTES + chunk);
    const c1 = sealed.subarray(ENCRYPTED_HEADER_BYTES + chunk, ENCRYPTED_HEADER_BYTES + 2 * chunk);
    const c2 = sealed.subarray(ENCRYPTED_HEADER_BYTES + 2 * chunk);
    assert.throws(() => decryptArchive(Buffer.concat([head, c1, c0, c2]), key), /fails authentication/);
    assert.throws(() => decryptArchive(Buffer.concat([head, c0, c2]), key), /fails authentication/);
    assert.throws(() => decryptArchive(Buffer.concat([head, c0, c1]), key), /cut short/);
    // Byte by byte, the reader gives out only authenticated plaintext.
    const d = new ArchiveDecryptor(key);
    const out: Buffer[] = [];
    for (let i = 0; i < sealed.length; i += 997) out.push(...d.push(sealed.subarray(i, i + 997)));
    d.end();
    assert.deepEqual(Buffer.concat(out), plain);

    const badKey = join(dir, 'bad.key');
    writeFileSync(badKey, 'not a key');
    const r = await run(['snapshot', 'save', '--http-addr', addr, '--token', SECRET, '--encrypt', badKey, join(dir, 'x.snap')]);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /--encrypt: .*bad\.key: not a snapshot key/);
  });
});
