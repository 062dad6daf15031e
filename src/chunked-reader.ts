// The one reader for byte streams that arrive in chunks split anywhere (the
// snapshot stream, snapshot archives): it keeps the pieces of an incomplete
// item and joins them only once enough bytes are there, so an item cut across
// many small chunks is copied once, not once per chunk. The format's own code
// says how big each item is and consumes it. (The peer transport's FrameParser
// is the zero-copy special case for length-prefixed frames: it decodes frames
// straight from each chunk and carries only a split frame.)

export class ChunkedReader {
  /** Bytes the next item needs; push() waits for that many before calling `take` again. */
  need: number;
  private parts: Buffer[] = [];
  private partsLength = 0;

  constructor(need: number) {
    this.need = need;
  }

  /** Bytes held that no item has consumed yet. */
  get buffered(): number {
    return this.partsLength;
  }

  /**
   * Adds a chunk. Once `need` bytes are held, calls `take(buf, at)` with them
   * joined in `buf` from `at`, again and again: it consumes one item and
   * returns its size, or sets `need` to the bytes it needs from `at` and
   * returns 0. It is called once more when `at` reaches the end, so the
   * format sets `need` for what comes next. `buf` is valid only during the
   * call: copy what must be kept.
   */
  push(chunk: Uint8Array, take: (buf: Buffer, at: number) => number): void {
    if (chunk.byteLength === 0) return;
    this.parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.partsLength += chunk.byteLength;
    if (this.partsLength < this.need) return;
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partsLength);
    let at = 0;
    for (;;) {
      const used = take(buf, at);
      if (used === 0) break;
      at += used;
    }
    const rest = buf.subarray(at);
    this.parts = rest.length > 0 ? [rest] : [];
    this.partsLength = rest.length;
  }
}
