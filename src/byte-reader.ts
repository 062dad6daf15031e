// The one binary field reader (pg-protocol's BufferReader): fields from a
// window of a buffer with a bound check on every read, so a lying count or
// length ends in the caller's decode error (the transport's FrameDecodeError,
// the state commands' CommandDecodeError), never a wild read. Its pair is
// byte-writer.ts.

import { isUtf8 } from 'node:buffer';

/** Makes the error a malformed input raises; each format passes its own. */
export type MakeError = (message: string) => Error;

const plainError: MakeError = (message) => new Error(message);

const TWO_POW_32 = 0x1_0000_0000;
/** The largest high word of a u64 that is still a safe integer (2^53 - 1). */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;
/** Strings up to this many bytes take the byte-loop path. */
const SHORT_STRING = 24;

export function getU32(buf: Buffer, at: number): number {
  return ((buf[at]! << 24) >>> 0) + ((buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!);
}

/** A big-endian u64 that must be a safe integer; `field` names it in the error. */
export function getU64(buf: Buffer, at: number, field: string, fail: MakeError = plainError): number {
  const high = getU32(buf, at);
  if (high > MAX_SAFE_HIGH_WORD) throw fail(`${field} is beyond 2^53`);
  return high * TWO_POW_32 + getU32(buf, at + 4);
}

export class BufferReader {
  readonly buffer: Buffer;
  private offset: number;
  private readonly end: number;
  private readonly fail: MakeError;

  constructor(buffer: Buffer, start = 0, end = buffer.length, fail: MakeError = plainError) {
    this.buffer = buffer;
    this.offset = start;
    this.end = end;
    this.fail = fail;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /**
   * Claims the next `size` bytes and returns where they start in `buffer`, for
   * hot loops that read fixed-size records after one bound check.
   */
  skip(size: number, field: string): number {
    const at = this.offset;
    if (at + size > this.end) {
      throw this.fail(`${field} needs ${size} bytes, ${this.end - at} left`);
    }
    this.offset = at + size;
    return at;
  }

  u8(field: string): number {
    return this.buffer[this.skip(1, field)]!;
  }

  u16(field: string): number {
    const at = this.skip(2, field);
    return (this.buffer[at]! << 8) | this.buffer[at + 1]!;
  }

  u32(field: string): number {
    return getU32(this.buffer, this.skip(4, field));
  }

  u64(field: string): number {
    return getU64(this.buffer, this.skip(8, field), field, this.fail);
  }

  string16(field: string): string {
    const length = this.u16(field);
    const at = this.skip(length, field);
    const buf = this.buffer;
    if (length <= SHORT_STRING) {
      // Node ids are short ASCII; building them by hand beats a native utf8 decode.
      let text = '';
      for (let i = at; i < at + length; i++) {
        const byte = buf[i]!;
        if (byte >= 0x80) return buf.toString('utf8', at, at + length);
        text += String.fromCharCode(byte);
      }
      return text;
    }
    return buf.toString('utf8', at, at + length);
  }

  /**
   * A copy of the next `length` bytes. Always a copy: the parser reuses its
   * buffer for the next TCP chunk, and decoded entries outlive it.
   */
  copyBytes(length: number, field: string): Buffer {
    const at = this.skip(length, field);
    const copy = Buffer.allocUnsafe(length);
    this.buffer.copy(copy, 0, at, at + length);
    return copy;
  }

  /** A u32 length, then that many bytes as a view into the buffer (no copy: the caller copies what it keeps). */
  bytes32(field: string): Buffer {
    const length = this.u32(`${field} length`);
    const at = this.skip(length, field);
    return this.buffer.subarray(at, at + length);
  }

  /** A u32 length, then that many bytes of UTF-8; bad UTF-8 is refused, never replaced with U+FFFD. */
  string32(field: string): string {
    const bytes = this.bytes32(field);
    if (!isUtf8(bytes)) throw this.fail(`${field} is not valid UTF-8`);
    return bytes.toString('utf8');
  }

  /** Ends a payload: bytes left over mean the sender and we disagree on the layout. */
  expectEnd(what: string): void {
    if (this.offset !== this.end) {
      throw this.fail(`${this.end - this.offset} trailing bytes after ${what}`);
    }
  }
}
