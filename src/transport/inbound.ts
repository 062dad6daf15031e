// One accepted connection from a peer: judge its hello, then only read — Raft
// messages to onMessage, streamed snapshots to onSnapshot — until it closes.

import type { Socket } from 'node:net';
import type { Message, NodeId } from '../raft/types.js';
import { MessageType } from '../raft/types.js';
import { encodeFrame, FrameType, HANDSHAKE_MAX_FRAME_SIZE, PROTOCOL_VERSION, type Frame, type Hello } from './codec.js';
import { ConnectionClosedError, FrameError, ProtocolError, SnapshotAbortedError } from './errors.js';
import { judgeHello } from './handshake.js';
import type { ResolvedTransportOptions } from './options.js';
import { FrameParser } from './parser.js';
import { SnapshotChunkStream } from './snapshot-stream.js';
import type { TransportCounters } from './stats.js';

/** Bytes of snapshot data queued for a slow consumer before the socket is paused. */
const SNAPSHOT_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** After a refusal, how long the dialer gets to read the reason before we cut it off. */
const REFUSAL_LINGER_MS = 1000;

/** What an inbound connection needs from the transport that owns it. */
export interface InboundHost {
  readonly options: ResolvedTransportOptions;
  readonly counters: TransportCounters;
  readonly tokenDigest: Buffer | undefined;
  /** The hello was accepted: this is now the connection from `peerId`. */
  accepted(connection: InboundConnection): void;
  closed(connection: InboundConnection): void;
}

interface SnapshotReceipt {
  message: Message;
  stream: SnapshotChunkStream;
  bytes: number;
}

export class InboundConnection {
  /** The peer's node id, once its hello is accepted. */
  peerId: NodeId = '';
  readonly remoteAddress: string;
  readonly closedPromise: Promise<void>;
  private readonly host: InboundHost;
  private readonly socket: Socket;
  private readonly parser = new FrameParser(HANDSHAKE_MAX_FRAME_SIZE);
  private state: 'handshake' | 'open' | 'refused' | 'closed' = 'handshake';
  private timer: NodeJS.Timeout | undefined;
  private snapshot: SnapshotReceipt | undefined;

  constructor(host: InboundHost, socket: Socket) {
    this.host = host;
    this.socket = socket;
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    const { handshakeTimeoutMs, logger } = host.options;
    this.timer = setTimeout(() => {
      logger.warn({ remote: this.remoteAddress }, `no hello within ${handshakeTimeoutMs} ms; closing`);
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
        options.logger.warn(
          { remote: this.remoteAddress, peer: this.peerId, err: { code: err.code, message: err.message } },
          'bad frame from peer; closing the connection',
        );
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
    if (this.state !== 'open') return;
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
    const { options, counters, tokenDigest } = this.host;
    clearTimeout(this.timer);
    this.timer = undefined;
    const verdict = judgeHello(hello, { nodeId: options.nodeId, clusterId: options.clusterId, tokenDigest });
    if (!verdict.accepted) {
      counters.handshakesRefused++;
      options.logger.warn(
        { remote: this.remoteAddress, peer: hello.from, clusterId: hello.clusterId, version: hello.version, reason: verdict.detail },
        'refused peer handshake',
      );
      this.state = 'refused';
      this.parser.stop();
      this.socket.end(encodeFrame({ type: FrameType.HelloReject, reason: verdict.reason, detail: verdict.detail }));
      this.timer = setTimeout(() => this.socket.destroy(), REFUSAL_LINGER_MS);
      this.timer.unref();
      return;
    }
    this.peerId = hello.from;
    this.state = 'open';
    this.parser.maxFrameSize = options.maxFrameSize;
    this.socket.write(encodeFrame({ type: FrameType.HelloOk, version: PROTOCOL_VERSION, nodeId: options.nodeId }));
    options.logger.info({ remote: this.remoteAddress, peer: this.peerId }, 'peer connected');
    this.host.accepted(this);
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
    this.timer = undefined;
    this.parser.stop();
    const receipt = this.snapshot;
    this.snapshot = undefined;
    receipt?.stream.fail(new ConnectionClosedError(`peer ${this.peerId} disconnected mid-snapshot`));
    if (this.state === 'open') this.host.options.logger.info({ remote: this.remoteAddress, peer: this.peerId }, 'peer disconnected');
    this.state = 'closed';
    this.host.closed(this);
  }
}
