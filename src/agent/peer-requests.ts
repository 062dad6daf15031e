// The requests agents send each other over the peer transport, as one typed
// table: each method's request and answer types and the one codec that carries
// them (JSON checked field by field; a proposal's command bytes go as they are,
// encoded once). Both sides use the table: call() on the asking side, serve()
// on the answering side, so a method cannot be sent and not understood.

import { BadRequestError, BadResponseError } from '../errors.js';
import type { ClusterStatus } from './api.js';
import type { ProposalResult } from './driver.js';
import type { SessionRecord } from '../state/index.js';

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

/** What answers each peer request on this node. */
export type PeerHandlers = {
  [M in PeerMethod]: (request: PeerRequest<M>, from: { nodeId: string; address: string; version?: number }) => Promise<PeerResponse<M>>;
};

/** Decode a request, run its handler, encode the answer; an unknown method or a malformed body is the caller's error. */
export async function servePeerRequest(
  handlers: PeerHandlers, method: string, body: Buffer, from: { nodeId: string; address: string; version?: number },
): Promise<Uint8Array> {
  if (!isMethod(method)) throw new BadRequestError(`unknown request "${method}"`);
  return serve(handlers, method, body, from);
}

async function serve<M extends PeerMethod>(
  handlers: PeerHandlers, method: M, body: Buffer, from: { nodeId: string; address: string; version?: number },
): Promise<Uint8Array> {
  let request: PeerRequest<M>;
  try {
    request = TABLE[method].request.decode(body);
  } catch (error) {
    if (!(error instanceof MalformedError)) throw error;
    throw new BadRequestError(`malformed ${method} request`);
  }
  const handler = handlers[method] as (request: PeerRequest<M>, from: { nodeId: string; address: string; version?: number }) => Promise<PeerResponse<M>>;
  return TABLE[method].response.encode(await handler(request, from));
}
