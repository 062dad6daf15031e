// The leader's view of which clients are alive, built from relays' liveness
// reports (no message from a client reaches the leader): a client is alive
// while the relay that last reported it says so and that relay is itself
// alive. Pure; the leader's node-health loop turns it into catalog writes.

/** One relay's liveness changes: `full` lists every subscriber it serves (anyone it served before and not listed is gone). */
export interface RelayReport {
  relay: string;
  alive: string[];
  gone: string[];
  full: boolean;
}

interface Seen {
  relay: string;
  alive: boolean;
  /** When the client's relay stopped vouching for it (it left, or died): alive again only if another relay reports it within the grace. */
  unconfirmedSince: number | undefined;
}

export class ClientTracker {
  private readonly clients = new Map<string, Seen>();

  /** @param graceMs how long a client whose relay vanished stays alive while it moves to another relay. */
  constructor(private readonly graceMs: number) {}

  apply(report: RelayReport, now: number): void {
    if (report.full) {
      const listed = new Set(report.alive);
      for (const [id, s] of this.clients) {
        if (s.relay === report.relay && s.alive && !listed.has(id)) s.alive = false;
      }
    }
    for (const id of report.alive) this.clients.set(id, { relay: report.relay, alive: true, unconfirmedSince: undefined });
    for (const id of report.gone) {
      const s = this.clients.get(id);
      // Reported gone by a relay it already left for another: the newer relay's word stands.
      if (s && s.relay === report.relay) s.alive = false;
      this.relayGone(id, now);
    }
  }

  /** A relay died or was cut off: its clients are alive only if they turn up at another relay within the grace. */
  relayGone(relay: string, now: number): void {
    for (const s of this.clients.values()) {
      if (s.relay === relay && s.alive && s.unconfirmedSince === undefined) s.unconfirmedSince = now;
    }
  }

  /** Is this client alive as far as the relays say: true, false, or undefined (never reported). */
  alive(id: string, now: number): boolean | undefined {
    const s = this.clients.get(id);
    if (!s) return undefined;
    if (!s.alive) return false;
    return s.unconfirmedSince === undefined || now - s.unconfirmedSince < this.graceMs;
  }

  /** The relays clients are reported through (so the leader can watch that they themselves live). */
  relays(): Set<string> {
    const out = new Set<string>();
    for (const s of this.clients.values()) if (s.alive) out.add(s.relay);
    return out;
  }

  forget(id: string): void {
    this.clients.delete(id);
  }

  /** A new leader starts from nothing: every client counts as alive until the relays' first full reports. */
  clear(): void {
    this.clients.clear();
  }
}
