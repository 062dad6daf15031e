// Real transports on 127.0.0.1: messages between two and three nodes, batching,
// refused handshakes, reconnects, hostile sockets, and a peer that stops reading.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { emptyMessage, MessageType, type Message } from '../../src/raft/types.js';
import { encodeFrame, FrameType, HandshakeRejectReason, PROTOCOL_VERSION, type Frame } from '../../src/transport/codec.js';
import { InvalidTransportOptionError } from '../../src/transport/errors.js';
import { FrameParser } from '../../src/transport/parser.js';
import { parseAddress } from '../../src/transport/peer.js';
import { formatAddress, Transport } from '../../src/transport/transport.js';
import { appMessage, normalize } from './arbitraries.js';
import { AddressBook, eventually, heartbeat, keepSending } from './helpers.js';

/** A raw TCP client: writes bytes, collects the frames it gets back, reports when the far end closes. */
class RawClient {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly socket: Socket;
  private readonly parser = new FrameParser();

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.parse(chunk, (frame) => this.frames.push(frame));
      } catch {
        this.socket.destroy();
      }
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  hello(from: string, to: string, overrides: Partial<{ version: number; clusterId: string; token: string }> = {}): void {
    this.write(encodeFrame({
      type: FrameType.Hello,
      hello: { version: overrides.version ?? PROTOCOL_VERSION, clusterId: overrides.clusterId ?? 'test-cluster', from, to, token: overrides.token },
    }));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

test('two transports exchange messages both ways, in order, each turn in one batch', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const b = await book.start('b');

  for (let round = 1; round <= 1000; round++) a.transport.send(heartbeat('a', 'b', round));
  const app = appMessage('b', 'a', 64, 100, 7);
  b.transport.send(app);
  await eventually('b receives 1000 heartbeats', () => b.inbox.length === 1000);
  assert.deepEqual(b.inbox.map((m) => m.round), Array.from({ length: 1000 }, (_, i) => i + 1));
  await eventually('a receives the App', () => a.inbox.length === 1);
  assert.deepStrictEqual(normalize(a.inbox[0]!), normalize(app));

  // Once connected, a turn's sends are only queued; the write happens once, after the turn.
  for (let round = 1001; round <= 1500; round++) a.transport.send(heartbeat('a', 'b', round));
  const queued = a.transport.stats().peers.find((p) => p.nodeId === 'b')!;
  assert.equal(queued.state, 'connected');
  assert.equal(queued.queuedMessages, 500);
  await nextTurn();
  assert.equal(a.transport.stats().peers.find((p) => p.nodeId === 'b')!.queuedMessages, 0);
  await eventually('b receives the second batch', () => b.inbox.length === 1500);

  const counters = a.transport.stats().counters;
  assert.equal(counters.messagesSent, 1500);
  assert.equal(counters.messagesDropped, 0);
  assert.equal(b.transport.stats().counters.messagesReceived, 1500);
  assert.equal(b.transport.stats().inboundConnections, 1);
});

test('three transports all reach each other', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const nodes = [await book.start('n1'), await book.start('n2'), await book.start('n3')];
  for (let i = 0; i < 100; i++) {
    for (const from of nodes) {
      for (const to of nodes) {
        if (from !== to) from.transport.send({ ...emptyMessage(MessageType.AppResp, from.id, to.id, 2), index: i });
      }
    }
  }
  await eventually('every node hears 100 from each other node', () => nodes.every((n) => n.inbox.length === 200));
  for (const node of nodes) {
    for (const other of nodes) {
      if (other === node) continue;
      assert.deepEqual(node.received(other.id).map((m) => m.index), Array.from({ length: 100 }, (_, i) => i));
    }
  }
});

test('a wrong or missing join token is refused, logged, and reported unreachable', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const b = await book.start('b', { token: 'correct horse' });
  const wrong = await book.start('w', { token: 'battery staple' });
  const none = await book.start('n');
  const right = await book.start('r', { token: 'correct horse' });

  wrong.transport.send(heartbeat('w', 'b', 1));
  none.transport.send(heartbeat('n', 'b', 1));
  await eventually('both refusals', () => b.transport.stats().counters.handshakesRefused === 2);
  await eventually('dialers hear they were refused', () => wrong.unreachable.includes('b') && none.unreachable.includes('b'));
  assert.equal(wrong.transport.stats().counters.handshakesRejected, 1);
  assert.ok(wrong.logger.has('error', 'wrong join token'), 'the dialer logs why it was refused');
  assert.ok(none.logger.has('error', 'a join token is required'));
  assert.ok(b.logger.has('warn', 'refused peer handshake'));

  await keepSending(right.transport, 'r', 'b', 'the right token gets through', () => b.inbox.length > 0);
  assert.ok(b.inbox.every((m) => m.from === 'r'), 'nothing from the refused peers was delivered');
  assert.equal(b.transport.stats().inboundConnections, 1);
});

test('a wrong cluster id is refused', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const b = await book.start('b');
  const stranger = await book.start('s', { clusterId: 'another-cluster' });
  stranger.transport.send(heartbeat('s', 'b', 1));
  await eventually('refused', () => stranger.unreachable.includes('b'));
  assert.ok(b.logger.has('warn', "cluster id 'another-cluster'"));
  assert.equal(b.inbox.length, 0);
});

test('a dial that reaches the wrong node (stale address) is refused', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const b = await book.start('b');
  book.addresses.set('c', book.addresses.get('b')!);
  a.transport.send(heartbeat('a', 'c', 1));
  await eventually('refused', () => a.unreachable.includes('c'));
  assert.ok(a.logger.has('error', "this is node 'b', not 'c'"));
  assert.equal(b.inbox.length, 0);
});

test('raw hellos: a wrong protocol version gets a reason and a close; a message before hello is a bad frame', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const b = await book.start('b');
  const port = b.transport.address.port;

  // Versions below the oldest this node speaks are refused (a newer dialer is answered with our newest: see versions.test.ts).
  const old = new RawClient(port);
  old.hello('x', 'b', { version: 0 });
  await eventually('closed after the refusal', () => old.closed);
  assert.equal(old.frames.length, 1);
  const reply = old.frames[0]!;
  assert.ok(reply.type === FrameType.HelloReject && reply.reason === HandshakeRejectReason.ProtocolVersion, JSON.stringify(reply));

  const rude = new RawClient(port);
  rude.write(encodeFrame({ type: FrameType.Message, message: heartbeat('x', 'b', 1) }));
  await eventually('closed', () => rude.closed);
  assert.equal(b.transport.stats().counters.badFrames, 1);
  assert.equal(b.inbox.length, 0);
});

test('garbage, oversized and corrupt frames close only their connection; a good peer is still served', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const b = await book.start('b', { maxFrameSize: 1024 * 1024 });
  const port = b.transport.address.port;
  await keepSending(a.transport, 'a', 'b', 'first contact', () => b.inbox.length > 0);

  const hostile: Array<[string, (c: RawClient) => void]> = [
    ['random garbage', (c) => c.write(Buffer.from('GET / HTTP/1.1\r\nHost: konsul\r\n\r\n'.repeat(20)))],
    ['a huge frame before hello', (c) => {
      const prefix = Buffer.alloc(8);
      prefix.writeUInt32BE(10 * 1024 * 1024, 0);
      c.write(prefix);
    }],
    ['an oversized frame after hello', (c) => {
      c.hello('x', 'b');
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(0x7fff_ffff, 0);
      c.write(prefix);
    }],
    ['a bad checksum after hello', (c) => {
      c.hello('x', 'b');
      const frame = encodeFrame({ type: FrameType.Message, message: heartbeat('x', 'b', 1) });
      frame[frame.length - 1]! ^= 0xff;
      c.write(frame);
    }],
    ['an unknown frame type after hello', (c) => {
      c.hello('x', 'b');
      const frame = encodeFrame({ type: FrameType.SnapshotAbort, reason: '' });
      frame[4] = 0x77;
      c.write(frame);
    }],
    ['a message that claims another sender', (c) => {
      c.hello('x', 'b');
      c.write(encodeFrame({ type: FrameType.Message, message: heartbeat('a', 'b', 999) }));
    }],
  ];
  for (const [name, attack] of hostile) {
    const before = b.transport.stats().counters.badFrames;
    const client = new RawClient(port);
    attack(client);
    await eventually(`${name}: connection closed`, () => client.closed);
    assert.equal(b.transport.stats().counters.badFrames, before + 1, name);
  }
  assert.ok(b.logger.has('warn', 'bad frame from peer'));
  assert.ok(!b.inbox.some((m) => m.round === 999), 'the forged message was not delivered');

  const seen = b.inbox.length;
  await keepSending(a.transport, 'a', 'b', 'the good peer still gets through', () => b.inbox.length > seen + 5);
  assert.equal(a.transport.stats().counters.reconnects, 0, "the good peer's connection was never disturbed");
});

test('a node reconnects after its peer restarts, and messages sent meanwhile are dropped, not queued', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { backoffInitialMs: 20, backoffMaxMs: 200 });
  const b = await book.start('b');
  const port = b.transport.address.port;
  await keepSending(a.transport, 'a', 'b', 'b hears a', () => b.inbox.length > 0);

  await b.transport.close();
  await keepSending(a.transport, 'a', 'b', 'a notices b is gone', () => a.unreachable.includes('b'));
  for (let i = 0; i < 10_000; i++) a.transport.send(heartbeat('a', 'b', i));
  const down = a.transport.stats();
  assert.ok(down.counters.messagesDropped >= 10_000, `dropped ${down.counters.messagesDropped}`);
  assert.ok(down.peers[0]!.queuedMessages < 100, 'messages to a down peer do not pile up');

  const b2 = await book.start('b', { listen: { host: '127.0.0.1', port } });
  await keepSending(a.transport, 'a', 'b', 'the restarted b hears a', () => b2.inbox.length > 0);
  assert.ok(a.transport.stats().counters.reconnects >= 1);
  assert.ok(a.logger.has('info', 'reconnected to peer'));
});

test('a peer whose address changes is found again through resolve()', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { backoffInitialMs: 10, backoffMaxMs: 50 });
  const b = await book.start('b');
  await keepSending(a.transport, 'a', 'b', 'b hears a', () => b.inbox.length > 0);
  await b.transport.close();
  const b2 = await book.start('b');
  await keepSending(a.transport, 'a', 'b', 'b at its new port hears a', () => b2.inbox.length > 0);
});

/** A fake peer that completes the handshake and then never reads another byte. */
async function stuckPeer(): Promise<{ port: number; sockets: Set<Socket>; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const parser = new FrameParser();
    socket.once('data', (chunk: Buffer) => {
      parser.parse(chunk, (frame) => {
        if (frame.type !== FrameType.Hello) return;
        socket.write(encodeFrame({ type: FrameType.HelloOk, version: PROTOCOL_VERSION, nodeId: frame.hello.to }));
        socket.pause();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, sockets, server };
}

test('a peer that does not read cannot make the sender buffer without bound', async (t) => {
  const stuck = await stuckPeer();
  const book = new AddressBook();
  t.after(async () => {
    await book.closeAll();
    await closeServer(stuck.server, stuck.sockets);
  });
  book.addresses.set('z', `127.0.0.1:${stuck.port}`);
  const maxQueuedBytes = 1024 * 1024;
  const a = await book.start('a', { maxQueuedBytes, maxQueuedMessages: 1000, writeTimeoutMs: 60_000 });
  const message = appMessage('a', 'z', 10, 1000);

  const memoryBefore = process.memoryUsage().arrayBuffers;
  let attempted = 0;
  let peakBuffered = 0;
  for (let turn = 0; turn < 300; turn++) {
    for (let i = 0; i < 100; i++) a.transport.send(message);
    attempted += 100;
    await nextTurn();
    const peer = a.transport.stats().peers[0]!;
    peakBuffered = Math.max(peakBuffered, peer.queuedBytes + peer.socketBufferedBytes);
  }
  const { counters, peers } = a.transport.stats();
  const frameBytes = 10 * (21 + 1000) + 200;
  // At most one queue's worth waits in the writer and one in the socket.
  assert.ok(peakBuffered <= 2 * (maxQueuedBytes + frameBytes), `peak buffered ${peakBuffered}`);
  assert.ok(peers[0]!.queuedBytes <= maxQueuedBytes + frameBytes);
  assert.ok(counters.messagesDropped > attempted * 0.9, `dropped ${counters.messagesDropped} of ${attempted}`);
  assert.equal(counters.messagesSent + counters.messagesDropped + peers[0]!.queuedMessages, attempted);
  assert.ok(a.unreachable.includes('z'), 'Raft is told the peer is not keeping up');
  assert.ok(a.logger.has('warn', 'send queue full'));
  const grown = process.memoryUsage().arrayBuffers - memoryBefore;
  assert.ok(grown < 48 * 1024 * 1024, `array buffers grew by ${grown} bytes while ${attempted * frameBytes} were offered`);
});

test('a socket that stays full past writeTimeoutMs is closed and the peer reported', async (t) => {
  const stuck = await stuckPeer();
  const book = new AddressBook();
  t.after(async () => {
    await book.closeAll();
    await closeServer(stuck.server, stuck.sockets);
  });
  book.addresses.set('z', `127.0.0.1:${stuck.port}`);
  const a = await book.start('a', { writeTimeoutMs: 200, maxQueuedBytes: 64 * 1024 * 1024 });
  const message = appMessage('a', 'z', 64, 1000);
  const deadline = Date.now() + 10_000;
  while (!a.logger.has('warn', 'connection to peer lost')) {
    assert.ok(Date.now() < deadline, 'the stalled connection was never closed');
    for (let i = 0; i < 50; i++) a.transport.send(message);
    await sleep(20);
  }
  assert.ok(a.unreachable.includes('z'));
});

test('onMessage throwing is logged and does not break the connection', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  let calls = 0;
  const b = await book.start('b', {
    onMessage: () => {
      calls++;
      if (calls === 1) throw new Error('state machine bug');
    },
  });
  await keepSending(a.transport, 'a', 'b', 'messages after the throw still arrive', () => calls >= 3);
  assert.ok(b.logger.has('error', 'onMessage threw'));
  assert.equal(a.transport.stats().counters.reconnects, 0);
});

test('messages to this node or to no one are dropped with an error, not sent', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  a.transport.send(heartbeat('a', 'a', 1));
  a.transport.send(heartbeat('a', '', 1));
  assert.equal(a.transport.stats().counters.messagesDropped, 2);
  assert.ok(a.logger.has('error', 'addressed to this node'));
});

test('a peer with no known address is reported unreachable, never from inside send()', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  a.transport.send(heartbeat('a', 'ghost', 1));
  assert.deepEqual(a.unreachable, [], 'not re-entrant: Raft may be in the middle of a Ready');
  await eventually('reported', () => a.unreachable.includes('ghost'));
  assert.equal(a.transport.stats().counters.connectFailures, 1);
});

test('a resolve() that throws counts as an unreachable peer', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { resolve: () => { throw new Error('directory offline'); } });
  a.transport.send(heartbeat('a', 'b', 1));
  await eventually('reported', () => a.unreachable.includes('b'));
  assert.ok(a.logger.has('warn', 'directory offline'));
});

test('redials of a down peer back off exponentially up to the cap', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { backoffInitialMs: 50, backoffMaxMs: 1000 });
  book.addresses.set('down', '127.0.0.1:1');
  const started = Date.now();
  let round = 0;
  while (Date.now() - started < 1500) {
    a.transport.send(heartbeat('a', 'down', ++round));
    await sleep(10);
  }
  // Sends every 10 ms; without backoff that would be ~150 dials. With delays
  // drawn from [25,50], [50,100], [100,200], [200,400], [400,800], [500,1000] ms: 5 to 8.
  const dials = a.transport.stats().counters.connectFailures;
  assert.ok(dials >= 4 && dials <= 9, `${dials} dials in 1.5 s`);
  assert.equal(a.transport.stats().peers[0]!.failures, dials);
  assert.equal(a.transport.stats().counters.reconnects, dials - 1);
});

test('a message larger than maxFrameSize is dropped and logged, the link stays usable', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { maxFrameSize: 64 * 1024 });
  const b = await book.start('b');
  a.transport.send(appMessage('a', 'b', 100, 1000));
  a.transport.send(heartbeat('a', 'b', 5));
  await eventually('the small one arrives', () => b.inbox.length === 1);
  assert.equal(b.inbox[0]!.round, 5);
  assert.equal(a.transport.stats().counters.messagesDropped, 1);
  assert.ok(a.logger.has('error', 'larger than maxFrameSize'));
});

test('bad options fail at construction with the option named', () => {
  const base = {
    nodeId: 'a', clusterId: 'c', listen: { host: '127.0.0.1', port: 0 },
    resolve: () => undefined, onMessage: () => {},
  };
  const cases: Array<[object, RegExp]> = [
    [{ listen: { host: '127.0.0.1', port: 70000 } }, /listen\.port/],
    [{ nodeId: '' }, /nodeId/],
    [{ resolve: 'nope' }, /resolve must be a function/],
    [{ maxFrameSize: 10 }, /maxFrameSize/],
    [{ tls: { cert: 'x', key: 'y' } }, /tls\.ca/],
    [{ logger: {} }, /logger\.debug/],
  ];
  for (const [patch, message] of cases) {
    assert.throws(
      () => new Transport({ ...base, ...patch } as ConstructorParameters<typeof Transport>[0]),
      (err: unknown) => err instanceof InvalidTransportOptionError && err.code === 'KONSUL_ERR_INVALID_OPTION' && message.test(err.message),
    );
  }
});

test('a pino logger plugs in as it is', async () => {
  const transport = new Transport({
    nodeId: 'a', clusterId: 'c', listen: { host: '127.0.0.1', port: 0 },
    resolve: () => undefined, onMessage: (_m: Message) => {}, logger: pino({ level: 'silent' }),
  });
  await transport.start();
  assert.ok(transport.address.port > 0);
  await transport.close();
  await transport.close();
});

test('addresses: host:port and [v6]:port parse and format both ways', () => {
  assert.deepEqual(parseAddress('10.0.0.7:7000'), { host: '10.0.0.7', port: 7000 });
  assert.deepEqual(parseAddress('node2.dc1:7000'), { host: 'node2.dc1', port: 7000 });
  assert.deepEqual(parseAddress('[::1]:7000'), { host: '::1', port: 7000 });
  for (const bad of ['::1:7000', 'host', 'host:', 'host:0', 'host:70000', ':7000', '[::1]']) {
    assert.equal(parseAddress(bad), undefined, bad);
  }
  assert.equal(formatAddress({ host: '::1', port: 7000 }), '[::1]:7000');
  assert.equal(formatAddress({ host: '127.0.0.1', port: 7000 }), '127.0.0.1:7000');
});

test('transports talk over IPv6 loopback', async (t) => {
  const probe = createServer();
  const v6 = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
  if (!v6) {
    t.skip('no IPv6 loopback on this machine');
    return;
  }
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const listen = { host: '::1', port: 0 };
  const a = await book.start('a', { listen });
  const b = await book.start('b', { listen });
  assert.match(book.addresses.get('b')!, /^\[::1\]:\d+$/);
  await keepSending(a.transport, 'a', 'b', 'b hears a over ::1', () => b.inbox.length > 0);
});
