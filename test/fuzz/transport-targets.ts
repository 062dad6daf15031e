// Fuzz targets for the peer protocol: the frame parser fed hostile streams in
// arbitrary chunks, frame payloads with a valid length and checksum around
// hostile bytes (so they reach the payload decoders), and a real Transport
// listener taking hostile connections.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { emptyMessage, MessageType } from '../../src/raft/types.js';
import {
  decodeFrame, encodeFrame, FrameType, PROTOCOL_VERSION, type Frame,
} from '../../src/transport/codec.js';
import { FrameError } from '../../src/transport/errors.js';
import { FrameParser } from '../../src/transport/parser.js';
import { formatAddress, Transport } from '../../src/transport/transport.js';
import { messageArb, normalize } from '../transport/arbitraries.js';
import { hostileBytes, withTimeout, type FuzzTarget } from './runner.js';

const text = fc.string({ maxLength: 20 });
const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a));

/** Any frame a peer may legitimately send. */
export const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constant(FrameType.Hello as const),
    hello: fc.record({ version: fc.nat({ max: 0xffff }), clusterId: text, from: text, to: text, token: text }, { requiredKeys: ['version', 'clusterId', 'from', 'to'] }),
  }),
  fc.record({ type: fc.constant(FrameType.HelloOk as const), version: fc.nat({ max: 0xffff }), nodeId: text }),
  fc.record({ type: fc.constant(FrameType.HelloReject as const), reason: fc.integer({ min: 1, max: 4 }), detail: text }),
  fc.record({ type: fc.constant(FrameType.Message as const), message: messageArb() }),
  fc.record({ type: fc.constant(FrameType.SnapshotBegin as const), message: messageArb(MessageType.Snap) }),
  fc.record({ type: fc.constant(FrameType.SnapshotChunk as const), data: bytes }),
  fc.record({ type: fc.constant(FrameType.SnapshotEnd as const), totalBytes: fc.maxSafeNat() }),
  fc.record({ type: fc.constant(FrameType.SnapshotAbort as const), reason: text }),
  fc.record({ type: fc.constant(FrameType.Request as const), id: fc.nat({ max: 0xffff_ffff }), method: text, body: bytes }),
  fc.record({ type: fc.constant(FrameType.Response as const), id: fc.nat({ max: 0xffff_ffff }), ok: fc.boolean(), body: bytes }),
  // sec: the join-secret challenge and its answer (fixed-size nonce and proofs)
  fc.record({ type: fc.constant(FrameType.Challenge as const), nodeId: text, nonce: bytes32, proof: bytes32 }),
  fc.record({ type: fc.constant(FrameType.Proof as const), proof: bytes32 }),
) as fc.Arbitrary<Frame>;

/** A frame in a comparable form: messages normalized, byte fields as Buffers, absent optionals dropped. */
export function canonicalFrame(frame: Frame): unknown {
  switch (frame.type) {
    case FrameType.Message:
    case FrameType.SnapshotBegin:
      return { type: frame.type, message: normalize(frame.message) };
    case FrameType.SnapshotChunk:
      return { type: frame.type, data: Buffer.from(frame.data) };
    case FrameType.Request:
    case FrameType.Response:
      return { ...frame, body: Buffer.from(frame.body) };
    case FrameType.Challenge:
      return { ...frame, nonce: Buffer.from(frame.nonce), proof: Buffer.from(frame.proof) };
    case FrameType.Proof:
      return { type: frame.type, proof: Buffer.from(frame.proof) };
    case FrameType.Hello: {
      const { token, ...rest } = frame.hello;
      return { type: frame.type, hello: token === undefined ? { ...rest } : { ...rest, token } };
    }
    default:
      return { ...frame };
  }
}

/** A frame around any type byte and payload, with the right length and checksum. */
export function rawFrame(type: number, payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(4 + 1 + payload.length + 4);
  frame.writeUInt32BE(1 + payload.length + 4, 0);
  frame[4] = type;
  frame.set(payload, 5);
  frame.writeUInt32BE(crc32(frame.subarray(0, 5 + payload.length)), 5 + payload.length);
  return frame;
}

/** Cuts `stream` into chunks at the given (sorted, deduplicated) points. */
export function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    if (p > from) chunks.push(stream.subarray(from, p));
    from = Math.max(from, p);
  }
  chunks.push(stream.subarray(from));
  return chunks;
}

/** Feeds chunks; returns the frames delivered and the error that stopped the parser, if any. */
function feed(parser: FrameParser, chunks: Buffer[], limit: number): { frames: Frame[]; error: unknown } {
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    try {
      parser.parse(chunk, (f) => frames.push(f));
    } catch (error) {
      assert.ok(error instanceof FrameError, `the parser threw a non-FrameError: ${String((error as Error)?.stack ?? error)}`);
      // A failed parser stays failed: the stream has lost its frame boundaries.
      assert.throws(() => parser.parse(Buffer.alloc(1), () => {}), FrameError);
      return { frames, error };
    }
    // Never more held than one frame of the limit plus its prefix.
    assert.ok(parser.bufferedBytes <= limit + 4, `the parser holds ${parser.bufferedBytes} bytes over a ${limit}-byte limit`);
  }
  return { frames, error: undefined };
}

export const frameStreamTarget: FuzzTarget = {
  name: 'frame-stream',
  description: 'FrameParser: streams of valid, mutated and random frames cut into random chunks; valid streams round-trip, others fail with a FrameError, buffering stays under the limit',
  testRuns: 6000,
  async setup() {
    const limit = 4096;
    const streamArb = fc.array(frameArb, { minLength: 1, maxLength: 4 }).map((frames) => {
      const encoded: Buffer[] = [];
      for (const f of frames) {
        try {
          encoded.push(encodeFrame(f, 1 << 20));
        } catch {
          // A generated frame too big to encode is simply left out.
        }
      }
      return { frames: encoded.length === frames.length ? frames : undefined, bytes: Buffer.concat(encoded) };
    });
    const property = fc.property(
      streamArb,
      fc.oneof(fc.constant(undefined), hostileBytes(fc.constant(new Uint8Array()), 300)),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 12 }),
      (stream, garbage, mutate, cuts) => {
        // Either the valid stream as is, or mutated by splicing garbage into it.
        let input = stream.bytes;
        if (mutate && garbage !== undefined) {
          const at = cuts[0] === undefined ? 0 : cuts[0] % (input.length + 1);
          input = Buffer.concat([input.subarray(0, at), garbage, input.subarray(at)]);
        }
        const parser = new FrameParser(1 << 20);
        const { frames, error } = feed(parser, split(input, cuts), 1 << 20);
        if (input === stream.bytes && stream.frames !== undefined) {
          assert.equal(error, undefined, `a valid stream failed: ${String(error)}`);
          assert.deepEqual(frames.map(canonicalFrame), stream.frames.map(canonicalFrame));
        }
        // The same bytes under a small limit: nothing over it is delivered or waited for.
        const small = new FrameParser(limit);
        const under = feed(small, split(input, cuts), limit);
        for (const f of under.frames) {
          assert.ok(encodeFrame(f, 1 << 20).length - 4 <= limit, 'a frame over the limit was delivered');
        }
        if (under.error === undefined && small.bufferedBytes >= 4) {
          // A pending frame whose length prefix has arrived: that length was checked on arrival.
          const declared = input.readUInt32BE(input.length - small.bufferedBytes);
          assert.ok(declared <= limit, `the parser waits for a ${declared}-byte frame over its ${limit}-byte limit`);
        }
      },
    );
    return { property, teardown: async () => {} };
  },
};

const frameTypeArb = fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 255 }));

export const framePayloadTarget: FuzzTarget = {
  name: 'frame-payload',
  description: 'decodeFrame: hostile payloads under a correct length and checksum, for every frame type; a decoded frame re-encodes to one that decodes the same',
  testRuns: 12000,
  async setup() {
    const validPayload = frameArb.map((f) => {
      try {
        return { type: f.type as number, payload: encodeFrame(f, 1 << 20).subarray(5, -4) };
      } catch {
        return { type: f.type as number, payload: Buffer.alloc(0) };
      }
    });
    const caseArb = fc.oneof(
      validPayload.chain((v) => hostileBytes(fc.constant(v.payload), 200).map((payload) => ({ type: v.type, payload }))),
      fc.record({ type: frameTypeArb, payload: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) }),
    );
    const property = fc.property(caseArb, ({ type, payload }) => {
      const frame = rawFrame(type, payload);
      let decoded: Frame | undefined;
      try {
        new FrameParser(1 << 20).parse(frame, (f) => { decoded = f; });
      } catch (error) {
        assert.ok(error instanceof FrameError, `non-FrameError: ${String((error as Error)?.stack ?? error)}`);
        return;
      }
      assert.ok(decoded !== undefined, 'a whole valid frame delivered nothing');
      // What decodes must survive a round trip: encode it again and decode that.
      const again = encodeFrame(decoded, 1 << 20);
      const twice = decodeFrame(again[4]!, again, 5, again.length - 4);
      assert.deepEqual(canonicalFrame(twice), canonicalFrame(decoded));
    });
    return { property, teardown: async () => {} };
  },
};

/** A hostile connection: what it sends before closing its side. */
const connectionArb = fc.oneof(
  // Garbage from the first byte.
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => ({ hello: false, body: Buffer.from(a) })),
  // A mutated hello.
  hostileBytes(frameArb.filter((f) => f.type === FrameType.Hello).map((f) => encodeFrame(f)), 100)
    .map((b) => ({ hello: false, body: b })),
  // Well-framed frames of any type with no hello first.
  fc.array(fc.oneof(
    frameArb.map((f) => { try { return encodeFrame(f); } catch { return Buffer.alloc(0); } }),
    fc.record({ type: frameTypeArb, payload: fc.uint8Array({ maxLength: 100 }) }).map(({ type, payload }) => rawFrame(type, payload)),
  ), { minLength: 1, maxLength: 3 }).map((frames) => ({ hello: false, body: Buffer.concat(frames) })),
  // A valid hello (raft link or request connection), then hostile frames.
  fc.tuple(
    fc.boolean(),
    fc.array(fc.oneof(
      frameArb.map((f) => { try { return encodeFrame(f); } catch { return Buffer.alloc(0); } }),
      fc.record({ type: frameTypeArb, payload: fc.uint8Array({ maxLength: 100 }) }).map(({ type, payload }) => rawFrame(type, payload)),
      fc.uint8Array({ maxLength: 50 }).map((a) => Buffer.from(a)),
    ), { maxLength: 4 }),
  ).map(([raft, frames]) => ({ hello: true, raft, body: Buffer.concat(frames) })),
);

export const listenerTarget: FuzzTarget = {
  name: 'transport-listener',
  description: 'a real Transport listener: hostile connections (garbage, mutated hellos, valid hello then hostile frames); each is closed, nothing logs an internal error, and a real peer still gets through afterwards',
  testRuns: 600,
  async setup() {
    // Only error lines are kept (each is a defect); the rest are counted, so a long run holds no memory for them.
    const errors: Array<{ msg: string; fields: object }> = [];
    let warnings = 0;
    const logger = {
      debug() {}, info() {},
      warn() { warnings++; },
      error(fields: object, msg = '') { errors.push({ msg, fields }); },
    };
    const received: string[] = [];
    const listener = new Transport({
      nodeId: 'fuzz-target', clusterId: 'fuzz', listen: { host: '127.0.0.1', port: 0 },
      resolve: () => undefined,
      onMessage: (m) => { if (m.from === 'real-peer') received.push(m.from); },
      onRequest: async (method, body) => Buffer.concat([Buffer.from(method), body]),
      logger, handshakeTimeoutMs: 2000,
    });
    await listener.start();
    const { port } = listener.address;
    const property = fc.asyncProperty(connectionArb, fc.array(fc.nat(), { maxLength: 6 }), async (c, cuts) => {
      let input = c.body;
      if (c.hello) {
        const hello = encodeFrame({
          type: FrameType.Hello,
          hello: { version: PROTOCOL_VERSION, clusterId: 'fuzz', from: 'fuzzer', to: (c as { raft?: boolean }).raft ? 'fuzz-target' : '' },
        });
        input = Buffer.concat([hello, input]);
      }
      await withTimeout('a hostile connection to close', 5000, new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => {});
        socket.on('close', () => resolve());
        socket.on('data', () => {});
        socket.once('connect', () => {
          const pieces = split(input, cuts);
          for (const p of pieces) socket.write(p);
          socket.end();
        });
        socket.setTimeout(4500, () => reject(new Error('socket idle')));
      }));
      assert.deepEqual(errors.splice(0), [], 'the listener logged an internal error');
    });
    return {
      property,
      async after() {
        // A real peer still gets through.
        const peer = new Transport({
          nodeId: 'real-peer', clusterId: 'fuzz', listen: { host: '127.0.0.1', port: 0 },
          resolve: (id) => (id === 'fuzz-target' ? formatAddress(listener.address) : undefined),
          onMessage: () => {},
        });
        await peer.start();
        try {
          peer.send(emptyMessage(MessageType.Heartbeat, 'real-peer', 'fuzz-target', 1));
          await withTimeout('a real peer message after the fuzzing', 5000, (async () => {
            while (!received.includes('real-peer')) await new Promise((r) => setTimeout(r, 10));
          })());
        } finally {
          await peer.close();
        }
        assert.ok(listener.stats().counters.badFrames > 0 && warnings > 0, 'no bad frame was ever seen: the target did not exercise refusal');
      },
      teardown: () => listener.close(),
    };
  },
};

