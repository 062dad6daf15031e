// sec: refused peers are logged once per source and kind of refusal per interval, with how many
// refusals the quiet period held, so a flood of bad handshakes cannot flood the log. Memory is bounded.

export class RefusalLog {
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs = 60_000, private readonly maxSources = 1024, private readonly now: () => number = Date.now) {}

  /** Whether to log this refusal now; when true, `suppressed` is how many were held back since the last line. */
  admit(source: string): { log: boolean; suppressed: number } {
    const t = this.now();
    const entry = this.seen.get(source);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return { log: false, suppressed: 0 };
    }
    const suppressed = entry?.suppressed ?? 0;
    if (!entry && this.seen.size >= this.maxSources) {
      // Drop the oldest source (Map keeps insertion order).
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    this.seen.delete(source);
    this.seen.set(source, { at: t, suppressed: 0 });
    return { log: true, suppressed };
  }
}

/** The source a refusal is counted under: the remote address without its port. */
export function refusalSource(remote: string): string {
  const m = /^(.*):\d+$/.exec(remote);
  return m ? m[1]! : remote;
}
