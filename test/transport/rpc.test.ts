// Transport.request between real transports on 127.0.0.1: calls by node id and
// by bare address, errors carried back, time limits, lost connections, refused
// handshakes, many calls at once, large bodies, and hostile bytes on both ends.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { httpStatusOf } from '../../src/http/errors.js';
import { KonsulError } from '../../src/errors.js';
import { encodeFrame, FrameType, PROTOCOL_VERSION, requestFrame, type Frame } from '../../src/transport/codec.js';
import {
  FrameTooLargeError, HandshakeRejectedError, PeerUnavailableError, PeerUnreachableError, RemoteError, RequestRefusedError,
  TransportClosedError, TransportTimeoutError,
} from '../../src/transport/errors.js';
import type { TransportOptions } from '../../src/transport/options.js';
import { FrameParser } from '../../src/transport/parser.js';
import { MAX_REQUESTS_IN_FLIGHT } from '../../src/transport/inbound.js';
import { MAX_PENDING_REQUESTS } from '../../src/transport/requests.js';
import { AddressBook, eventually, heartbeat, keepSending } from './helpers.js';

type Handler = NonNullable<TransportOptions['onRequest']>;

/** Answers "echo" with the body, "whoami" with its id, "from" with the caller it saw. */
function echoHandler(id: string): Handler {
  return async (method, body, from) => {
    switch (method) {
      case 'echo': return body;
      case 'whoami': return Buffer.from(id);
      case 'from': return Buffer.from(JSON.stringify(from));
      default: throw new KonsulError('KONSUL_ERR_BAD_REQUEST', `unknown request "${method}"`, 'invalid');
    }
  };
}

/** A promise with its settle functions outside, for handlers that answer when the test says. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Asserts a rejection's class, code and the HTTP status its kind maps to, and returns the error for more checks. */
async function rejection<E extends KonsulError>(
  pending: Promise<unknown>,
  type: new (...args: never[]) => E,
  code: string,
  httpStatus: number,
): Promise<E> {
  try {
    await pending;
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.ok(err instanceof KonsulError);
    assert.equal(err.code, code);
    assert.equal(httpStatusOf(err), httpStatus);
    return err;
  }
  assert.fail(`expected a ${type.name}, but the request succeeded`);
}

/** A raw TCP client: writes bytes, collects frames, notices the close. */
class RawClient {
  readonly frames: Frame[] = [];
  closed = false;
  readonly socket: Socket;
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

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  requestHello(from = 'raw'): void {
    this.write(encodeFrame({ type: FrameType.Hello, hello: { version: PROTOCOL_VERSION, clusterId: 'test-cluster', from, to: '' } }));
  }
}

test('a request by node id and one by address alone reach the same node, beside its Raft link', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { onRequest: echoHandler('a') });
  const b = await book.start('b', { onRequest: echoHandler('b') });
  // The Raft links are up first: a request connection must not displace them.
  await keepSending(a.transport, 'a', 'b', 'b hears heartbeats from a', () => b.inbox.length > 0);
  await keepSending(b.transport, 'b', 'a', 'a hears heartbeats from b', () => a.inbox.length > 0);

  const echoed = await a.transport.request({ nodeId: 'b' }, 'echo', Buffer.from('hello b'), 5000);
  assert.equal(echoed.toString(), 'hello b');
  // Joining by address: the caller learns who answers there.
  const who = await a.transport.request({ address: book.addresses.get('b')! }, 'whoami', new Uint8Array(0), 5000);
  assert.equal(who.toString(), 'b');
  const from = JSON.parse((await b.transport.request({ nodeId: 'a' }, 'from', Buffer.alloc(0), 5000)).toString()) as { nodeId: string; address: string };
  assert.equal(from.nodeId, 'b');
  assert.match(from.address, /^127\.0\.0\.1:\d+$/);

  // Both of a's calls went over one request connection; Raft messages are unaffected by it.
  assert.equal(a.transport.stats().requestConnections, 1);
  assert.equal(a.transport.stats().counters.requestsSent, 2);
  assert.equal(b.transport.stats().counters.requestsReceived, 2);
  const heard = b.inbox.length;
  await keepSending(a.transport, 'a', 'b', 'b still hears heartbeats from a', () => b.inbox.length > heard + 5);
  assert.equal(a.transport.stats().counters.reconnects, 0);
  assert.equal(b.transport.stats().counters.reconnects, 0);
  assert.ok(!b.logger.has('warn', 'peer connected again'), 'no Raft link was replaced');
  assert.ok(a.transport.stats().peers.some((p) => p.nodeId === 'b' && p.state === 'connected'));
});

test('a request by node id refuses a node found at a stale address, and one to this node', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  let handled = 0;
  await book.start('b', {
    onRequest: async () => {
      handled++;
      return Buffer.from('ran');
    },
  });
  book.addresses.set('c', book.addresses.get('b')!);

  const stale = await rejection(a.transport.request({ nodeId: 'c' }, 'echo', Buffer.alloc(0), 5000), PeerUnreachableError, 'KONSUL_ERR_PEER_UNREACHABLE', 503);
  assert.match(stale.message, /is node 'b'/);
  // The connection itself is fine, and now known to lead to b: a call for c fails at once, one for b works.
  await rejection(a.transport.request({ nodeId: 'c' }, 'echo', Buffer.alloc(0), 5000), PeerUnreachableError, 'KONSUL_ERR_PEER_UNREACHABLE', 503);
  assert.equal(handled, 0, 'a request meant for c never ran on b');
  assert.equal((await a.transport.request({ nodeId: 'b' }, 'echo', Buffer.alloc(0), 5000)).toString(), 'ran');

  await rejection(a.transport.request({ nodeId: 'a' }, 'echo', Buffer.alloc(0), 5000), PeerUnreachableError, 'KONSUL_ERR_PEER_UNREACHABLE', 503);
  await rejection(a.transport.request({ nodeId: 'nobody' }, 'echo', Buffer.alloc(0), 5000), PeerUnreachableError, 'KONSUL_ERR_PEER_UNREACHABLE', 503);
  // Dialing our own address by accident (join yourself) is refused by the handshake.
  await rejection(a.transport.request({ address: book.addresses.get('a')! }, 'echo', Buffer.alloc(0), 5000), HandshakeRejectedError, 'KONSUL_ERR_HANDSHAKE_REJECTED', 403);
  await rejection(a.transport.request({ address: 'not an address' }, 'echo', Buffer.alloc(0), 5000), PeerUnreachableError, 'KONSUL_ERR_PEER_UNREACHABLE', 503);
});

test("a handler's error reaches the caller with its code, message and HTTP status", async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  await book.start('b', {
    onRequest: async (method) => {
      if (method === 'propose') throw new KonsulError('KONSUL_ERR_NOT_LEADER', 'not the leader (leader is c)', 'unavailable');
      if (method === 'bug') throw new TypeError('x is not a function');
      if (method === 'wrong-type') return 'a string' as unknown as Uint8Array;
      return Buffer.from('ok');
    },
  });
  await book.start('mute');

  const notLeader = await rejection(a.transport.request({ nodeId: 'b' }, 'propose', Buffer.from('cmd'), 5000), RemoteError, 'KONSUL_ERR_NOT_LEADER', 503);
  assert.equal(notLeader.message, 'not the leader (leader is c)');
  const bug = await rejection(a.transport.request({ nodeId: 'b' }, 'bug', Buffer.alloc(0), 5000), RemoteError, 'KONSUL_ERR_REMOTE', 500);
  assert.equal(bug.message, 'x is not a function');
  await rejection(a.transport.request({ nodeId: 'b' }, 'wrong-type', Buffer.alloc(0), 5000), RemoteError, 'KONSUL_ERR_REMOTE', 500);
  // A handler that throws before returning a promise is answered the same way.
  const sync = await book.start('s', {
    onRequest: (() => {
      throw new KonsulError('KONSUL_ERR_CONF_CHANGE', 'one change at a time', 'conflict');
    }) as Handler,
  });
  await rejection(a.transport.request({ nodeId: sync.id }, 'join', Buffer.alloc(0), 5000), RemoteError, 'KONSUL_ERR_CONF_CHANGE', 409);

  const none = await rejection(a.transport.request({ nodeId: 'mute' }, 'join', Buffer.alloc(0), 5000), RemoteError, 'KONSUL_ERR_NO_HANDLER', 501);
  assert.match(none.message, /no handler/);
  // Errors do not hurt the connection.
  assert.equal((await a.transport.request({ nodeId: 'b' }, 'fine', Buffer.alloc(0), 5000)).toString(), 'ok');
});

test('a handler that never answers times out, and its late answer is not mistaken for another', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const slow = deferred<Uint8Array>();
  await book.start('b', {
    onRequest: (method) => (method === 'slow' ? slow.promise : Promise.resolve(Buffer.from(`answer to ${method}`))),
  });
  const late = await rejection(a.transport.request({ nodeId: 'b' }, 'slow', Buffer.alloc(0), 100), TransportTimeoutError, 'KONSUL_ERR_TIMEOUT', 504);
  assert.match(late.message, /"slow"/);

  // The slow handler answers now; the next call must get its own answer, not that one.
  slow.resolve(Buffer.from('answer to slow'));
  for (let i = 0; i < 5; i++) {
    assert.equal((await a.transport.request({ nodeId: 'b' }, `quick${i}`, Buffer.alloc(0), 5000)).toString(), `answer to quick${i}`);
  }
  assert.equal(a.transport.stats().requestConnections, 1);
});

test('losing the connection rejects the pending requests at once, and the next request redials', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const arrived = deferred<void>();
  let count = 0;
  const handler: Handler = (method) => {
    if (method !== 'hang') return Promise.resolve(Buffer.from('back'));
    if (++count === 3) arrived.resolve();
    return new Promise<Uint8Array>(() => {});
  };
  const b = await book.start('b', { onRequest: handler });

  // Time limits far beyond the test's: only the lost connection can end these calls.
  const pending = [1, 2, 3].map((): Promise<PeerUnavailableError> => {
    const call = a.transport.request({ nodeId: 'b' }, 'hang', Buffer.alloc(0), 60_000);
    return rejection(call, PeerUnavailableError, 'KONSUL_ERR_PEER_UNAVAILABLE', 503);
  });
  await arrived.promise;
  await b.transport.close();
  for (const err of await Promise.all(pending)) assert.match(err.message, /in flight/);
  await eventually('the dead connection is forgotten', () => a.transport.stats().requestConnections === 0);

  // b comes back at a new port; a request to it dials afresh.
  await book.start('b', { onRequest: handler });
  assert.equal((await a.transport.request({ nodeId: 'b' }, 'ping', Buffer.alloc(0), 5000)).toString(), 'back');

  // Closing the caller's own transport rejects its pending calls too.
  const mine = rejection(a.transport.request({ nodeId: 'b' }, 'hang', Buffer.alloc(0), 60_000), TransportClosedError, 'KONSUL_ERR_TRANSPORT_CLOSED', 503);
  await eventually('the call reached b', () => count === 4);
  await a.transport.close();
  await mine;
  await rejection(a.transport.request({ nodeId: 'b' }, 'ping', Buffer.alloc(0), 5000), TransportClosedError, 'KONSUL_ERR_TRANSPORT_CLOSED', 503);
});

test('a request dial with a wrong or missing token, or another cluster id, is refused before any handler runs', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  let handled = 0;
  const b = await book.start('b', {
    token: 'correct horse',
    onRequest: async () => {
      handled++;
      return Buffer.from('in');
    },
  });
  const address = book.addresses.get('b')!;
  const wrong = await book.start('w', { token: 'battery staple' });
  const none = await book.start('n');
  const stranger = await book.start('s', { token: 'correct horse', clusterId: 'another-cluster' });
  const right = await book.start('r', { token: 'correct horse' });

  const refusedWrong = await rejection(wrong.transport.request({ address }, 'join', Buffer.alloc(0), 5000), HandshakeRejectedError, 'KONSUL_ERR_HANDSHAKE_REJECTED', 403);
  assert.match(refusedWrong.message, /wrong join token/);
  const refusedNone = await rejection(none.transport.request({ address }, 'join', Buffer.alloc(0), 5000), HandshakeRejectedError, 'KONSUL_ERR_HANDSHAKE_REJECTED', 403);
  assert.match(refusedNone.message, /a join token is required/);
  await rejection(stranger.transport.request({ address }, 'join', Buffer.alloc(0), 5000), HandshakeRejectedError, 'KONSUL_ERR_HANDSHAKE_REJECTED', 403);
  assert.equal(handled, 0);
  assert.equal(b.transport.stats().counters.handshakesRefused, 3);
  assert.equal(wrong.transport.stats().counters.handshakesRejected, 1);
  assert.ok(b.logger.has('warn', 'refused peer handshake'));

  assert.equal((await right.transport.request({ address }, 'join', Buffer.alloc(0), 5000)).toString(), 'in');
  assert.equal(handled, 1);
});

test('500 concurrent requests are all answered, each with its own answer', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  await book.start('b', {
    // Answers come back in a different order than the requests went out.
    onRequest: async (method, body) => {
      await new Promise((resolve) => setTimeout(resolve, body[0]! % 7));
      return Buffer.concat([Buffer.from(`${method}/`), Buffer.from(body).reverse()]);
    },
  });
  const bodies = Array.from({ length: 500 }, (_, i) => randomBytes(1 + (i % 300)));
  const answers = await Promise.all(bodies.map((body, i) => a.transport.request({ nodeId: 'b' }, `m${i}`, body, 10_000)));
  answers.forEach((answer, i) => {
    assert.ok(answer.equals(Buffer.concat([Buffer.from(`m${i}/`), Buffer.from(bodies[i]!).reverse()])), `answer ${i}`);
  });
  assert.equal(a.transport.stats().requestConnections, 1);
});

test('calls beyond the per-connection bound are refused with 503; the rest are answered', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const gate = deferred<void>();
  let started = 0;
  await book.start('b', {
    onRequest: async (_method, body) => {
      started++;
      await gate.promise;
      return body;
    },
  });
  const total = MAX_PENDING_REQUESTS + 50;
  const calls = Array.from({ length: total }, (_, i) => a.transport.request({ nodeId: 'b' }, 'hold', Buffer.from(String(i)), 30_000));
  const settled = calls.map((call) => call.then((body) => ({ ok: true as const, body }), (err: unknown) => ({ ok: false as const, err })));
  await eventually('the bounded number reach the handler', () => started === MAX_PENDING_REQUESTS);
  gate.resolve();
  const results = await Promise.all(settled);
  results.forEach((result, i) => {
    if (i < MAX_PENDING_REQUESTS) {
      assert.ok(result.ok && result.body.toString() === String(i), `call ${i} answered`);
    } else {
      assert.ok(!result.ok && result.err instanceof RequestRefusedError && httpStatusOf(result.err) === 503, `call ${i} refused`);
    }
  });
  assert.equal(started, MAX_PENDING_REQUESTS);
});

test('the listener answers requests beyond its in-flight bound with 503 instead of running them', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const gate = deferred<void>();
  let started = 0;
  const b = await book.start('b', {
    onRequest: async (_method, body) => {
      started++;
      await gate.promise;
      return body;
    },
  });
  // A raw caller that ignores the caller-side bound.
  const raw = new RawClient(b.transport.address.port);
  raw.requestHello();
  const extra = 3;
  for (let id = 1; id <= MAX_REQUESTS_IN_FLIGHT + extra; id++) {
    for (const piece of requestFrame(id, 'hold', Buffer.from(String(id)))) raw.write(piece);
  }
  await eventually('the excess is refused', () => raw.frames.filter((f) => f.type === FrameType.Response).length === extra);
  for (const frame of raw.frames) {
    if (frame.type !== FrameType.Response) continue;
    assert.ok(frame.id > MAX_REQUESTS_IN_FLIGHT && !frame.ok, `refused ${frame.id}`);
    assert.equal(JSON.parse(frame.body.toString()).kind, 'unavailable');
  }
  assert.equal(started, MAX_REQUESTS_IN_FLIGHT);
  gate.resolve();
  await eventually('the rest are answered', () => raw.frames.filter((f) => f.type === FrameType.Response).length === MAX_REQUESTS_IN_FLIGHT + extra);
  raw.socket.destroy();
});

test('a 1 MiB body makes the round trip; one over maxFrameSize fails alone on either side', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { maxFrameSize: 2 * 1024 * 1024 });
  await book.start('b', {
    maxFrameSize: 2 * 1024 * 1024,
    onRequest: async (method, body) => {
      if (method === 'inflate') return Buffer.alloc(3 * 1024 * 1024, 1);
      const flipped = Buffer.from(body);
      for (let i = 0; i < flipped.length; i++) flipped[i]! ^= 0x5a;
      return flipped;
    },
  });
  const body = randomBytes(1024 * 1024);
  const answer = await a.transport.request({ nodeId: 'b' }, 'flip', body, 10_000);
  assert.equal(answer.length, body.length);
  for (let i = 0; i < body.length; i++) {
    if ((answer[i]! ^ 0x5a) !== body[i]) assert.fail(`byte ${i} differs`);
  }

  await assert.rejects(a.transport.request({ nodeId: 'b' }, 'flip', Buffer.alloc(3 * 1024 * 1024), 10_000), FrameTooLargeError);
  await rejection(a.transport.request({ nodeId: 'b' }, 'inflate', Buffer.alloc(0), 10_000), RemoteError, 'KONSUL_ERR_FRAME_TOO_LARGE', 400);
  assert.ok((await a.transport.request({ nodeId: 'b' }, 'flip', Buffer.from([0x5a]), 5000)).equals(Buffer.from([0])));
  assert.equal(a.transport.stats().requestConnections, 1, 'the connection survived both');
});

test('garbage, oversized and corrupt frames on a request connection close only it; requests still work', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const b = await book.start('b', { maxFrameSize: 1024 * 1024, onRequest: echoHandler('b') });
  const port = b.transport.address.port;
  assert.equal((await a.transport.request({ nodeId: 'b' }, 'echo', Buffer.from('before'), 5000)).toString(), 'before');

  const hostile: Array<[string, (c: RawClient) => void]> = [
    ['random garbage', (c) => c.write(Buffer.from('GET / HTTP/1.1\r\nHost: konsul\r\n\r\n'.repeat(20)))],
    ['an oversized frame after a request hello', (c) => {
      c.requestHello();
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(0x7fff_ffff, 0);
      c.write(prefix);
    }],
    ['a request with a bad checksum', (c) => {
      c.requestHello();
      const frame = Buffer.concat(requestFrame(1, 'echo', Buffer.from('x')));
      frame[frame.length - 1]! ^= 0xff;
      c.write(frame);
    }],
    ['a Raft message on a request connection', (c) => {
      c.requestHello();
      c.write(encodeFrame({ type: FrameType.Message, message: heartbeat('raw', 'b', 1) }));
    }],
    ['a response sent to the listener', (c) => {
      c.requestHello();
      c.write(encodeFrame({ type: FrameType.Response, id: 1, ok: true, body: Buffer.alloc(0) }));
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
  assert.equal(b.inbox.length, 0);
  assert.equal((await a.transport.request({ nodeId: 'b' }, 'echo', Buffer.from('after'), 5000)).toString(), 'after');
  assert.equal(b.transport.stats().counters.requestsReceived, 2);
});

test('a listener that answers with garbage fails the pending call, not the caller', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a', { onRequest: echoHandler('a') });
  // A fake node: says hello properly, then answers a request with a corrupt frame.
  const sockets = new Set<Socket>();
  const fake = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let said = false;
    socket.on('data', () => {
      if (said) {
        const frame = encodeFrame({ type: FrameType.Response, id: 1, ok: true, body: Buffer.from('tampered') });
        frame[frame.length - 2]! ^= 0xff;
        socket.write(frame);
        return;
      }
      said = true;
      socket.write(encodeFrame({ type: FrameType.HelloOk, version: PROTOCOL_VERSION, nodeId: 'f' }));
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => fake.close(() => resolve()));
  });
  const address = `127.0.0.1:${(fake.address() as AddressInfo).port}`;
  await rejection(a.transport.request({ address }, 'echo', Buffer.from('x'), 30_000), PeerUnavailableError, 'KONSUL_ERR_PEER_UNAVAILABLE', 503);
  assert.equal(a.transport.stats().counters.badFrames, 1);
  assert.ok(a.logger.has('warn', 'bad frame on a request connection'));

  // The caller is fine: it still answers and makes requests.
  const b = await book.start('b', { onRequest: echoHandler('b') });
  assert.equal((await b.transport.request({ nodeId: 'a' }, 'whoami', Buffer.alloc(0), 5000)).toString(), 'a');
  assert.equal((await a.transport.request({ nodeId: 'b' }, 'whoami', Buffer.alloc(0), 5000)).toString(), 'b');
});

test('a caller that never reads its answers cannot make the listener buffer without bound', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const b = await book.start('b', {
    maxQueuedBytes: 2 * 1024 * 1024,
    writeTimeoutMs: 60_000,
    onRequest: async () => Buffer.alloc(1024 * 1024, 7),
  });
  const raw = new RawClient(b.transport.address.port);
  raw.socket.pause();
  raw.requestHello();
  for (let id = 1; id <= 64; id++) for (const piece of requestFrame(id, 'big', Buffer.alloc(0))) raw.write(piece);
  await eventually('the listener gives up on the connection', () => b.transport.stats().counters.requestsReceived > 0 && b.transport.stats().inboundConnections === 0);
  assert.equal(b.logger.lines.filter((l) => l.msg.includes('does not read its answers')).length, 1, 'said once');
  assert.ok(b.transport.stats().counters.bytesSent < 64 * 1024 * 1024, 'not every answer was buffered');
  // A paused socket does not notice the reset until it reads again.
  raw.socket.resume();
  await eventually('the caller sees the close', () => raw.closed);

  // Others are still served.
  const a = await book.start('a');
  assert.equal((await a.transport.request({ nodeId: 'b' }, 'big', Buffer.alloc(0), 5000)).length, 1024 * 1024);
});

test('a request with a bad time limit or body is refused before anything is sent', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  await book.start('b', { onRequest: echoHandler('b') });
  await assert.rejects(a.transport.request({ nodeId: 'b' }, 'echo', Buffer.alloc(0), 0), RangeError);
  await assert.rejects(a.transport.request({ nodeId: 'b' }, 'echo', Buffer.alloc(0), Number.NaN), RangeError);
  await assert.rejects(a.transport.request({}, 'echo', Buffer.alloc(0), 1000), RangeError);
  await assert.rejects(a.transport.request({ nodeId: 'b' }, 'echo', 'text' as unknown as Uint8Array, 1000), TypeError);
  assert.equal(a.transport.stats().counters.requestsSent, 0);
  assert.equal(a.transport.stats().requestConnections, 0);
});
