// The commands the state machine applies, and their compact binary encoding.
// The proposer encodes a command once; the same bytes are stored in the log,
// sent to peers, and decoded only when applied, on every replica alike.
//
// Layout (big-endian; str = u32 byte length + UTF-8 bytes):
//   u8 type, u8 bits (1 = has cas, 2 = recurse, 4 = server, 8 = 64-bit flags), then
//   kv-set         str key, u32 flags (u64 with bit 8: protocol 2, api), [u64 cas], u32 length + value bytes
//   kv-delete      str key, [u64 cas]
//   member-set     str id, str raftAddress, str httpAddress
//   member-delete  str id
//   catalog        str JSON of a CatalogOp (checked field by field on decode)
//   restore        u32 length + a state snapshot stream (the body of a snapshot archive)
//   cluster-version u16 version                                   (tag 40, protocol 2)
//
// Versions. A command's version is the oldest protocol version whose state
// machine understands it (see PROTOCOL_VERSION in src/transport/codec.ts).
// Entries written before versions existed (the first release) are bare
// commands of types 1-6: version 1. From protocol 2 on, once every member
// speaks it (the replicated cluster version), commands travel in an envelope:
//   u8 41, u8 version, then the command's bytes as above
// A replica that meets a command it does not understand (an envelope of a
// newer version, or an unknown type) stops: it must never skip a write the
// others apply (UnsupportedCommandError). A bare command that is malformed is
// still the deterministic no-op it always was.
//   event-fire     str id, str name, str node filter, str service filter, str tag filter, u32 length + payload (tag 20)
//   acl            str JSON of an AclOp, checked field by field on decode (tag 50, sec)
//   prepared-query str JSON of a PreparedQueryOp, checked field by field on decode (tag 21, api)
//   catalog-delta  str JSON of an incremental CatalogOp (service-put, service-delete, check-put,
//                  check-delete, or `changes`: a group of them for one node), checked field by
//                  field on decode (tag 30, scale; protocol 2)
//   autopilot-config [u64 cas], str JSON of an AutopilotConfig, checked field by field on decode (tag 42, ops, protocol 2)
//   member-left    str id, u64 at (ms since the epoch, the leader's clock)  (tag 60, cli, protocol 2)
//   member-forget  str id                                                   (tag 61, cli, protocol 2)

import { BufferReader } from '../byte-reader.js';
import { BufferWriter } from '../byte-writer.js';
import { KonsulError } from '../errors.js';
import { MAX_KEY_BYTES } from '../storage/limits.js';

export { MAX_KEY_BYTES };
import { CATALOG_DELTA_OPS, catalogOpProblem, type CatalogOp } from './catalog.js';
import { isSessionId, sessionInputProblem, type SessionInput } from './sessions.js';
import { MAX_TXN_OPS, TXN_VERBS, txnOpProblem, type TxnOp } from './txn-ops.js';
import { MAX_EVENT_NAME_BYTES, MAX_EVENT_PAYLOAD_BYTES, type UserEvent } from './events.js';
import { aclOpProblem, type AclOp } from './acl.js';
import { preparedQueryProblem, type PreparedQueryOp } from './prepared-queries.js';
import { canonicalFlags, flagsProblem, type KvFlags } from './kv-flags.js';
import { autopilotConfigProblem, pickAutopilotConfig, type AutopilotConfig } from './autopilot-config.js';

export type Command =
  /** flags: Consul's uint64 (a bigint above 2^32 - 1: such a kv-set is a protocol-2 command). */
  | { type: 'kv-set'; key: string; value: Uint8Array; flags: KvFlags; cas?: number }
  | { type: 'kv-delete'; key: string; recurse?: boolean; cas?: number }
  | { type: 'member-set'; id: string; raftAddress: string; httpAddress: string; server: boolean }
  | { type: 'member-delete'; id: string }
  | { type: 'catalog'; op: CatalogOp }
  /** Replace the KV store and the catalog with a snapshot's (PUT /v1/snapshot); members stay. */
  | { type: 'restore'; state: Uint8Array }
  // ---- coord (sessions, transactions, batched writes): tags 10-19
  /** KV operations applied all or nothing (PUT /v1/txn, and KV writes with ?acquire, ?release or a fence). */
  | { type: 'txn'; ops: TxnOp[] }
  | { type: 'session-create'; session: SessionInput }
  /** Destroy or invalidate a session: its locks are released (or its keys deleted) and their lock-delay starts. */
  | { type: 'session-destroy'; id: string }
  /** Single KV writes that reached the leader in one turn, applied one after another, each with its own result. */
  | { type: 'batch'; commands: Uint8Array[] }
  // ---- ops (versioning): tags 40-49
  /** The cluster now runs at this protocol version (the leader proposes it once every member speaks it). */
  | { type: 'cluster-version'; version: number }
  // api branch (issue 18)
  /** A user event (PUT /v1/event/fire): kept in every agent's memory, not in the state tables. */
  | { type: 'event-fire'; event: UserEvent }
  // sec: ACL tokens and policies (str JSON of an AclOp, checked field by field on decode)
  | { type: 'acl'; op: AclOp }
  // api branch (issue 18): prepared queries
  /** Create, update or delete a prepared query (/v1/query); refused (false) when Consul's state store would refuse it. */
  | { type: 'prepared-query'; op: PreparedQueryOp }
  // ---- ops2 (autopilot configuration): tag 42
  /** Replace the autopilot configuration; with cas, only if its ModifyIndex is cas (0: only if never written). */
  | { type: 'autopilot-config'; config: AutopilotConfig; cas?: number }
  // cli (issue 15): members that left, shown as `left` until the reconnect timeout reaps them
  /** The member left or was removed: its record moves to the left members, stamped `at` (the leader's clock, ms). */
  | { type: 'member-left'; id: string; at: number }
  /** Forget a left member (the leader's reaper, after the reconnect timeout). */
  | { type: 'member-forget'; id: string };

/** The newest command version this konsul's state machine applies. Kept equal to the peer PROTOCOL_VERSION. */
export const COMMAND_VERSION = 2;
/** The version of every bare (unenveloped) command of the first release. */
export const LEGACY_COMMAND_VERSION = 1;

/** Bytes that are not a command (truncated, garbage, or fields a proposer could never have encoded). */
export class CommandDecodeError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_COMMAND', `malformed command: ${message}`, 'invalid');
    this.name = 'CommandDecodeError';
  }
}

/** A command that cannot be encoded: a bad field (empty key, flags out of range, ...). */
export class InvalidCommandError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_COMMAND', message, 'invalid');
    this.name = 'InvalidCommandError';
  }
}

/**
 * A command this konsul does not understand: written by a newer one (an
 * envelope of a newer version, a type it does not know). Applying around it
 * would make this replica differ from the others, so the state machine throws
 * it out of apply and the node stops. A proposal of such bytes is a 400.
 */
export class UnsupportedCommandError extends CommandDecodeError {
  constructor(message: string) {
    super(message);
    this.message = `unsupported command: ${message}`;
    this.name = 'UnsupportedCommandError';
  }
}

export class KeyTooLargeError extends KonsulError {
  constructor(what: string, bytes: number) {
    super('KONSUL_ERR_KEY_TOO_LARGE', `${what} is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`, 'invalid');
    this.name = 'KeyTooLargeError';
  }
}

const enum Tag {
  KvSet = 1,
  KvDelete = 2,
  MemberSet = 3,
  MemberDelete = 4,
  Catalog = 5,
  Restore = 6,
  // coord: 10-19
  Txn = 10,
  SessionCreate = 11,
  SessionDestroy = 12,
  Batch = 13,
  // ---- ops (versioning)
  ClusterVersion = 40,
  /** Not a command: the versioned envelope around one. */
  Envelope = 41,
  // api branch (issue 18): 20-29
  EventFire = 20,
  // sec: 50-59
  Acl = 50,
  // api branch (issue 18)
  PreparedQuery = 21,
  // scale: 30-39
  CatalogDelta = 30,
  // ---- ops2 (autopilot configuration)
  AutopilotConfig = 42,
  // cli: 60-69
  MemberLeft = 60,
  MemberForget = 61,
}

const HAS_CAS = 1;
const RECURSE = 2;
const SERVER = 4;
/** kv-set: the flags field is a u64 (flags above 2^32 - 1; api branch, protocol 2). */
const FLAGS64 = 8;
/** The bits each type may carry; any other bit means the bytes are not ours. */
const ALLOWED_BITS: Record<Tag, number> = {
  [Tag.KvSet]: HAS_CAS | FLAGS64,
  [Tag.KvDelete]: HAS_CAS | RECURSE,
  [Tag.MemberSet]: SERVER,
  [Tag.MemberDelete]: 0,
  [Tag.Catalog]: 0,
  [Tag.Restore]: 0,
  // coord
  [Tag.Txn]: 0,
  [Tag.SessionCreate]: 0,
  [Tag.SessionDestroy]: 0,
  [Tag.Batch]: 0,
  // ---- ops (versioning)
  [Tag.ClusterVersion]: 0,
  [Tag.Envelope]: 0,
  [Tag.EventFire]: 0,
  // sec
  [Tag.Acl]: 0,
  // api branch (issue 18)
  [Tag.PreparedQuery]: 0,
  // scale
  [Tag.CatalogDelta]: 0,
  // ---- ops2
  [Tag.AutopilotConfig]: HAS_CAS,
  // cli
  [Tag.MemberLeft]: 0,
  [Tag.MemberForget]: 0,
};

/** The first release's command types: understood by every version. Any other type needs protocol 2 or newer. */
const LEGACY_TAGS: ReadonlySet<number> = new Set([Tag.KvSet, Tag.KvDelete, Tag.MemberSet, Tag.MemberDelete, Tag.Catalog, Tag.Restore]);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// ------------------------------------------------------------ encoding

function textBytes(text: string, what: string): number {
  // Buffer.from would silently turn a lone surrogate into U+FFFD: another key than the one asked for.
  if (LONE_SURROGATE.test(text)) throw new InvalidCommandError(`${what} is not well-formed Unicode`);
  return Buffer.byteLength(text, 'utf8');
}

/** A KV key's (or a member id's) UTF-8 length, checked: 1..MAX_KEY_BYTES bytes, or 0 where allowed. */
function keyBytes(key: string, what: string, allowEmpty: boolean): number {
  const n = textBytes(key, what);
  if (n > MAX_KEY_BYTES) throw new KeyTooLargeError(what, n);
  if (n === 0 && !allowEmpty) throw new InvalidCommandError(`${what} must not be empty`);
  return n;
}

function checkCas(cas: number | undefined): void {
  if (cas !== undefined && (!Number.isSafeInteger(cas) || cas < 0)) {
    throw new InvalidCommandError(`cas must be a non-negative integer, got ${String(cas)}`);
  }
}

/** The shared byte writer, sized exactly up front: its one take() is the command. */
class CommandWriter extends BufferWriter {
  constructor(private readonly size: number) {
    super(size, (message) => new InvalidCommandError(message));
  }
  done(): Buffer {
    const bytes = this.take();
    if (bytes.length !== this.size) throw new Error(`command encoder wrote ${bytes.length} of ${this.size} bytes`);
    return bytes;
  }
}

/** Encodes a command after checking its fields; throws a 400 KonsulError for a bad one. */
export function encodeCommand(cmd: Command): Uint8Array {
  switch (cmd.type) {
    case 'kv-set': {
      const keyLen = keyBytes(cmd.key, 'the key', false);
      checkCas(cmd.cas);
      const flagsWhy = flagsProblem(cmd.flags);
      if (flagsWhy) throw new InvalidCommandError(`${flagsWhy}, got ${String(cmd.flags)}`);
      const flags = canonicalFlags(cmd.flags);
      const wide = typeof flags === 'bigint';
      const hasCas = cmd.cas !== undefined;
      const e = new CommandWriter(2 + 4 + keyLen + (wide ? 8 : 4) + (hasCas ? 8 : 0) + 4 + cmd.value.length);
      e.u8(Tag.KvSet);
      e.u8((hasCas ? HAS_CAS : 0) | (wide ? FLAGS64 : 0));
      e.string32(cmd.key, keyLen);
      if (wide) {
        e.u32(Number(flags >> 32n));
        e.u32(Number(flags & 0xffff_ffffn));
      } else e.u32(flags);
      if (hasCas) e.u64(cmd.cas!, 'cas');
      e.bytes32(cmd.value);
      return e.done();
    }
    case 'kv-delete': {
      // An empty key with recurse deletes everything (Consul allows DELETE /v1/kv/?recurse).
      const keyLen = keyBytes(cmd.key, 'the key', cmd.recurse === true);
      checkCas(cmd.cas);
      const hasCas = cmd.cas !== undefined;
      const e = new CommandWriter(2 + 4 + keyLen + (hasCas ? 8 : 0));
      e.u8(Tag.KvDelete);
      e.u8((hasCas ? HAS_CAS : 0) | (cmd.recurse ? RECURSE : 0));
      e.string32(cmd.key, keyLen);
      if (hasCas) e.u64(cmd.cas!, 'cas');
      return e.done();
    }
    case 'member-set': {
      const idLen = keyBytes(cmd.id, 'the member id', false);
      const raftLen = textBytes(cmd.raftAddress, 'the raft address');
      const httpLen = textBytes(cmd.httpAddress, 'the http address');
      const e = new CommandWriter(2 + 12 + idLen + raftLen + httpLen);
      e.u8(Tag.MemberSet);
      e.u8(cmd.server ? SERVER : 0);
      e.string32(cmd.id, idLen);
      e.string32(cmd.raftAddress, raftLen);
      e.string32(cmd.httpAddress, httpLen);
      return e.done();
    }
    case 'member-delete': {
      const idLen = keyBytes(cmd.id, 'the member id', false);
      const e = new CommandWriter(2 + 4 + idLen);
      e.u8(Tag.MemberDelete);
      e.u8(0);
      e.string32(cmd.id, idLen);
      return e.done();
    }
    case 'catalog': {
      const problem = catalogOpProblem(cmd.op);
      if (problem) throw new InvalidCommandError(`catalog ${String((cmd.op as { op?: unknown } | undefined)?.op)}: ${problem}`);
      const json = JSON.stringify(cmd.op);
      const jsonLen = textBytes(json, 'the catalog operation');
      const e = new CommandWriter(2 + 4 + jsonLen);
      // scale: the incremental operations go under their own tag, a protocol-2 type: the leader refuses them while the cluster runs version 1.
      e.u8(CATALOG_DELTA_OPS.has(cmd.op.op) ? Tag.CatalogDelta : Tag.Catalog);
      e.u8(0);
      e.string32(json, jsonLen);
      return e.done();
    }
    case 'restore': {
      const e = new CommandWriter(2 + 4 + cmd.state.length);
      e.u8(Tag.Restore);
      e.u8(0);
      e.bytes32(cmd.state);
      return e.done();
    }
    // ---- coord
    case 'txn': {
      if (!Array.isArray(cmd.ops) || cmd.ops.length === 0 || cmd.ops.length > MAX_TXN_OPS) {
        throw new InvalidCommandError(`a transaction holds 1 to ${MAX_TXN_OPS} operations`);
      }
      // Binary, so replicas neither parse JSON nor decode base64: u32 count, then per op
      // u8 verb, str key, u32 flags, u64 index, str session, u32 length + value bytes.
      const lens: Array<[number, number]> = [];
      let size = 2 + 4;
      for (const op of cmd.ops) {
        const problem = txnOpProblem(op);
        if (problem) throw new InvalidCommandError(`txn: ${problem}`);
        const keyLen = keyBytes(op.key, 'the key', op.verb === 'get-tree' || op.verb === 'delete-tree');
        const sessionLen = textBytes(op.session, 'the session');
        lens.push([keyLen, sessionLen]);
        size += 1 + 4 + keyLen + 4 + 8 + 4 + sessionLen + 4 + op.value.length;
      }
      const e = new CommandWriter(size);
      e.u8(Tag.Txn);
      e.u8(0);
      e.u32(cmd.ops.length);
      cmd.ops.forEach((op, i) => {
        e.u8(TXN_VERBS.indexOf(op.verb));
        e.string32(op.key, lens[i]![0]);
        e.u32(op.flags);
        e.u64(op.index, 'index');
        e.string32(op.session, lens[i]![1]);
        e.bytes32(op.value);
      });
      return e.done();
    }
    case 'session-create': {
      const problem = sessionInputProblem(cmd.session);
      if (problem) throw new InvalidCommandError(`session: ${problem}`);
      return jsonCommand(Tag.SessionCreate, cmd.session);
    }
    case 'session-destroy':
      if (!isSessionId(cmd.id)) throw new InvalidCommandError('a session id is a UUID');
      return jsonCommand(Tag.SessionDestroy, cmd.id);
    case 'batch': {
      let size = 2 + 4;
      for (const c of cmd.commands) size += 4 + c.length;
      const e = new CommandWriter(size);
      e.u8(Tag.Batch);
      e.u8(0);
      e.u32(cmd.commands.length);
      for (const c of cmd.commands) e.bytes32(c);
      return e.done();
    }
    // ---- ops (versioning)
    case 'cluster-version': {
      if (!Number.isInteger(cmd.version) || cmd.version < 1 || cmd.version > 0xffff) {
        throw new InvalidCommandError(`cluster version must be an integer from 1 to 65535, got ${String(cmd.version)}`);
      }
      const e = new CommandWriter(2 + 2);
      e.u8(Tag.ClusterVersion);
      e.u8(0);
      e.u8(cmd.version >>> 8);
      e.u8(cmd.version & 0xff);
      return e.done();
    }
    // api branch (issue 18)
    case 'event-fire': {
      const ev = cmd.event;
      const problem = eventProblem(ev);
      if (problem) throw new InvalidCommandError(`event: ${problem}`);
      const texts = [ev.id, ev.name, ev.nodeFilter, ev.serviceFilter, ev.tagFilter];
      const lengths = texts.map((t, i) => textBytes(t, ['the event id', 'the event name', 'the node filter', 'the service filter', 'the tag filter'][i]!));
      const e = new CommandWriter(2 + lengths.reduce((n, l) => n + 4 + l, 0) + 4 + ev.payload.length);
      e.u8(Tag.EventFire);
      e.u8(0);
      texts.forEach((t, i) => e.string32(t, lengths[i]!));
      e.bytes32(ev.payload);
      return e.done();
    }
    // sec
    case 'acl': {
      const problem = aclOpProblem(cmd.op);
      if (problem) throw new InvalidCommandError(`acl ${String((cmd.op as { op?: unknown } | undefined)?.op)}: ${problem}`);
      const json = JSON.stringify(cmd.op);
      const jsonLen = textBytes(json, 'the ACL operation');
      const e = new CommandWriter(2 + 4 + jsonLen);
      e.u8(Tag.Acl);
      e.u8(0);
      e.string32(json, jsonLen);
      return e.done();
    }
    // api branch (issue 18)
    case 'prepared-query': {
      const problem = preparedQueryOpProblem(cmd.op);
      if (problem) throw new InvalidCommandError(`prepared query: ${problem}`);
      return jsonCommand(Tag.PreparedQuery, cmd.op);
    }
    // ---- ops2 (autopilot configuration)
    case 'autopilot-config': {
      const problem = autopilotConfigProblem(cmd.config);
      if (problem) throw new InvalidCommandError(`autopilot configuration: ${problem}`);
      checkCas(cmd.cas);
      const json = JSON.stringify(pickAutopilotConfig(cmd.config));
      const jsonLen = textBytes(json, 'the autopilot configuration');
      const hasCas = cmd.cas !== undefined;
      const e = new CommandWriter(2 + (hasCas ? 8 : 0) + 4 + jsonLen);
      e.u8(Tag.AutopilotConfig);
      e.u8(hasCas ? HAS_CAS : 0);
      if (hasCas) e.u64(cmd.cas!, 'cas');
      e.string32(json, jsonLen);
      return e.done();
    }
    // cli
    case 'member-left': {
      if (!Number.isSafeInteger(cmd.at) || cmd.at < 0) throw new InvalidCommandError(`member-left: at must be a non-negative integer, got ${String(cmd.at)}`);
      const idLen = keyBytes(cmd.id, 'the member id', false);
      const e = new CommandWriter(2 + 4 + idLen + 8);
      e.u8(Tag.MemberLeft);
      e.u8(0);
      e.string32(cmd.id, idLen);
      e.u64(cmd.at, 'at');
      return e.done();
    }
    case 'member-forget': {
      const idLen = keyBytes(cmd.id, 'the member id', false);
      const e = new CommandWriter(2 + 4 + idLen);
      e.u8(Tag.MemberForget);
      e.u8(0);
      e.string32(cmd.id, idLen);
      return e.done();
    }
    default:
      throw new InvalidCommandError(`unknown command type ${JSON.stringify((cmd as { type: unknown }).type)}`);
  }
}

/** A command whose body is one JSON text (coord's commands; the same bytes on every replica). */
function jsonCommand(tag: Tag, body: unknown): Buffer {
  const json = JSON.stringify(body);
  const len = textBytes(json, 'the command');
  const e = new CommandWriter(2 + 4 + len);
  e.u8(tag);
  e.u8(0);
  e.string32(json, len);
  return e.done();
}

function parseJsonField(d: BufferReader, field: string): unknown {
  try {
    return JSON.parse(d.string32(field));
  } catch (error) {
    if (error instanceof CommandDecodeError) throw error;
    throw new CommandDecodeError(`the ${field} is not JSON`);
  }
}

function decodeTxnOps(d: BufferReader): TxnOp[] {
  const n = d.u32('txn operation count');
  if (n === 0 || n > MAX_TXN_OPS) throw new CommandDecodeError(`txn: ${n} operations (1 to ${MAX_TXN_OPS})`);
  const ops: TxnOp[] = [];
  for (let i = 0; i < n; i++) {
    const verb = TXN_VERBS[d.u8('txn verb')];
    if (verb === undefined) throw new CommandDecodeError('txn: unknown verb');
    const key = readKey(d, 'txn key', verb === 'get-tree' || verb === 'delete-tree');
    const op: TxnOp = { verb, key, flags: d.u32('txn flags'), index: d.u64('txn index'), session: d.string32('txn session'), value: d.bytes32('txn value') };
    const problem = txnOpProblem(op);
    if (problem) throw new CommandDecodeError(`txn: ${problem}`);
    ops.push(op);
  }
  return ops;
}

// ------------------------------------------------------------ decoding

const commandDecodeError = (message: string): Error => new CommandDecodeError(message);

/** A key or member id: 1..MAX_KEY_BYTES bytes (0 where allowed), as encodeCommand guarantees. */
function readKey(d: BufferReader, field: string, allowEmpty: boolean): string {
  const key = d.string32(field);
  const n = Buffer.byteLength(key, 'utf8');
  if (n > MAX_KEY_BYTES) throw new CommandDecodeError(`${field} is ${n} bytes, over ${MAX_KEY_BYTES}`);
  if (n === 0 && !allowEmpty) throw new CommandDecodeError(`${field} is empty`);
  return key;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Wraps encoded command bytes in the envelope of `version` (protocol 2 and
 * newer); at version 1 the bytes stay bare, as the first release reads them.
 */
export function versionCommand(bytes: Uint8Array, version: number): Uint8Array {
  if (version <= LEGACY_COMMAND_VERSION) return bytes;
  if (!Number.isInteger(version) || version > 0xff) throw new InvalidCommandError(`command version must be an integer up to 255, got ${version}`);
  if (bytes[0] === Tag.Envelope) throw new InvalidCommandError('the command is in an envelope already');
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out[0] = Tag.Envelope;
  out[1] = version;
  out.set(bytes, 2);
  return out;
}

/**
 * The oldest protocol version whose state machine understands these bytes:
 * an envelope's own version, 1 for the first release's command types, 2 for
 * any other type. Undefined for an empty buffer.
 */
export function commandVersion(bytes: Uint8Array): number | undefined {
  if (bytes.length === 0) return undefined;
  if (bytes[0] === Tag.Envelope) return bytes.length >= 2 ? bytes[1] : undefined;
  // api: a kv-set with 64-bit flags is the first release's type with a field it does not know.
  if (bytes[0] === Tag.KvSet && bytes.length >= 2 && (bytes[1]! & FLAGS64) !== 0) return 2;
  return LEGACY_TAGS.has(bytes[0]!) ? LEGACY_COMMAND_VERSION : 2;
}

/**
 * Decodes bytes from encodeCommand (bare or in a versioned envelope). Bytes
 * that are not a command throw CommandDecodeError (400); a command of a newer
 * version or an unknown type throws UnsupportedCommandError.
 */
export function decodeCommand(bytes: Uint8Array): Command {
  const buf = asBuffer(bytes);
  if (buf.length >= 1 && buf[0] === Tag.Envelope) {
    if (buf.length < 3) throw new CommandDecodeError('an envelope without a command');
    const version = buf[1]!;
    if (version > COMMAND_VERSION) {
      throw new UnsupportedCommandError(`a command of version ${version}; this konsul applies versions up to ${COMMAND_VERSION}`);
    }
    if (version <= LEGACY_COMMAND_VERSION) throw new CommandDecodeError(`an envelope of version ${version}`);
    if (buf[2] === Tag.Envelope) throw new CommandDecodeError('an envelope inside an envelope');
    return decodeBare(buf.subarray(2));
  }
  return decodeBare(buf);
}

function decodeBare(buf: Buffer): Command {
  // The shared byte reader: a bound check on every field, so a lying length ends in a CommandDecodeError.
  const d = new BufferReader(buf, 0, buf.length, commandDecodeError);
  const tag = d.u8('type') as Tag;
  const allowed = ALLOWED_BITS[tag] as number | undefined;
  if (allowed === undefined || tag === Tag.Envelope) {
    throw new UnsupportedCommandError(`a command of unknown type ${tag}; this konsul applies versions up to ${COMMAND_VERSION}`);
  }
  const bits = d.u8('bits');
  if ((bits & ~allowed) !== 0) throw new CommandDecodeError(`unknown bits 0x${bits.toString(16)} for type ${tag}`);
  let cmd: Command;
  switch (tag) {
    case Tag.KvSet: {
      const key = readKey(d, 'key', false);
      let flags: KvFlags = d.u32('flags');
      if (bits & FLAGS64) {
        flags = (BigInt(flags) << 32n) | BigInt(d.u32('flags'));
        // One spelling per value: 64-bit flags only for what does not fit 32 bits.
        if (flags <= 0xffff_ffffn) throw new CommandDecodeError('64-bit flags that fit 32 bits');
      }
      const cas = bits & HAS_CAS ? d.u64('cas') : undefined;
      const value = d.bytes32('value');
      cmd = cas === undefined ? { type: 'kv-set', key, value, flags } : { type: 'kv-set', key, value, flags, cas };
      break;
    }
    case Tag.KvDelete: {
      const recurse = (bits & RECURSE) !== 0;
      const key = readKey(d, 'key', recurse);
      const cas = bits & HAS_CAS ? d.u64('cas') : undefined;
      cmd = cas === undefined ? { type: 'kv-delete', key, recurse } : { type: 'kv-delete', key, recurse, cas };
      break;
    }
    case Tag.MemberSet:
      cmd = {
        type: 'member-set',
        id: readKey(d, 'member id', false),
        raftAddress: d.string32('raft address'),
        httpAddress: d.string32('http address'),
        server: (bits & SERVER) !== 0,
      };
      break;
    case Tag.MemberDelete:
      cmd = { type: 'member-delete', id: readKey(d, 'member id', false) };
      break;
    case Tag.Catalog:
    case Tag.CatalogDelta: {
      let op: unknown;
      try {
        op = JSON.parse(d.string32('catalog operation'));
      } catch (error) {
        if (error instanceof CommandDecodeError) throw error;
        throw new CommandDecodeError('the catalog operation is not JSON');
      }
      const problem = catalogOpProblem(op);
      if (problem) throw new CommandDecodeError(`catalog operation: ${problem}`);
      if (CATALOG_DELTA_OPS.has((op as CatalogOp).op) !== (tag === Tag.CatalogDelta)) throw new CommandDecodeError('catalog operation under the wrong tag');
      cmd = { type: 'catalog', op: op as CatalogOp };
      break;
    }
    case Tag.Restore:
      // The stream is checked as it is applied: a bad one changes nothing, on every replica alike.
      cmd = { type: 'restore', state: d.bytes32('state') };
      break;
    // ---- coord
    case Tag.Txn:
      cmd = { type: 'txn', ops: decodeTxnOps(d) };
      break;
    case Tag.SessionCreate: {
      const session = parseJsonField(d, 'session');
      const problem = sessionInputProblem(session);
      if (problem) throw new CommandDecodeError(`session: ${problem}`);
      cmd = { type: 'session-create', session: session as SessionInput };
      break;
    }
    case Tag.SessionDestroy: {
      const id = parseJsonField(d, 'session id');
      if (!isSessionId(id)) throw new CommandDecodeError('session-destroy: not a session id');
      cmd = { type: 'session-destroy', id };
      break;
    }
    case Tag.Batch: {
      const n = d.u32('batch count');
      const commands: Uint8Array[] = [];
      for (let i = 0; i < n; i++) commands.push(d.bytes32('batched command'));
      cmd = { type: 'batch', commands };
      break;
    }
    // ---- ops (versioning)
    case Tag.ClusterVersion: {
      const version = (d.u8('version') << 8) | d.u8('version');
      if (version < 1) throw new CommandDecodeError('cluster version 0');
      cmd = { type: 'cluster-version', version };
      break;
    }
    // api branch (issue 18)
    case Tag.EventFire: {
      const event: UserEvent = {
        id: d.string32('event id'), name: d.string32('event name'), nodeFilter: d.string32('node filter'), serviceFilter: d.string32('service filter'),
        tagFilter: d.string32('tag filter'), payload: Buffer.from(d.bytes32('payload')),
      };
      const problem = eventProblem(event);
      if (problem) throw new CommandDecodeError(`event: ${problem}`);
      cmd = { type: 'event-fire', event };
      break;
    }
    // sec
    case Tag.Acl: {
      let op: unknown;
      try {
        op = JSON.parse(d.string32('ACL operation'));
      } catch (error) {
        if (error instanceof CommandDecodeError) throw error;
        throw new CommandDecodeError('the ACL operation is not JSON');
      }
      const problem = aclOpProblem(op);
      if (problem) throw new CommandDecodeError(`ACL operation: ${problem}`);
      cmd = { type: 'acl', op: op as AclOp };
      break;
    }
    // api branch (issue 18)
    case Tag.PreparedQuery: {
      const op = parseJsonField(d, 'prepared query operation');
      const problem = preparedQueryOpProblem(op);
      if (problem) throw new CommandDecodeError(`prepared query: ${problem}`);
      cmd = { type: 'prepared-query', op: op as PreparedQueryOp };
      break;
    }
    // ---- ops2 (autopilot configuration)
    case Tag.AutopilotConfig: {
      const cas = bits & HAS_CAS ? d.u64('cas') : undefined;
      const config = parseJsonField(d, 'autopilot configuration');
      const problem = autopilotConfigProblem(config);
      if (problem) throw new CommandDecodeError(`autopilot configuration: ${problem}`);
      cmd = cas === undefined ? { type: 'autopilot-config', config: config as AutopilotConfig } : { type: 'autopilot-config', config: config as AutopilotConfig, cas };
      break;
    }
    // cli
    case Tag.MemberLeft:
      cmd = { type: 'member-left', id: readKey(d, 'member id', false), at: d.u64('at') };
      break;
    case Tag.MemberForget:
      cmd = { type: 'member-forget', id: readKey(d, 'member id', false) };
      break;
  }
  d.expectEnd('the command');
  return cmd;
}

/** Why an event cannot be fired, or undefined (checked on encode and on every replica's decode). */
export function eventProblem(ev: UserEvent): string | undefined {
  if (typeof ev.id !== 'string' || ev.id === '' || Buffer.byteLength(ev.id) > 64) return 'the id must be 1-64 bytes';
  if (typeof ev.name !== 'string' || ev.name === '' || Buffer.byteLength(ev.name) > MAX_EVENT_NAME_BYTES) return `the name must be 1-${MAX_EVENT_NAME_BYTES} bytes`;
  if (!Buffer.isBuffer(ev.payload) && !(ev.payload as unknown instanceof Uint8Array)) return 'the payload must be bytes';
  if (ev.payload.length > MAX_EVENT_PAYLOAD_BYTES) return `the payload is ${ev.payload.length} bytes, at most ${MAX_EVENT_PAYLOAD_BYTES}`;
  for (const f of [ev.nodeFilter, ev.serviceFilter, ev.tagFilter]) if (typeof f !== 'string' || Buffer.byteLength(f) > 256) return 'a filter is over 256 bytes';
  return undefined;
}

/** Why a prepared query operation is malformed, or undefined (checked on encode and on every replica's decode). */
export function preparedQueryOpProblem(op: unknown): string | undefined {
  if (typeof op !== 'object' || op === null) return 'the operation must be an object';
  const o = op as { op?: unknown; id?: unknown; query?: unknown; create?: unknown };
  if (o.op === 'delete') return isSessionId(o.id) && Object.keys(o).length === 2 ? undefined : 'a delete names a query ID';
  if (o.op !== 'set' || typeof o.create !== 'boolean' || Object.keys(o).length !== 3) return 'unknown operation';
  return preparedQueryProblem(o.query);
}
