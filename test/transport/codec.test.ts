// The wire codec on its own: every message type survives a round trip, frames
// survive any chunking, and bad bytes end in a typed FrameError, never a crash.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { emptyMessage, MessageType, type Message } from '../../src/raft/types.js';
import { BufferWriter } from '../../src/byte-writer.js';
import {
  decodeErrorBody, decodeMessage, frameEncodeError, encodeErrorBody, encodeFrame, encodeMessage, FrameType, HandshakeRejectReason,
  requestFrame, responseFrame, snapshotChunkFrame, writeMessageFrame, type Frame,
} from '../../src/transport/codec.js';
import {
  FrameChecksumError, FrameDecodeError, FrameEncodeError, FrameError, FrameTooLargeError, RemoteError, UnknownFrameTypeError,
} from '../../src/transport/errors.js';
import { KonsulError } from '../../src/errors.js';
import { NotLeaderError } from '../../src/raft/index.js';
import { FrameParser } from '../../src/transport/parser.js';
import { appMessage, messageArb, normalize } from './arbitraries.js';
import { crc32 } from 'node:zlib';

function parseAll(chunks: Buffer[], parser = new FrameParser()): Frame[] {
  const frames: Frame[] = [];
  for (const chunk of chunks) parser.parse(chunk, (frame) => frames.push(frame));
  return frames;
}

function messageFrames(messages: Message[]): Buffer {
  const writer = new BufferWriter(64, frameEncodeError);
  for (const message of messages) writeMessageFrame(writer, message);
  return writer.take();
}

function framedMessages(frames: Frame[]): Message[] {
  return frames.map((frame) => {
    assert.equal(frame.type, FrameType.Message);
    return normalize(frame.message);
  });
}

/** A valid frame of `type` around `payload`, checksum and all. */
function rawFrame(type: number, payload: Buffer): Buffer {
  const frame = Buffer.alloc(4 + 1 + payload.length + 4);
  frame.writeUInt32BE(1 + payload.length + 4, 0);
  frame[4] = type;
  payload.copy(frame, 5);
  frame.writeUInt32BE(crc32(frame.subarray(0, 5 + payload.length)), 5 + payload.length);
  return frame;
}

const messageTypes = Object.values(MessageType).filter((v): v is MessageType => typeof v === 'number');

for (const type of messageTypes) {
  test(`a ${MessageType[type]} message round-trips through the payload codec`, () => {
    fc.assert(
      fc.property(messageArb(type), (message) => {
        assert.deepStrictEqual(normalize(decodeMessage(encodeMessage(message))), normalize(message));
      }),
      { numRuns: 150 },
    );
  });
}

test('any message round-trips inside a frame through the parser', () => {
  fc.assert(
    fc.property(fc.array(messageArb(), { minLength: 1, maxLength: 6 }), (messages) => {
      assert.deepStrictEqual(framedMessages(parseAll([messageFrames(messages)])), messages.map(normalize));
    }),
    { numRuns: 200 },
  );
});

test('frames survive any split of the stream into chunks', () => {
  fc.assert(
    fc.property(
      fc.array(messageArb(), { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (messages, cutSeeds) => {
        const stream = messageFrames(messages);
        const cuts = [...new Set(cutSeeds.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let at = 0;
        for (const cut of [...cuts, stream.length]) {
          chunks.push(stream.subarray(at, cut));
          at = cut;
        }
        assert.deepStrictEqual(framedMessages(parseAll(chunks)), messages.map(normalize));
      },
    ),
    { numRuns: 300 },
  );
});

test('three frames split at every single byte boundary decode the same', () => {
  const messages = [
    appMessage('a', 'b', 3, 17),
    { ...emptyMessage(MessageType.Heartbeat, 'a', 'b', 9), commit: 7, round: 42 },
    { ...emptyMessage(MessageType.ReadIndexResp, 'a', 'b', 9), index: 2 ** 40, context: 'req-ü-1' },
  ];
  const stream = messageFrames(messages);
  const expected = messages.map(normalize);
  for (let cut = 0; cut <= stream.length; cut++) {
    const frames = parseAll([stream.subarray(0, cut), stream.subarray(cut)]);
    assert.deepStrictEqual(framedMessages(frames), expected, `split at byte ${cut}`);
  }
  // And one byte per chunk, the worst case for the carry-over buffer.
  const bytes = [...stream].map((b) => Buffer.from([b]));
  assert.deepStrictEqual(framedMessages(parseAll(bytes)), expected);
});

test('several frames in one chunk are all delivered, in order, and a partial tail waits', () => {
  const messages = Array.from({ length: 50 }, (_, i) => appMessage('a', 'b', i % 4, 10, i * 10 + 1));
  const stream = messageFrames(messages);
  const parser = new FrameParser();
  const frames: Frame[] = [];
  parser.parse(stream.subarray(0, stream.length - 3), (f) => frames.push(f));
  assert.equal(frames.length, 49);
  assert.ok(parser.bufferedBytes > 0);
  parser.parse(stream.subarray(stream.length - 3), (f) => frames.push(f));
  assert.deepStrictEqual(framedMessages(frames), messages.map(normalize));
  assert.equal(parser.bufferedBytes, 0);
});

test('the parser never writes into the chunks it is given', () => {
  const stream = messageFrames(Array.from({ length: 20 }, (_, i) => appMessage('a', 'b', 3, 50, i * 3 + 1)));
  const pristine = Buffer.from(stream);
  const parser = new FrameParser();
  let frames = 0;
  for (let at = 0; at < stream.length; at += 333) parser.parse(stream.subarray(at, at + 333), () => frames++);
  assert.equal(frames, 20);
  assert.ok(stream.equals(pristine));
});

test('every frame type round-trips', () => {
  const frames: Frame[] = [
    { type: FrameType.Hello, hello: { version: 1, clusterId: 'dc1', from: 'a', to: 'b', token: 't0ken' } },
    { type: FrameType.Hello, hello: { version: 1, clusterId: 'dc1', from: 'a', to: 'b' } },
    { type: FrameType.HelloOk, version: 1, nodeId: 'b' },
    { type: FrameType.HelloReject, reason: HandshakeRejectReason.Token, detail: 'wrong join token' },
    { type: FrameType.Message, message: appMessage('a', 'b', 2, 5) },
    {
      type: FrameType.SnapshotBegin,
      message: {
        ...emptyMessage(MessageType.Snap, 'a', 'b', 4),
        snapshot: { meta: { index: 100, term: 4, conf: { members: [{ id: 'a', address: 'h:1', voter: true }] } } },
      },
    },
    { type: FrameType.SnapshotChunk, data: Buffer.from('chunk of state') },
    { type: FrameType.SnapshotEnd, totalBytes: 14 },
    { type: FrameType.SnapshotAbort, reason: 'disk read failed' },
    { type: FrameType.Request, id: 0xffff_ffff, method: 'propose', body: Buffer.from([0, 1, 2, 255]) },
    { type: FrameType.Request, id: 1, method: '', body: Buffer.alloc(0) },
    { type: FrameType.Response, id: 7, ok: true, body: Buffer.from('answer') },
    { type: FrameType.Response, id: 8, ok: false, body: Buffer.from('{"code":"X","message":"m","httpStatus":409}') },
    { type: FrameType.Challenge, nodeId: 'b', nonce: Buffer.alloc(32, 1), proof: Buffer.alloc(32, 2) },
    { type: FrameType.Proof, proof: Buffer.alloc(32, 3) },
  ];
  const decoded = parseAll([Buffer.concat(frames.map((f) => encodeFrame(f)))]);
  const norm = (f: Frame): Frame =>
    f.type === FrameType.Message || f.type === FrameType.SnapshotBegin ? { ...f, message: normalize(f.message) } : f;
  assert.deepStrictEqual(decoded.map(norm), frames.map(norm));
});

test('a snapshot chunk frame written in three pieces parses as one frame', () => {
  const data = Buffer.from('x'.repeat(1000));
  const pieces = snapshotChunkFrame(data);
  const frames = parseAll([Buffer.concat(pieces)]);
  assert.deepStrictEqual(frames, [{ type: FrameType.SnapshotChunk, data }]);
});

test('decoded entry data does not alias the bytes the parser was given', () => {
  const stream = messageFrames([appMessage('a', 'b', 4, 8)]);
  const frames = parseAll([stream]);
  stream.fill(0xee);
  const message = frames[0]!.type === FrameType.Message ? frames[0]!.message : assert.fail('not a message');
  assert.deepStrictEqual([...message.entries[2]!.data], new Array(8).fill(2));
});

test('a length prefix above the limit fails as soon as its 4 bytes arrive', () => {
  const parser = new FrameParser(1024);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(0xffff_ffff, 0);
  assert.throws(() => parser.parse(prefix, () => assert.fail('no frame')), FrameTooLargeError);
  // The stream has lost its boundaries; the parser refuses more input.
  assert.throws(() => parser.parse(Buffer.alloc(10), () => assert.fail('no frame')), FrameTooLargeError);

  const small = new FrameParser(1024);
  const frame = messageFrames([appMessage('a', 'b', 20, 100)]);
  assert.ok(frame.length > 1024);
  assert.throws(() => small.parse(frame.subarray(0, 4), () => {}), (err: unknown) => {
    assert.ok(err instanceof FrameTooLargeError);
    assert.equal(err.code, 'KONSUL_ERR_FRAME_TOO_LARGE');
    return true;
  });
});

test('a length prefix below the smallest frame is refused', () => {
  assert.throws(() => new FrameParser().parse(Buffer.from([0, 0, 0, 2, 1, 1]), () => {}), FrameTooLargeError);
});

test('a flipped bit anywhere in a frame is a checksum (or length) error', () => {
  const frame = messageFrames([appMessage('a', 'b', 2, 30)]);
  for (let at = 0; at < frame.length; at++) {
    for (const bit of [0x01, 0x80]) {
      const bad = Buffer.from(frame);
      bad[at]! ^= bit;
      let delivered = 0;
      try {
        new FrameParser(frame.length).parse(bad, () => delivered++);
      } catch (err) {
        assert.ok(err instanceof FrameError, `byte ${at}: ${String(err)}`);
        continue;
      }
      // A corrupted length that now claims more bytes just waits for them.
      assert.equal(delivered, 0, `byte ${at} bit ${bit} went unnoticed`);
    }
  }
  const bad = Buffer.from(frame);
  bad[20]! ^= 0xff;
  assert.throws(() => new FrameParser().parse(bad, () => {}), FrameChecksumError);
});

test('an unknown frame type with a good checksum is an UnknownFrameTypeError', () => {
  assert.throws(() => new FrameParser().parse(rawFrame(0xaa, Buffer.alloc(3)), () => {}), (err: unknown) => {
    assert.ok(err instanceof UnknownFrameTypeError);
    assert.equal(err.frameType, 0xaa);
    assert.equal(err.code, 'KONSUL_ERR_FRAME_TYPE');
    return true;
  });
});

test('payloads that do not decode are FrameDecodeErrors, checked before allocating', () => {
  const good = encodeMessage(appMessage('a', 'b', 2, 10));
  const cases: Array<[string, Buffer]> = [
    ['truncated', good.subarray(0, good.length - 1)],
    ['trailing bytes', Buffer.concat([good, Buffer.from([0])])],
    ['unknown message type', Buffer.concat([Buffer.from([99]), good.subarray(1)])],
    ['unknown flags', Buffer.concat([good.subarray(0, 1), Buffer.from([0x80]), good.subarray(2)])],
    ['empty', Buffer.alloc(0)],
  ];
  // An entry count of 2^32-1 in a tiny frame must not allocate 4 billion slots.
  const huge = Buffer.from(encodeMessage(emptyMessage(MessageType.App, 'a', 'b', 1)));
  huge.writeUInt32BE(0xffff_ffff, huge.length - 4);
  cases.push(['absurd entry count', huge]);
  // A u64 beyond 2^53.
  const big = Buffer.from(encodeMessage(emptyMessage(MessageType.App, 'a', 'b', 1)));
  big.writeUInt32BE(0xffff_ffff, 2 + 3 + 3);
  cases.push(['term beyond 2^53', big]);
  for (const [name, payload] of cases) {
    assert.throws(() => decodeMessage(payload), FrameDecodeError, name);
    assert.throws(() => new FrameParser().parse(rawFrame(FrameType.Message, payload), () => {}), FrameDecodeError, name);
  }
});

test('random garbage never escapes as anything but a FrameError', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 8 }), (chunks) => {
      const parser = new FrameParser(4096);
      try {
        for (const chunk of chunks) parser.parse(Buffer.from(chunk), () => {});
      } catch (err) {
        assert.ok(err instanceof FrameError, String(err));
      }
      assert.ok(parser.bufferedBytes <= 4 + 4096 + 200);
    }),
    { numRuns: 1000 },
  );
});

test('valid frames with mutated payloads (checksum recomputed) decode or fail with a FrameError', () => {
  fc.assert(
    fc.property(messageArb(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (message, flips) => {
      const payload = Buffer.from(encodeMessage(message));
      for (const [at, xor] of flips) payload[at % payload.length]! ^= xor;
      try {
        new FrameParser().parse(rawFrame(FrameType.Message, payload), () => {});
      } catch (err) {
        assert.ok(err instanceof FrameError, String(err));
      }
    }),
    { numRuns: 1000 },
  );
});

test('a message that cannot be encoded is a FrameEncodeError and leaves the writer clean', () => {
  const writer = new BufferWriter(16, frameEncodeError);
  writeMessageFrame(writer, appMessage('a', 'b', 1, 4));
  const before = writer.length;
  assert.throws(() => writeMessageFrame(writer, { ...appMessage('a', 'b', 1, 4), term: -1 }), FrameEncodeError);
  assert.throws(() => writeMessageFrame(writer, { ...appMessage('a', 'b', 1, 4), index: 1.5 }), FrameEncodeError);
  assert.throws(() => writeMessageFrame(writer, { ...appMessage('a', 'b', 1, 4), type: 77 as MessageType }), FrameEncodeError);
  assert.throws(() => writeMessageFrame(writer, { ...appMessage('a', 'b', 1, 4), context: 'x'.repeat(70_000) }), FrameEncodeError);
  assert.throws(() => writeMessageFrame(writer, appMessage('a', 'b', 10, 200), 1000), FrameTooLargeError);
  assert.equal(writer.length, before);
  assert.equal(framedMessages(parseAll([writer.take()])).length, 1);
});

test('the writer hands out taken bytes that later writes never overwrite', () => {
  const writer = new BufferWriter(8, frameEncodeError);
  writer.bytes(Buffer.from('first'));
  const first = writer.take();
  for (let i = 0; i < 100; i++) writer.bytes(Buffer.from('more bytes to force growth'));
  assert.equal(first.toString(), 'first');
  assert.equal(writer.take().length, 100 * 26);
});

test('request and response frames written in pieces equal the same frames encoded whole', () => {
  const body = Buffer.from('a forwarded write');
  const request = requestFrame(42, 'propose', body);
  assert.equal(request[1], body, 'the body goes out as it is, not copied');
  assert.ok(Buffer.concat(request).equals(encodeFrame({ type: FrameType.Request, id: 42, method: 'propose', body })));
  const response = responseFrame(42, false, body);
  assert.ok(Buffer.concat(response).equals(encodeFrame({ type: FrameType.Response, id: 42, ok: false, body })));
  assert.throws(() => requestFrame(1, 'big', Buffer.alloc(100), 64), FrameTooLargeError);
  assert.throws(() => responseFrame(1, true, Buffer.alloc(100), 64), FrameTooLargeError);
});

test('a response ok flag other than 0 or 1, or a truncated request, is a FrameDecodeError', () => {
  const badOk = Buffer.from([0, 0, 0, 1, 2]);
  assert.throws(() => new FrameParser().parse(rawFrame(FrameType.Response, badOk), () => {}), FrameDecodeError);
  const truncated = Buffer.from([0, 0, 0, 1, 0, 9, 0x61]);
  assert.throws(() => new FrameParser().parse(rawFrame(FrameType.Request, truncated), () => {}), FrameDecodeError);
});

test('error bodies keep code, message, kind and retryable; malformed ones become bad-gateway', () => {
  const err = decodeErrorBody(encodeErrorBody(new KonsulError('KONSUL_ERR_NOT_LEADER', 'not the leader', 'unavailable', { retryable: true })));
  assert.ok(err instanceof RemoteError);
  assert.deepEqual([err.code, err.message, err.kind, err.retryable], ['KONSUL_ERR_NOT_LEADER', 'not the leader', 'unavailable', true]);
  const raft = decodeErrorBody(encodeErrorBody(new NotLeaderError('n1')));
  assert.deepEqual([raft.code, raft.kind, raft.retryable], ['KONSUL_ERR_NOT_LEADER', 'unavailable', true]);
  const plain = decodeErrorBody(encodeErrorBody(new Error('boom')));
  assert.deepEqual([plain.code, plain.message, plain.kind, plain.retryable], ['KONSUL_ERR_REMOTE', 'boom', 'internal', false]);
  const thrownString = decodeErrorBody(encodeErrorBody('just a string'));
  assert.deepEqual([thrownString.code, thrownString.message, thrownString.kind], ['KONSUL_ERR_REMOTE', 'just a string', 'internal']);
  for (const body of ['not json', '[]', 'null', '{"code":1,"message":"m"}']) {
    const bad = decodeErrorBody(Buffer.from(body));
    assert.deepEqual([bad.code, bad.kind], ['KONSUL_ERR_REMOTE', 'bad-gateway'], body);
  }
  assert.equal(decodeErrorBody(Buffer.from('{"code":"X","message":"m","kind":"teapot"}')).kind, 'internal');
  assert.equal(decodeErrorBody(Buffer.from('{"code":"X","message":"m","retryable":"yes"}')).retryable, false);
});
