// The Transport: a listener for peers' connections and one outbound link per
// peer, batching each event-loop turn's messages into one write per peer.
//
// Raft links are one-way, like etcd's stream pairs: a node sends to a peer only
// over the connection it dialed, and only reads from connections it accepted.
// Each link is TCP (or mutual TLS) carrying frames: hello → ok | reject, then
// Message frames, and for a streamed snapshot
//   SnapshotBegin(message) SnapshotChunk* (SnapshotEnd(totalBytes) | SnapshotAbort(reason))
// with no other frame in between. Request connections (hello with an empty
// `to`, see requests.ts) are the one exception: Request frames go one way and
// Response frames come back. See codec.ts for the bytes.

import { createServer as netCreateServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as tlsCreateServer, type Server as TlsServer } from 'node:tls';
import type { Message, NodeId } from '../raft/types.js';
import { MessageType } from '../raft/types.js';
import { FrameEncodeError, PeerUnreachableError, TransportClosedError } from './errors.js';
import { agreedVersion, tokenDigest } from './handshake.js';
import { InboundConnection, type InboundHost } from './inbound.js';
import { RefusalLog, refusalSource } from './refusal-log.js';
import { PendingConnections } from './admission.js';
import { RequestClient } from './requests.js';
import { resolveOptions, type ResolvedTransportOptions, type TransportOptions } from './options.js';
import { Peer, type PeerHost } from './peer.js';
import { zeroCounters, type TransportCounters, type TransportStats } from './stats.js';

type Lifecycle = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** host:port, with brackets around an IPv6 host: the form resolve() returns. */
export function formatAddress(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export class Transport {
  private readonly options: ResolvedTransportOptions;
  private readonly counters: TransportCounters = zeroCounters();
  /** What peer links and inbound connections see of the transport; kept off the public surface. */
  private readonly host: PeerHost & InboundHost;
  private lifecycle: Lifecycle = 'new';
  private server: Server | undefined;
  private bound: { host: string; port: number } | undefined;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly inbound = new Set<InboundConnection>();
  private readonly inboundByPeer = new Map<NodeId, InboundConnection>();
  /** Accepted TCP sockets whose TLS handshake has not finished; closed with the transport. */
  private readonly rawSockets = new Set<Socket>();
  /** sec: connections accepted and not yet authenticated, capped in total and per source. */
  private pending: PendingConnections | undefined;
  /** sec: each admitted raw socket's release of its place among the unauthenticated. */
  private readonly pendingRelease = new WeakMap<Socket, () => void>();
  /** sec: raw sockets closed at accept by the cap (so the TLS server's error for them is not a second refusal). */
  private readonly capped = new WeakSet<Socket>();
  private readonly dirty = new Set<Peer>();
  private flushHandle: NodeJS.Immediate | undefined;
  private closing: Promise<void> | undefined;
  private readonly requests: RequestClient;

  /**
   * sec: new certificates and keys (SIGHUP): the listener presents and checks with them from the next
   * handshake, and new dials use them; open links stay as they are.
   */
  reloadTls(tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer }): void {
    const current = this.options.tls;
    if (current === undefined) throw new Error('reloadTls: this transport was started without TLS');
    this.options.tls = { ...current, cert: tls.cert, key: tls.key, ca: tls.ca };
    (this.server as TlsServer | undefined)?.setSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca });
  }

  /** Checks every option; throws InvalidTransportOptionError naming the first bad one. */
  constructor(options: TransportOptions) {
    this.options = resolveOptions(options);
    this.host = {
      options: this.options,
      counters: this.counters,
      tokenDigest: this.options.token === undefined ? undefined : tokenDigest(this.options.token),
      refusals: new RefusalLog(),
      nonces: this.options.nonces,
      scheduleFlush: (peer) => this.scheduleFlush(peer),
      reportUnreachable: (nodeId) => this.reportUnreachable(nodeId),
      accepted: (connection) => this.accepted(connection),
      closed: (connection) => this.forget(connection),
      // A request connection was never the peer's link; only the set of open connections knows it.
      rpcClosed: (connection) => this.inbound.delete(connection),
    };
    this.requests = new RequestClient(this.options, this.counters);
  }

  /**
   * Calls `method` on another node and resolves with what its onRequest
   * resolved to. The target is a node id (dialed at resolve(nodeId), and the
   * node found there must be that one) or just an address, for a node whose id
   * is not known yet (a join). Requests travel on their own connection per
   * address, never on the Raft link, so a large body cannot delay heartbeats;
   * an idle one closes after 30 s.
   *
   * Rejects with RemoteError (the handler's code, message and HTTP status),
   * TransportTimeoutError (504; the request may have run), PeerUnavailableError
   * (503; the connection broke with the request sent, it may have run),
   * PeerUnreachableError or HandshakeRejectedError (it was never sent),
   * RequestRefusedError (503; too many calls waiting on that connection), or
   * TransportClosedError.
   */
  request(target: { nodeId?: NodeId; address?: string }, method: string, body: Uint8Array, timeoutMs: number): Promise<Buffer> {
    if (this.lifecycle === 'closing' || this.lifecycle === 'closed') return Promise.reject(new TransportClosedError());
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      return Promise.reject(new RangeError(`request timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`));
    }
    if (!(body instanceof Uint8Array)) return Promise.reject(new TypeError('request body must be a Uint8Array (or Buffer)'));
    const { nodeId } = target;
    if (nodeId === this.options.nodeId) {
      return Promise.reject(new PeerUnreachableError(nodeId, 'that is this node; call its handler directly'));
    }
    let address = target.address;
    if (address === undefined) {
      if (nodeId === undefined || nodeId === '') return Promise.reject(new RangeError('request needs a target nodeId or address'));
      try {
        address = this.options.resolve(nodeId);
      } catch (err) {
        return Promise.reject(new PeerUnreachableError(nodeId, `resolve() threw: ${err instanceof Error ? err.message : String(err)}`));
      }
      if (address === undefined) return Promise.reject(new PeerUnreachableError(nodeId, 'no known address'));
    }
    return this.requests.request(address, nodeId === '' ? undefined : nodeId, method, body, timeoutMs);
  }

  /** The address the listener is bound to (the real port when listen.port was 0). */
  get address(): { host: string; port: number } {
    if (this.bound === undefined) throw new TransportClosedError();
    return { ...this.bound };
  }

  /** Starts listening. Sending works before start; receiving needs it. */
  async start(): Promise<void> {
    if (this.lifecycle !== 'new') throw new TransportClosedError();
    this.lifecycle = 'starting';
    const { tls, listen, logger, handshakeTimeoutMs } = this.options;
    const onConnection = (socket: Socket): void => this.accept(socket);
    const server: Server = tls === undefined
      ? netCreateServer(onConnection)
      : tlsCreateServer({
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        handshakeTimeout: handshakeTimeoutMs,
      }, onConnection);
    this.pending = new PendingConnections(this.options.maxPendingConnections, this.options.maxPendingPerSource);
    // sec: before anything else sees the connection (the TLS server's own listener allocates its state).
    server.prependListener('connection', (raw: Socket) => this.admit(raw));
    if (tls !== undefined) {
      // Track sockets from accept to secure handshake, so close() never waits on a stalled TLS handshake.
      server.on('connection', (raw: Socket) => {
        this.rawSockets.add(raw);
        raw.once('close', () => this.rawSockets.delete(raw));
      });
      server.on('tlsClientError', (err: Error, socket: Socket) => {
        // The raw socket under a TLS socket (node keeps it as _parent): one the cap closed was counted there.
        const parent = (socket as Socket & { _parent?: Socket })._parent;
        if (parent !== undefined && this.capped.has(parent)) {
          socket.destroy();
          return;
        }
        this.counters.handshakesRefused++;
        const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
        const { log, suppressed } = this.host.refusals.admit(`${refusalSource(remote)} tls`);
        if (log) logger.warn({ remote, err: { message: err.message }, suppressed }, 'refused peer: TLS handshake failed');
        // sec: node reports a TLS handshake timeout but leaves the socket open: a stalled handshake must not hold it.
        socket.destroy();
      });
    }
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.lifecycle = 'closed';
        reject(err);
      };
      server.once('error', onError);
      server.listen(listen.port, listen.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => logger.error({ err }, 'peer listener error'));
    const address = server.address() as AddressInfo;
    this.bound = { host: address.address, port: address.port };
    if (this.lifecycle === 'starting') this.lifecycle = 'running';
    logger.info({ address: formatAddress(this.bound), tls: tls !== undefined }, 'raft transport listening');
  }

  /**
   * Queues a message for its peer; messages queued in one event-loop turn go
   * out together. Never blocks and never throws for network trouble: a message
   * to a peer that is down, whose queue is full, or that exceeds maxFrameSize is
   * dropped and counted (Raft retries). Throws FrameEncodeError for a malformed
   * message (a negative term, an unknown type) — a bug in the caller.
   */
  send(message: Message): void {
    const peer = this.peerFor(message);
    if (peer === undefined) {
      this.counters.messagesDropped++;
      return;
    }
    peer.enqueue(message);
  }

  /**
   * Sends a Snap message with its data streamed from `chunks` (any inline
   * snapshot.data is left out). Resolves once the last frame is written to the
   * socket; rejects if the peer cannot be reached, the connection breaks, or
   * `chunks` throws (the receiver is then told to discard what it got). One
   * snapshot per peer at a time (SnapshotBusyError); messages to that peer
   * wait behind the stream in the bounded queue.
   */
  async sendSnapshot(message: Message, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (message.type !== MessageType.Snap || message.snapshot === undefined) {
      throw new FrameEncodeError('sendSnapshot needs a Snap message with snapshot meta');
    }
    const peer = this.peerFor(message);
    if (peer === undefined) {
      if (this.lifecycle === 'closing' || this.lifecycle === 'closed') throw new TransportClosedError();
      throw new PeerUnreachableError(message.to, 'not a peer of this node');
    }
    await peer.sendSnapshot(message, chunks);
  }

  /** Closes the outbound link to a peer that left the cluster; a later send() dials it afresh. */
  async removePeer(nodeId: NodeId): Promise<void> {
    const peer = this.peers.get(nodeId);
    if (peer === undefined) return;
    this.peers.delete(nodeId);
    this.dirty.delete(peer);
    await peer.close();
  }

  /**
   * The protocol version this node and `nodeId` speak to each other, as the
   * last handshake between them said (the link we dialed first, else theirs to
   * us); undefined before any handshake.
   */
  peerVersion(nodeId: NodeId): number | undefined {
    const peer = this.peers.get(nodeId);
    if (peer !== undefined && peer.protocolVersion > 0) return peer.protocolVersion;
    const inbound = this.inboundByPeer.get(nodeId);
    if (inbound !== undefined && inbound.peerVersion > 0) return agreedVersion(inbound.peerVersion, this.options.protocolVersion);
    return undefined;
  }

  stats(): TransportStats {
    return {
      counters: { ...this.counters },
      peers: [...this.peers.values()].map((peer) => peer.stats()),
      inboundConnections: this.inbound.size,
      requestConnections: this.requests.size,
    };
  }

  /** Stops listening, closes every connection, drops what is queued. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.lifecycle = 'closing';
    if (this.flushHandle !== undefined) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    this.dirty.clear();
    const waits: Array<Promise<void>> = [this.requests.close(new TransportClosedError())];
    const server = this.server;
    if (server !== undefined && server.listening) {
      waits.push(new Promise((resolve) => server.close(() => resolve())));
    }
    for (const raw of this.rawSockets) raw.destroy();
    for (const connection of this.inbound) waits.push(connection.close());
    for (const peer of this.peers.values()) waits.push(peer.close());
    await Promise.all(waits);
    this.lifecycle = 'closed';
    this.options.logger.info({ nodeId: this.options.nodeId }, 'raft transport closed');
  }

  private peerFor(message: Message): Peer | undefined {
    if (this.lifecycle === 'closing' || this.lifecycle === 'closed') return undefined;
    const nodeId = message.to;
    let peer = this.peers.get(nodeId);
    if (peer === undefined) {
      if (nodeId === this.options.nodeId || nodeId === '') {
        this.options.logger.error({ to: nodeId, type: MessageType[message.type] }, 'message addressed to this node or to no one; dropped');
        return undefined;
      }
      peer = new Peer(nodeId, this.host);
      this.peers.set(nodeId, peer);
    }
    return peer;
  }

  // ---- for peer links ---------------------------------------------------

  private scheduleFlush(peer: Peer): void {
    this.dirty.add(peer);
    // setImmediate, not a microtask: it runs after this turn's I/O callbacks,
    // so everything Raft emits in one turn shares one write per peer.
    this.flushHandle ??= setImmediate(() => {
      this.flushHandle = undefined;
      const peers = [...this.dirty];
      this.dirty.clear();
      for (const p of peers) p.flush();
    });
  }

  private reportUnreachable(nodeId: NodeId): void {
    const { onUnreachable, logger } = this.options;
    if (onUnreachable === undefined) return;
    // Deferred: a failure found inside send() must not re-enter Raft while the
    // caller is still working through a Ready.
    queueMicrotask(() => {
      if (this.lifecycle === 'closing' || this.lifecycle === 'closed') return;
      try {
        onUnreachable(nodeId);
      } catch (err) {
        logger.error({ peer: nodeId, err }, 'onUnreachable threw');
      }
    });
  }

  // ---- for inbound connections -----------------------------------------

  /**
   * sec: a new TCP connection takes a place among the unauthenticated, or is closed at once (nothing
   * read, no TLS state kept) when its source or the listener holds too many; logged once per source
   * and interval. Its place is given back when its hello is accepted or it closes.
   */
  private admit(raw: Socket): void {
    const remote = `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`;
    const source = refusalSource(remote);
    const verdict = this.pending!.admit(source);
    if (!verdict.admitted) {
      this.counters.connectionsCapped++;
      this.capped.add(raw);
      raw.destroy();
      const { log, suppressed } = this.host.refusals.admit(`${source} capped`);
      if (log) {
        const limit = verdict.why === 'source' ? `${this.pending!.maxPerSource} from this source` : `${this.pending!.maxTotal} in total`;
        this.options.logger.warn({ remote, suppressed }, `refused peer connection: ${limit} unauthenticated connections are open already`);
      }
      return;
    }
    this.pendingRelease.set(raw, verdict.release);
    raw.once('close', verdict.release);
  }

  private accept(socket: Socket): void {
    this.rawSockets.delete(socket);
    if (this.lifecycle === 'closing' || this.lifecycle === 'closed' || socket.destroyed) {
      socket.destroy();
      return;
    }
    const raw = (socket as Socket & { _parent?: Socket })._parent ?? socket;
    const release = this.pendingRelease.get(raw);
    this.inbound.add(new InboundConnection(this.host, socket, release));
  }

  /** sec: how many connections are accepted and not yet authenticated (for tests and stats). */
  get unauthenticatedConnections(): number {
    return this.pending?.size.total ?? 0;
  }

  private accepted(connection: InboundConnection): void {
    const previous = this.inboundByPeer.get(connection.peerId);
    this.inboundByPeer.set(connection.peerId, connection);
    if (previous !== undefined && previous !== connection) {
      // A peer keeps one link to us; a new one means the old is dead (or the id is used twice).
      this.options.logger.warn(
        { peer: connection.peerId, old: previous.remoteAddress, new: connection.remoteAddress },
        'peer connected again; closing its older connection',
      );
      previous.destroy();
    }
  }

  private forget(connection: InboundConnection): void {
    this.inbound.delete(connection);
    if (this.inboundByPeer.get(connection.peerId) === connection) this.inboundByPeer.delete(connection.peerId);
  }
}
