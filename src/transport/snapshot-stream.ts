// The receiving end of a streamed snapshot: an async iterable of chunks that the
// connection feeds, pausing its socket while the consumer (a disk writer) is behind.

const EMPTY = Buffer.alloc(0);

export class SnapshotChunkStream implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private head = 0;
  private buffered = 0;
  private finished = false;
  private error: Error | undefined;
  private waiting: { resolve: (result: IteratorResult<Buffer>) => void; reject: (err: Error) => void } | undefined;
  private iterated = false;
  private discarded = false;
  private paused = false;
  private readonly highWaterMark: number;
  private readonly setPaused: (paused: boolean) => void;

  /**
   * @param highWaterMark bytes queued for the consumer at which the feed is paused;
   *   it resumes below half of that.
   * @param setPaused pauses or resumes whatever feeds this stream (the socket).
   */
  constructor(highWaterMark: number, setPaused: (paused: boolean) => void) {
    this.highWaterMark = highWaterMark;
    this.setPaused = setPaused;
  }

  /** Bytes received and not yet taken by the consumer. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The consumer stopped reading early; the rest of the stream is thrown away. */
  get isDiscarded(): boolean {
    return this.discarded;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  push(chunk: Buffer): void {
    if (this.discarded || this.finished) return;
    if (this.waiting !== undefined) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: chunk, done: false });
      return;
    }
    this.queue.push(chunk);
    this.buffered += chunk.length;
    if (!this.paused && this.buffered >= this.highWaterMark) this.pause(true);
  }

  /** All chunks have arrived. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.waiting !== undefined) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  /** The stream broke (aborted by the sender, connection lost); the consumer's next read rejects. */
  fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.error = err;
    this.dropQueue();
    if (this.waiting !== undefined) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(err);
    }
  }

  /** Stops delivering; later pushes are ignored and the feed resumes so it can skip them. */
  discard(): void {
    this.discarded = true;
    this.dropQueue();
    if (this.waiting !== undefined) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.head = 0;
    this.buffered = 0;
    if (this.paused) this.pause(false);
  }

  private pause(paused: boolean): void {
    this.paused = paused;
    this.setPaused(paused);
  }

  private next(): Promise<IteratorResult<Buffer>> {
    if (this.head < this.queue.length) {
      const chunk = this.queue[this.head]!;
      this.queue[this.head++] = EMPTY;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      this.buffered -= chunk.length;
      if (this.paused && this.buffered < this.highWaterMark / 2) this.pause(false);
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.error !== undefined) {
      const err = this.error;
      // Report the failure once; after that the stream is simply over.
      this.error = undefined;
      return Promise.reject(err);
    }
    if (this.finished || this.discarded) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.iterated) throw new TypeError('a snapshot chunk stream can be iterated only once');
    this.iterated = true;
    return {
      next: () => this.next(),
      return: () => {
        this.discard();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
