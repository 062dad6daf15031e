// The listener's judgement of a dialer's hello: protocol version, cluster id,
// node ids and join token (a challenge request, whose proof inbound.ts checks
// next, or the first release's secret in the clear), compared in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import { HandshakeRejectReason, LEGACY_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type Hello } from './codec.js';
import { challengeNonce, isChallengeRequest } from './join-proof.js';

export type HelloVerdict =
  /** `version`: the version the link runs at, the lower of the dialer's newest and ours. */
  | { accepted: true; version: number }
  | { accepted: false; reason: HandshakeRejectReason; detail: string };

export interface HelloExpectations {
  nodeId: NodeId;
  clusterId: string;
  /** sha256 of the configured join token, or undefined when no token is required. */
  tokenDigest: Buffer | undefined;
  /**
   * The protocol version the cluster runs at (once raised, never lowered): a
   * Raft-link dialer whose newest version is older cannot be a member any more.
   * Request connections (`to` empty) are not held to it, so an old node still
   * gets a clear error from a join rather than a refused connection.
   */
  clusterVersion?: number;
  /** Our newest protocol version (PROTOCOL_VERSION unless a test plays an older node). */
  newest?: number;
}

/** The version two nodes speak to each other: the lower of their newest, if the lower end suits both. */
export function agreedVersion(theirNewest: number, ourNewest = PROTOCOL_VERSION): number {
  return Math.min(theirNewest, ourNewest);
}

/**
 * Hashing first gives timingSafeEqual two inputs of one length, so neither the
 * comparison nor a length check leaks how much of the token a guess got right.
 */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function judgeHello(hello: Hello, expected: HelloExpectations): HelloVerdict {
  // A dialer newer than us is fine: the link runs at our newest, and the dialer checks that it still speaks it.
  if (hello.version < MIN_PROTOCOL_VERSION) {
    return {
      accepted: false,
      reason: HandshakeRejectReason.ProtocolVersion,
      detail: `protocol version ${hello.version} is not supported (this node speaks ${MIN_PROTOCOL_VERSION} to ${expected.newest ?? PROTOCOL_VERSION})`,
    };
  }
  if (hello.to !== '' && expected.clusterVersion !== undefined && hello.version < expected.clusterVersion) {
    return {
      accepted: false,
      reason: HandshakeRejectReason.ProtocolVersion,
      detail: `this cluster runs protocol version ${expected.clusterVersion}; node '${hello.from}' speaks only up to ${hello.version}: upgrade it`,
    };
  }
  if (hello.clusterId !== expected.clusterId) {
    return { accepted: false, reason: HandshakeRejectReason.ClusterId, detail: `cluster id '${hello.clusterId}' is not this cluster's` };
  }
  if (expected.tokenDigest !== undefined) {
    if (isChallengeRequest(hello.token)) {
      // sec: the dialer proves it holds the secret after our challenge (inbound.ts, join-proof.ts).
      if (challengeNonce(hello.token) === undefined || hello.version <= LEGACY_PROTOCOL_VERSION) {
        return { accepted: false, reason: HandshakeRejectReason.Token, detail: 'malformed challenge request' };
      }
    } else {
      // The secret in the clear is the first release's hello: taken only from a version-1 dialer while
      // the cluster still runs version 1 (a rolling upgrade from it). Otherwise it is not even compared,
      // so a guess sent in the clear learns nothing.
      if (hello.token !== undefined && (hello.version > LEGACY_PROTOCOL_VERSION || (expected.clusterVersion ?? LEGACY_PROTOCOL_VERSION) > LEGACY_PROTOCOL_VERSION)) {
        return {
          accepted: false,
          reason: HandshakeRejectReason.Token,
          detail: 'the join secret may not travel in the clear: this node takes only the challenge handshake (konsul 0.2 or newer)',
        };
      }
      const offered = tokenDigest(hello.token ?? '');
      // Always compare, even when no token was offered, so both paths cost the same.
      const match = timingSafeEqual(offered, expected.tokenDigest);
      if (!match || hello.token === undefined) {
        return { accepted: false, reason: HandshakeRejectReason.Token, detail: hello.token === undefined ? 'a join token is required' : 'wrong join token' };
      }
    }
  } else if (isChallengeRequest(hello.token)) {
    return { accepted: false, reason: HandshakeRejectReason.Token, detail: 'this node holds no join secret, and the dialer offers one' };
  }
  if (hello.from === '' || hello.from === expected.nodeId) {
    return { accepted: false, reason: HandshakeRejectReason.NodeId, detail: `dialer node id '${hello.from}' is empty or this node's own` };
  }
  // An empty `to` opens a request connection (join, forwarded writes), which any node may answer.
  if (hello.to !== '' && hello.to !== expected.nodeId) {
    return { accepted: false, reason: HandshakeRejectReason.NodeId, detail: `this is node '${expected.nodeId}', not '${hello.to}'` };
  }
  return { accepted: true, version: agreedVersion(hello.version, expected.newest) };
}
