// The peer wire format: frames (length, type, payload, crc32) and the payloads
// inside them (hello, Raft messages, snapshot chunks). Pure functions, no I/O.
//
// A frame on the wire, all integers big-endian:
//
//   u32 length    bytes after this field: 1 (type) + payload + 4 (crc); at most maxFrameSize
//   u8  type      FrameType
//   ... payload
//   u32 crc32     zlib crc32 of the length, type and payload bytes
//
// Request: u32 id, str method, then the body to the frame's end.
// Response: u32 id, u8 ok (1 answer, 0 error), then the body to the frame's end:
//   the answer, or UTF-8 JSON {code, message, kind, retryable} of the error.
//
// A Message payload (FrameType.Message and FrameType.SnapshotBegin):
//
//   u8 type, u8 flags (1 reject, 2 has snapshot, 4 snapshot has inline data)
//   str from, str to                          str = u16 byte length + UTF-8
//   u64 term, logTerm, index, commit, rejectHint, round
//   str context
//   u32 entry count, then count x (u64 term, u64 index, u8 type, u32 data length),
//       then every entry's data bytes back to back (one copy out on decode)
//   if snapshot: u64 index, u64 term, u32 member count,
//       count x (str id, str address, u8 voter), then if flag 4: u32 length, data

import { crc32 } from 'node:zlib';
import { isErrorKind } from '../errors.js';
import type { Entry, Member, Message, NodeId, Snapshot } from '../raft/types.js';
import { EntryType, MessageType } from '../raft/types.js';
import { BufferReader, getU32, getU64, type MakeError } from '../byte-reader.js';
import { BufferWriter, checkU64, putU32, putU64 } from '../byte-writer.js';
import { FrameDecodeError, FrameEncodeError, FrameTooLargeError, RemoteError, UnknownFrameTypeError } from './errors.js';

/** What the shared byte reader and writer raise on this format's bad input. */
export const frameDecodeError: MakeError = (message) => new FrameDecodeError(message);
export const frameEncodeError: MakeError = (message) => new FrameEncodeError(message);

// The protocol versions live in a file of their own, so `konsul version` reads them without loading the codec.
export { LEGACY_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './protocol-version.js';
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Before a peer has said hello it is a stranger: it may not make us buffer more than this. */
export const HANDSHAKE_MAX_FRAME_SIZE = 64 * 1024;

/** Bytes of the length prefix. */
export const FRAME_PREFIX_SIZE = 4;
/** The smallest length prefix: a type byte and a checksum around an empty payload. */
export const MIN_FRAME_LENGTH = 1 + 4;

export enum FrameType {
  /** Dialer → listener: who I am and what cluster I belong to. */
  Hello = 1,
  /**
   * Listener → dialer: accepted. On a Raft link the dialer sends and the
   * listener only reads from now on; on a request connection the listener
   * writes Responses.
   */
  HelloOk = 2,
  /** Listener → dialer: refused, with a reason; the listener closes. */
  HelloReject = 3,
  /** One Raft message. */
  Message = 4,
  /** A Snap message whose data follows as SnapshotChunk frames, then SnapshotEnd or SnapshotAbort. */
  SnapshotBegin = 5,
  SnapshotChunk = 6,
  /** The stream is complete; carries the total data length as a cross-check. */
  SnapshotEnd = 7,
  /** The sender failed part-way; what was received must be thrown away. The connection stays up. */
  SnapshotAbort = 8,
  /** Dialer → listener on a request connection (hello.to is empty): call a method. */
  Request = 9,
  /** Listener → dialer: the answer to the Request with the same id. */
  Response = 10,
  /**
   * sec: listener → dialer, when the dialer's hello asked for a challenge (its token field carries a
   * nonce instead of the join secret, see transport/join-proof.ts): the listener's node id and nonce,
   * and its proof that it holds the secret.
   */
  Challenge = 11,
  /** sec: dialer → listener: the answer to a Challenge, an HMAC with the secret over both nonces and both node ids. */
  Proof = 12,
}

export enum HandshakeRejectReason {
  ProtocolVersion = 1,
  ClusterId = 2,
  Token = 3,
  /** The dialer's node id is empty or ours, or it meant to reach another node. */
  NodeId = 4,
}

export interface Hello {
  /** The newest protocol version the dialer speaks (see PROTOCOL_VERSION). */
  version: number;
  clusterId: string;
  /** The dialing node. */
  from: NodeId;
  /**
   * The node the dialer means to reach; a listener that is someone else refuses
   * (a stale address). Empty for a request connection, which any node answers.
   */
  to: NodeId;
  token?: string;
}

export type Frame =
  | { type: FrameType.Hello; hello: Hello }
  | { type: FrameType.HelloOk; version: number; nodeId: NodeId }
  | { type: FrameType.HelloReject; reason: HandshakeRejectReason; detail: string }
  | { type: FrameType.Message; message: Message }
  | { type: FrameType.SnapshotBegin; message: Message }
  | { type: FrameType.SnapshotChunk; data: Buffer }
  | { type: FrameType.SnapshotEnd; totalBytes: number }
  | { type: FrameType.SnapshotAbort; reason: string }
  | { type: FrameType.Request; id: number; method: string; body: Buffer }
  | { type: FrameType.Response; id: number; ok: boolean; body: Buffer }
  | { type: FrameType.Challenge; nodeId: NodeId; nonce: Buffer; proof: Buffer }
  | { type: FrameType.Proof; proof: Buffer };

/** sec: bytes of a handshake nonce and of a proof (HMAC-SHA256). */
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;

const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const FLAG_SNAPSHOT_DATA = 4;
const KNOWN_FLAGS = FLAG_REJECT | FLAG_SNAPSHOT | FLAG_SNAPSHOT_DATA;
const ENTRY_HEADER_SIZE = 8 + 8 + 1 + 4;
/** id and address lengths plus the voter byte of an empty-string member. */
const MIN_MEMBER_SIZE = 2 + 2 + 1;
const MAX_MESSAGE_TYPE = MessageType.ReadIndexResp;
const EMPTY = Buffer.alloc(0);

// ---- frames -------------------------------------------------------------

/** Starts a frame; returns the mark endFrame needs. */
export function beginFrame(writer: BufferWriter, type: FrameType): number {
  const mark = writer.mark();
  writer.u32(0).u8(type);
  return mark;
}

/**
 * Patches the length and appends the checksum. A frame over the limit is
 * rolled back out of the writer and reported, so the writer stays usable.
 */
export function endFrame(writer: BufferWriter, mark: number, maxFrameSize: number): void {
  const length = writer.mark() - mark - FRAME_PREFIX_SIZE + 4;
  if (length > maxFrameSize) {
    writer.truncate(mark);
    throw new FrameTooLargeError(length, maxFrameSize);
  }
  writer.patchU32(mark, length);
  writer.u32(crc32(writer.viewSince(mark)));
}

/** Appends one Message frame; the hot path of send(). */
export function writeMessageFrame(writer: BufferWriter, message: Message, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): void {
  const mark = beginFrame(writer, FrameType.Message);
  try {
    writeMessage(writer, message);
  } catch (err) {
    writer.truncate(mark);
    throw err;
  }
  endFrame(writer, mark, maxFrameSize);
}

/** Appends any frame. */
export function writeFrame(writer: BufferWriter, frame: Frame, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): void {
  const mark = beginFrame(writer, frame.type);
  try {
    switch (frame.type) {
      case FrameType.Hello: {
        const { hello } = frame;
        writer.u16(hello.version).string16(hello.clusterId, 'clusterId')
          .string16(hello.from, 'from').string16(hello.to, 'to');
        if (hello.token === undefined) writer.u8(0);
        else writer.u8(1).string16(hello.token, 'token');
        break;
      }
      case FrameType.HelloOk:
        writer.u16(frame.version).string16(frame.nodeId, 'nodeId');
        break;
      case FrameType.HelloReject:
        writer.u8(frame.reason).string16(frame.detail, 'detail');
        break;
      case FrameType.Message:
      case FrameType.SnapshotBegin:
        writeMessage(writer, frame.message);
        break;
      case FrameType.SnapshotChunk:
        writer.bytes(frame.data);
        break;
      case FrameType.SnapshotEnd:
        writer.u64(frame.totalBytes, 'totalBytes');
        break;
      case FrameType.SnapshotAbort:
        writer.string16(frame.reason.slice(0, 1024), 'reason');
        break;
      case FrameType.Request:
        writer.u32(frame.id).string16(frame.method, 'method').bytes(frame.body);
        break;
      case FrameType.Response:
        writer.u32(frame.id).u8(frame.ok ? 1 : 0).bytes(frame.body);
        break;
      case FrameType.Challenge:
        if (frame.nonce.length !== NONCE_BYTES || frame.proof.length !== PROOF_BYTES) throw new FrameEncodeError('challenge nonce or proof of the wrong size');
        writer.string16(frame.nodeId, 'nodeId').bytes(frame.nonce).bytes(frame.proof);
        break;
      case FrameType.Proof:
        if (frame.proof.length !== PROOF_BYTES) throw new FrameEncodeError('proof of the wrong size');
        writer.bytes(frame.proof);
        break;
    }
  } catch (err) {
    writer.truncate(mark);
    throw err;
  }
  endFrame(writer, mark, maxFrameSize);
}

/** One frame as its own buffer (handshake frames, tests). */
export function encodeFrame(frame: Frame, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): Buffer {
  const writer = new BufferWriter(256, frameEncodeError);
  writeFrame(writer, frame, maxFrameSize);
  return writer.take();
}

/**
 * A SnapshotChunk frame as three pieces (prefix and type, the data itself,
 * checksum), so a large chunk goes to the socket without being copied.
 */
export function snapshotChunkFrame(data: Uint8Array, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): [Buffer, Uint8Array, Buffer] {
  const length = 1 + data.length + 4;
  if (length > maxFrameSize) throw new FrameTooLargeError(length, maxFrameSize);
  const head = Buffer.allocUnsafe(FRAME_PREFIX_SIZE + 1);
  head.writeUInt32BE(length, 0);
  head[4] = FrameType.SnapshotChunk;
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt32BE(crc32(data, crc32(head)), 0);
  return [head, data, tail];
}

/**
 * A Request frame as three pieces (header, the body itself, checksum), so a
 * large body goes to the socket without being copied into a frame buffer.
 */
export function requestFrame(id: number, method: string, body: Uint8Array, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): [Buffer, Uint8Array, Buffer] {
  const writer = new BufferWriter(16 + method.length * 3, frameEncodeError);
  beginFrame(writer, FrameType.Request);
  writer.u32(id).string16(method, 'method');
  return piecesAround(writer.take(), body, maxFrameSize);
}

/** A Response frame as three pieces, like requestFrame. */
export function responseFrame(id: number, ok: boolean, body: Uint8Array, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): [Buffer, Uint8Array, Buffer] {
  const writer = new BufferWriter(16, frameEncodeError);
  beginFrame(writer, FrameType.Response);
  writer.u32(id).u8(ok ? 1 : 0);
  return piecesAround(writer.take(), body, maxFrameSize);
}

/** Patches the length into `head` (prefix, type, fixed fields) and makes the checksum over head and body. */
function piecesAround(head: Buffer, body: Uint8Array, maxFrameSize: number): [Buffer, Uint8Array, Buffer] {
  const length = head.length - FRAME_PREFIX_SIZE + body.length + 4;
  if (length > maxFrameSize) throw new FrameTooLargeError(length, maxFrameSize);
  head.writeUInt32BE(length, 0);
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt32BE(crc32(body, crc32(head)), 0);
  return [head, body, tail];
}

/** Decodes the payload of one frame whose length and checksum have been checked. */
export function decodeFrame(type: number, buffer: Buffer, start: number, end: number): Frame {
  const reader = new BufferReader(buffer, start, end, frameDecodeError);
  let frame: Frame;
  switch (type) {
    case FrameType.Hello: {
      const version = reader.u16('version');
      const clusterId = reader.string16('clusterId');
      const from = reader.string16('from');
      const to = reader.string16('to');
      const hasToken = reader.u8('token flag');
      if (hasToken > 1) throw new FrameDecodeError(`token flag ${hasToken}`);
      const hello: Hello = { version, clusterId, from, to };
      if (hasToken === 1) hello.token = reader.string16('token');
      frame = { type, hello };
      break;
    }
    case FrameType.HelloOk:
      frame = { type, version: reader.u16('version'), nodeId: reader.string16('nodeId') };
      break;
    case FrameType.HelloReject:
      frame = { type, reason: reader.u8('reason'), detail: reader.string16('detail') };
      break;
    case FrameType.Message:
    case FrameType.SnapshotBegin:
      frame = { type, message: readMessage(reader) };
      break;
    case FrameType.SnapshotChunk:
      frame = { type, data: reader.copyBytes(end - start, 'chunk') };
      break;
    case FrameType.SnapshotEnd:
      frame = { type, totalBytes: reader.u64('totalBytes') };
      break;
    case FrameType.SnapshotAbort:
      frame = { type, reason: reader.string16('reason') };
      break;
    case FrameType.Request: {
      const id = reader.u32('id');
      const method = reader.string16('method');
      frame = { type, id, method, body: reader.copyBytes(reader.remaining, 'body') };
      break;
    }
    case FrameType.Response: {
      const id = reader.u32('id');
      const ok = reader.u8('ok');
      if (ok > 1) throw new FrameDecodeError(`ok flag ${ok}`);
      frame = { type, id, ok: ok === 1, body: reader.copyBytes(reader.remaining, 'body') };
      break;
    }
    case FrameType.Challenge: {
      const nodeId = reader.string16('nodeId');
      frame = { type, nodeId, nonce: reader.copyBytes(NONCE_BYTES, 'nonce'), proof: reader.copyBytes(PROOF_BYTES, 'proof') };
      break;
    }
    case FrameType.Proof:
      frame = { type, proof: reader.copyBytes(PROOF_BYTES, 'proof') };
      break;
    default:
      throw new UnknownFrameTypeError(type);
  }
  reader.expectEnd(`frame type ${type}`);
  return frame;
}

// ---- request errors -----------------------------------------------------

/** A handler's error as the body of a failed Response: code, message, kind and retryable survive the hop. */
export function encodeErrorBody(err: unknown): Buffer {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; kind?: unknown; retryable?: unknown };
  return Buffer.from(JSON.stringify({
    code: typeof e.code === 'string' ? e.code : 'KONSUL_ERR_REMOTE',
    message: typeof e.message === 'string' ? e.message : String(err),
    kind: isErrorKind(e.kind) ? e.kind : 'internal',
    retryable: e.retryable === true,
  }), 'utf8');
}

/** The body of a failed Response as the error to throw at the caller. */
export function decodeErrorBody(body: Buffer): RemoteError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const e = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { code?: unknown; message?: unknown; kind?: unknown; retryable?: unknown };
  if (typeof e.code !== 'string' || typeof e.message !== 'string') {
    return new RemoteError('KONSUL_ERR_REMOTE', 'the peer answered with a malformed error', 'bad-gateway');
  }
  return new RemoteError(e.code, e.message, isErrorKind(e.kind) ? e.kind : 'internal', e.retryable === true);
}

// ---- messages -----------------------------------------------------------

/** Appends a Message payload (no frame around it). */
export function writeMessage(writer: BufferWriter, message: Message): void {
  if (!Number.isInteger(message.type) || message.type < 1 || message.type > MAX_MESSAGE_TYPE) {
    throw new FrameEncodeError(`unknown message type ${String(message.type)}`);
  }
  const snapshot = message.snapshot;
  const snapshotData = snapshot?.data;
  let flags = 0;
  if (message.reject) flags |= FLAG_REJECT;
  if (snapshot !== undefined) flags |= FLAG_SNAPSHOT;
  if (snapshotData !== undefined) flags |= FLAG_SNAPSHOT_DATA;

  writer.u8(message.type).u8(flags)
    .string16(message.from, 'from').string16(message.to, 'to')
    .u64(message.term, 'term').u64(message.logTerm, 'logTerm').u64(message.index, 'index')
    .u64(message.commit, 'commit').u64(message.rejectHint, 'rejectHint').u64(message.round, 'round')
    .string16(message.context, 'context');

  // Entries: validate and size them first, then write every header and every
  // data array straight into one reserved block.
  const entries = message.entries;
  const count = entries.length;
  let dataBytes = 0;
  for (let i = 0; i < count; i++) {
    const entry = entries[i]!;
    if (entry.type !== EntryType.Normal && entry.type !== EntryType.ConfChange) {
      throw new FrameEncodeError(`unknown entry type ${String(entry.type)}`);
    }
    checkU64(entry.term, 'entry.term', frameEncodeError);
    checkU64(entry.index, 'entry.index', frameEncodeError);
    dataBytes += entry.data.length;
  }
  writer.u32(count);
  let at = writer.reserve(count * ENTRY_HEADER_SIZE + dataBytes);
  const buf = writer.buffer;
  for (let i = 0; i < count; i++) {
    const entry = entries[i]!;
    putU64(buf, at, entry.term);
    putU64(buf, at + 8, entry.index);
    buf[at + 16] = entry.type;
    putU32(buf, at + 17, entry.data.length);
    at += ENTRY_HEADER_SIZE;
  }
  for (let i = 0; i < count; i++) {
    const data = entries[i]!.data;
    buf.set(data, at);
    at += data.length;
  }

  if (snapshot !== undefined) {
    const { meta } = snapshot;
    writer.u64(meta.index, 'snapshot.index').u64(meta.term, 'snapshot.term').u32(meta.conf.members.length);
    for (const member of meta.conf.members) {
      writer.string16(member.id, 'member.id').string16(member.address, 'member.address').u8(member.voter ? 1 : 0);
    }
    if (snapshotData !== undefined) writer.u32(snapshotData.length).bytes(snapshotData);
  }
}

/**
 * Reads a Message payload. Entry data are Uint8Array views into one fresh copy
 * per message, never into the reader's buffer (the parser reuses it).
 */
export function readMessage(reader: BufferReader): Message {
  const type = reader.u8('message type');
  if (type < 1 || type > MAX_MESSAGE_TYPE) throw new FrameDecodeError(`unknown message type ${type}`);
  const flags = reader.u8('flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new FrameDecodeError(`unknown message flags ${flags}`);
  const from = reader.string16('from');
  const to = reader.string16('to');
  const term = reader.u64('term');
  const logTerm = reader.u64('logTerm');
  const index = reader.u64('index');
  const commit = reader.u64('commit');
  const rejectHint = reader.u64('rejectHint');
  const round = reader.u64('round');
  const context = reader.string16('context');

  const count = reader.u32('entry count');
  // Checked before allocating: a tiny frame must not claim a billion entries.
  if (count * ENTRY_HEADER_SIZE > reader.remaining) {
    throw new FrameDecodeError(`entry count ${count} does not fit in ${reader.remaining} bytes`);
  }
  const entries: Entry[] = new Array<Entry>(count);
  if (count > 0) {
    const buf = reader.buffer;
    const headers = reader.skip(count * ENTRY_HEADER_SIZE, 'entry headers');
    let dataBytes = 0;
    for (let i = 0, at = headers; i < count; i++, at += ENTRY_HEADER_SIZE) {
      const entryType = buf[at + 16]!;
      if (entryType !== EntryType.Normal && entryType !== EntryType.ConfChange) {
        throw new FrameDecodeError(`unknown entry type ${entryType}`);
      }
      dataBytes += getU32(buf, at + 17);
    }
    // One copy of all the data; each entry's bytes are a plain Uint8Array view
    // into it (constructing one is several times cheaper than Buffer#subarray).
    const blob = dataBytes > 0 ? reader.copyBytes(dataBytes, 'entry data') : EMPTY;
    const arrayBuffer = blob.buffer;
    let dataAt = blob.byteOffset;
    for (let i = 0, at = headers; i < count; i++, at += ENTRY_HEADER_SIZE) {
      const length = getU32(buf, at + 17);
      entries[i] = {
        term: getU64(buf, at, 'entry.term', frameDecodeError),
        index: getU64(buf, at + 8, 'entry.index', frameDecodeError),
        type: buf[at + 16]!,
        data: new Uint8Array(arrayBuffer, dataAt, length),
      };
      dataAt += length;
    }
  }

  const message: Message = {
    type, from, to, term, logTerm, index, commit,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint, entries, context, round,
  };

  if ((flags & FLAG_SNAPSHOT) !== 0) {
    const snapshotIndex = reader.u64('snapshot.index');
    const snapshotTerm = reader.u64('snapshot.term');
    const memberCount = reader.u32('member count');
    if (memberCount * MIN_MEMBER_SIZE > reader.remaining) {
      throw new FrameDecodeError(`member count ${memberCount} does not fit in ${reader.remaining} bytes`);
    }
    const members: Member[] = new Array<Member>(memberCount);
    for (let i = 0; i < memberCount; i++) {
      const id = reader.string16('member.id');
      const address = reader.string16('member.address');
      const voter = reader.u8('member.voter');
      if (voter > 1) throw new FrameDecodeError(`member voter flag ${voter}`);
      members[i] = { id, address, voter: voter === 1 };
    }
    const snapshot: Snapshot = { meta: { index: snapshotIndex, term: snapshotTerm, conf: { members } } };
    if ((flags & FLAG_SNAPSHOT_DATA) !== 0) {
      snapshot.data = reader.copyBytes(reader.u32('snapshot data length'), 'snapshot data');
    }
    message.snapshot = snapshot;
  } else if ((flags & FLAG_SNAPSHOT_DATA) !== 0) {
    throw new FrameDecodeError('snapshot data flag without a snapshot');
  }
  return message;
}

/** A Message payload as its own buffer (tests, benchmarks). */
export function encodeMessage(message: Message): Buffer {
  const writer = new BufferWriter(256, frameEncodeError);
  writeMessage(writer, message);
  return writer.take();
}

/** Decodes a whole buffer as one Message payload. */
export function decodeMessage(payload: Buffer): Message {
  const reader = new BufferReader(payload, 0, payload.length, frameDecodeError);
  const message = readMessage(reader);
  reader.expectEnd('message');
  return message;
}
