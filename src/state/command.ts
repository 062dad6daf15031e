// The commands the state machine applies, and their compact binary encoding.
// The proposer encodes a command once; the same bytes are stored in the log,
// sent to peers, and decoded only when applied, on every replica alike.
//
// Layout (big-endian; str = u32 byte length + UTF-8 bytes):
//   u8 type, u8 bits (1 = has cas, 2 = recurse, 4 = server), then
//   kv-set         str key, u32 flags, [u64 cas], u32 length + value bytes
//   kv-delete      str key, [u64 cas]
//   member-set     str id, str raftAddress, str httpAddress
//   member-delete  str id
//   catalog        str JSON of a CatalogOp (checked field by field on decode)
//   restore        u32 length + a state snapshot stream (the body of a snapshot archive)
//   catalog-delta  (tag 30) str JSON of an incremental CatalogOp (service-put, service-delete, check-put, check-delete)

import { isUtf8 } from 'node:buffer';
import { KonsulError } from '../errors.js';
import { MAX_KEY_BYTES } from '../storage/index.js';
import { CATALOG_DELTA_OPS, catalogOpProblem, type CatalogOp } from './catalog.js';

export type Command =
  | { type: 'kv-set'; key: string; value: Uint8Array; flags: number; cas?: number }
  | { type: 'kv-delete'; key: string; recurse?: boolean; cas?: number }
  | { type: 'member-set'; id: string; raftAddress: string; httpAddress: string; server: boolean }
  | { type: 'member-delete'; id: string }
  | { type: 'catalog'; op: CatalogOp }
  /** Replace the KV store and the catalog with a snapshot's (PUT /v1/snapshot); members stay. */
  | { type: 'restore'; state: Uint8Array };

/** Bytes that are not a command (truncated, garbage, or fields a proposer could never have encoded). */
export class CommandDecodeError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_COMMAND', `malformed command: ${message}`, 400);
    this.name = 'CommandDecodeError';
  }
}

/** A command that cannot be encoded: a bad field (empty key, flags out of range, ...). */
export class InvalidCommandError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_COMMAND', message, 400);
    this.name = 'InvalidCommandError';
  }
}

export class KeyTooLargeError extends KonsulError {
  constructor(what: string, bytes: number) {
    super('KONSUL_ERR_KEY_TOO_LARGE', `${what} is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`, 400);
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
  // scale (30-39)
  CatalogDelta = 30,
}

const HAS_CAS = 1;
const RECURSE = 2;
const SERVER = 4;
/** The bits each type may carry; any other bit means the bytes are not ours. */
const ALLOWED_BITS: Record<Tag, number> = {
  [Tag.KvSet]: HAS_CAS,
  [Tag.KvDelete]: HAS_CAS | RECURSE,
  [Tag.MemberSet]: SERVER,
  [Tag.MemberDelete]: 0,
  [Tag.Catalog]: 0,
  [Tag.Restore]: 0,
  // scale
  [Tag.CatalogDelta]: 0,
};

const TWO_POW_32 = 0x1_0000_0000;
/** The largest high word of a u64 that is still a safe integer (2^53 - 1). */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;
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

/** Writes into one buffer sized exactly up front. */
class Encoder {
  readonly buf: Buffer;
  private at = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  u8(v: number): void {
    this.buf[this.at++] = v;
  }
  u32(v: number): void {
    this.buf.writeUInt32BE(v, this.at);
    this.at += 4;
  }
  u64(v: number): void {
    this.u32(Math.floor(v / TWO_POW_32));
    this.u32(v >>> 0);
  }
  /** A string whose UTF-8 length the caller measured. */
  str(v: string, byteLength: number): void {
    this.u32(byteLength);
    this.at += this.buf.write(v, this.at, byteLength, 'utf8');
  }
  bytes(v: Uint8Array): void {
    this.u32(v.length);
    this.buf.set(v, this.at);
    this.at += v.length;
  }
  done(): Buffer {
    if (this.at !== this.buf.length) throw new Error(`command encoder wrote ${this.at} of ${this.buf.length} bytes`);
    return this.buf;
  }
}

/** Encodes a command after checking its fields; throws a 400 KonsulError for a bad one. */
export function encodeCommand(cmd: Command): Uint8Array {
  switch (cmd.type) {
    case 'kv-set': {
      const keyLen = keyBytes(cmd.key, 'the key', false);
      checkCas(cmd.cas);
      if (!Number.isInteger(cmd.flags) || cmd.flags < 0 || cmd.flags > 0xffff_ffff) {
        throw new InvalidCommandError(`flags must be an integer from 0 to 4294967295, got ${String(cmd.flags)}`);
      }
      const hasCas = cmd.cas !== undefined;
      const e = new Encoder(2 + 4 + keyLen + 4 + (hasCas ? 8 : 0) + 4 + cmd.value.length);
      e.u8(Tag.KvSet);
      e.u8(hasCas ? HAS_CAS : 0);
      e.str(cmd.key, keyLen);
      e.u32(cmd.flags);
      if (hasCas) e.u64(cmd.cas!);
      e.bytes(cmd.value);
      return e.done();
    }
    case 'kv-delete': {
      // An empty key with recurse deletes everything (Consul allows DELETE /v1/kv/?recurse).
      const keyLen = keyBytes(cmd.key, 'the key', cmd.recurse === true);
      checkCas(cmd.cas);
      const hasCas = cmd.cas !== undefined;
      const e = new Encoder(2 + 4 + keyLen + (hasCas ? 8 : 0));
      e.u8(Tag.KvDelete);
      e.u8((hasCas ? HAS_CAS : 0) | (cmd.recurse ? RECURSE : 0));
      e.str(cmd.key, keyLen);
      if (hasCas) e.u64(cmd.cas!);
      return e.done();
    }
    case 'member-set': {
      const idLen = keyBytes(cmd.id, 'the member id', false);
      const raftLen = textBytes(cmd.raftAddress, 'the raft address');
      const httpLen = textBytes(cmd.httpAddress, 'the http address');
      const e = new Encoder(2 + 12 + idLen + raftLen + httpLen);
      e.u8(Tag.MemberSet);
      e.u8(cmd.server ? SERVER : 0);
      e.str(cmd.id, idLen);
      e.str(cmd.raftAddress, raftLen);
      e.str(cmd.httpAddress, httpLen);
      return e.done();
    }
    case 'member-delete': {
      const idLen = keyBytes(cmd.id, 'the member id', false);
      const e = new Encoder(2 + 4 + idLen);
      e.u8(Tag.MemberDelete);
      e.u8(0);
      e.str(cmd.id, idLen);
      return e.done();
    }
    case 'catalog': {
      const problem = catalogOpProblem(cmd.op);
      if (problem) throw new InvalidCommandError(`catalog ${String((cmd.op as { op?: unknown } | undefined)?.op)}: ${problem}`);
      const json = JSON.stringify(cmd.op);
      const jsonLen = textBytes(json, 'the catalog operation');
      const e = new Encoder(2 + 4 + jsonLen);
      // scale: incremental operations go under their own tag, so a replica that predates them refuses them (no-op) rather than misreading.
      e.u8(CATALOG_DELTA_OPS.has(cmd.op.op) ? Tag.CatalogDelta : Tag.Catalog);
      e.u8(0);
      e.str(json, jsonLen);
      return e.done();
    }
    case 'restore': {
      const e = new Encoder(2 + 4 + cmd.state.length);
      e.u8(Tag.Restore);
      e.u8(0);
      e.bytes(cmd.state);
      return e.done();
    }
    default:
      throw new InvalidCommandError(`unknown command type ${JSON.stringify((cmd as { type: unknown }).type)}`);
  }
}

// ------------------------------------------------------------ decoding

/** Reads fields with a bound check on each, so a lying length ends in a CommandDecodeError, never a RangeError. */
class Decoder {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  private take(n: number, field: string): number {
    const at = this.at;
    if (n > this.buf.length - at) throw new CommandDecodeError(`${field} needs ${n} bytes at byte ${at}, ${this.buf.length - at} left`);
    this.at = at + n;
    return at;
  }
  u8(field: string): number {
    return this.buf[this.take(1, field)]!;
  }
  u32(field: string): number {
    return this.buf.readUInt32BE(this.take(4, field));
  }
  u64(field: string): number {
    const at = this.take(8, field);
    const high = this.buf.readUInt32BE(at);
    if (high > MAX_SAFE_HIGH_WORD) throw new CommandDecodeError(`${field} is beyond 2^53`);
    return high * TWO_POW_32 + this.buf.readUInt32BE(at + 4);
  }
  /** A view into the command's bytes, not a copy: the value is copied once, into LMDB. */
  bytes(field: string): Buffer {
    const n = this.u32(`${field} length`);
    const at = this.take(n, field);
    return this.buf.subarray(at, at + n);
  }
  str(field: string): string {
    const b = this.bytes(field);
    // toString would map bad bytes to U+FFFD; a replica must not invent a key the proposer never sent.
    if (!isUtf8(b)) throw new CommandDecodeError(`${field} is not valid UTF-8`);
    return b.toString('utf8');
  }
  /** A key or member id: 1..MAX_KEY_BYTES bytes (0 where allowed), as encodeCommand guarantees. */
  key(field: string, allowEmpty: boolean): string {
    const key = this.str(field);
    const n = Buffer.byteLength(key, 'utf8');
    if (n > MAX_KEY_BYTES) throw new CommandDecodeError(`${field} is ${n} bytes, over ${MAX_KEY_BYTES}`);
    if (n === 0 && !allowEmpty) throw new CommandDecodeError(`${field} is empty`);
    return key;
  }
  end(): void {
    if (this.at !== this.buf.length) throw new CommandDecodeError(`${this.buf.length - this.at} trailing bytes`);
  }
}

/** Decodes bytes from encodeCommand; anything else throws CommandDecodeError (400). */
export function decodeCommand(bytes: Uint8Array): Command {
  const d = new Decoder(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const tag = d.u8('type') as Tag;
  const allowed = ALLOWED_BITS[tag] as number | undefined;
  if (allowed === undefined) throw new CommandDecodeError(`unknown type ${tag}`);
  const bits = d.u8('bits');
  if ((bits & ~allowed) !== 0) throw new CommandDecodeError(`unknown bits 0x${bits.toString(16)} for type ${tag}`);
  let cmd: Command;
  switch (tag) {
    case Tag.KvSet: {
      const key = d.key('key', false);
      const flags = d.u32('flags');
      const cas = bits & HAS_CAS ? d.u64('cas') : undefined;
      const value = d.bytes('value');
      cmd = cas === undefined ? { type: 'kv-set', key, value, flags } : { type: 'kv-set', key, value, flags, cas };
      break;
    }
    case Tag.KvDelete: {
      const recurse = (bits & RECURSE) !== 0;
      const key = d.key('key', recurse);
      const cas = bits & HAS_CAS ? d.u64('cas') : undefined;
      cmd = cas === undefined ? { type: 'kv-delete', key, recurse } : { type: 'kv-delete', key, recurse, cas };
      break;
    }
    case Tag.MemberSet:
      cmd = {
        type: 'member-set',
        id: d.key('member id', false),
        raftAddress: d.str('raft address'),
        httpAddress: d.str('http address'),
        server: (bits & SERVER) !== 0,
      };
      break;
    case Tag.MemberDelete:
      cmd = { type: 'member-delete', id: d.key('member id', false) };
      break;
    case Tag.Catalog:
    case Tag.CatalogDelta: {
      let op: unknown;
      try {
        op = JSON.parse(d.str('catalog operation'));
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
      cmd = { type: 'restore', state: d.bytes('state') };
      break;
  }
  d.end();
  return cmd;
}
