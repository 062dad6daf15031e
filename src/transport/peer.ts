// One outbound link to a peer: dial, hello, a bounded queue of encoded frames
// written in batches, back-pressure on 'drain', backoff after failures, snapshots.

import { DialerProof } from './join-proof.js';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { verifyPeerIdentity } from './peer-identity.js';
import type { Message, NodeId } from '../raft/types.js';
import { MessageType } from '../raft/types.js';
import { BufferWriter } from '../byte-writer.js';
import {
  encodeFrame, frameEncodeError, FrameType, HANDSHAKE_MAX_FRAME_SIZE, HandshakeRejectReason, LEGACY_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION,
  snapshotChunkFrame, writeMessageFrame,
  type Frame,
} from './codec.js';
import {
  ConnectionClosedError, FrameError, FrameTooLargeError, HandshakeRejectedError, PeerUnreachableError, ProtocolError,
  SnapshotBusyError, TransportClosedError,
} from './errors.js';
import type { ResolvedTransportOptions } from './options.js';
import { FrameParser } from './parser.js';
import type { PeerState, PeerStats, TransportCounters } from './stats.js';

/** What a peer link needs from the transport that owns it. */
export interface PeerHost {
  readonly options: ResolvedTransportOptions;
  readonly counters: TransportCounters;
  /** Write this peer's queue at the end of the current event-loop turn. */
  scheduleFlush(peer: Peer): void;
  reportUnreachable(nodeId: NodeId): void;
}

/** The writer's backlog is cut into stretches of about this size (see `sealed`). */
const SEAL_BYTES = 256 * 1024;

interface ConnectWaiter {
  resolve: (socket: Socket) => void;
  reject: (err: Error) => void;
}

/** host:port or [v6]:port → parts; undefined when it is neither. */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address);
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1]!, port };
}

export class Peer {
  readonly nodeId: NodeId;
  private readonly host: PeerHost;
  private state: PeerState = 'idle';
  private socket: Socket | undefined;
  private socketClosed: Promise<void> = Promise.resolve();
  /** Frames encoded by send() and not yet handed to the socket. */
  private readonly writer = new BufferWriter(16 * 1024, frameEncodeError);
  /**
   * Full stretches taken out of the writer so it never copies a large backlog
   * when it grows; they go out with the rest in one corked write.
   */
  private sealed: Buffer[] = [];
  private sealedBytes = 0;
  private queued = 0;
  /** The socket said "full"; nothing more is written until 'drain'. */
  private blocked = false;
  private drainCallbacks: Array<() => void> = [];
  private drainTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** Consecutive failed dials or lost connections; drives the backoff. */
  private failures = 0;
  private everConnected = false;
  /** Set while drops for a full queue go on, so Raft hears about it once, not per message. */
  private overflowing = false;
  private snapshotActive = false;
  private connectWaiters: ConnectWaiter[] = [];
  private sent = 0;
  private dropped = 0;
  /** The version the next hello offers: our newest, or 1 after a first-release listener refused that. */
  private helloVersion: number;
  /** Set when a first-release listener refused our newest version: redial at once with version 1. */
  private legacyRedial = false;
  /** sec: the current dial's side of the join-secret handshake. */
  private proof: DialerProof | undefined;
  /** The version the current (or last) link runs at; 0 before the first handshake. */
  protocolVersion = 0;

  constructor(nodeId: NodeId, host: PeerHost) {
    this.nodeId = nodeId;
    this.host = host;
    this.helloVersion = host.options.protocolVersion;
  }

  stats(): PeerStats {
    return {
      nodeId: this.nodeId,
      state: this.state,
      queuedMessages: this.queued,
      queuedBytes: this.queuedBytes,
      socketBufferedBytes: this.socket?.writableLength ?? 0,
      messagesSent: this.sent,
      messagesDropped: this.dropped,
      failures: this.failures,
      protocolVersion: this.protocolVersion,
    };
  }

  /**
   * Encodes the message into the queue, or drops it (peer down, queue full,
   * too large). Throws FrameEncodeError only for a malformed message (a bug).
   */
  enqueue(message: Message): void {
    const { options } = this.host;
    if (this.state === 'closed' || this.state === 'backoff') {
      this.drop(1);
      return;
    }
    if (this.queued >= options.maxQueuedMessages || this.queuedBytes >= options.maxQueuedBytes) {
      this.drop(1);
      if (!this.overflowing) {
        this.overflowing = true;
        options.logger.warn(
          { peer: this.nodeId, queuedMessages: this.queued, queuedBytes: this.queuedBytes },
          'peer send queue full; dropping new messages until it drains',
        );
        this.host.reportUnreachable(this.nodeId);
      }
      return;
    }
    try {
      writeMessageFrame(this.writer, message, options.maxFrameSize);
    } catch (err) {
      if (!(err instanceof FrameTooLargeError)) throw err;
      this.drop(1);
      options.logger.error(
        { peer: this.nodeId, type: MessageType[message.type], entries: message.entries.length, bytes: err.length, limit: err.limit },
        'message larger than maxFrameSize dropped; keep Raft batches below it',
      );
      return;
    }
    this.queued++;
    if (this.writer.length >= SEAL_BYTES) {
      const stretch = this.writer.take();
      this.sealed.push(stretch);
      this.sealedBytes += stretch.length;
    }
    if (this.state === 'idle') this.dial();
    else if (this.state === 'connected') this.host.scheduleFlush(this);
  }

  private drop(count: number): void {
    this.dropped += count;
    this.host.counters.messagesDropped += count;
  }

  /** Hands everything queued to the socket in one write, unless the socket is full or a snapshot owns it. */
  flush(): void {
    if (this.snapshotActive) return;
    this.writeQueued();
  }

  private get queuedBytes(): number {
    return this.sealedBytes + this.writer.length;
  }

  /** Everything queued, as buffers to write in order; the queue is left empty. */
  private takeQueued(): Buffer[] {
    const parts = this.sealed;
    if (this.writer.length > 0) parts.push(this.writer.take());
    this.sealed = [];
    this.sealedBytes = 0;
    this.queued = 0;
    this.overflowing = false;
    return parts;
  }

  private clearQueued(): void {
    this.drop(this.queued);
    this.sealed = [];
    this.sealedBytes = 0;
    this.queued = 0;
    this.writer.clear();
    this.overflowing = false;
  }

  private writeQueued(): void {
    const socket = this.socket;
    if (this.state !== 'connected' || socket === undefined || this.blocked || this.queued === 0) return;
    const count = this.queued;
    const parts = this.takeQueued();
    this.sent += count;
    this.host.counters.messagesSent += count;
    let ok = true;
    socket.cork();
    for (const part of parts) {
      this.host.counters.bytesSent += part.length;
      ok = socket.write(part);
    }
    socket.uncork();
    if (!ok) this.waitForDrain(socket, this.host.options.writeTimeoutMs, () => this.flush());
  }

  /**
   * Runs `then` once the socket drains. The first waiter arms one 'drain'
   * listener and one timer; a socket that stays full for `timeoutMs` is
   * presumed stuck (a peer that stopped reading) and closed.
   */
  private waitForDrain(socket: Socket, timeoutMs: number, then: () => void): void {
    this.drainCallbacks.push(then);
    if (this.blocked) return;
    this.blocked = true;
    this.drainTimer = setTimeout(() => {
      socket.destroy(new ConnectionClosedError(`peer ${this.nodeId} did not read for ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('drain', () => {
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
      if (socket !== this.socket) return;
      this.blocked = false;
      const callbacks = this.drainCallbacks;
      this.drainCallbacks = [];
      for (const callback of callbacks) callback();
    });
  }

  /** Waits for 'drain' during a snapshot, where a receiver writing to disk may hold the socket full longer. */
  private drained(socket: Socket): Promise<void> {
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(new ConnectionClosedError(`connection to ${this.nodeId} lost`));
      socket.once('close', onClose);
      this.waitForDrain(socket, this.host.options.snapshotWriteTimeoutMs, () => {
        socket.off('close', onClose);
        resolve();
      });
    });
  }

  // ---- connection lifecycle ---------------------------------------------

  private dial(): void {
    const { options, counters } = this.host;
    let address: string | undefined;
    let problem: string | undefined;
    try {
      address = options.resolve(this.nodeId);
      if (address === undefined) problem = 'no known address';
    } catch (err) {
      problem = `resolve() threw: ${err instanceof Error ? err.message : String(err)}`;
    }
    const target = address === undefined ? undefined : parseAddress(address);
    if (target === undefined) {
      this.state = 'connecting';
      counters.connectFailures++;
      this.onFailure(new PeerUnreachableError(this.nodeId, problem ?? `bad address '${address}'`), false);
      return;
    }
    if (this.failures > 0 || this.everConnected) counters.reconnects++;
    this.state = 'connecting';

    const socket = options.tls === undefined
      ? netConnect({ host: target.host, port: target.port })
      : tlsConnect({
        host: target.host,
        port: target.port,
        cert: options.tls.cert,
        key: options.tls.key,
        ca: options.tls.ca,
        minVersion: 'TLSv1.2',
        // SNI takes names only; for an IP the identity check uses the IP itself.
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        // tls.connect spreads options over its defaults: pass the key only to override.
        ...(options.tls.verifyHostname === false ? { checkServerIdentity: () => undefined } : {}),
      });
    this.socket = socket;
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);

    let lastError: Error | undefined;
    this.connectTimer = setTimeout(() => {
      socket.destroy(new PeerUnreachableError(this.nodeId, `no handshake within ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.on('close', () => this.onSocketClose(socket, lastError));

    const parser = new FrameParser(HANDSHAKE_MAX_FRAME_SIZE);
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.parse(chunk, (frame) => this.onFrame(socket, frame));
      } catch (err) {
        if (err instanceof FrameError) counters.badFrames++;
        parser.stop();
        socket.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    });
    const proof = new DialerProof(options.token, this.helloVersion, { clusterId: options.clusterId, from: options.nodeId, to: this.nodeId }, options.nonces);
    this.proof = proof;
    socket.write(encodeFrame({
      type: FrameType.Hello,
      hello: {
        version: this.helloVersion, clusterId: options.clusterId, from: options.nodeId, to: this.nodeId,
        ...(proof.helloToken === undefined ? {} : { token: proof.helloToken }),
      },
    }));
  }

  private onFrame(socket: Socket, frame: Frame): void {
    if (socket !== this.socket) return;
    if (this.state !== 'connecting') {
      // Links are one-way: once the listener has said ok it never speaks again.
      throw new ProtocolError(`listener ${this.nodeId} sent frame type ${frame.type} after the handshake`);
    }
    if (frame.type === FrameType.Challenge) {
      // sec: the listener proves it holds the join secret; we answer with our proof.
      socket.write(this.proof!.answer(frame, `listener ${this.nodeId}`));
      return;
    }
    if (frame.type === FrameType.HelloOk) {
      if (frame.nodeId !== this.nodeId) throw new ProtocolError(`dialed ${this.nodeId} but '${frame.nodeId}' answered`);
      this.proof?.checkAccepted(`listener ${this.nodeId}`);
      // sec: with mutual TLS, the listener's certificate must name the node we dialed.
      if (socket instanceof TLSSocket) {
        const identity = verifyPeerIdentity(socket, this.nodeId);
        if (!identity.ok) throw new ProtocolError(`dialed ${this.nodeId}: ${identity.detail}`);
      }
      // A first-release listener answers 1 whatever we offered; a newer one its newest.
      const agreed = Math.min(this.helloVersion, frame.version);
      if (agreed < MIN_PROTOCOL_VERSION) {
        throw new ProtocolError(`${this.nodeId} speaks protocol versions up to ${frame.version}; this node speaks ${MIN_PROTOCOL_VERSION} or newer`);
      }
      this.protocolVersion = agreed;
      this.onConnected(socket);
    } else if (frame.type === FrameType.HelloReject) {
      if (frame.reason === HandshakeRejectReason.ProtocolVersion && this.helloVersion > LEGACY_PROTOCOL_VERSION
        && MIN_PROTOCOL_VERSION <= LEGACY_PROTOCOL_VERSION) {
        // Newer listeners take any newest version at or above their oldest: this is (most likely) the
        // first release's listener, which takes only version 1. Speak that to it, at once.
        this.helloVersion = LEGACY_PROTOCOL_VERSION;
        this.legacyRedial = true;
        socket.destroy();
        return;
      }
      this.host.counters.handshakesRejected++;
      socket.destroy(new HandshakeRejectedError(frame.reason, frame.detail));
    } else {
      throw new ProtocolError(`frame type ${frame.type} during the handshake`);
    }
  }

  private onConnected(socket: Socket): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const { logger } = this.host.options;
    if (this.failures > 0 || this.everConnected) logger.info({ peer: this.nodeId, after: this.failures }, 'reconnected to peer');
    else logger.info({ peer: this.nodeId }, 'connected to peer');
    this.state = 'connected';
    this.failures = 0;
    this.everConnected = true;
    socket.setKeepAlive(true, 10_000);
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.resolve(socket);
    if (this.queued > 0) this.host.scheduleFlush(this);
  }

  private onSocketClose(socket: Socket, err: Error | undefined): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    clearTimeout(this.connectTimer);
    clearTimeout(this.drainTimer);
    this.connectTimer = undefined;
    this.drainTimer = undefined;
    this.blocked = false;
    this.drainCallbacks = [];
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    if (this.legacyRedial) {
      this.legacyRedial = false;
      this.host.options.logger.info({ peer: this.nodeId }, 'peer speaks protocol version 1 only (the first release); redialing with it');
      this.state = 'idle';
      this.dial();
      return;
    }
    // The peer may come back upgraded (or version 1 was refused too): offer our newest again.
    this.helloVersion = this.host.options.protocolVersion;
    if (!wasConnected) this.host.counters.connectFailures++;
    this.onFailure(err ?? new ConnectionClosedError(wasConnected ? 'closed by peer' : 'closed during handshake'), wasConnected);
  }

  /** A dial failed or a connection broke: drop what waits, back off, tell Raft. */
  private onFailure(err: Error, wasConnected: boolean): void {
    const { logger, backoffInitialMs, backoffMaxMs } = this.host.options;
    // What was queued for this connection is lost with it; Raft resends what matters.
    this.clearQueued();
    this.failures++;

    const fields = { peer: this.nodeId, failures: this.failures, err: { code: errorCode(err), message: err.message } };
    if (err instanceof HandshakeRejectedError) logger.error(fields, 'peer refused our handshake');
    else if (wasConnected) logger.warn(fields, 'connection to peer lost');
    // A peer whose address is not known yet (a join, before its member record is applied here) is
    // normal for a moment: not worth a warning (issue 15). It stays at debug until the address comes.
    else if (err instanceof PeerUnreachableError && err.message.includes('no known address')) logger.debug(fields, 'peer address not known yet; retrying');
    else if (this.failures === 1) logger.warn(fields, 'cannot reach peer; retrying with backoff');
    else logger.debug(fields, 'cannot reach peer');

    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    const unreachable = err instanceof PeerUnreachableError ? err : new PeerUnreachableError(this.nodeId, err.message);
    for (const waiter of waiters) waiter.reject(unreachable);

    // Exponential backoff with "equal jitter": half fixed, half random, so
    // peers that lost the same node do not redial it in lockstep.
    const ceiling = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(this.failures - 1, 30));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.state = 'backoff';
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.state !== 'backoff') return;
      // Redial lazily: the next send() (Raft sends heartbeats steadily) or a waiting snapshot.
      this.state = 'idle';
      if (this.connectWaiters.length > 0) this.dial();
    }, delay);
    this.backoffTimer.unref();
    this.host.reportUnreachable(this.nodeId);
  }

  private connected(): Promise<Socket> {
    if (this.state === 'connected' && this.socket !== undefined) return Promise.resolve(this.socket);
    if (this.state === 'closed') return Promise.reject(new TransportClosedError());
    return new Promise((resolve, reject) => {
      this.connectWaiters.push({ resolve, reject });
      // In 'connecting' the handshake settles it; in 'backoff' the timer dials.
      if (this.state === 'idle') this.dial();
    });
  }

  // ---- snapshots ------------------------------------------------------

  /**
   * Streams a snapshot: the queued messages, then SnapshotBegin (the message
   * without inline data), SnapshotChunk frames of at most snapshotChunkSize,
   * then SnapshotEnd with the byte count. If `chunks` throws, SnapshotAbort
   * follows instead and the connection stays up. Messages sent meanwhile queue
   * (bounded) behind the stream.
   */
  async sendSnapshot(message: Message, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.state === 'closed') throw new TransportClosedError();
    if (this.snapshotActive) throw new SnapshotBusyError(this.nodeId);
    const { options, counters } = this.host;
    this.snapshotActive = true;
    // Messages sent before this call go ahead of the snapshot, those sent after it wait behind.
    let aheadCount = this.queued;
    let ahead: Buffer[] | undefined = this.takeQueued();
    try {
      const socket = await this.connected();
      if (this.blocked) await this.drained(socket);
      const begin: Message = { ...message };
      if (message.snapshot !== undefined) begin.snapshot = { meta: message.snapshot.meta };
      const beginFrame = encodeFrame({ type: FrameType.SnapshotBegin, message: begin }, options.maxFrameSize);
      const frames = [...ahead, beginFrame];
      this.sent += aheadCount;
      counters.messagesSent += aheadCount;
      ahead = undefined;
      aheadCount = 0;
      await this.writeFrames(socket, frames);

      let totalBytes = 0;
      try {
        for await (const chunk of chunks) {
          for (let at = 0; at < chunk.length; at += options.snapshotChunkSize) {
            const piece = chunk.subarray(at, at + options.snapshotChunkSize);
            await this.writeFrames(socket, snapshotChunkFrame(piece, options.maxFrameSize));
            totalBytes += piece.length;
          }
        }
      } catch (err) {
        if (!(err instanceof ConnectionClosedError) && this.isOpen(socket)) {
          const reason = err instanceof Error ? err.message : String(err);
          socket.write(encodeFrame({ type: FrameType.SnapshotAbort, reason }));
          options.logger.warn({ peer: this.nodeId, reason }, 'snapshot source failed; stream aborted');
        }
        throw err;
      }
      await this.writeLast(socket, encodeFrame({ type: FrameType.SnapshotEnd, totalBytes }));
      counters.snapshotsSent++;
      counters.messagesSent++;
      this.sent++;
    } catch (err) {
      counters.snapshotsFailed++;
      if (ahead !== undefined) this.drop(aheadCount);
      throw err;
    } finally {
      this.snapshotActive = false;
      if (this.state === 'connected' && this.queued > 0) this.host.scheduleFlush(this);
    }
  }

  private isOpen(socket: Socket): boolean {
    return socket === this.socket && this.state === 'connected' && !socket.destroyed;
  }

  /** Writes the pieces of one frame together, then waits if the socket is full. */
  private async writeFrames(socket: Socket, pieces: Uint8Array[]): Promise<void> {
    if (!this.isOpen(socket)) throw new ConnectionClosedError(`connection to ${this.nodeId} lost`);
    let ok = true;
    socket.cork();
    for (const piece of pieces) {
      ok = socket.write(piece);
      this.host.counters.bytesSent += piece.length;
    }
    socket.uncork();
    if (!ok) await this.drained(socket);
  }

  /** Writes the final frame and resolves once the socket has passed it to the kernel. */
  private writeLast(socket: Socket, frame: Buffer): Promise<void> {
    if (!this.isOpen(socket)) return Promise.reject(new ConnectionClosedError(`connection to ${this.nodeId} lost`));
    this.host.counters.bytesSent += frame.length;
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(new ConnectionClosedError(`connection to ${this.nodeId} lost`));
      socket.once('close', onClose);
      socket.write(frame, (err) => {
        socket.off('close', onClose);
        if (err) reject(new ConnectionClosedError(err.message));
        else resolve();
      });
    });
  }

  // ---- shutdown ---------------------------------------------------------

  /** Closes the link for good: queued messages are dropped, a pending snapshot fails. */
  async close(): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      clearTimeout(this.backoffTimer);
      clearTimeout(this.connectTimer);
      clearTimeout(this.drainTimer);
      this.clearQueued();
      const waiters = this.connectWaiters;
      this.connectWaiters = [];
      for (const waiter of waiters) waiter.reject(new TransportClosedError());
      this.socket?.destroy();
    }
    await this.socketClosed;
  }
}

function errorCode(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
