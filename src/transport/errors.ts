// The errors the peer transport raises: codec failures on bad frames, refused
// handshakes, unreachable peers and aborted snapshot streams, each with a stable code.

import { KonsulError, type ErrorKind } from '../errors.js';

/** Base of every transport error; `code` is stable, the message is for humans. */
export class TransportError extends KonsulError {
  constructor(code: string, message: string, kind: ErrorKind = 'unavailable', options: { retryable?: boolean } = {}) {
    super(code, message, kind, options);
    this.name = 'TransportError';
  }
}

/**
 * Bytes from a peer that are not a valid frame. The connection that produced
 * them is closed; the subclasses say which check failed.
 */
export class FrameError extends TransportError {
  constructor(code: string, message: string) {
    super(code, message, 'invalid');
    this.name = 'FrameError';
  }
}

/** A frame's length prefix is above the limit (or below the smallest frame). */
export class FrameTooLargeError extends FrameError {
  readonly length: number;
  readonly limit: number;
  constructor(length: number, limit: number) {
    super('KONSUL_ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the limit of ${limit} bytes`);
    this.name = 'FrameTooLargeError';
    this.length = length;
    this.limit = limit;
  }
}

/** The crc32 at a frame's end does not match its bytes. */
export class FrameChecksumError extends FrameError {
  constructor(expected: number, actual: number) {
    super(
      'KONSUL_ERR_FRAME_CHECKSUM',
      `frame checksum mismatch (frame says ${expected.toString(16)}, bytes hash to ${actual.toString(16)})`,
    );
    this.name = 'FrameChecksumError';
  }
}

/** A frame type byte this version does not know. */
export class UnknownFrameTypeError extends FrameError {
  readonly frameType: number;
  constructor(frameType: number) {
    super('KONSUL_ERR_FRAME_TYPE', `unknown frame type ${frameType}`);
    this.name = 'UnknownFrameTypeError';
    this.frameType = frameType;
  }
}

/** A frame whose checksum is right but whose payload does not decode (truncated, out of range, trailing bytes). */
export class FrameDecodeError extends FrameError {
  constructor(message: string) {
    super('KONSUL_ERR_FRAME_DECODE', `malformed frame: ${message}`);
    this.name = 'FrameDecodeError';
  }
}

/** A well-formed frame that is not allowed where it came (a message before the handshake, a chunk with no snapshot...). */
export class ProtocolError extends FrameError {
  constructor(message: string) {
    super('KONSUL_ERR_PROTOCOL', `protocol violation: ${message}`);
    this.name = 'ProtocolError';
  }
}

/** A message that cannot be put on the wire: a field out of range. A bug in the caller. */
export class FrameEncodeError extends TransportError {
  constructor(message: string) {
    super('KONSUL_ERR_FRAME_ENCODE', `cannot encode: ${message}`, 'internal');
    this.name = 'FrameEncodeError';
  }
}

/** The listener refused our hello (wrong token, cluster id, node id or protocol version). */
export class HandshakeRejectedError extends TransportError {
  readonly reason: number;
  constructor(reason: number, detail: string) {
    super('KONSUL_ERR_HANDSHAKE_REJECTED', `handshake refused: ${detail}`, 'forbidden');
    this.name = 'HandshakeRejectedError';
    this.reason = reason;
  }
}

/** No connection to a peer could be made (no address, dial failed, refused). */
export class PeerUnreachableError extends TransportError {
  readonly nodeId: string;
  constructor(nodeId: string, detail: string) {
    // Nothing was sent: the request may go again, here or to another node.
    super('KONSUL_ERR_PEER_UNREACHABLE', `peer ${nodeId} is unreachable: ${detail}`, 'unavailable', { retryable: true });
    this.name = 'PeerUnreachableError';
    this.nodeId = nodeId;
  }
}

/** The connection closed while a transfer on it was in progress. */
export class ConnectionClosedError extends TransportError {
  constructor(detail: string) {
    super('KONSUL_ERR_CONNECTION_CLOSED', `connection closed: ${detail}`, 'unavailable');
    this.name = 'ConnectionClosedError';
  }
}

/** A snapshot is already streaming to this peer; Raft sends one at a time. */
export class SnapshotBusyError extends TransportError {
  constructor(nodeId: string) {
    super('KONSUL_ERR_SNAPSHOT_BUSY', `a snapshot is already streaming to ${nodeId}`, 'conflict');
    this.name = 'SnapshotBusyError';
  }
}

/** The sender gave up on a snapshot stream part-way; the chunks received so far are incomplete. */
export class SnapshotAbortedError extends TransportError {
  constructor(detail: string) {
    super('KONSUL_ERR_SNAPSHOT_ABORTED', `snapshot aborted: ${detail}`, 'unavailable');
    this.name = 'SnapshotAbortedError';
  }
}

/** The transport was closed (or never started). */
export class TransportClosedError extends TransportError {
  constructor() {
    super('KONSUL_ERR_TRANSPORT_CLOSED', 'transport is closed', 'unavailable');
    this.name = 'TransportClosedError';
  }
}

/** A constructor option is missing or out of range; the message says which and what to pass. */
export class InvalidTransportOptionError extends TransportError {
  constructor(message: string) {
    super('KONSUL_ERR_INVALID_OPTION', message, 'internal');
    this.name = 'InvalidTransportOptionError';
  }
}

/** A request this node refused before running it: too many in flight, or a full send queue. Nothing ran. */
export class RequestRefusedError extends TransportError {
  constructor(message: string, kind: ErrorKind = 'unavailable') {
    super('KONSUL_ERR_REQUEST_REFUSED', message, kind);
    this.name = 'RequestRefusedError';
  }
}

/** A request reached a node that was started without onRequest. */
export class NoRequestHandlerError extends TransportError {
  constructor(method: string) {
    super('KONSUL_ERR_NO_HANDLER', `no handler: this node answers no requests (asked "${method}")`, 'not-implemented');
    this.name = 'NoRequestHandlerError';
  }
}

/**
 * The remote handler failed: its code, message, kind and retryable flag,
 * carried back to the caller unchanged, so a NotLeaderError thrown on the
 * leader reads (and retries) the same on the follower that forwarded the write.
 */
export class RemoteError extends KonsulError {
  constructor(code: string, message: string, kind: ErrorKind, retryable = false) {
    super(code, message, kind, { retryable });
    this.name = 'RemoteError';
  }
}

/** No answer within the caller's time limit; the request may or may not have run. */
export class TransportTimeoutError extends TransportError {
  constructor(method: string, ms: number) {
    super('KONSUL_ERR_TIMEOUT', `no answer to "${method}" within ${ms} ms`, 'timeout');
    this.name = 'TransportTimeoutError';
  }
}

/**
 * The connection broke while the request was on it: sent, but unanswered. The
 * request may or may not have run, so only idempotent ones are safe to retry.
 * (A request that never left, because the dial failed, is a PeerUnreachableError.)
 */
export class PeerUnavailableError extends TransportError {
  constructor(target: string, detail: string) {
    super('KONSUL_ERR_PEER_UNAVAILABLE', `lost the connection to ${target} with a request in flight: ${detail}`, 'unavailable');
    this.name = 'PeerUnavailableError';
  }
}
