// The calling side of peer requests (join, forwarded writes, "who are you"):
// one request connection per address, ids matched to answers, a time limit per
// call, and every call on a connection failed at once when that connection drops.
//
// A request connection is dialed with a hello whose `to` is empty, so the
// listener neither takes it for our Raft link nor replaces that link with it;
// a large request or answer therefore never holds up heartbeats. The listener
// names itself in HelloOk, which is how a call by node id catches a stale address.

import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { verifyPeerIdentity } from './peer-identity.js';
import type { NodeId } from '../raft/types.js';
import {
  decodeErrorBody, encodeFrame, FrameType, HANDSHAKE_MAX_FRAME_SIZE, HandshakeRejectReason, LEGACY_PROTOCOL_VERSION, requestFrame, type Frame,
} from './codec.js';
import {
  FrameError, HandshakeRejectedError, PeerUnavailableError, PeerUnreachableError, ProtocolError,
  RequestRefusedError, TransportTimeoutError,
} from './errors.js';
import type { ResolvedTransportOptions } from './options.js';
import { FrameParser } from './parser.js';
import { parseAddress } from './peer.js';
import { DialerProof } from './join-proof.js';
import type { TransportCounters } from './stats.js';

/** Calls waiting on one connection before new ones are refused. */
export const MAX_PENDING_REQUESTS = 1024;
/** How long an address that refused our newest version is offered version 1 (it may be upgraded since). */
const LEGACY_MEMORY_MS = 60_000;
/** A request connection with nothing pending closes after this. */
export const REQUEST_IDLE_CLOSE_MS = 30_000;

interface PendingCall {
  method: string;
  /** The frame, held until the handshake finishes; undefined once written. */
  frame: Uint8Array[] | undefined;
  /** The node the caller means to reach; checked against the id in HelloOk. */
  expect: NodeId | undefined;
  resolve: (answer: Buffer) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** One dialed request connection; RequestClient keeps at most one per address. */
class RequestConnection {
  readonly address: string;
  /** The listener's node id, from its HelloOk. */
  remoteNodeId: NodeId = '';
  readonly closedPromise: Promise<void>;
  private readonly options: ResolvedTransportOptions;
  private readonly counters: TransportCounters;
  private readonly onGone: (connection: RequestConnection) => void;
  private readonly socket: Socket;
  private readonly parser = new FrameParser(HANDSHAKE_MAX_FRAME_SIZE);
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private connectTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private blocked = false;
  /** sec: this connection's side of the join-secret handshake. */
  private readonly proof: DialerProof;

  constructor(
    address: string,
    target: { host: string; port: number },
    options: ResolvedTransportOptions,
    counters: TransportCounters,
    onGone: (connection: RequestConnection) => void,
    readonly helloVersion: number,
  ) {
    this.address = address;
    this.options = options;
    this.counters = counters;
    this.onGone = onGone;
    const tls = options.tls;
    const socket = tls === undefined
      ? netConnect({ host: target.host, port: target.port })
      : tlsConnect({
        host: target.host,
        port: target.port,
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        minVersion: 'TLSv1.2',
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        ...(tls.verifyHostname === false ? { checkServerIdentity: () => undefined } : {}),
      });
    this.socket = socket;
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    this.connectTimer = setTimeout(() => {
      this.fail(new PeerUnreachableError(address, `no handshake within ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    let lastError: Error | undefined;
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.on('close', () => this.onClose(lastError));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.proof = new DialerProof(options.token, helloVersion, { clusterId: options.clusterId, from: options.nodeId, to: '' }, options.nonces);
    socket.write(encodeFrame({
      type: FrameType.Hello,
      hello: {
        version: helloVersion, clusterId: options.clusterId, from: options.nodeId, to: '',
        ...(this.proof.helloToken === undefined ? {} : { token: this.proof.helloToken }),
      },
    }));
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Sends one request (now, or once the handshake is done) and resolves with its answer. */
  call(method: string, body: Uint8Array, timeoutMs: number, expect: NodeId | undefined): Promise<Buffer> {
    if (this.state === 'closed') return Promise.reject(new PeerUnreachableError(this.address, 'connection closed'));
    if (this.pending.size >= MAX_PENDING_REQUESTS) {
      return Promise.reject(new RequestRefusedError(`${MAX_PENDING_REQUESTS} requests already wait on ${this.address}`));
    }
    if (this.socket.writableLength >= this.options.maxQueuedBytes) {
      return Promise.reject(new RequestRefusedError(`the send queue to ${this.address} is full`));
    }
    if (this.state === 'open' && expect !== undefined && expect !== this.remoteNodeId) {
      return Promise.reject(this.wrongNode(expect));
    }
    const id = this.allocateId();
    let frame: Uint8Array[];
    try {
      frame = requestFrame(id, method, body, this.options.maxFrameSize);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TransportTimeoutError(method, timeoutMs));
        this.armIdle();
      }, timeoutMs);
      const call: PendingCall = { method, frame, expect, resolve, reject, timer };
      this.pending.set(id, call);
      if (this.state === 'open') this.write(call);
    });
  }

  /** Fails every pending call with `error` and closes the connection. */
  fail(error: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.rejectAll(error);
    this.parser.stop();
    this.socket.destroy();
  }

  private allocateId(): number {
    let id = this.nextId;
    // Ids wrap at 2^32; skip any still waiting (only possible after billions of calls).
    while (this.pending.has(id)) id = id >= 0xffff_ffff ? 1 : id + 1;
    this.nextId = id >= 0xffff_ffff ? 1 : id + 1;
    return id;
  }

  private wrongNode(expect: NodeId): PeerUnreachableError {
    return new PeerUnreachableError(expect, `${this.address} is node '${this.remoteNodeId}' (a stale address)`);
  }

  private write(call: PendingCall): void {
    const frame = call.frame!;
    call.frame = undefined;
    const socket = this.socket;
    let ok = true;
    socket.cork();
    for (const piece of frame) {
      ok = socket.write(piece);
      this.counters.bytesSent += piece.length;
    }
    socket.uncork();
    this.counters.requestsSent++;
    if (!ok) this.waitForDrain();
  }

  /** A socket that stays full for writeTimeoutMs belongs to a listener that stopped reading: give up on it. */
  private waitForDrain(): void {
    if (this.blocked) return;
    this.blocked = true;
    const { writeTimeoutMs } = this.options;
    this.drainTimer = setTimeout(() => {
      this.fail(new PeerUnavailableError(this.address, `it did not read for ${writeTimeoutMs} ms`));
    }, writeTimeoutMs);
    this.socket.once('drain', () => {
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
      this.blocked = false;
    });
  }

  private onData(chunk: Buffer): void {
    this.counters.bytesReceived += chunk.length;
    try {
      this.parser.parse(chunk, (frame) => this.onFrame(frame));
    } catch (err) {
      if (err instanceof FrameError) {
        this.counters.badFrames++;
        this.options.logger.warn(
          { address: this.address, peer: this.remoteNodeId, err: { code: err.code, message: err.message } },
          'bad frame on a request connection; closing it',
        );
      } else {
        this.options.logger.error({ address: this.address, peer: this.remoteNodeId, err }, 'request connection failed');
      }
      const detail = err instanceof Error ? err.message : String(err);
      this.fail(this.state === 'open'
        ? new PeerUnavailableError(this.address, detail)
        : new PeerUnreachableError(this.address, detail));
    }
  }

  private onFrame(frame: Frame): void {
    if (this.state === 'connecting') {
      if (frame.type === FrameType.Challenge) {
        // sec: the listener proves it holds the join secret; we answer with our proof.
        this.socket.write(this.proof.answer(frame, this.address));
        return;
      }
      if (frame.type === FrameType.HelloOk) {
        this.proof.checkAccepted(this.address);
        // sec: with mutual TLS, the listener's certificate must name the node it says it is.
        if (this.socket instanceof TLSSocket) {
          const identity = verifyPeerIdentity(this.socket, frame.nodeId);
          if (!identity.ok) throw new ProtocolError(`${this.address} answered as ${frame.nodeId}: ${identity.detail}`);
        }
        this.onOpen(frame.nodeId);
      } else if (frame.type === FrameType.HelloReject) {
        this.counters.handshakesRejected++;
        this.options.logger.error({ address: this.address, reason: frame.detail }, 'peer refused our request connection');
        this.fail(new HandshakeRejectedError(frame.reason, frame.detail));
      } else {
        throw new ProtocolError(`frame type ${frame.type} during the handshake`);
      }
      return;
    }
    if (this.state !== 'open') return;
    if (frame.type !== FrameType.Response) throw new ProtocolError(`frame type ${frame.type} on a request connection`);
    const call = this.pending.get(frame.id);
    if (call === undefined) return; // it timed out; the answer came too late
    this.pending.delete(frame.id);
    clearTimeout(call.timer);
    if (frame.ok) call.resolve(frame.body);
    else call.reject(decodeErrorBody(frame.body));
    this.armIdle();
  }

  private onOpen(nodeId: NodeId): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.state = 'open';
    this.remoteNodeId = nodeId;
    this.parser.maxFrameSize = this.options.maxFrameSize;
    this.socket.setKeepAlive(true, 10_000);
    this.options.logger.debug({ address: this.address, peer: nodeId }, 'request connection open');
    for (const [id, call] of this.pending) {
      if (call.expect !== undefined && call.expect !== nodeId) {
        this.pending.delete(id);
        clearTimeout(call.timer);
        call.reject(this.wrongNode(call.expect));
      } else {
        this.write(call);
      }
    }
    this.armIdle();
  }

  private armIdle(): void {
    if (this.pending.size > 0 || this.state === 'closed') return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.options.logger.debug({ address: this.address }, 'idle request connection closed');
      this.fail(new PeerUnreachableError(this.address, 'idle connection closed'));
    }, REQUEST_IDLE_CLOSE_MS);
    this.idleTimer.unref();
  }

  private rejectAll(error: Error): void {
    for (const call of this.pending.values()) {
      clearTimeout(call.timer);
      call.reject(error);
    }
    this.pending.clear();
  }

  private onClose(socketError: Error | undefined): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.drainTimer);
    this.parser.stop();
    const wasOpen = this.state === 'open';
    if (this.state !== 'closed') {
      // The far end (or the network) closed it: a call still waiting either
      // never left (dial failed) or left and may have run.
      this.state = 'closed';
      const detail = socketError?.message ?? 'closed by the peer';
      const error = wasOpen
        ? new PeerUnavailableError(this.address, detail)
        : new PeerUnreachableError(this.address, detail);
      if (this.pending.size > 0) {
        this.options.logger.warn({ address: this.address, peer: this.remoteNodeId, pending: this.pending.size, err: { message: detail } }, 'request connection lost');
      }
      this.rejectAll(error);
    }
    this.onGone(this);
  }
}

/** Request connections by address, made on first use and dropped when they close. */
export class RequestClient {
  private readonly connections = new Map<string, RequestConnection>();
  /** Addresses whose listener refused our newest version (the first release's): until when we offer it version 1. */
  private readonly legacy = new Map<string, number>();
  private readonly options: ResolvedTransportOptions;
  private readonly counters: TransportCounters;

  constructor(options: ResolvedTransportOptions, counters: TransportCounters) {
    this.options = options;
    this.counters = counters;
  }

  /** Calls `method` on the node at `address`; with `expect`, only if that node is `expect`. */
  request(address: string, expect: NodeId | undefined, method: string, body: Uint8Array, timeoutMs: number): Promise<Buffer> {
    const connection = this.connection(address, expect);
    if (connection instanceof Error) return Promise.reject(connection);
    const call = connection.call(method, body, timeoutMs, expect);
    if (connection.helloVersion <= LEGACY_PROTOCOL_VERSION) return call;
    return call.catch((error: unknown) => {
      // Refused at the hello, so never sent: a first-release listener takes only version 1. Ask again with it.
      if (!(error instanceof HandshakeRejectedError) || error.reason !== HandshakeRejectReason.ProtocolVersion) throw error;
      this.legacy.set(address, Date.now() + LEGACY_MEMORY_MS);
      const again = this.connection(address, expect);
      if (again instanceof Error) throw again;
      return again.call(method, body, timeoutMs, expect);
    });
  }

  private connection(address: string, expect: NodeId | undefined): RequestConnection | Error {
    let connection = this.connections.get(address);
    if (connection === undefined || connection.isClosed) {
      const target = parseAddress(address);
      if (target === undefined) return new PeerUnreachableError(expect ?? address, `bad address '${address}'`);
      const legacyUntil = this.legacy.get(address);
      if (legacyUntil !== undefined && legacyUntil < Date.now()) this.legacy.delete(address);
      const version = this.legacy.has(address) ? LEGACY_PROTOCOL_VERSION : this.options.protocolVersion;
      connection = new RequestConnection(address, target, this.options, this.counters, (gone) => {
        if (this.connections.get(address) === gone) this.connections.delete(address);
      }, version);
      this.connections.set(address, connection);
    }
    return connection;
  }

  /** Open request connections (for stats and tests). */
  get size(): number {
    return this.connections.size;
  }

  /** Fails every pending call with `error`, closes every connection, resolves once they are closed. */
  async close(error: Error): Promise<void> {
    const closing = [...this.connections.values()];
    this.connections.clear();
    for (const connection of closing) connection.fail(error);
    await Promise.all(closing.map((c) => c.closedPromise));
  }
}
