// Counters the transport keeps for metrics and tests: what was sent, dropped,
// received and refused, in total and per outbound peer.

import type { NodeId } from '../raft/types.js';

export interface TransportCounters {
  /** Messages handed to a peer's socket. */
  messagesSent: number;
  /** Messages given to send() that never reached a socket: peer unreachable, queue full, too large, connection lost. */
  messagesDropped: number;
  /** Messages received from peers and handed to onMessage (or onSnapshot). */
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Inbound connections closed for a bad frame: over the size limit, bad checksum, garbage, out of place. */
  badFrames: number;
  /** Dialers this node refused (token, cluster id, node id, protocol version, TLS). */
  handshakesRefused: number;
  /** sec: connections closed at accept because too many unauthenticated ones were open (in total or from their source). */
  connectionsCapped: number;
  /** Listeners that refused this node's hello. */
  handshakesRejected: number;
  /** Dials that did not end in an open connection. */
  connectFailures: number;
  /** Dials after a failure or a lost connection. */
  reconnects: number;
  snapshotsSent: number;
  snapshotsReceived: number;
  snapshotsFailed: number;
  /** Requests this node answered (or refused) on request connections. */
  requestsReceived: number;
  /** Requests this node sent. */
  requestsSent: number;
}

export type PeerState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

export interface PeerStats {
  nodeId: NodeId;
  state: PeerState;
  /** Messages encoded and waiting for the socket. */
  queuedMessages: number;
  queuedBytes: number;
  /** Bytes the socket has accepted but not yet passed to the kernel. */
  socketBufferedBytes: number;
  messagesSent: number;
  messagesDropped: number;
  /** Consecutive failed dials (0 when connected). */
  failures: number;
  /** The protocol version the link runs at (the lower of both ends' newest); 0 before the first handshake. */
  protocolVersion: number;
}

export interface TransportStats {
  counters: TransportCounters;
  peers: PeerStats[];
  /** Accepted connections: peers' Raft links and request connections. */
  inboundConnections: number;
  /** Request connections this node dialed (Transport.request) and has open. */
  requestConnections: number;
}

export function zeroCounters(): TransportCounters {
  return {
    messagesSent: 0,
    messagesDropped: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    badFrames: 0,
    handshakesRefused: 0,
    connectionsCapped: 0,
    requestsReceived: 0,
    requestsSent: 0,
    handshakesRejected: 0,
    connectFailures: 0,
    reconnects: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
    snapshotsFailed: 0,
  };
}
