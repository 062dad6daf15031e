// Mutual TLS between transports, with throwaway certificates made by openssl in
// a temp dir: peers of the cluster CA talk; a foreign cert, wrong host or plain TCP does not.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerUnreachableError } from '../../src/transport/errors.js';
import type { TransportTlsOptions } from '../../src/transport/options.js';
import { AddressBook, eventually, heartbeat, keepSending } from './helpers.js';

interface KeyPair {
  cert: string;
  key: string;
}

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): KeyPair {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync('openssl', [
    'req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

/** A node certificate (for 127.0.0.1 unless `san` says otherwise), good as both server and client. */
function makeNodeCert(dir: string, caName: string, name: string, san = 'IP:127.0.0.1,DNS:localhost'): KeyPair {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    `subjectAltName=${san}`,
  ].join('\n'));
  execFileSync('openssl', ['req', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`], { stdio: 'ignore' });
  execFileSync('openssl', [
    'x509', '-req', '-in', csr, '-CA', join(dir, `${caName}.crt`), '-CAkey', join(dir, `${caName}.key`),
    '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext,
  ], { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

interface Pki {
  tlsA: TransportTlsOptions;
  tlsB: TransportTlsOptions;
  /** Trusts the cluster CA but presents a certificate from another CA. */
  tlsForeign: TransportTlsOptions;
  /** Signed by the cluster CA, but for a host name that is not 127.0.0.1. */
  tlsElsewhere: TransportTlsOptions;
  /** Signed by the cluster CA, naming node a (used by a node that claims to be b). */
  tlsPosing: TransportTlsOptions;
}

function makePki(t: TestContext): Pki | undefined {
  if (!haveOpenssl()) {
    t.skip('openssl is not on the PATH; cannot make throwaway certificates for the mTLS tests');
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'konsul-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa(dir, 'cluster-ca');
  makeCa(dir, 'other-ca');
  // Each certificate names its node (<id>.server.dc1.konsul): the listener and the dialer check it.
  const a = makeNodeCert(dir, 'cluster-ca', 'node-a', 'IP:127.0.0.1,DNS:localhost,DNS:a.server.dc1.konsul');
  const b = makeNodeCert(dir, 'cluster-ca', 'node-b', 'IP:127.0.0.1,DNS:localhost,DNS:b.server.dc1.konsul');
  const foreign = makeNodeCert(dir, 'other-ca', 'node-x', 'IP:127.0.0.1,DNS:localhost,DNS:x.server.dc1.konsul');
  const elsewhere = makeNodeCert(dir, 'cluster-ca', 'node-e', 'DNS:node-e.elsewhere.example,DNS:e.server.dc1.konsul');
  // Signed by the cluster CA, but naming node a: whoever holds it is a, not b.
  const posing = makeNodeCert(dir, 'cluster-ca', 'node-p', 'IP:127.0.0.1,DNS:localhost,DNS:a.server.dc1.konsul');
  return {
    tlsA: { ...a, ca: ca.cert },
    tlsB: { ...b, ca: ca.cert },
    tlsForeign: { ...foreign, ca: ca.cert },
    tlsElsewhere: { ...elsewhere, ca: ca.cert },
    tlsPosing: { ...posing, ca: ca.cert },
  };
}

test('two transports talk over mutual TLS', async (t) => {
  const pki = makePki(t);
  if (pki === undefined) return;
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { tls: pki.tlsA });
  const b = await book.start('b', { tls: pki.tlsB });
  await keepSending(a.transport, 'a', 'b', 'b hears a over TLS', () => b.inbox.length > 0);
  await keepSending(b.transport, 'b', 'a', 'a hears b over TLS', () => a.inbox.length > 0);
  assert.equal(b.transport.stats().counters.handshakesRefused, 0);
});

test('a client certificate from another CA is refused by the listener', async (t) => {
  const pki = makePki(t);
  if (pki === undefined) return;
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const b = await book.start('b', { tls: pki.tlsB });
  const x = await book.start('x', { tls: pki.tlsForeign });
  x.transport.send(heartbeat('x', 'b', 1));
  await eventually('the listener refuses the certificate', () => b.transport.stats().counters.handshakesRefused > 0);
  await eventually('the dialer reports b unreachable', () => x.unreachable.includes('b'));
  assert.ok(b.logger.has('warn', 'TLS handshake failed'));
  assert.equal(b.inbox.length, 0);
});

test('a plain TCP dialer cannot reach a TLS listener, and a TLS dialer cannot reach a plain one', async (t) => {
  const pki = makePki(t);
  if (pki === undefined) return;
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const secure = await book.start('s', { tls: pki.tlsB });
  const plain = await book.start('p');
  const securePeer = await book.start('q', { tls: pki.tlsA, connectTimeoutMs: 500 });
  plain.transport.send(heartbeat('p', 's', 1));
  securePeer.transport.send(heartbeat('q', 'p', 1));
  await eventually('plain → TLS fails', () => plain.unreachable.includes('s'));
  await eventually('TLS → plain fails', () => securePeer.unreachable.includes('p'));
  assert.equal(secure.inbox.length, 0);
  assert.equal(plain.inbox.length, 0);
});

test('the listener certificate must name the dialed host unless verifyHostname is off', async (t) => {
  const pki = makePki(t);
  if (pki === undefined) return;
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const e = await book.start('e', { tls: pki.tlsElsewhere });
  const strict = await book.start('s', { tls: pki.tlsA });
  const lax = await book.start('b', { tls: { ...pki.tlsB, verifyHostname: false } });
  strict.transport.send(heartbeat('s', 'e', 1));
  await eventually('the name mismatch is refused by the dialer', () => strict.unreachable.includes('e'));
  assert.ok(strict.logger.has('warn', "Host: 127.0.0.1. is not in the cert's altnames") || strict.logger.has('warn', 'altnames'));
  await keepSending(lax.transport, 'b', 'e', 'with verifyHostname off the CA check (and the node name) admits it', () => e.inbox.length > 0);
  assert.ok(e.inbox.every((m) => m.from === 'b'));
});

test('requests go over mutual TLS, and a foreign certificate cannot make one', async (t) => {
  const pki = makePki(t);
  if (pki === undefined) return;
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const handler = async (method: string, body: Buffer): Promise<Uint8Array> => Buffer.from(`${method}:${body.toString()}`);
  const a = await book.start('a', { tls: pki.tlsA });
  await book.start('b', { tls: pki.tlsB, onRequest: handler });
  const x = await book.start('x', { tls: pki.tlsForeign, connectTimeoutMs: 1000 });
  const answer = await a.transport.request({ nodeId: 'b' }, 'echo', Buffer.from('over tls'), 5000);
  assert.equal(answer.toString(), 'echo:over tls');
  await assert.rejects(
    x.transport.request({ address: book.addresses.get('b')! }, 'echo', Buffer.from('sneaky'), 5000),
    (err: unknown) => err instanceof PeerUnreachableError,
  );
});

test('a certificate naming another node is refused: identity is bound to the certificate', async (t) => {
  const pki = makePki(t);
  if (pki === undefined) return;
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const c = await book.start('c', { tls: pki.tlsB });
  // "b" dials c with a valid certificate from the cluster CA that names a.
  const b = await book.start('b', { tls: pki.tlsPosing });
  b.transport.send(heartbeat('b', 'c', 1));
  await eventually('the listener refuses the impostor', () => c.transport.stats().counters.handshakesRefused > 0);
  await eventually('the dialer reports c unreachable', () => b.unreachable.includes('c'));
  assert.ok(c.logger.has('warn', 'refused peer handshake'));
  assert.equal(c.inbox.length, 0);
});
