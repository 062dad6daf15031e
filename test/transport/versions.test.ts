// Protocol versions at the hello: two current nodes run at the newest version,
// a first-release listener (which takes only version 1) is dialed again with
// version 1 and the link runs at 1, a newer dialer is answered with our newest,
// and once the cluster runs at a version a Raft link from an older node is
// refused (a request connection is not, so the node hears why).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import {
  encodeFrame, FrameType, HandshakeRejectReason, LEGACY_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type Frame,
} from '../../src/transport/codec.js';
import { agreedVersion, judgeHello } from '../../src/transport/handshake.js';
import { FrameParser } from '../../src/transport/parser.js';
import type { Message } from '../../src/raft/types.js';
import { AddressBook, eventually, heartbeat, keepSending } from './helpers.js';

/**
 * The first release's listener, byte for byte in what it answers: a hello of
 * any version but 1 is refused with its exact words; version 1 gets HelloOk(1).
 */
async function legacyListener(nodeId: string): Promise<{ port: number; hellos: number[]; inbox: Message[]; close(): Promise<void> }> {
  const hellos: number[] = [];
  const inbox: Message[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const parser = new FrameParser();
    let open = false;
    socket.on('data', (chunk: Buffer) => {
      parser.parse(chunk, (frame: Frame) => {
        if (!open && frame.type === FrameType.Hello) {
          hellos.push(frame.hello.version);
          if (frame.hello.version !== 1) {
            socket.end(encodeFrame({
              type: FrameType.HelloReject, reason: HandshakeRejectReason.ProtocolVersion,
              detail: `protocol version ${frame.hello.version} is not supported (this node speaks 1)`,
            }));
            return;
          }
          open = true;
          socket.write(encodeFrame({ type: FrameType.HelloOk, version: 1, nodeId }));
        } else if (open && frame.type === FrameType.Message) {
          inbox.push(frame.message);
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hellos,
    inbox,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test('this konsul speaks versions 1 (the first release) to 2, and two of them run at 2', async (t) => {
  assert.equal(MIN_PROTOCOL_VERSION, 1);
  assert.equal(LEGACY_PROTOCOL_VERSION, 1);
  assert.ok(PROTOCOL_VERSION >= 2);
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const b = await book.start('b');
  await keepSending(a.transport, 'a', 'b', 'a reaches b', () => b.inbox.length > 0);
  assert.equal(a.transport.peerVersion('b'), PROTOCOL_VERSION);
  assert.equal(b.transport.peerVersion('a'), PROTOCOL_VERSION);
  assert.equal(a.transport.stats().peers.find((p) => p.nodeId === 'b')?.protocolVersion, PROTOCOL_VERSION);
});

test('a first-release listener refuses version 2; the dialer redials at once with 1 and the link runs at 1', async (t) => {
  const book = new AddressBook();
  const legacy = await legacyListener('old');
  t.after(async () => {
    await book.closeAll();
    await legacy.close();
  });
  const a = await book.start('a');
  book.addresses.set('old', `127.0.0.1:${legacy.port}`);
  await keepSending(a.transport, 'a', 'old', 'the old node receives', () => legacy.inbox.length > 0);
  assert.deepEqual(legacy.hellos.slice(0, 2), [PROTOCOL_VERSION, 1]);
  assert.equal(a.transport.peerVersion('old'), 1);
  // Not a failure: no error logged, no backoff counted.
  assert.equal(a.logger.has('error', 'peer refused our handshake'), false);
  assert.ok(a.logger.has('info', 'speaks protocol version 1 only'));
});

test('request connections to a first-release listener fall back to version 1 too (the call is not lost)', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  // A node playing the first release: its newest (and only offered) version is 1.
  const old = await book.start('old', {
    protocolVersion: 1,
    onRequest: async (method) => Buffer.from(`answered ${method}`),
  });
  const a = await book.start('a');
  // Our own listener takes any newest >= 1, so a 1-only node is accepted and runs at 1.
  await keepSending(old.transport, 'old', 'a', 'old reaches a', () => a.inbox.length > 0);
  assert.equal(a.transport.peerVersion('old'), 1);
  assert.equal(old.transport.peerVersion('a'), 1);
  const answer = await a.transport.request({ nodeId: 'old' }, 'ping', Buffer.alloc(0), 2000);
  assert.equal(answer.toString(), 'answered ping');
});

test('a newer dialer is answered with our newest; older than our oldest is refused', () => {
  const expected = { nodeId: 'b', clusterId: 'c', tokenDigest: undefined };
  const newer = judgeHello({ version: 9, clusterId: 'c', from: 'a', to: 'b' }, expected);
  assert.deepEqual(newer, { accepted: true, version: PROTOCOL_VERSION });
  const first = judgeHello({ version: 1, clusterId: 'c', from: 'a', to: 'b' }, expected);
  assert.deepEqual(first, { accepted: true, version: 1 });
  const zero = judgeHello({ version: 0, clusterId: 'c', from: 'a', to: 'b' }, expected);
  assert.equal(zero.accepted, false);
  assert.equal(agreedVersion(1), 1);
  assert.equal(agreedVersion(7), PROTOCOL_VERSION);
});

test('once the cluster runs at version 2, a Raft link from a 1-only node is refused with why; a request connection is not', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const b = await book.start('b', { clusterVersion: () => 2, onRequest: async () => Buffer.from('ok') });
  const old = await book.start('old', { protocolVersion: 1 });
  for (let i = 0; i < 20 && !old.logger.has('error', 'peer refused our handshake'); i++) {
    old.transport.send(heartbeat('old', 'b', i + 1));
    await new Promise((r) => setTimeout(r, 20));
  }
  await eventually('the refusal is logged', () => old.logger.has('error', 'peer refused our handshake'));
  assert.ok(b.logger.has('warn', 'refused peer handshake'));
  assert.equal(b.inbox.length, 0);
  const line = old.logger.lines.find((l) => l.msg === 'peer refused our handshake');
  assert.match(JSON.stringify(line), /this cluster runs protocol version 2; node 'old' speaks only up to 1: upgrade it/);
  // A request (a join asking why) still gets through.
  assert.equal((await old.transport.request({ nodeId: 'b' }, 'x', Buffer.alloc(0), 2000)).toString(), 'ok');
});
