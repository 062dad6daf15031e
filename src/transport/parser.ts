// Turns a stream of TCP chunks, split anywhere, into decoded frames. Frames are
// decoded straight from the chunk they arrive in; only a frame cut by a chunk
// boundary is assembled in a small carry buffer, and only that frame's bytes are copied.

import { crc32 } from 'node:zlib';
import { decodeFrame, DEFAULT_MAX_FRAME_SIZE, FRAME_PREFIX_SIZE, MIN_FRAME_LENGTH, type Frame } from './codec.js';
import { FrameChecksumError, FrameError, FrameTooLargeError } from './errors.js';

const EMPTY = Buffer.alloc(0);
/** The smallest carry buffer allocated, so small split frames reuse one buffer. */
const MIN_CARRY = 16 * 1024;
/** Carry buffers up to this size are kept for reuse; larger ones go back to the GC. */
const SPARE_LIMIT = 1024 * 1024;

export class FrameParser {
  /**
   * The largest length prefix accepted. Checked as soon as the 4 length bytes
   * arrive, before any buffer is grown for the frame. Raised after the handshake.
   */
  maxFrameSize: number;
  /** The bytes being parsed: a caller's chunk, or the carry buffer holding one split frame. */
  private buffer: Buffer = EMPTY;
  /** Whether `buffer` is our carry buffer (ours to write) or a caller's chunk (never written to). */
  private owned = false;
  /** A carry buffer kept from earlier, so split frames do not allocate every time. */
  private spare: Buffer | undefined;
  private offset = 0;
  private end = 0;
  private failed: FrameError | undefined;
  private stopped = false;

  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes held from a frame that has not fully arrived. */
  get bufferedBytes(): number {
    return this.end - this.offset;
  }

  /**
   * Feeds one chunk; calls onFrame for every frame it completes, in order.
   * Throws a FrameError on bad input; the parser then refuses further input,
   * since the stream has lost its frame boundaries. The chunk is never modified;
   * a partial frame at its end is kept by reference until the next chunk.
   */
  parse(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.failed !== undefined) throw this.failed;
    if (this.stopped) return;
    try {
      let start = 0;
      if (this.end > this.offset) {
        start = this.fillCarry(chunk);
        if (!this.carryComplete()) return;
        this.drain(onFrame);
        if (this.stopped) return;
      }
      this.release();
      this.buffer = chunk;
      this.offset = start;
      this.end = chunk.length;
      this.drain(onFrame);
    } catch (err) {
      if (err instanceof FrameError) this.fail(err);
      throw err;
    }
  }

  /**
   * Delivers no more frames, not even the rest of the chunk being parsed: the
   * connection was closed from inside onFrame.
   */
  stop(): void {
    this.stopped = true;
    this.reset();
  }

  private fail(err: FrameError): void {
    this.failed = err;
    this.reset();
  }

  private reset(): void {
    this.owned = false;
    this.spare = undefined;
    this.buffer = EMPTY;
    this.offset = 0;
    this.end = 0;
  }

  private drain(onFrame: (frame: Frame) => void): void {
    for (;;) {
      if (this.end - this.offset < FRAME_PREFIX_SIZE) break;
      const frameEnd = this.offset + FRAME_PREFIX_SIZE + this.checkedLength();
      if (frameEnd > this.end) break;
      const buffer = this.buffer;
      const crcAt = frameEnd - 4;
      const expected = buffer.readUInt32BE(crcAt);
      const actual = crc32(buffer.subarray(this.offset, crcAt));
      if (expected !== actual) throw new FrameChecksumError(expected, actual);
      const frame = decodeFrame(buffer[this.offset + FRAME_PREFIX_SIZE]!, buffer, this.offset + FRAME_PREFIX_SIZE + 1, crcAt);
      // Advance before the callback: if it throws, the frame counts as consumed.
      this.offset = frameEnd;
      onFrame(frame);
      if (this.stopped) return;
    }
    if (this.offset === this.end) {
      // Everything consumed: let go of the chunk (it may be large).
      this.release();
      this.buffer = EMPTY;
      this.offset = 0;
      this.end = 0;
    }
  }

  /** Reads and checks the length prefix at `offset`; 4 bytes must be available. */
  private checkedLength(): number {
    const length = this.buffer.readUInt32BE(this.offset);
    if (length < MIN_FRAME_LENGTH || length > this.maxFrameSize) {
      throw new FrameTooLargeError(length, this.maxFrameSize);
    }
    return length;
  }

  private carryComplete(): boolean {
    const pending = this.end - this.offset;
    return pending >= FRAME_PREFIX_SIZE && pending >= FRAME_PREFIX_SIZE + this.checkedLength();
  }

  /**
   * Moves bytes from the front of `chunk` into the carry until the split frame
   * is whole (or the chunk runs out); returns how many bytes it took.
   */
  private fillCarry(chunk: Buffer): number {
    let used = 0;
    if (this.end - this.offset < FRAME_PREFIX_SIZE) {
      used = Math.min(FRAME_PREFIX_SIZE - (this.end - this.offset), chunk.length);
      this.appendToCarry(chunk, 0, used, FRAME_PREFIX_SIZE);
      if (this.end - this.offset < FRAME_PREFIX_SIZE) return used;
    }
    // The length is checked here, before the carry is sized for the frame.
    const frameSize = FRAME_PREFIX_SIZE + this.checkedLength();
    const take = Math.min(frameSize - (this.end - this.offset), chunk.length - used);
    this.appendToCarry(chunk, used, used + take, frameSize);
    return used + take;
  }

  private appendToCarry(chunk: Buffer, from: number, to: number, frameSize: number): void {
    const adding = to - from;
    if (!this.owned || this.end + adding > this.buffer.length) {
      const pending = this.end - this.offset;
      // sec: sized by the bytes that arrived (growing 1.5x, at most the frame), never by the length a
      // peer announced: five bytes claiming 16 MiB must not reserve 16 MiB.
      const needed = Math.min(frameSize, Math.max(pending + adding, MIN_CARRY, Math.floor(this.buffer.length * 1.5)));
      let target: Buffer;
      if (this.owned && needed <= this.buffer.length) {
        target = this.buffer;
      } else if (this.spare !== undefined && needed <= this.spare.length) {
        target = this.spare;
        this.spare = undefined;
      } else {
        target = Buffer.allocUnsafe(needed);
      }
      this.buffer.copy(target, 0, this.offset, this.end);
      if (target !== this.buffer) this.release();
      this.buffer = target;
      this.owned = true;
      this.offset = 0;
      this.end = pending;
    }
    chunk.copy(this.buffer, this.end, from, to);
    this.end += adding;
  }

  /** Keeps an owned carry buffer for reuse instead of allocating again. */
  private release(): void {
    if (this.owned && this.buffer.length <= SPARE_LIMIT) this.spare = this.buffer;
    this.owned = false;
  }
}
