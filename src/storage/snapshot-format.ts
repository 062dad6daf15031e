// The byte stream a state snapshot travels as: a header with the applied index,
// then each table's records in key order, then a trailer with a CRC-32 of it all.

import { crc32 } from 'node:zlib';
import { ChunkedReader } from '../chunked-reader.js';
import { SnapshotCorruptionError } from './errors.js';
import { readUint64, writeUint64 } from './limits.js';

// header:  "KSNP" | version u8 | appliedIndex u64 | tableCount u32
// table:   0x01 | nameLength u16 | name (utf8)
// record:  0x02 | keyLength u16 | valueLength u32 | key | value
// trailer: 0x03 | recordCount u64 | crc32 u32 of every byte before the trailer
// Lengths are big-endian. Keys fit u16 because LMDB caps them at 511 bytes.
const MAGIC = Buffer.from('KSNP', 'latin1');
const VERSION = 1;
const HEADER_BYTES = 4 + 1 + 8 + 4;
const TAG_TABLE = 0x01;
const TAG_RECORD = 0x02;
const TAG_TRAILER = 0x03;
const TRAILER_BYTES = 1 + 8 + 4;

/** Builds the stream in chunks; one growing buffer, handed out by take(). */
export class SnapshotEncoder {
  private buf: Buffer;
  private length = 0;
  private crc = 0;
  private records = 0;

  constructor(appliedIndex: number, tableCount: number, initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, HEADER_BYTES + TRAILER_BYTES));
    MAGIC.copy(this.buf, 0);
    this.buf[4] = VERSION;
    writeUint64(this.buf, 5, appliedIndex);
    this.buf.writeUInt32BE(tableCount, 13);
    this.length = HEADER_BYTES;
  }

  /** Bytes waiting for take(). */
  get buffered(): number {
    return this.length;
  }

  table(name: string): void {
    const nameBytes = Buffer.from(name, 'utf8');
    this.reserve(3 + nameBytes.length);
    this.buf[this.length] = TAG_TABLE;
    this.buf.writeUInt16BE(nameBytes.length, this.length + 1);
    nameBytes.copy(this.buf, this.length + 3);
    this.length += 3 + nameBytes.length;
  }

  record(key: Buffer, value: Buffer): void {
    this.reserve(7 + key.length + value.length);
    const at = this.length;
    this.buf[at] = TAG_RECORD;
    this.buf.writeUInt16BE(key.length, at + 1);
    this.buf.writeUInt32BE(value.length, at + 3);
    key.copy(this.buf, at + 7);
    value.copy(this.buf, at + 7 + key.length);
    this.length += 7 + key.length + value.length;
    this.records++;
  }

  /** The bytes so far; the encoder starts a fresh buffer so the chunk stays valid. */
  take(): Buffer {
    const chunk = this.buf.subarray(0, this.length);
    this.crc = crc32(chunk, this.crc);
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.length = 0;
    return chunk;
  }

  /** The last chunk, ending with the trailer. */
  finish(): Buffer {
    const body = this.buf.subarray(0, this.length);
    const crc = crc32(body, this.crc);
    this.reserve(TRAILER_BYTES);
    const at = this.length;
    this.buf[at] = TAG_TRAILER;
    writeUint64(this.buf, at + 1, this.records);
    this.buf.writeUInt32BE(crc, at + 9);
    this.length += TRAILER_BYTES;
    const chunk = this.buf.subarray(0, this.length);
    this.buf = Buffer.alloc(0);
    this.length = 0;
    return chunk;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.length + bytes, Math.ceil(this.buf.length * 1.5)));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }
}

/** Where decoded items go. Keys and values are views into the decoder's buffer: copy to keep them. */
export interface SnapshotSink {
  header?(appliedIndex: number, tableCount: number): void;
  table(name: string): void;
  record(key: Buffer, value: Buffer): void;
}

export interface DecodedSnapshot {
  appliedIndex: number;
  tableCount: number;
  records: number;
}

/**
 * Parses the stream as it arrives, chunk boundaries anywhere. It keeps the
 * pieces of an incomplete item and joins them only once the item is whole, so
 * a large value in small chunks is copied once, not once per chunk.
 */
export class SnapshotDecoder {
  private readonly reader = new ChunkedReader(HEADER_BYTES);
  private crc = 0;
  private headerSeen = false;
  private done = false;
  private inTable = false;
  private appliedIndex = 0;
  private tableCount = 0;
  private tablesSeen = 0;
  private records = 0;
  private readonly take = (buf: Buffer, at: number): number => {
    if (this.done) {
      if (at < buf.length) throw new SnapshotCorruptionError('bytes after the trailer');
      return 0;
    }
    const size = this.nextSize(buf, at);
    if (size > buf.length - at) {
      this.reader.need = size;
      return 0;
    }
    this.consume(buf, at, size);
    if (this.done && at + size < buf.length) throw new SnapshotCorruptionError('bytes after the trailer');
    return size;
  };

  constructor(private readonly sink: SnapshotSink) {}

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    if (this.done) throw new SnapshotCorruptionError('bytes after the trailer');
    this.reader.push(chunk, this.take);
  }

  /** The stream ended: it must have ended exactly at a valid trailer. */
  end(): DecodedSnapshot {
    if (!this.done) {
      throw new SnapshotCorruptionError(
        `the stream ended before its trailer (${this.records} records read, ${this.reader.buffered} bytes left over)`,
      );
    }
    return { appliedIndex: this.appliedIndex, tableCount: this.tableCount, records: this.records };
  }

  /** The size of the next item, or how many bytes it takes to learn it. */
  private nextSize(buf: Buffer, at: number): number {
    const avail = buf.length - at;
    if (!this.headerSeen) return HEADER_BYTES;
    if (avail < 1) return 1;
    switch (buf[at]) {
      case TAG_TABLE: return avail < 3 ? 3 : 3 + buf.readUInt16BE(at + 1);
      case TAG_RECORD: return avail < 7 ? 7 : 7 + buf.readUInt16BE(at + 1) + buf.readUInt32BE(at + 3);
      case TAG_TRAILER: return TRAILER_BYTES;
      default: throw new SnapshotCorruptionError(`unknown item tag 0x${buf[at].toString(16)} after ${this.records} records`);
    }
  }

  private consume(buf: Buffer, at: number, size: number): void {
    if (!this.headerSeen) {
      if (!buf.subarray(at, at + 4).equals(MAGIC)) throw new SnapshotCorruptionError('not a konsul state snapshot (bad magic)');
      if (buf[at + 4] !== VERSION) {
        throw new SnapshotCorruptionError(buf[at + 4]! > VERSION
          ? `state snapshot format ${buf[at + 4]} is newer than this konsul reads (${VERSION}): it was written by a newer konsul`
          : `unknown format version ${buf[at + 4]}`);
      }
      this.headerSeen = true;
      this.appliedIndex = readUint64(buf, at + 5);
      this.tableCount = buf.readUInt32BE(at + 13);
      this.crc = crc32(buf.subarray(at, at + size), this.crc);
      this.sink.header?.(this.appliedIndex, this.tableCount);
      return;
    }
    const tag = buf[at];
    if (tag === TAG_TRAILER) {
      const records = readUint64(buf, at + 1);
      const crc = buf.readUInt32BE(at + 9);
      if (crc !== this.crc) {
        throw new SnapshotCorruptionError(`checksum mismatch (trailer ${crc.toString(16)}, computed ${this.crc.toString(16)})`);
      }
      if (records !== this.records) throw new SnapshotCorruptionError(`trailer counts ${records} records, read ${this.records}`);
      if (this.tablesSeen !== this.tableCount) {
        throw new SnapshotCorruptionError(`header announces ${this.tableCount} tables, read ${this.tablesSeen}`);
      }
      this.done = true;
      return;
    }
    this.crc = crc32(buf.subarray(at, at + size), this.crc);
    if (tag === TAG_TABLE) {
      this.tablesSeen++;
      this.inTable = true;
      this.sink.table(buf.toString('utf8', at + 3, at + size));
      return;
    }
    if (!this.inTable) throw new SnapshotCorruptionError('a record before any table');
    const keyLength = buf.readUInt16BE(at + 1);
    this.records++;
    this.sink.record(buf.subarray(at + 7, at + 7 + keyLength), buf.subarray(at + 7 + keyLength, at + size));
  }
}
