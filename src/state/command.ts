// The commands the state machine applies, and their compact binary encoding:
// one type byte, then the fields (u32 lengths, UTF-8 strings). The bytes are
// made once by the proposer, stored in the log, sent to peers, and decoded
// only when applied.

import { KonsulError } from '../errors.js';
import { MAX_KEY_BYTES } from '../storage/index.js';

export type Command =
  | { type: 'kv-set'; key: string; value: Uint8Array; flags: number; cas?: number }
  | { type: 'kv-delete'; key: string; recurse?: boolean; cas?: number }
  | { type: 'member-set'; id: string; raftAddress: string; httpAddress: string; server: boolean }
  | { type: 'member-delete'; id: string };

export class CommandDecodeError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_COMMAND', `malformed command: ${message}`, 400);
    this.name = 'CommandDecodeError';
  }
}

export class KeyTooLargeError extends KonsulError {
  constructor(bytes: number) {
    super('KONSUL_ERR_KEY_TOO_LARGE', `key is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`, 400);
    this.name = 'KeyTooLargeError';
  }
}

const enum Tag {
  KvSet = 1,
  KvDelete = 2,
  MemberSet = 3,
  MemberDelete = 4,
}

// Flags byte bits.
const HAS_CAS = 1;
const RECURSE = 2;
const SERVER = 4;

class Writer {
  private parts: Buffer[] = [];
  u8(v: number): void {
    this.parts.push(Buffer.of(v));
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
  }
  f64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    this.parts.push(b);
  }
  bytes(v: Uint8Array): void {
    this.u32(v.length);
    this.parts.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  }
  str(v: string): void {
    this.bytes(Buffer.from(v, 'utf8'));
  }
  done(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CommandDecodeError(`truncated at byte ${this.pos} (needs ${n} more)`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  str(): string {
    return this.bytes().toString('utf8');
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new CommandDecodeError(`${this.buf.length - this.pos} trailing bytes`);
  }
}

function checkKey(key: string, allowEmpty: boolean): void {
  const n = Buffer.byteLength(key, 'utf8');
  if (n > MAX_KEY_BYTES) throw new KeyTooLargeError(n);
  if (n === 0 && !allowEmpty) throw new KonsulError('KONSUL_ERR_BAD_KEY', 'the key must not be empty', 400);
}

function checkIndex(v: number | undefined, what: string): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
    throw new KonsulError('KONSUL_ERR_BAD_ARGUMENT', `${what} must be a non-negative integer`, 400);
  }
}

export function encodeCommand(cmd: Command): Uint8Array {
  const w = new Writer();
  switch (cmd.type) {
    case 'kv-set':
      checkKey(cmd.key, false);
      checkIndex(cmd.cas, 'cas');
      if (!Number.isInteger(cmd.flags) || cmd.flags < 0 || cmd.flags > 0xffff_ffff) {
        throw new KonsulError('KONSUL_ERR_BAD_ARGUMENT', 'flags must be an integer from 0 to 4294967295', 400);
      }
      w.u8(Tag.KvSet);
      w.u8(cmd.cas !== undefined ? HAS_CAS : 0);
      w.str(cmd.key);
      w.u32(cmd.flags);
      if (cmd.cas !== undefined) w.f64(cmd.cas);
      w.bytes(cmd.value);
      break;
    case 'kv-delete':
      // An empty key with recurse deletes everything (Consul allows DELETE /v1/kv/?recurse).
      checkKey(cmd.key, cmd.recurse === true);
      checkIndex(cmd.cas, 'cas');
      w.u8(Tag.KvDelete);
      w.u8((cmd.cas !== undefined ? HAS_CAS : 0) | (cmd.recurse ? RECURSE : 0));
      w.str(cmd.key);
      if (cmd.cas !== undefined) w.f64(cmd.cas);
      break;
    case 'member-set':
      w.u8(Tag.MemberSet);
      w.u8(cmd.server ? SERVER : 0);
      w.str(cmd.id);
      w.str(cmd.raftAddress);
      w.str(cmd.httpAddress);
      break;
    case 'member-delete':
      w.u8(Tag.MemberDelete);
      w.u8(0);
      w.str(cmd.id);
      break;
    default:
      throw new KonsulError('KONSUL_ERR_BAD_COMMAND', `unknown command type ${(cmd as { type: string }).type}`, 400);
  }
  return w.done();
}

export function decodeCommand(bytes: Uint8Array): Command {
  const r = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const tag = r.u8();
  const bits = r.u8();
  let cmd: Command;
  switch (tag) {
    case Tag.KvSet: {
      const key = r.str();
      const flags = r.u32();
      const cas = bits & HAS_CAS ? r.f64() : undefined;
      const value = r.bytes();
      cmd = { type: 'kv-set', key, value, flags, cas };
      break;
    }
    case Tag.KvDelete: {
      const key = r.str();
      const cas = bits & HAS_CAS ? r.f64() : undefined;
      cmd = { type: 'kv-delete', key, recurse: (bits & RECURSE) !== 0, cas };
      break;
    }
    case Tag.MemberSet:
      cmd = { type: 'member-set', id: r.str(), raftAddress: r.str(), httpAddress: r.str(), server: (bits & SERVER) !== 0 };
      break;
    case Tag.MemberDelete:
      cmd = { type: 'member-delete', id: r.str() };
      break;
    default:
      throw new CommandDecodeError(`unknown type ${tag}`);
  }
  r.end();
  return cmd;
}
