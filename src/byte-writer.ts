// The one binary field writer (pg-protocol's BufferWriter): one growing
// buffer that fields and frames are appended to; the bytes written since the
// last take() are handed out as a single slice, so a batch leaves in one
// write. Its pair is byte-reader.ts; each format passes its own encode error.

import type { MakeError } from './byte-reader.js';

const plainError: MakeError = (message) => new Error(message);

const TWO_POW_32 = 0x1_0000_0000;
/** A fresh buffer is at least as large as the last one, up to this. */
const KEEP_CAPACITY = 1024 * 1024;
/** Strings up to this many UTF-16 units take the byte-loop path. */
const SHORT_STRING = 32;

/** Big-endian u32 by hand: plain stores into the typed array beat writeUInt32BE's checks. */
export function putU32(buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}

/** A safe integer as a big-endian u64 (high word first); check it with checkU64. */
export function putU64(buf: Buffer, at: number, value: number): void {
  putU32(buf, at, Math.floor(value / TWO_POW_32));
  putU32(buf, at + 4, value >>> 0);
}

export function checkU64(value: number, field: string, fail: MakeError = plainError): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw fail(`${field} must be a non-negative safe integer, got ${String(value)}`);
  }
}

export class BufferWriter {
  private buf: Buffer;
  /** First byte not yet handed out by take(). Bytes before it may still sit in a socket's queue. */
  private start = 0;
  /** Next byte to write. */
  private offset = 0;
  private readonly initialSize: number;
  private readonly fail: MakeError;

  constructor(initialSize = 16 * 1024, fail: MakeError = plainError) {
    this.initialSize = initialSize;
    this.fail = fail;
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.offset - this.start;
  }

  /**
   * A position to come back to (patch a length, checksum a range, roll back).
   * Marks are relative to the untaken region because growing moves it.
   */
  mark(): number {
    return this.offset - this.start;
  }

  /** Forgets everything written after `mark` (a frame that turned out not to fit). */
  truncate(mark: number): void {
    this.offset = this.start + mark;
  }

  /** Hands out the untaken bytes without copying; later writes never touch them. */
  take(): Buffer {
    const taken = this.buf.subarray(this.start, this.offset);
    this.start = this.offset;
    return taken;
  }

  /** Drops the untaken bytes (the connection they were meant for is gone). */
  clear(): void {
    this.offset = this.start;
  }

  /** The bytes from `mark` to the current end, as a view (for a checksum). */
  viewSince(mark: number): Buffer {
    return this.buf.subarray(this.start + mark, this.offset);
  }

  private ensure(size: number): void {
    if (this.offset + size <= this.buf.length) return;
    // Only the untaken region moves: taken slices may still be queued in a
    // socket, so the old buffer is left as it is and a new one is allocated.
    const pending = this.offset - this.start;
    const needed = pending + size;
    // Grow by ~1.5x; and after a take(), keep about the size the last batches
    // needed (up to a cap) rather than falling back to the initial size.
    const capacity = Math.max(this.initialSize, needed + (needed >>> 1), Math.min(this.buf.length, KEEP_CAPACITY));
    const next = Buffer.allocUnsafe(capacity);
    this.buf.copy(next, 0, this.start, this.offset);
    this.buf = next;
    this.start = 0;
    this.offset = pending;
  }

  /**
   * Makes room for `size` bytes and returns where they start in `buffer`, for
   * hot loops that write fields directly (entry headers). Read `buffer` after
   * calling: making room may have replaced it.
   */
  reserve(size: number): number {
    this.ensure(size);
    const at = this.offset;
    this.offset += size;
    return at;
  }

  /** The current backing buffer; only valid until the next write. */
  get buffer(): Buffer {
    return this.buf;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buf[this.offset++] = value;
    return this;
  }

  u16(value: number): this {
    this.ensure(2);
    const buf = this.buf;
    const o = this.offset;
    buf[o] = value >>> 8;
    buf[o + 1] = value;
    this.offset = o + 2;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    putU32(this.buf, this.offset, value);
    this.offset += 4;
    return this;
  }

  /** A non-negative safe integer as 8 bytes; Raft terms and indexes never need more than 53 bits. */
  u64(value: number, field: string): this {
    checkU64(value, field, this.fail);
    this.ensure(8);
    putU64(this.buf, this.offset, value);
    this.offset += 8;
    return this;
  }

  /** A UTF-8 string with a u16 byte length: node ids, addresses, cluster ids, read contexts. */
  string16(value: string, field: string): this {
    const length = value.length;
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    this.ensure(2 + length * 3);
    const buf = this.buf;
    const at = this.offset + 2;
    let written = -1;
    if (length <= SHORT_STRING) {
      // Node ids and contexts are short ASCII; a byte loop beats Buffer#write's native call.
      written = length;
      for (let i = 0; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) {
          written = -1;
          break;
        }
        buf[at + i] = code;
      }
    }
    if (written < 0) written = buf.write(value, at, 'utf8');
    if (written > 0xffff) {
      throw this.fail(`${field} is ${written} bytes; at most 65535 fit`);
    }
    buf[at - 2] = written >>> 8;
    buf[at - 1] = written;
    this.offset = at + written;
    return this;
  }

  /** Raw bytes, copied as they are: a command's bytes are never re-encoded. */
  bytes(value: Uint8Array): this {
    this.ensure(value.length);
    this.buf.set(value, this.offset);
    this.offset += value.length;
    return this;
  }

  /** A u32 length, then the bytes. */
  bytes32(value: Uint8Array): this {
    this.u32(value.length);
    return this.bytes(value);
  }

  /** A u32 byte length, then the string's UTF-8 (`byteLength` when the caller measured it already). */
  string32(value: string, byteLength = Buffer.byteLength(value, 'utf8')): this {
    this.u32(byteLength);
    this.ensure(byteLength);
    this.offset += this.buf.write(value, this.offset, byteLength, 'utf8');
    return this;
  }

  /** Overwrites 4 bytes at `mark` (a length prefix written before its frame's size was known). */
  patchU32(mark: number, value: number): void {
    this.buf.writeUInt32BE(value, this.start + mark);
  }
}
