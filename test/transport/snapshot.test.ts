// Streamed snapshots between real transports: big data in chunks, a slow
// reader, an aborted source, a lost connection, and the inline fallback.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { emptyMessage, MessageType, type Message } from '../../src/raft/types.js';
import {
  ConnectionClosedError, PeerUnreachableError, SnapshotAbortedError, SnapshotBusyError,
} from '../../src/transport/errors.js';
import { SnapshotChunkStream } from '../../src/transport/snapshot-stream.js';
import { normalize } from './arbitraries.js';
import { AddressBook, eventually, heartbeat, keepSending } from './helpers.js';

function snapMessage(from: string, to: string): Message {
  return {
    ...emptyMessage(MessageType.Snap, from, to, 7),
    snapshot: {
      meta: {
        index: 12_345, term: 6,
        conf: { members: [{ id: from, address: 'h1:7000', voter: true }, { id: to, address: 'h2:7000', voter: false }] },
      },
    },
  };
}

async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  let i = 0;
  while (at < data.length) {
    const size = sizes[i++ % sizes.length]!;
    yield data.subarray(at, at + size);
    at += size;
    await sleep(0);
  }
}

interface Received {
  message: Message;
  data?: Buffer;
  error?: unknown;
}

/** onSnapshot that reads everything (optionally slowly) and records the result. */
function recordSnapshots(into: Received[], events: string[], delayMs = 0) {
  return async (message: Message, chunks: AsyncIterable<Buffer>): Promise<void> => {
    events.push('snapshot');
    const record: Received = { message };
    into.push(record);
    const parts: Buffer[] = [];
    try {
      for await (const chunk of chunks) {
        parts.push(chunk);
        if (delayMs > 0) await sleep(delayMs);
      }
      record.data = Buffer.concat(parts);
    } catch (err) {
      record.error = err;
    }
  };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('a large snapshot streams in chunks, in order with the messages around it', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const received: Received[] = [];
  const events: string[] = [];
  const a = await book.start('a', { snapshotChunkSize: 256 * 1024 });
  const b = await book.start('b', {
    onSnapshot: recordSnapshots(received, events),
    onMessage: (m) => events.push(`message ${m.round}`),
  });

  // Chunks from the caller of odd sizes, one bigger than the chunk size (it gets split).
  const data = randomBytes(5 * 1024 * 1024 + 123);
  a.transport.send(heartbeat('a', 'b', 1));
  const sending = a.transport.sendSnapshot(snapMessage('a', 'b'), pieces(data, [65_536, 3 * 1024 * 1024, 1]));
  a.transport.send(heartbeat('a', 'b', 2));
  await sending;
  await eventually('b has the whole snapshot', () => received[0]?.data !== undefined || received[0]?.error !== undefined);
  assert.equal(received[0]!.error, undefined);
  assert.equal(sha(received[0]!.data!), sha(data));
  assert.deepStrictEqual(normalize(received[0]!.message), normalize(snapMessage('a', 'b')));
  await eventually('the message after the snapshot', () => events.includes('message 2'));
  assert.deepEqual(events, ['message 1', 'snapshot', 'message 2']);

  const counters = a.transport.stats().counters;
  assert.equal(counters.snapshotsSent, 1);
  assert.equal(b.transport.stats().counters.snapshotsReceived, 1);
});

test('a slow reader on the receiving side still gets every byte', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const received: Received[] = [];
  const a = await book.start('a', { snapshotChunkSize: 64 * 1024 });
  await book.start('b', { onSnapshot: recordSnapshots(received, [], 2) });
  const data = randomBytes(12 * 1024 * 1024);
  await a.transport.sendSnapshot(snapMessage('a', 'b'), pieces(data, [1024 * 1024]));
  await eventually('read to the end', () => received[0]?.data !== undefined, 20_000);
  assert.equal(sha(received[0]!.data!), sha(data));
});

test('a source that fails part-way aborts the stream; the receiver is told and the link stays up', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const received: Received[] = [];
  const a = await book.start('a');
  const b = await book.start('b', { onSnapshot: recordSnapshots(received, []) });
  async function* failing(): AsyncGenerator<Buffer> {
    yield randomBytes(100_000);
    throw new Error('disk read failed');
  }
  await assert.rejects(a.transport.sendSnapshot(snapMessage('a', 'b'), failing()), /disk read failed/);
  await eventually('receiver sees the abort', () => received[0]?.error !== undefined);
  assert.ok(received[0]!.error instanceof SnapshotAbortedError);
  assert.match((received[0]!.error as Error).message, /disk read failed/);
  assert.equal(a.transport.stats().counters.snapshotsFailed, 1);

  await keepSending(a.transport, 'a', 'b', 'messages flow after the abort', () => b.inbox.length > 0);
  assert.equal(a.transport.stats().counters.reconnects, 0);
});

test('one snapshot per peer at a time', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const received: Received[] = [];
  const a = await book.start('a');
  await book.start('b', { onSnapshot: recordSnapshots(received, []) });
  const first = a.transport.sendSnapshot(snapMessage('a', 'b'), pieces(randomBytes(1024 * 1024), [4096]));
  await assert.rejects(a.transport.sendSnapshot(snapMessage('a', 'b'), pieces(Buffer.alloc(10), [10])), SnapshotBusyError);
  await first;
  await a.transport.sendSnapshot(snapMessage('a', 'b'), pieces(Buffer.from('second'), [3]));
  await eventually('both arrive', () => received.length === 2 && received[1]!.data !== undefined);
  assert.equal(received[1]!.data!.toString(), 'second');
});

test('a receiver that stops reading early discards the rest; messages keep flowing', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  let firstChunk: Buffer | undefined;
  const a = await book.start('a', { snapshotChunkSize: 64 * 1024 });
  const b = await book.start('b', {
    onSnapshot: async (_m, chunks) => {
      for await (const chunk of chunks) {
        firstChunk = chunk;
        break;
      }
    },
  });
  await a.transport.sendSnapshot(snapMessage('a', 'b'), pieces(randomBytes(8 * 1024 * 1024), [1024 * 1024]));
  assert.equal(firstChunk?.length, 64 * 1024);
  await keepSending(a.transport, 'a', 'b', 'messages after the discarded snapshot', () => b.inbox.length > 0);
});

test('without onSnapshot a small streamed snapshot arrives inline through onMessage', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const b = await book.start('b');
  const data = randomBytes(300_000);
  await a.transport.sendSnapshot(snapMessage('a', 'b'), pieces(data, [100_000]));
  await eventually('delivered', () => b.inbox.length === 1);
  assert.equal(b.inbox[0]!.type, MessageType.Snap);
  assert.equal(sha(Buffer.from(b.inbox[0]!.snapshot!.data!)), sha(data));
});

test('an inline snapshot (data in the message) goes through send() like any message', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  const b = await book.start('b');
  const message = snapMessage('a', 'b');
  message.snapshot!.data = randomBytes(50_000);
  a.transport.send(message);
  await eventually('delivered', () => b.inbox.length === 1);
  assert.deepStrictEqual(normalize(b.inbox[0]!), normalize(message));
});

test('a snapshot to an unreachable peer rejects', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const a = await book.start('a');
  await assert.rejects(a.transport.sendSnapshot(snapMessage('a', 'nowhere'), pieces(Buffer.alloc(1), [1])), PeerUnreachableError);
  book.addresses.set('closed-port', '127.0.0.1:1');
  await assert.rejects(a.transport.sendSnapshot(snapMessage('a', 'closed-port'), pieces(Buffer.alloc(1), [1])), PeerUnreachableError);
});

test('losing the connection mid-snapshot rejects on both sides', async (t) => {
  const book = new AddressBook();
  t.after(() => book.closeAll());
  const received: Received[] = [];
  const a = await book.start('a');
  const b = await book.start('b', { onSnapshot: recordSnapshots(received, []) });
  async function* interrupted(): AsyncGenerator<Buffer> {
    yield randomBytes(64 * 1024);
    await eventually('b is reading the stream', () => received.length === 1);
    await b.transport.close();
    await eventually('a notices', () => a.transport.stats().peers[0]!.state !== 'connected');
    yield randomBytes(64 * 1024);
  }
  await assert.rejects(a.transport.sendSnapshot(snapMessage('a', 'b'), interrupted()), ConnectionClosedError);
  await eventually('receiver sees the failure', () => received[0]?.error !== undefined);
  assert.ok(received[0]!.error instanceof ConnectionClosedError);
});

test('the chunk stream pauses its feed at the high-water mark and resumes below half', async () => {
  const calls: boolean[] = [];
  const stream = new SnapshotChunkStream(100, (paused) => calls.push(paused));
  for (let i = 0; i < 4; i++) stream.push(Buffer.alloc(30));
  assert.deepEqual(calls, [true]);
  assert.equal(stream.bufferedBytes, 120);
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next();
  await iterator.next();
  assert.deepEqual(calls, [true]);
  await iterator.next();
  assert.deepEqual(calls, [true, false]);
  stream.push(Buffer.from('tail'));
  stream.end();
  assert.equal((await iterator.next()).value?.length, 30);
  assert.equal((await iterator.next()).value?.toString(), 'tail');
  assert.equal((await iterator.next()).done, true);
  assert.throws(() => stream[Symbol.asyncIterator](), TypeError);
});
