// The peer transport's public surface: the Transport class (messages, snapshots,
// requests), its options and counters, the wire codec (for tests and tools), and the errors it raises.

export { Transport, formatAddress } from './transport.js';
export type { TransportOptions, TransportTlsOptions, TransportLogger } from './options.js';
export type { TransportCounters, TransportStats, PeerStats, PeerState } from './stats.js';
export {
  PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, LEGACY_PROTOCOL_VERSION, DEFAULT_MAX_FRAME_SIZE, HANDSHAKE_MAX_FRAME_SIZE, FrameType, HandshakeRejectReason,
  encodeFrame, decodeFrame, encodeMessage, decodeMessage, writeMessageFrame, writeFrame, snapshotChunkFrame,
  requestFrame, responseFrame, encodeErrorBody, decodeErrorBody, frameDecodeError, frameEncodeError,
  type Frame, type Hello,
} from './codec.js';
export { FrameParser } from './parser.js';
export { BufferWriter } from '../byte-writer.js';
export { BufferReader } from '../byte-reader.js';
export * from './errors.js';
