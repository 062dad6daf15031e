// The requests agents send each other over the peer transport, as one typed
// table: each method's request and answer types and the one codec that carries
// them (JSON checked field by field; a proposal's command bytes go as they are,
// encoded once). Both sides use the table: call() on the asking side, serve()
// on the answering side, so a method cannot be sent and not understood.

import { BadRequestError, BadResponseError } from '../errors.js';
import type { ClusterStatus } from './api.js';
import type { ProposalResult } from './driver.js';
import type { SessionRecord } from '../state/index.js';
// ---- scale
import type { RelayCandidate } from '../relay/cursor.js';
import { decodePullRequest, type PullRequest } from '../relay/protocol.js';
import type { RelayReport } from '../relay/tracker.js';

/** What a node says about itself when asked, and what it sends when it joins. */
export interface NodeInfo {
  id: string;
  raftAddress: string;
  httpAddress: string;
  server: boolean;
}

/** Every peer request: its request and its answer. */
export interface PeerRequestTypes {
  /** Who are you? (joining by address only). */
  info: { request: void; response: NodeInfo };
  /** Propose this encoded command (sent to the leader only). */
  propose: { request: Uint8Array; response: ProposalResult };
  /** Let this node in (any member passes it on to the leader). */
  join: { request: NodeInfo; response: ClusterStatus };
  /** Remove this member. */
  remove: { request: { id: string }; response: { ok: true } };
  /** Hand leadership to this voter (or the best one). */
  transfer: { request: { id?: string }; response: { leader: string } };
  // ---- coord
  /** Renew a session: the leader resets its TTL timer; null when there is no such session. */
  'session-renew': { request: { id: string }; response: { session: SessionRecord | null } };
  // ---- scale: client agents (src/relay, src/client). A client is no Raft member: it pulls the committed log from a relay.
  /** Committed entries from `from` on, held up to waitMs when there are none (answer framed by src/relay/protocol.ts). */
  'relay-pull': { request: PullRequest; response: Uint8Array };
  /** The next chunk of a snapshot session ('' opens one; answer framed by src/relay/protocol.ts). */
  'relay-snapshot': { request: string; response: Uint8Array };
  /** Relays' liveness reports of their subscribers, on their way to the leader. */
  'relay-report': { request: { reports: RelayReport[] }; response: { ok: true } };
  /** The relays a client may subscribe to, and the leader. */
  'relay-hello': { request: void; response: { relays: RelayCandidate[]; leader: { id: string; address: string } | null } };
  /** Register a client agent: a member record (server=false), never a Raft member. Any server passes it on to the leader. */
  'client-join': { request: { id: string; raftAddress: string; httpAddress: string }; response: { ok: true } };
  /** A client's write: any server passes it on to the leader. */
  'client-propose': { request: Uint8Array; response: ProposalResult };
  /** A read index for a client's default or consistent read. */
  'client-read-index': { request: { consistent: boolean }; response: { index: number } };
}

export type PeerMethod = keyof PeerRequestTypes;
export type PeerRequest<M extends PeerMethod> = PeerRequestTypes[M]['request'];
export type PeerResponse<M extends PeerMethod> = PeerRequestTypes[M]['response'];

/** Bytes to a value and back; `decode` throws on anything malformed. */
interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Buffer): T;
}

class MalformedError extends Error {}

const none: Codec<void> = {
  encode: () => Buffer.alloc(0),
  decode: () => undefined,
};

const bytes: Codec<Uint8Array> = {
  encode: (value) => value,
  decode: (b) => b,
};

/** JSON whose shape `check` confirms. */
function json<T>(check: (v: Record<string, unknown>) => boolean): Codec<T> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(value)),
    decode: (b) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(b.toString('utf8'));
      } catch {
        throw new MalformedError();
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !check(parsed as Record<string, unknown>)) {
        throw new MalformedError();
      }
      return parsed as T;
    },
  };
}

/**
 * A proposal's result as every release has sent it since the first (ops: a
 * rolling upgrade forwards writes between old and new nodes both ways):
 * u8 result (0 false, 1 true, 2 none), f64 index. 9 bytes.
 */
const proposalResult: Codec<ProposalResult> = {
  encode: (r) => {
    const out = Buffer.alloc(9);
    out[0] = r.result === undefined ? 2 : r.result ? 1 : 0;
    out.writeDoubleBE(r.index, 1);
    return out;
  },
  decode: (b) => {
    if (b.length !== 9 || b[0]! > 2) throw new MalformedError();
    return { result: b[0] === 2 ? undefined : b[0] === 1, index: b.readDoubleBE(1) };
  },
};

const str = (v: unknown): boolean => typeof v === 'string';

const isNodeInfo = (v: Record<string, unknown>): boolean =>
  str(v.id) && str(v.raftAddress) && str(v.httpAddress) && typeof v.server === 'boolean';

// ---- scale
const text: Codec<string> = {
  encode: (value) => Buffer.from(value, 'utf8'),
  decode: (b) => b.toString('utf8'),
};

const pullRequest: Codec<PullRequest> = {
  encode: (value) => Buffer.from(JSON.stringify(value)),
  decode: (b) => {
    try {
      return decodePullRequest(b);
    } catch {
      throw new MalformedError();
    }
  },
};

const isReport = (r: unknown): boolean => {
  if (typeof r !== 'object' || r === null) return false;
  const v = r as Record<string, unknown>;
  return str(v.relay) && Array.isArray(v.alive) && v.alive.every(str) && Array.isArray(v.gone) && v.gone.every(str) && typeof v.full === 'boolean';
};

/** The table: one codec pair per method. */
const TABLE: { [M in PeerMethod]: { request: Codec<PeerRequest<M>>; response: Codec<PeerResponse<M>> } } = {
  info: { request: none, response: json(isNodeInfo) },
  propose: { request: bytes, response: proposalResult },
  // A join's body is checked by the leader (joinOnLeader), which answers a clear error for a bad one.
  join: { request: json(() => true), response: json((v) => Array.isArray(v.members)) },
  remove: { request: json((v) => str(v.id)), response: json((v) => v.ok === true) },
  transfer: { request: json((v) => v.id === undefined || str(v.id)), response: json((v) => str(v.leader)) },
  // ---- coord
  'session-renew': {
    request: json((v) => str(v.id)),
    response: json((v) => v.session === null || (typeof v.session === 'object' && str((v.session as Record<string, unknown>).id))),
  },
  // ---- scale
  'relay-pull': { request: pullRequest, response: bytes },
  'relay-snapshot': { request: text, response: bytes },
  'relay-report': { request: json((v) => Array.isArray(v.reports) && v.reports.every(isReport)), response: json((v) => v.ok === true) },
  'relay-hello': { request: none, response: json((v) => Array.isArray(v.relays)) },
  'client-join': {
    request: json((v) => str(v.id) && v.id !== '' && str(v.raftAddress) && str(v.httpAddress)),
    response: json((v) => v.ok === true),
  },
  'client-propose': { request: bytes, response: proposalResult },
  'client-read-index': { request: json((v) => typeof v.consistent === 'boolean'), response: json((v) => Number.isSafeInteger(v.index)) },
};

function isMethod(method: string): method is PeerMethod {
  return Object.prototype.hasOwnProperty.call(TABLE, method);
}

export function encodeRequest<M extends PeerMethod>(method: M, request: PeerRequest<M>): Uint8Array {
  return TABLE[method].request.encode(request);
}

/** The answer a peer sent, checked; a malformed one is the peer's fault (bad-gateway). */
export function decodeResponse<M extends PeerMethod>(method: M, body: Buffer): PeerResponse<M> {
  try {
    return TABLE[method].response.decode(body);
  } catch (error) {
    if (!(error instanceof MalformedError)) throw error;
    throw new BadResponseError(`malformed answer to a ${method} request`);
  }
}

/** Who sent a peer request, as the transport authenticated it (role: what its certificate names it, with mutual TLS). */
export interface PeerFrom { nodeId: string; address: string; version?: number; role?: 'server' | 'client' }

/** What answers each peer request on this node (a server answers them all). */
export type PeerHandlers = {
  [M in PeerMethod]: (request: PeerRequest<M>, from: PeerFrom) => Promise<PeerResponse<M>>;
};

/** The requests a client agent answers (as a relay): the others are unknown to it. */
export type PartialPeerHandlers = Partial<PeerHandlers>;

/** Decode a request, run its handler, encode the answer; an unknown method or a malformed body is the caller's error. */
export async function servePeerRequest(
  handlers: PartialPeerHandlers, method: string, body: Buffer, from: PeerFrom,
): Promise<Uint8Array> {
  if (!isMethod(method) || handlers[method] === undefined) throw new BadRequestError(`unknown request "${method}"`);
  return serve(handlers, method, body, from);
}

async function serve<M extends PeerMethod>(
  handlers: PartialPeerHandlers, method: M, body: Buffer, from: PeerFrom,
): Promise<Uint8Array> {
  let request: PeerRequest<M>;
  try {
    request = TABLE[method].request.decode(body);
  } catch (error) {
    if (!(error instanceof MalformedError)) throw error;
    throw new BadRequestError(`malformed ${method} request`);
  }
  const handler = handlers[method] as (request: PeerRequest<M>, from: PeerFrom) => Promise<PeerResponse<M>>;
  return TABLE[method].response.encode(await handler(request, from));
}
