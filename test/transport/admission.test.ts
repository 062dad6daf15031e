// The cap on unauthenticated connections, on real sockets: a flood from one source
// address fills that source's share and no more, a flood from many fills the total and
// no more, each refusal is cheap (closed at accept) and logged once per source, places
// come back when the flood goes, and a peer from another address is served throughout.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { PendingConnections } from '../../src/transport/admission.js';
import { AddressBook, eventually, keepSending } from './helpers.js';

/** `count` raw connections from `localAddress` that never say a word. */
function flood(port: number, localAddress: string, count: number): Socket[] {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => {});
    sockets.push(s);
  }
  return sockets;
}

const book = new AddressBook();
after(() => book.closeAll());

test('the places: per source first, then the total; release is idempotent', () => {
  const pending = new PendingConnections(3, 2);
  const a1 = pending.admit('a');
  const a2 = pending.admit('a');
  assert.deepEqual(pending.admit('a'), { admitted: false, why: 'source' });
  const b1 = pending.admit('b');
  assert.deepEqual(pending.admit('c'), { admitted: false, why: 'total' });
  assert.ok(a1.admitted && a2.admitted && b1.admitted);
  a1.release();
  a1.release();
  assert.deepEqual(pending.size, { total: 2, sources: 2 });
  assert.equal(pending.admit('c').admitted, true);
});

test('a flood of strangers holds at most the cap; a peer from elsewhere connects and is heard throughout', async () => {
  const b = await book.start('b', { token: 'cap-secret', maxPendingConnections: 20, maxPendingPerSource: 8, handshakeTimeoutMs: 60_000 });
  const a = await book.start('a', { token: 'cap-secret' });
  const port = b.transport.address.port;

  // 50 from one source: 8 held, 42 closed at once.
  const one = flood(port, '127.0.0.2', 50);
  await eventually('42 of 50 closed by the listener', () => one.filter((s) => s.closed).length === 42, 10_000);
  assert.equal(b.transport.unauthenticatedConnections, 8);
  assert.equal(b.transport.stats().counters.connectionsCapped, 42);
  const capLines = () => b.logger.lines.filter((l) => l.level === 'warn' && l.msg.includes('unauthenticated connections are open already'));
  assert.equal(capLines().length, 1, 'one log line for 42 refusals from one source');
  assert.match(capLines()[0]!.msg, /8 from this source/);

  // A peer from 127.0.0.1 is not held back by 127.0.0.2's flood.
  await keepSending(a.transport, 'a', 'b', 'a heartbeat from a during the flood', () => b.received('a').length > 0);

  // From three more sources: the total (20) fills, and no more.
  const many = ['127.0.0.3', '127.0.0.4', '127.0.0.5'].flatMap((ip) => flood(port, ip, 10));
  await eventually('the total cap reached', () => b.transport.unauthenticatedConnections === 20 && many.filter((s) => s.closed).length === 18, 10_000);
  assert.ok(capLines().some((l) => /20 in total/.test(l.msg)), 'the total cap is named in the log');
  // The authenticated link from a is not counted, and still works.
  const before = b.received('a').length;
  await keepSending(a.transport, 'a', 'b', 'more heartbeats at the total cap', () => b.received('a').length > before);

  // The flood goes: every place comes back.
  for (const s of [...one, ...many]) s.destroy();
  await eventually('places released', () => b.transport.unauthenticatedConnections === 0, 10_000);
  const again = flood(port, '127.0.0.2', 3);
  await eventually('new connections held again', () => b.transport.unauthenticatedConnections === 3, 10_000);
  for (const s of again) s.destroy();
});
