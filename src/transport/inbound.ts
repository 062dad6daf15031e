// One accepted connection from a peer: judge its hello, then either only read
// (a Raft link: messages to onMessage, streamed snapshots to onSnapshot) or, on
// a request connection, run Requests through onRequest and write back Responses.

import { TLSSocket } from 'node:tls';
import { verifyPeerIdentity, type PeerRole } from './peer-identity.js';
import { refusalSource, type RefusalLog } from './refusal-log.js';
import type { Socket } from 'node:net';
import type { Message, NodeId } from '../raft/types.js';
import { MessageType } from '../raft/types.js';
import {
  encodeErrorBody, encodeFrame, FrameType, HANDSHAKE_MAX_FRAME_SIZE, HandshakeRejectReason, responseFrame, type Frame, type Hello,
} from './codec.js';
import {
  ConnectionClosedError, FrameError, NoRequestHandlerError, ProtocolError, RequestRefusedError, SnapshotAbortedError,
} from './errors.js';
import { judgeHello } from './handshake.js';
import { challengeNonce, dialerProof, listenerProof, sameProof, type NonceSource, type ProofInput } from './join-proof.js';
import type { ResolvedTransportOptions } from './options.js';
import { FrameParser } from './parser.js';
import { SnapshotChunkStream } from './snapshot-stream.js';
import type { TransportCounters } from './stats.js';

/** Bytes of snapshot data queued for a slow consumer before the socket is paused. */
const SNAPSHOT_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** After a refusal, how long the dialer gets to read the reason before we cut it off. */
const REFUSAL_LINGER_MS = 1000;

/** Requests one request connection may have unanswered at once; more are refused with 503. */
export const MAX_REQUESTS_IN_FLIGHT = 1024;

/** What an inbound connection needs from the transport that owns it. */
export interface InboundHost {
  readonly options: ResolvedTransportOptions;
  readonly counters: TransportCounters;
  readonly tokenDigest: Buffer | undefined;
  /** sec: refusals logged once per source per interval. */
  readonly refusals: RefusalLog;
  /** sec: the listener's challenge nonces. */
  readonly nonces: NonceSource;
  /** The hello was accepted: this is now the connection from `peerId`. */
  accepted(connection: InboundConnection): void;
  closed(connection: InboundConnection): void;
  /** A request connection closed (it was never registered as the peer's link). */
  rpcClosed(connection: InboundConnection): void;
}

interface SnapshotReceipt {
  message: Message;
  stream: SnapshotChunkStream;
  bytes: number;
}

export class InboundConnection {
  /** The peer's node id, once its hello is accepted. */
  peerId: NodeId = '';
  /** The newest protocol version the peer said it speaks (its hello's version). */
  peerVersion = 0;
  readonly remoteAddress: string;
  readonly closedPromise: Promise<void>;
  private readonly host: InboundHost;
  private readonly socket: Socket;
  private readonly parser = new FrameParser(HANDSHAKE_MAX_FRAME_SIZE);
  private state: 'handshake' | 'challenged' | 'open' | 'refused' | 'closed' = 'handshake';
  /** sec: between our Challenge and the dialer's Proof: its hello, the verdict so far, and both nonces. */
  private challenge: { hello: Hello; version: number; dialerNonce: Buffer; listenerNonce: Buffer } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private snapshot: SnapshotReceipt | undefined;
  /** A request connection (hello.to empty): carries Request frames, answered on the same socket. */
  private rpc = false;
  /** sec: what the peer's certificate says it is (mutual TLS only). */
  private peerRole: PeerRole | undefined;
  private requestsInFlight = 0;
  /** Responses fill the socket: reading (new requests) waits for 'drain'. */
  private blocked = false;
  private drainTimer: NodeJS.Timeout | undefined;

  /** sec: gives back this connection's place among the unauthenticated (once its hello is accepted). */
  private readonly authenticated: (() => void) | undefined;
  /** sec: when the handshake (hello, and proof when challenged) must be done by. */
  private readonly handshakeDeadline: number;

  constructor(host: InboundHost, socket: Socket, authenticated?: () => void) {
    this.host = host;
    this.socket = socket;
    this.authenticated = authenticated;
    this.handshakeDeadline = Date.now() + host.options.handshakeTimeoutMs;
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    const { handshakeTimeoutMs, logger } = host.options;
    this.timer = setTimeout(() => {
      const { log, suppressed } = host.refusals.admit(`${refusalSource(this.remoteAddress)} no-hello`);
      if (log) logger.warn({ remote: this.remoteAddress, suppressed }, `no hello within ${handshakeTimeoutMs} ms; closing`);
      this.destroy();
    }, handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      logger.debug({ remote: this.remoteAddress, peer: this.peerId, err: { message: err.message } }, 'inbound socket error');
    });
    socket.on('close', () => this.onClose());
  }

  /** Closes the connection now and resolves once it is closed. */
  close(): Promise<void> {
    this.destroy();
    return this.closedPromise;
  }

  destroy(): void {
    this.parser.stop();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const { counters, options } = this.host;
    counters.bytesReceived += chunk.length;
    try {
      this.parser.parse(chunk, (frame) => this.onFrame(frame));
    } catch (err) {
      if (err instanceof FrameError) {
        counters.badFrames++;
        const { log, suppressed } = this.host.refusals.admit(`${refusalSource(this.remoteAddress)} ${err.code}`);
        if (log || this.state === 'open') {
          options.logger.warn(
            { remote: this.remoteAddress, peer: this.peerId, err: { code: err.code, message: err.message }, suppressed },
            'bad frame from peer; closing the connection',
          );
        }
      } else {
        options.logger.error({ remote: this.remoteAddress, peer: this.peerId, err }, 'inbound connection failed');
      }
      this.destroy();
    }
  }

  private onFrame(frame: Frame): void {
    if (this.state === 'handshake') {
      if (frame.type !== FrameType.Hello) throw new ProtocolError(`expected hello, got frame type ${frame.type}`);
      this.onHello(frame.hello);
      return;
    }
    if (this.state === 'challenged') {
      if (frame.type !== FrameType.Proof) throw new ProtocolError(`expected the answer to our challenge, got frame type ${frame.type}`);
      this.onProof(frame.proof);
      return;
    }
    if (this.state !== 'open') return;
    if (this.rpc) {
      if (frame.type !== FrameType.Request) throw new ProtocolError(`frame type ${frame.type} on a request connection`);
      this.onRequest(frame.id, frame.method, frame.body);
      return;
    }
    switch (frame.type) {
      case FrameType.Message:
        this.checkSender(frame.message);
        if (this.snapshot !== undefined) throw new ProtocolError('message inside a snapshot stream');
        this.host.counters.messagesReceived++;
        this.deliver(frame.message);
        break;
      case FrameType.SnapshotBegin:
        this.onSnapshotBegin(frame.message);
        break;
      case FrameType.SnapshotChunk: {
        const receipt = this.snapshot;
        if (receipt === undefined) throw new ProtocolError('snapshot chunk outside a snapshot stream');
        receipt.bytes += frame.data.length;
        receipt.stream.push(frame.data);
        break;
      }
      case FrameType.SnapshotEnd: {
        const receipt = this.snapshot;
        if (receipt === undefined) throw new ProtocolError('snapshot end outside a snapshot stream');
        this.snapshot = undefined;
        if (frame.totalBytes !== receipt.bytes) {
          receipt.stream.fail(new SnapshotAbortedError(`sender wrote ${frame.totalBytes} bytes, ${receipt.bytes} arrived`));
          throw new ProtocolError(`snapshot length mismatch (${frame.totalBytes} sent, ${receipt.bytes} received)`);
        }
        receipt.stream.end();
        this.host.counters.snapshotsReceived++;
        break;
      }
      case FrameType.SnapshotAbort: {
        const receipt = this.snapshot;
        if (receipt === undefined) throw new ProtocolError('snapshot abort outside a snapshot stream');
        this.snapshot = undefined;
        this.host.options.logger.warn({ peer: this.peerId, reason: frame.reason }, 'peer aborted a snapshot stream');
        receipt.stream.fail(new SnapshotAbortedError(frame.reason));
        break;
      }
      default:
        throw new ProtocolError(`frame type ${frame.type} after the handshake`);
    }
  }

  private onHello(hello: Hello): void {
    const { options, tokenDigest } = this.host;
    clearTimeout(this.timer);
    this.timer = undefined;
    let verdict = judgeHello(hello, {
      nodeId: options.nodeId, clusterId: options.clusterId, tokenDigest,
      clusterVersion: options.clusterVersion?.(), newest: options.protocolVersion,
    });
    // sec: with mutual TLS, the certificate must name the node the hello claims to be.
    if (verdict.accepted && this.socket instanceof TLSSocket) {
      const identity = verifyPeerIdentity(this.socket, hello.from);
      if (identity.ok) this.peerRole = identity.role;
      else verdict = { accepted: false, reason: HandshakeRejectReason.NodeId, detail: identity.detail };
    }
    if (!verdict.accepted) {
      this.refuse(hello, verdict.reason, verdict.detail);
      return;
    }
    const dialerNonce = tokenDigest === undefined ? undefined : challengeNonce(hello.token);
    if (dialerNonce !== undefined && tokenDigest !== undefined) {
      // sec: the dialer asked for a challenge: our nonce and our proof now, its proof next.
      const listenerNonce = this.host.nonces();
      this.challenge = { hello, version: verdict.version, dialerNonce, listenerNonce };
      this.state = 'challenged';
      const proof = listenerProof(tokenDigest, this.proofInput());
      this.socket.write(encodeFrame({ type: FrameType.Challenge, nodeId: options.nodeId, nonce: listenerNonce, proof }));
      // The whole handshake, hello and proof, within the one handshake timeout from accept.
      const left = Math.max(1, this.handshakeDeadline - Date.now());
      this.timer = setTimeout(() => this.refuse(hello, HandshakeRejectReason.Token, `no answer to the challenge within ${options.handshakeTimeoutMs} ms`), left);
      return;
    }
    this.open(hello, verdict.version);
  }

  private proofInput(): ProofInput {
    const c = this.challenge!;
    return {
      clusterId: this.host.options.clusterId, dialerNonce: c.dialerNonce, listenerNonce: c.listenerNonce,
      from: c.hello.from, to: c.hello.to, listener: this.host.options.nodeId,
    };
  }

  private onProof(proof: Buffer): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const challenge = this.challenge!;
    const expected = dialerProof(this.host.tokenDigest!, this.proofInput());
    if (!sameProof(expected, proof)) {
      this.refuse(challenge.hello, HandshakeRejectReason.Token, 'wrong join token (the proof does not match our challenge)');
      return;
    }
    this.challenge = undefined;
    this.open(challenge.hello, challenge.version);
  }

  /** Says why, logs once per source and reason a minute, and closes after a moment (the dialer reads the reason). */
  private refuse(hello: Hello, reason: HandshakeRejectReason, detail: string): void {
    if (this.state === 'refused' || this.state === 'closed') return;
    const { options, counters } = this.host;
    clearTimeout(this.timer);
    counters.handshakesRefused++;
    const { log, suppressed } = this.host.refusals.admit(`${refusalSource(this.remoteAddress)} ${detail}`);
    if (log) {
      options.logger.warn(
        { remote: this.remoteAddress, peer: hello.from, clusterId: hello.clusterId, version: hello.version, reason: detail, suppressed },
        'refused peer handshake',
      );
    }
    this.state = 'refused';
    this.challenge = undefined;
    this.parser.stop();
    this.socket.end(encodeFrame({ type: FrameType.HelloReject, reason, detail }));
    this.timer = setTimeout(() => this.socket.destroy(), REFUSAL_LINGER_MS);
    this.timer.unref();
  }

  private open(hello: Hello, version: number): void {
    const { options } = this.host;
    const verdict = { version };
    this.peerId = hello.from;
    this.peerVersion = hello.version;
    this.state = 'open';
    this.authenticated?.();
    this.parser.maxFrameSize = options.maxFrameSize;
    // Our newest: a version-1 dialer ignores it, a newer one takes the lower of the two.
    this.socket.write(encodeFrame({ type: FrameType.HelloOk, version: options.protocolVersion, nodeId: options.nodeId }));
    if (hello.to === '') {
      // Not the peer's Raft link: it must not replace that one.
      this.rpc = true;
      options.logger.debug({ remote: this.remoteAddress, peer: this.peerId }, 'request connection opened');
      return;
    }
    options.logger.info({ remote: this.remoteAddress, peer: this.peerId, protocol: verdict.version }, 'peer connected');
    this.host.accepted(this);
  }

  private onRequest(id: number, method: string, body: Buffer): void {
    const { options, counters } = this.host;
    this.requestsInFlight++;
    counters.requestsReceived++;
    if (this.requestsInFlight > MAX_REQUESTS_IN_FLIGHT) {
      this.respond(id, false, encodeErrorBody(new RequestRefusedError(`more than ${MAX_REQUESTS_IN_FLIGHT} requests in flight on one connection`)));
      return;
    }
    const onRequest = options.onRequest;
    if (onRequest === undefined) {
      this.respond(id, false, encodeErrorBody(new NoRequestHandlerError(method)));
      return;
    }
    let answer: Promise<Uint8Array>;
    try {
      answer = onRequest(method, body, { nodeId: this.peerId, address: this.remoteAddress, version: this.peerVersion, role: this.peerRole });
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (result) => this.respond(id, true, result),
      (err: unknown) => this.respond(id, false, encodeErrorBody(err)),
    );
  }

  /**
   * Writes one Response. Back-pressure as on the sending side of a Raft link:
   * while the socket is full no new requests are read, a socket that stays
   * full for writeTimeoutMs is closed, and an answer that finds maxQueuedBytes
   * already waiting closes the connection (its callers hear so at once rather
   * than at their time limit).
   */
  private respond(id: number, ok: boolean, body: Uint8Array): void {
    this.requestsInFlight--;
    // destroy() leaves state 'open' until the socket's 'close' event; the socket knows at once.
    if (this.state !== 'open' || this.socket.destroyed) return;
    const { options, counters } = this.host;
    let pieces: Uint8Array[];
    try {
      if (!(body instanceof Uint8Array)) throw new TypeError('onRequest must resolve to a Uint8Array');
      pieces = responseFrame(id, ok, body, options.maxFrameSize);
    } catch (err) {
      pieces = responseFrame(id, false, encodeErrorBody(err), options.maxFrameSize);
    }
    const socket = this.socket;
    if (socket.writableLength >= options.maxQueuedBytes) {
      options.logger.warn(
        { remote: this.remoteAddress, peer: this.peerId, bufferedBytes: socket.writableLength },
        'requester does not read its answers; closing the request connection',
      );
      this.destroy();
      return;
    }
    let written = true;
    socket.cork();
    for (const piece of pieces) {
      written = socket.write(piece);
      counters.bytesSent += piece.length;
    }
    socket.uncork();
    if (!written) this.waitForDrain();
  }

  private waitForDrain(): void {
    if (this.blocked) return;
    this.blocked = true;
    const socket = this.socket;
    socket.pause();
    const { writeTimeoutMs, logger } = this.host.options;
    this.drainTimer = setTimeout(() => {
      logger.warn({ remote: this.remoteAddress, peer: this.peerId }, `requester did not read for ${writeTimeoutMs} ms; closing`);
      this.destroy();
    }, writeTimeoutMs);
    socket.once('drain', () => {
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
      this.blocked = false;
      if (this.state === 'open') socket.resume();
    });
  }

  /** The hello named the peer; every message on its connection must come from it and be for us. */
  private checkSender(message: Message): void {
    if (message.from !== this.peerId) {
      throw new ProtocolError(`message from '${message.from}' on the connection of '${this.peerId}'`);
    }
    if (message.to !== this.host.options.nodeId) {
      throw new ProtocolError(`message for '${message.to}' delivered to '${this.host.options.nodeId}'`);
    }
  }

  private deliver(message: Message): void {
    try {
      this.host.options.onMessage(message);
    } catch (err) {
      this.host.options.logger.error({ peer: this.peerId, err }, 'onMessage threw; message dropped');
    }
  }

  private onSnapshotBegin(message: Message): void {
    this.checkSender(message);
    if (this.snapshot !== undefined) throw new ProtocolError('snapshot stream inside another');
    if (message.type !== MessageType.Snap || message.snapshot === undefined) {
      throw new ProtocolError(`snapshot stream begins with message type ${message.type}`);
    }
    const stream = new SnapshotChunkStream(SNAPSHOT_HIGH_WATER_MARK, (paused) => {
      if (paused) this.socket.pause();
      else this.socket.resume();
    });
    this.snapshot = { message, stream, bytes: 0 };
    this.host.counters.messagesReceived++;
    const { onSnapshot, logger } = this.host.options;
    if (onSnapshot === undefined) {
      void this.gatherInline(message, stream);
      return;
    }
    try {
      const done = onSnapshot(message, stream);
      if (done instanceof Promise) {
        done.catch((err: unknown) => {
          logger.error({ peer: this.peerId, err }, 'onSnapshot failed; rest of the stream discarded');
          stream.discard();
        });
      }
    } catch (err) {
      logger.error({ peer: this.peerId, err }, 'onSnapshot threw; stream discarded');
      stream.discard();
    }
  }

  /** Without onSnapshot, a stream that fits in one frame is handed to onMessage with its data inline. */
  private async gatherInline(message: Message, stream: SnapshotChunkStream): Promise<void> {
    const { maxFrameSize, logger } = this.host.options;
    const parts: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of stream) {
        size += chunk.length;
        if (size > maxFrameSize) {
          logger.error({ peer: this.peerId, limit: maxFrameSize }, 'streamed snapshot too large to deliver inline (set onSnapshot); dropped');
          this.host.counters.messagesDropped++;
          return;
        }
        parts.push(chunk);
      }
    } catch (err) {
      logger.warn({ peer: this.peerId, err: err instanceof Error ? err.message : String(err) }, 'snapshot stream failed');
      return;
    }
    const meta = message.snapshot!.meta;
    this.deliver({ ...message, snapshot: { meta, data: Buffer.concat(parts, size) } });
  }

  private onClose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.drainTimer);
    this.timer = undefined;
    this.drainTimer = undefined;
    this.parser.stop();
    const receipt = this.snapshot;
    this.snapshot = undefined;
    receipt?.stream.fail(new ConnectionClosedError(`peer ${this.peerId} disconnected mid-snapshot`));
    if (this.state === 'open') {
      const { logger } = this.host.options;
      if (this.rpc) logger.debug({ remote: this.remoteAddress, peer: this.peerId }, 'request connection closed');
      else logger.info({ remote: this.remoteAddress, peer: this.peerId }, 'peer disconnected');
    }
    this.state = 'closed';
    if (this.rpc) this.host.rpcClosed(this);
    else this.host.closed(this);
  }
}
