// sec: a cap on connections that have not authenticated yet (accepted, hello not yet accepted),
// in total and per source address, so a flood of strangers holds a bounded amount of the listener's
// memory however many connections it opens; authenticated links do not count.

/** Defaults: Consul caps RPC connections per client at 100; konsul counts only unauthenticated ones. */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 256;
export const DEFAULT_MAX_PENDING_PER_SOURCE = 32;

export type AdmissionVerdict = { admitted: true; release: () => void } | { admitted: false; why: 'total' | 'source' };

export class PendingConnections {
  private total = 0;
  private readonly bySource = new Map<string, number>();

  constructor(readonly maxTotal: number, readonly maxPerSource: number) {}

  /** Admits one more connection from `source`, or says which cap it hits. `release` is idempotent. */
  admit(source: string): AdmissionVerdict {
    const held = this.bySource.get(source) ?? 0;
    if (held >= this.maxPerSource) return { admitted: false, why: 'source' };
    if (this.total >= this.maxTotal) return { admitted: false, why: 'total' };
    this.total++;
    this.bySource.set(source, held + 1);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.bySource.get(source) ?? 1) - 1;
        if (left <= 0) this.bySource.delete(source);
        else this.bySource.set(source, left);
      },
    };
  }

  /** Connections held now (total, and the number of sources holding any). */
  get size(): { total: number; sources: number } {
    return { total: this.total, sources: this.bySource.size };
  }
}
