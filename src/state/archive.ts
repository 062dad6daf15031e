// The snapshot archive: what `GET /v1/snapshot` streams, `konsul snapshot save`
// writes, and `PUT /v1/snapshot` / `konsul snapshot restore` take back. A
// point-in-time copy of the whole replicated state, with a header that says
// where it was taken and a SHA-256 over every byte, so a truncated or altered
// file is refused before anything is changed.
//
// Layout (integers big-endian):
//   magic "KONSULSNAP" | version u8 (1)
//   u32 length + header JSON   {index, term, createdAt, nodeId, datacenter}
//   body frames: u32 length (> 0) + bytes, ..., then u32 0
//                (the frames' bytes, joined, are the state store's snapshot
//                stream: tables, records in key order, CRC-32 trailer)
//   u32 length + trailer JSON  {bodyBytes, records, tables: {name: records}}
//   SHA-256 (32 bytes) of every byte before it
// The trailer carries the counts so the archive can be written as the state
// is read, in one pass over one read transaction.

import { createHash, type Hash } from 'node:crypto';
import { KonsulError, SnapshotFailedError } from '../errors.js';
import { ChunkedReader } from '../chunked-reader.js';
import { SnapshotDecoder } from '../storage/snapshot-format.js';

export const ARCHIVE_MAGIC = Buffer.from('KONSULSNAP', 'latin1');
export const ARCHIVE_VERSION = 1;
const PREAMBLE_BYTES = ARCHIVE_MAGIC.length + 1;
const SHA_BYTES = 32;
/** Header and trailer are small JSON objects; anything larger is not ours. */
const MAX_JSON_BYTES = 1024 * 1024;
/** Largest body frame a reader accepts (writers use 1 MiB chunks or less). */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface ArchiveHeader {
  /** The Raft index the state was applied up to. */
  index: number;
  /** The term of that index (0 when the agent no longer knew it). */
  term: number;
  /** When the archive was taken, ISO 8601. */
  createdAt: string;
  /** The agent that wrote it. */
  nodeId: string;
  datacenter: string;
}

export interface ArchiveTrailer {
  bodyBytes: number;
  records: number;
  /** Records per table, in the order the body lists them. */
  tables: Record<string, number>;
}

export interface ParsedArchive {
  header: ArchiveHeader;
  trailer: ArchiveTrailer;
  /** Every byte of the archive, checksum included. */
  size: number;
  /** Hex SHA-256 (verified). */
  sha256: string;
  /** The state stream, when parsed with keepBody. */
  body?: Buffer;
}

/** The bytes are not a whole, intact archive (400 over HTTP, exit 1 in the CLI). */
export class ArchiveError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_SNAPSHOT', `invalid snapshot archive: ${message}`, 'invalid');
    this.name = 'ArchiveError';
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

function jsonBlock(value: object): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  return Buffer.concat([u32(json.length), json]);
}

/**
 * The archive around a state stream, as chunks: header first, then the body
 * frames as the stream yields them, then the trailer and checksum. Counts
 * come from decoding the stream on the way through (which also checks it).
 */
export async function* writeArchive(header: ArchiveHeader, state: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  const emit = (b: Buffer): Buffer => {
    hash.update(b);
    return b;
  };
  const counter = new TableCounter();
  const decoder = new SnapshotDecoder(counter);
  let bodyBytes = 0;
  yield emit(Buffer.concat([ARCHIVE_MAGIC, Buffer.of(ARCHIVE_VERSION), jsonBlock(header)]));
  for await (const chunk of state) {
    if (chunk.byteLength === 0) continue;
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    decoder.push(bytes);
    bodyBytes += bytes.length;
    yield emit(Buffer.concat([u32(bytes.length), bytes]));
  }
  const decoded = decoder.end();
  if (decoded.appliedIndex !== header.index) {
    throw new SnapshotFailedError(`the state stream is at index ${decoded.appliedIndex}, the header says ${header.index}`);
  }
  const trailer: ArchiveTrailer = { bodyBytes, records: decoded.records, tables: counter.tables };
  const tail = emit(Buffer.concat([u32(0), jsonBlock(trailer)]));
  yield Buffer.concat([tail, hash.digest()]);
}

class TableCounter {
  readonly tables: Record<string, number> = {};
  private current = '';
  table(name: string): void {
    this.current = name;
    this.tables[name] = 0;
  }
  record(): void {
    this.tables[this.current]!++;
  }
}

type Stage = 'preamble' | 'headerLength' | 'header' | 'frameLength' | 'frame' | 'trailerLength' | 'trailer' | 'sha' | 'done';

/**
 * Parses an archive as it arrives (chunk boundaries anywhere) and checks it
 * whole: magic, version, JSON blocks, the state stream's own structure and
 * CRC, counts, the index, and the SHA-256. end() throws ArchiveError unless
 * all of it holds.
 */
export class ArchiveParser {
  private stage: Stage = 'preamble';
  private readonly reader = new ChunkedReader(PREAMBLE_BYTES);
  private readonly hash: Hash = createHash('sha256');
  private readonly counter = new TableCounter();
  private readonly decoder = new SnapshotDecoder(this.counter);
  private readonly bodyParts: Buffer[] | undefined;
  private header: ArchiveHeader | undefined;
  private trailer: ArchiveTrailer | undefined;
  private bodyBytes = 0;
  private size = 0;
  private sha = '';

  constructor(options: { keepBody?: boolean } = {}) {
    this.bodyParts = options.keepBody ? [] : undefined;
  }

  /** Bytes taken so far. */
  get bytesRead(): number {
    return this.size;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    if (this.stage === 'done') throw new ArchiveError('bytes after the checksum');
    this.size += chunk.byteLength;
    this.reader.push(chunk, this.take);
  }

  /** One item of the current stage, once `reader.need` bytes are there. */
  private readonly take = (buf: Buffer, at: number): number => {
    const size = this.reader.need;
    if (buf.length - at < size) return 0;
    this.consume(buf.subarray(at, at + size));
    if ((this.stage as Stage) === 'done' && at + size < buf.length) throw new ArchiveError('bytes after the checksum');
    return size;
  };

  end(): ParsedArchive {
    if (this.stage !== 'done') {
      throw new ArchiveError(`truncated: the file ends in its ${this.describeStage()} after ${this.size} bytes`);
    }
    return {
      header: this.header!,
      trailer: this.trailer!,
      size: this.size,
      sha256: this.sha,
      body: this.bodyParts ? Buffer.concat(this.bodyParts) : undefined,
    };
  }

  private describeStage(): string {
    switch (this.stage) {
      case 'preamble': return 'magic number';
      case 'headerLength': case 'header': return 'header';
      case 'frameLength': case 'frame': return 'state data';
      case 'trailerLength': case 'trailer': return 'trailer';
      default: return 'checksum';
    }
  }

  private consume(item: Buffer): void {
    if (this.stage !== 'sha') this.hash.update(item);
    switch (this.stage) {
      case 'preamble':
        if (!item.subarray(0, ARCHIVE_MAGIC.length).equals(ARCHIVE_MAGIC)) throw new ArchiveError('not a konsul snapshot (bad magic number)');
        if (item[ARCHIVE_MAGIC.length] !== ARCHIVE_VERSION) {
          const v = item[ARCHIVE_MAGIC.length]!;
          throw new ArchiveError(`format version ${v} is not one this konsul reads (${ARCHIVE_VERSION})${v > ARCHIVE_VERSION ? ': the archive was written by a newer konsul' : ''}`);
        }
        return this.next('headerLength', 4);
      case 'headerLength':
        return this.next('header', this.jsonLength(item, 'header'));
      case 'header':
        this.header = parseHeader(item);
        return this.next('frameLength', 4);
      case 'frameLength': {
        const n = item.readUInt32BE(0);
        if (n === 0) {
          try {
            const decoded = this.decoder.end();
            if (decoded.appliedIndex !== this.header!.index) {
              throw new ArchiveError(`the state is at index ${decoded.appliedIndex}, the header says ${this.header!.index}`);
            }
          } catch (error) {
            throw asArchiveError(error);
          }
          return this.next('trailerLength', 4);
        }
        if (n > MAX_FRAME_BYTES) throw new ArchiveError(`a state frame of ${n} bytes is over the ${MAX_FRAME_BYTES}-byte limit`);
        return this.next('frame', n);
      }
      case 'frame':
        try {
          this.decoder.push(item);
        } catch (error) {
          throw asArchiveError(error);
        }
        this.bodyBytes += item.length;
        // `item` may be a view into a buffer the next push reuses: keep a copy.
        this.bodyParts?.push(Buffer.from(item));
        return this.next('frameLength', 4);
      case 'trailerLength':
        return this.next('trailer', this.jsonLength(item, 'trailer'));
      case 'trailer':
        this.trailer = parseTrailer(item);
        if (this.trailer.bodyBytes !== this.bodyBytes) {
          throw new ArchiveError(`the trailer says ${this.trailer.bodyBytes} bytes of state, the file holds ${this.bodyBytes}`);
        }
        for (const [name, count] of Object.entries(this.counter.tables)) {
          if (this.trailer.tables[name] !== count) throw new ArchiveError(`the trailer counts ${this.trailer.tables[name]} records in table ${name}, the file holds ${count}`);
        }
        if (Object.keys(this.trailer.tables).length !== Object.keys(this.counter.tables).length) {
          throw new ArchiveError('the trailer lists other tables than the file holds');
        }
        return this.next('sha', SHA_BYTES);
      case 'sha': {
        const computed = this.hash.digest();
        if (!computed.equals(item)) {
          throw new ArchiveError(`checksum mismatch (file says ${item.toString('hex').slice(0, 16)}…, computed ${computed.toString('hex').slice(0, 16)}…)`);
        }
        this.sha = computed.toString('hex');
        return this.next('done', Number.POSITIVE_INFINITY);
      }
      default:
        throw new ArchiveError('bytes after the checksum');
    }
  }

  private next(stage: Stage, need: number): void {
    this.stage = stage;
    this.reader.need = need;
  }

  private jsonLength(item: Buffer, what: string): number {
    const n = item.readUInt32BE(0);
    if (n === 0 || n > MAX_JSON_BYTES) throw new ArchiveError(`${what} length ${n} is not plausible`);
    return n;
  }
}

function asArchiveError(error: unknown): ArchiveError {
  if (error instanceof ArchiveError) return error;
  return new ArchiveError(`state data: ${(error as Error).message}`);
}

function parseJsonObject(item: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(item.toString('utf8'));
  } catch {
    throw new ArchiveError(`the ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ArchiveError(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function parseHeader(item: Buffer): ArchiveHeader {
  const h = parseJsonObject(item, 'header');
  if (!isCount(h.index) || !isCount(h.term)) throw new ArchiveError('the header lacks a valid index or term');
  if (typeof h.createdAt !== 'string' || typeof h.nodeId !== 'string' || typeof h.datacenter !== 'string') {
    throw new ArchiveError('the header lacks createdAt, nodeId or datacenter');
  }
  return { index: h.index, term: h.term, createdAt: h.createdAt, nodeId: h.nodeId, datacenter: h.datacenter };
}

function parseTrailer(item: Buffer): ArchiveTrailer {
  const t = parseJsonObject(item, 'trailer');
  if (!isCount(t.bodyBytes) || !isCount(t.records)) throw new ArchiveError('the trailer lacks valid counts');
  const tables = t.tables;
  if (typeof tables !== 'object' || tables === null || Array.isArray(tables)) throw new ArchiveError('the trailer lacks its table counts');
  for (const v of Object.values(tables)) if (!isCount(v)) throw new ArchiveError('the trailer has a table count that is not a count');
  return { bodyBytes: t.bodyBytes, records: t.records, tables: tables as Record<string, number> };
}

/** Parses and checks a whole archive held in memory. */
export function parseArchive(bytes: Uint8Array, options: { keepBody?: boolean } = {}): ParsedArchive {
  const parser = new ArchiveParser(options);
  parser.push(bytes);
  return parser.end();
}

/** Parses and checks an archive from a stream (a file, a response body), calling onProgress with bytes read. */
export async function parseArchiveStream(
  stream: AsyncIterable<Uint8Array | string>, options: { keepBody?: boolean; onProgress?: (bytes: number) => void } = {},
): Promise<ParsedArchive> {
  const parser = new ArchiveParser(options);
  for await (const chunk of stream) {
    parser.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    options.onProgress?.(parser.bytesRead);
  }
  return parser.end();
}
