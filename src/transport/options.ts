// The Transport's options, their defaults, and the one-by-one checks that turn
// a bad option into an error naming the option and what to pass instead.

import { DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_MAX_PENDING_PER_SOURCE } from './admission.js';
import { randomNonce, type NonceSource } from './join-proof.js';
import type { Message, NodeId } from '../raft/types.js';
import { DEFAULT_MAX_FRAME_SIZE, HANDSHAKE_MAX_FRAME_SIZE, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './codec.js';
import { InvalidTransportOptionError } from './errors.js';

/** The subset of pino's logger the transport uses; a pino logger fits as it is. */
export interface TransportLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface TransportTlsOptions {
  /** This node's certificate (PEM); presented to listeners and to dialers alike. */
  cert: string | Buffer;
  key: string | Buffer;
  /** The cluster CA (PEM) that every peer's certificate must chain to. */
  ca: string | Buffer | Array<string | Buffer>;
  /**
   * Check that the listener's certificate names the host we dialed (default
   * true). Turn off only when certificates carry no usable host names; the
   * chain is still verified against `ca`.
   */
  verifyHostname?: boolean;
}

export interface TransportOptions {
  nodeId: NodeId;
  clusterId: string;
  /** Where to accept peers; port 0 picks a free port (see Transport.address). */
  listen: { host: string; port: number };
  /** A shared join token; when set, a dialer must present the same one. */
  token?: string;
  /** Mutual TLS: both sides present certificates signed by `ca` and verify each other's. */
  tls?: TransportTlsOptions;
  /** A peer's current address as host:port ([v6]:port), or undefined when unknown. Asked on every dial. */
  resolve: (nodeId: NodeId) => string | undefined;
  /** Every message received from a peer, in the order that peer sent them. */
  onMessage: (message: Message) => void;
  /**
   * A streamed snapshot (see Transport.sendSnapshot): `message` carries the
   * meta, `chunks` the data. Read the chunks to the end or break out of the
   * loop; the connection from that peer pauses while they are unread. When
   * absent, streams up to maxFrameSize are gathered and handed to onMessage
   * with snapshot.data set; larger ones are dropped.
   */
  onSnapshot?: (message: Message, chunks: AsyncIterable<Buffer>) => void | Promise<void>;
  /**
   * A peer could not be reached, its connection broke, or its queue overflowed:
   * tell Raft (reportUnreachable). Called from a microtask, never from inside send().
   */
  onUnreachable?: (nodeId: NodeId) => void;
  /**
   * A request from Transport.request on another node (join, a forwarded
   * write). What it resolves to is the answer; what it throws reaches the
   * caller as a RemoteError with the same code, message, kind and retryable.
   * `from.address` is the caller's socket address, not its listen address.
   * When absent, every request is answered with KONSUL_ERR_NO_HANDLER (501).
   */
  /** sec: `role` is what the peer's certificate names it (mutual TLS only). */
  onRequest?: (method: string, body: Buffer, from: { nodeId: NodeId; address: string; version?: number; role?: 'server' | 'client' }) => Promise<Uint8Array>;
  /**
   * The protocol version the cluster runs at, asked at each inbound hello: a
   * Raft link from a node that does not speak it is refused. Default: no floor
   * beyond MIN_PROTOCOL_VERSION.
   */
  clusterVersion?: () => number;
  /**
   * TEST ONLY: the newest protocol version this node claims in its hellos
   * (default PROTOCOL_VERSION), so a test can play an older node.
   */
  protocolVersion?: number;
  logger?: TransportLogger;
  /** Largest frame accepted or sent (length of type + payload + checksum). Default 16 MiB. */
  maxFrameSize?: number;
  /** Per peer: bytes waiting for the socket before new messages are dropped. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** Per peer: messages waiting for the socket before new ones are dropped. Default 4096. */
  maxQueuedMessages?: number;
  /** Reconnect delay after the first failure, doubled per failure up to backoffMaxMs. Default 50. */
  backoffInitialMs?: number;
  /** Default 1000. */
  backoffMaxMs?: number;
  /** Dial + TLS + hello must finish within this. Default 2000. */
  connectTimeoutMs?: number;
  /** An inbound connection must say hello within this. Default 5000. */
  handshakeTimeoutMs?: number;
  /** sec: connections not yet authenticated the listener holds at once; more are closed at accept. Default 256. */
  maxPendingConnections?: number;
  /** sec: the same, from one source address. Default 32. */
  maxPendingPerSource?: number;
  /** sec: where handshake nonces come from (random; a test may play a broken listener with a fixed one). */
  nonces?: NonceSource;
  /** A socket that stays full (no 'drain') this long is closed and redialed. Default 5000. */
  writeTimeoutMs?: number;
  /** The same while a snapshot streams, where the receiver may be slowed by its disk. Default 30000. */
  snapshotWriteTimeoutMs?: number;
  /** Largest SnapshotChunk frame sent; bigger chunks from the caller are split. Default 1 MiB. */
  snapshotChunkSize?: number;
}

export interface ResolvedTransportOptions {
  nodeId: NodeId;
  clusterId: string;
  listen: { host: string; port: number };
  token: string | undefined;
  tls: TransportTlsOptions | undefined;
  resolve: (nodeId: NodeId) => string | undefined;
  onMessage: (message: Message) => void;
  onSnapshot: ((message: Message, chunks: AsyncIterable<Buffer>) => void | Promise<void>) | undefined;
  onUnreachable: ((nodeId: NodeId) => void) | undefined;
  onRequest: ((method: string, body: Buffer, from: { nodeId: NodeId; address: string; version?: number; role?: 'server' | 'client' }) => Promise<Uint8Array>) | undefined;
  clusterVersion: (() => number) | undefined;
  protocolVersion: number;
  logger: TransportLogger;
  maxFrameSize: number;
  maxQueuedBytes: number;
  maxQueuedMessages: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  maxPendingConnections: number;
  maxPendingPerSource: number;
  nonces: NonceSource;
  writeTimeoutMs: number;
  snapshotWriteTimeoutMs: number;
  snapshotChunkSize: number;
}

const noop = (): void => {};
export const NOOP_LOGGER: TransportLogger = { debug: noop, info: noop, warn: noop, error: noop };

function fail(message: string): never {
  throw new InvalidTransportOptionError(message);
}

function checkString(value: unknown, name: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) fail(`${name} must be a non-empty string`);
  if (Buffer.byteLength(value) > 0xffff) fail(`${name} must be at most 65535 bytes of UTF-8`);
  return value;
}

function checkFunction<T>(value: T | undefined, name: string, required: boolean): T | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'function') fail(`${name} must be a function`);
  return value;
}

function checkInteger(value: number | undefined, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function checkPem(value: unknown, name: string): void {
  const ok = (v: unknown): boolean => typeof v === 'string' || Buffer.isBuffer(v);
  if (Array.isArray(value) ? value.length === 0 || !value.every(ok) : !ok(value)) {
    fail(`${name} must be PEM text (string or Buffer)`);
  }
}

function checkLogger(logger: TransportLogger | undefined): TransportLogger {
  if (logger === undefined) return NOOP_LOGGER;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') fail(`logger.${level} must be a function (pass a pino logger or leave logger out)`);
  }
  return logger;
}

/** Checks every option and fills in defaults. */
export function resolveOptions(options: TransportOptions): ResolvedTransportOptions {
  if (options === null || typeof options !== 'object') fail('Transport needs an options object');
  const nodeId = checkString(options.nodeId, 'nodeId');
  const clusterId = checkString(options.clusterId, 'clusterId');
  const listen = options.listen;
  if (listen === null || typeof listen !== 'object') fail('listen must be { host, port } (port 0 picks a free one)');
  checkString(listen.host, 'listen.host');
  checkInteger(listen.port, 'listen.port', 0, 0, 65535);
  if (listen.port === undefined) fail('listen.port must be set (0 picks a free port)');
  const token = options.token === undefined ? undefined : checkString(options.token, 'token');
  let tls: TransportTlsOptions | undefined;
  if (options.tls !== undefined) {
    checkPem(options.tls.cert, 'tls.cert');
    checkPem(options.tls.key, 'tls.key');
    checkPem(options.tls.ca, 'tls.ca');
    if (options.tls.verifyHostname !== undefined && typeof options.tls.verifyHostname !== 'boolean') {
      fail('tls.verifyHostname must be a boolean');
    }
    tls = options.tls;
  }
  const maxFrameSize = checkInteger(options.maxFrameSize, 'maxFrameSize', DEFAULT_MAX_FRAME_SIZE, HANDSHAKE_MAX_FRAME_SIZE, 0xffff_ffff);
  const backoffInitialMs = checkInteger(options.backoffInitialMs, 'backoffInitialMs', 50, 1);
  const backoffMaxMs = checkInteger(options.backoffMaxMs, 'backoffMaxMs', Math.max(1000, backoffInitialMs), backoffInitialMs);
  const snapshotChunkSize = checkInteger(options.snapshotChunkSize, 'snapshotChunkSize', Math.min(1024 * 1024, maxFrameSize - 5), 1, maxFrameSize - 5);
  return {
    nodeId,
    clusterId,
    listen: { host: listen.host, port: listen.port },
    token,
    tls,
    resolve: checkFunction(options.resolve, 'resolve', true)!,
    onMessage: checkFunction(options.onMessage, 'onMessage', true)!,
    onSnapshot: checkFunction(options.onSnapshot, 'onSnapshot', false),
    onUnreachable: checkFunction(options.onUnreachable, 'onUnreachable', false),
    onRequest: checkFunction(options.onRequest, 'onRequest', false),
    clusterVersion: checkFunction(options.clusterVersion, 'clusterVersion', false),
    protocolVersion: checkInteger(options.protocolVersion, 'protocolVersion', PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION),
    logger: checkLogger(options.logger),
    maxFrameSize,
    maxQueuedBytes: checkInteger(options.maxQueuedBytes, 'maxQueuedBytes', 8 * 1024 * 1024, 1),
    maxQueuedMessages: checkInteger(options.maxQueuedMessages, 'maxQueuedMessages', 4096, 1),
    backoffInitialMs,
    backoffMaxMs,
    connectTimeoutMs: checkInteger(options.connectTimeoutMs, 'connectTimeoutMs', 2000, 1),
    handshakeTimeoutMs: checkInteger(options.handshakeTimeoutMs, 'handshakeTimeoutMs', 5000, 1),
    maxPendingConnections: checkInteger(options.maxPendingConnections, 'maxPendingConnections', DEFAULT_MAX_PENDING_CONNECTIONS, 1),
    maxPendingPerSource: checkInteger(options.maxPendingPerSource, 'maxPendingPerSource', DEFAULT_MAX_PENDING_PER_SOURCE, 1),
    nonces: checkFunction(options.nonces, 'nonces', false) ?? randomNonce,
    writeTimeoutMs: checkInteger(options.writeTimeoutMs, 'writeTimeoutMs', 5000, 1),
    snapshotWriteTimeoutMs: checkInteger(options.snapshotWriteTimeoutMs, 'snapshotWriteTimeoutMs', 30_000, 1),
    snapshotChunkSize,
  };
}
