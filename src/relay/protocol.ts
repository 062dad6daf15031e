// The relay protocol's bytes. The requests themselves are entries of the
// agent's typed peer-request table (src/agent/peer-requests.ts), carried as
// transport requests (so a subscriber needs no inbound connection):
// "relay-pull" asks a relay for committed entries from an index on and
// long-polls until there are some; "relay-snapshot" fetches a snapshot image
// chunk by chunk; "relay-report" carries a relay's liveness changes to the
// leader. This file holds the pull request's check and the framing of the
// pull and snapshot answers.
//
// relay-pull answer: u32 header length, header JSON, then per entry
// f64 index, u32 length, command bytes.

import { KonsulError } from '../errors.js';
import type { RelayCandidate } from './cursor.js';
import type { PullAnswer, RelayEntry } from './feed.js';

/** Catalog node meta naming a client that relays to other clients, and where. */
export const RELAY_META_KEY = 'konsul-relay';

export interface PullRequest {
  id: string;
  /** The subscriber's peer address (its node record; relays below it are reached there). */
  address: string;
  from: number;
  /** How long the relay may hold the answer when it has nothing new. */
  waitMs: number;
  /** Send the relay list along (first pull, and now and then). */
  wantRelays: boolean;
  /**
   * The subscription epoch: chosen by the subscriber each time it subscribes
   * to a relay (larger each time, across restarts too), carried in the relay's
   * liveness reports so the leader keeps the newest subscription's word. 0
   * from a subscriber that sends none.
   */
  epoch: number;
  /**
   * Every relay this subscriber knows refused it (full, or the leader stepping
   * aside) for a while: a relay admits it past its fan-out rather than leave a
   * host without updates (while a follower is down, say).
   */
  overflow?: boolean;
}

export interface PullHeader {
  kind: PullAnswer['kind'];
  commit: number;
  /** The leader as this relay knows it, so the subscriber forwards writes there. */
  leader?: { id: string; address: string };
  relays?: RelayCandidate[];
  /** The relay held this pull and answered it when its commit moved (a fresh write, not a backlog). */
  held?: boolean;
}

function bad(what: string): KonsulError {
  return new KonsulError('KONSUL_ERR_BAD_REQUEST', `malformed ${what}`, 'invalid');
}

export function decodePullRequest(body: Buffer): PullRequest {
  let v: Partial<PullRequest>;
  try {
    v = JSON.parse(body.toString('utf8')) as Partial<PullRequest>;
  } catch {
    throw bad('relay pull');
  }
  if (typeof v.id !== 'string' || v.id === '' || typeof v.address !== 'string' || !Number.isSafeInteger(v.from) || (v.from as number) < 1
    || typeof v.waitMs !== 'number' || !(v.waitMs >= 0 && v.waitMs <= 60_000)) throw bad('relay pull');
  if (v.epoch !== undefined && !(Number.isSafeInteger(v.epoch) && (v.epoch as number) >= 0)) throw bad('relay pull');
  return {
    id: v.id, address: v.address, from: v.from as number, waitMs: v.waitMs, wantRelays: v.wantRelays === true, epoch: v.epoch ?? 0,
    ...(v.overflow === true ? { overflow: true } : {}),
  };
}

export function encodePullAnswer(header: PullHeader, entries: readonly RelayEntry[]): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  let size = 4 + head.length;
  for (const e of entries) size += 12 + e.data.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(head.length, 0);
  head.copy(out, 4);
  let at = 4 + head.length;
  for (const e of entries) {
    out.writeDoubleBE(e.index, at);
    out.writeUInt32BE(e.data.length, at + 8);
    out.set(e.data, at + 12);
    at += 12 + e.data.length;
  }
  return out;
}

export function decodePullAnswer(b: Buffer): { header: PullHeader; entries: RelayEntry[] } {
  if (b.length < 4) throw bad('relay answer');
  const headLen = b.readUInt32BE(0);
  if (4 + headLen > b.length) throw bad('relay answer');
  let header: PullHeader;
  try {
    header = JSON.parse(b.subarray(4, 4 + headLen).toString('utf8')) as PullHeader;
  } catch {
    throw bad('relay answer');
  }
  if (!['entries', 'snapshot', 'full'].includes(header.kind) || !Number.isSafeInteger(header.commit)) throw bad('relay answer');
  const entries: RelayEntry[] = [];
  let at = 4 + headLen;
  while (at < b.length) {
    if (at + 12 > b.length) throw bad('relay answer');
    const index = b.readDoubleBE(at);
    const len = b.readUInt32BE(at + 8);
    if (at + 12 + len > b.length) throw bad('relay answer');
    entries.push({ index, data: b.subarray(at + 12, at + 12 + len) });
    at += 12 + len;
  }
  return { header, entries };
}

/** relay-snapshot: ask for the next chunk of a session (session '' opens one). Answer: u8 done, f64 index, u32 session length + session, chunk. */
export interface SnapshotChunkAnswer {
  session: string;
  index: number;
  done: boolean;
  chunk: Buffer;
}

export function encodeSnapshotChunk(a: SnapshotChunkAnswer): Buffer {
  const s = Buffer.from(a.session);
  const out = Buffer.allocUnsafe(1 + 8 + 4 + s.length + a.chunk.length);
  out[0] = a.done ? 1 : 0;
  out.writeDoubleBE(a.index, 1);
  out.writeUInt32BE(s.length, 9);
  s.copy(out, 13);
  a.chunk.copy(out, 13 + s.length);
  return out;
}

export function decodeSnapshotChunk(b: Buffer): SnapshotChunkAnswer {
  if (b.length < 13) throw bad('snapshot chunk');
  const sl = b.readUInt32BE(9);
  if (13 + sl > b.length) throw bad('snapshot chunk');
  return { done: b[0] === 1, index: b.readDoubleBE(1), session: b.subarray(13, 13 + sl).toString('utf8'), chunk: b.subarray(13 + sl) };
}
