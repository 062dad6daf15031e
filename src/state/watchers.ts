// Blocking queries on named topics ("catalog", one service, one node): each
// waiter resolves once its topic's index passes the index it saw, or when its
// timeout or abort signal ends the wait (with the index then).

/** setTimeout's longest delay; a longer one fires at once. */
export const MAX_TIMER_MS = 0x7fff_ffff;

interface Waiter {
  after: number;
  finish(index: number): void;
}

export class TopicWatchers {
  private readonly byTopic = new Map<string, Set<Waiter>>();
  private count = 0;

  /** `current` reads the topic's index now; it is called at the start, on timeout and on abort. */
  wait(topic: string, current: () => number, afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const now = current();
    if (now > afterIndex || signal?.aborted) return Promise.resolve(now);
    return new Promise<number>((resolve) => {
      let set = this.byTopic.get(topic);
      if (!set) {
        set = new Set();
        this.byTopic.set(topic, set);
      }
      const waiters = set;
      const expire = (): void => waiter.finish(current());
      const timer = setTimeout(expire, Math.min(Math.max(0, timeoutMs), MAX_TIMER_MS));
      const waiter: Waiter = {
        after: afterIndex,
        finish: (index) => {
          if (!waiters.delete(waiter)) return;
          this.count--;
          if (waiters.size === 0 && this.byTopic.get(topic) === waiters) this.byTopic.delete(topic);
          clearTimeout(timer);
          signal?.removeEventListener('abort', expire);
          resolve(index);
        },
      };
      waiters.add(waiter);
      this.count++;
      signal?.addEventListener('abort', expire, { once: true });
    });
  }

  /**
   * The topic's index rose to `index`: wake the waiters that saw less, with
   * `current()` when given (read once, only if someone wakes), else `index`.
   */
  notify(topic: string, index: number, current?: () => number): void {
    const set = this.byTopic.get(topic);
    if (!set) return;
    let value: number | undefined;
    for (const w of [...set]) {
      if (index <= w.after) continue;
      value ??= current ? current() : index;
      w.finish(value);
    }
  }

  /** The topics someone waits on. */
  topics(): IterableIterator<string> {
    return this.byTopic.keys();
  }

  has(topic: string): boolean {
    return this.byTopic.has(topic);
  }

  get topicCount(): number {
    return this.byTopic.size;
  }

  /** Wake every waiter with its topic's index now (after a snapshot restore). */
  finishAll(current: (topic: string) => number): void {
    for (const [topic, set] of [...this.byTopic]) {
      const index = current(topic);
      for (const w of [...set]) w.finish(index);
    }
  }

  get size(): number {
    return this.count;
  }
}
