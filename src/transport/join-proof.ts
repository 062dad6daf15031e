// sec: the join secret never travels; each side proves it holds it. The dialer's hello asks for a
// challenge (its token field holds `konsul-challenge-v1:` and a fresh nonce, so the first release's
// listener still decodes it and refuses it for its version, and the dialer falls back), the listener
// answers with its own nonce and an HMAC naming itself, and the dialer answers with an HMAC over both
// nonces and both node ids. A captured handshake is worth nothing on the next connection: the
// listener's nonce is new each time.
//
// The key is sha256(secret) (what the listener keeps already); labels keep the two proofs apart.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import { encodeFrame, FrameType, LEGACY_PROTOCOL_VERSION, NONCE_BYTES, type Frame } from './codec.js';
import { ProtocolError } from './errors.js';
import { tokenDigest } from './handshake.js';

const CHALLENGE_PREFIX = 'konsul-challenge-v1:';

/** Fresh randomness for a nonce (injectable for tests that play a broken listener). */
export type NonceSource = () => Buffer;
export const randomNonce: NonceSource = () => randomBytes(NONCE_BYTES);

/** The dialer's nonce when `token` is a challenge request, else undefined (a plaintext secret, or none). */
export function challengeNonce(token: string | undefined): Buffer | undefined {
  if (token === undefined || !token.startsWith(CHALLENGE_PREFIX)) return undefined;
  const nonce = Buffer.from(token.slice(CHALLENGE_PREFIX.length), 'base64');
  return nonce.length === NONCE_BYTES ? nonce : undefined;
}

export function isChallengeRequest(token: string | undefined): boolean {
  return token !== undefined && token.startsWith(CHALLENGE_PREFIX);
}

function mac(key: Buffer, label: string, parts: ReadonlyArray<string | Buffer>): Buffer {
  const h = createHmac('sha256', key).update(label, 'utf8');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    // Length-prefixed, so no two different part lists hash alike.
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(bytes.length, 0);
    h.update(length).update(bytes);
  }
  return h.digest();
}

export interface ProofInput {
  clusterId: string;
  dialerNonce: Buffer;
  listenerNonce: Buffer;
  /** The dialing node and the node it meant to reach ('' on a request connection). */
  from: NodeId;
  to: NodeId;
  /** The node that answered (the listener). */
  listener: NodeId;
}

export function listenerProof(key: Buffer, p: ProofInput): Buffer {
  return mac(key, 'konsul listener proof v1', [p.clusterId, p.dialerNonce, p.listenerNonce, p.listener]);
}

export function dialerProof(key: Buffer, p: ProofInput): Buffer {
  return mac(key, 'konsul dialer proof v1', [p.clusterId, p.dialerNonce, p.listenerNonce, p.from, p.to, p.listener]);
}

export function sameProof(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The dialing side of one handshake: what its hello carries, the answer to the listener's
 * challenge, and the check that a listener which said HelloOk proved itself first.
 */
export class DialerProof {
  /** What the hello's token field carries: a challenge request, the plaintext secret (only to a first-release listener), or nothing. */
  readonly helloToken: string | undefined;
  private readonly key: Buffer | undefined;
  private readonly nonce: Buffer | undefined;
  private proven = false;

  constructor(
    secret: string | undefined,
    helloVersion: number,
    private readonly ids: { clusterId: string; from: NodeId; to: NodeId },
    nonces: NonceSource = randomNonce,
  ) {
    if (secret === undefined) {
      this.helloToken = undefined;
    } else if (helloVersion <= LEGACY_PROTOCOL_VERSION) {
      // The first release's listener knows only the plaintext form (see judgeHello: accepted only
      // while the cluster still runs version 1, that is, during a rolling upgrade from it).
      this.helloToken = secret;
    } else {
      this.key = tokenDigest(secret);
      this.nonce = nonces();
      this.helloToken = CHALLENGE_PREFIX + this.nonce.toString('base64');
    }
  }

  /**
   * Checks the listener's proof (remembered for checkAccepted) and returns the Proof frame to send.
   * The proof goes even when the listener's did not check out: it reveals nothing of the secret, and
   * a listener holding another secret then says why it refuses us, in its log and in its HelloReject.
   */
  answer(challenge: Extract<Frame, { type: FrameType.Challenge }>, where: string): Buffer {
    if (this.key === undefined || this.nonce === undefined) throw new ProtocolError(`${where} sent a challenge no hello asked for`);
    if (this.ids.to !== '' && challenge.nodeId !== this.ids.to) throw new ProtocolError(`dialed ${this.ids.to} but '${challenge.nodeId}' answered`);
    const input: ProofInput = { ...this.ids, dialerNonce: this.nonce, listenerNonce: challenge.nonce, listener: challenge.nodeId };
    this.proven = sameProof(listenerProof(this.key, input), challenge.proof);
    return encodeFrame({ type: FrameType.Proof, proof: dialerProof(this.key, input) });
  }

  /** On HelloOk: a listener asked to prove itself must have (a listener without the secret cannot). */
  checkAccepted(where: string): void {
    if (this.key !== undefined && !this.proven) throw new ProtocolError(`${where} accepted us without proving it holds this cluster's join secret`);
  }
}
