// The leader's view of which clients are alive, built from relays' liveness
// reports (no message from a client reaches the leader): a client is alive
// while the relay that last reported it says so and that relay is itself
// alive. Pure; the leader's node-health loop turns it into catalog writes.
//
// Reports from different relays race (the leader applies its own relay's
// report locally, a follower's comes over the network), so each subscription
// carries an epoch the client chose when it subscribed, larger at each new
// subscription (to another relay, or after a restart). The tracker keeps the
// newest epoch's relay: a report about an older subscription changes nothing,
// and "gone" or "moved" applies only to the current one.

/**
 * One relay's liveness changes: `full` lists every subscriber it serves
 * (anyone it served before and not listed is gone). `epochs` gives the
 * subscription epoch of the ids listed (absent for a relay of an older
 * version: its word then stands as it arrives). `moved` lists subscribers the
 * relay sent away to subscribe elsewhere (alive, presumably, at another relay
 * soon).
 */
export interface RelayReport {
  relay: string;
  alive: string[];
  gone: string[];
  full: boolean;
  moved?: string[];
  epochs?: Record<string, number>;
}

interface Seen {
  relay: string;
  /** The subscription this record is about (-1: reported by a relay that sends no epochs). */
  epoch: number;
  alive: boolean;
  /** When the client's relay stopped vouching for it (it left, or died): alive again only if another relay reports it within the grace. */
  unconfirmedSince: number | undefined;
}

export class ClientTracker {
  private readonly clients = new Map<string, Seen>();

  /** @param graceMs how long a client whose relay vanished (or sent it away) stays alive while it moves to another relay. */
  constructor(private readonly graceMs: number) {}

  apply(report: RelayReport, now: number): void {
    const epochOf = (id: string): number | undefined => {
      const e = report.epochs?.[id];
      return typeof e === 'number' && Number.isSafeInteger(e) && e >= 0 ? e : undefined;
    };
    /** Is this report about the subscription the tracker holds for `s` (same relay, same epoch, or a relay without epochs)? */
    const current = (s: Seen | undefined, id: string): s is Seen => {
      if (!s || s.relay !== report.relay) return false;
      const e = epochOf(id);
      return e === undefined || s.epoch === -1 || e === s.epoch;
    };
    if (report.full) {
      const listed = new Set(report.alive);
      for (const [id, s] of this.clients) {
        if (s.relay === report.relay && s.alive && !listed.has(id)) s.alive = false;
      }
    }
    for (const id of report.alive) {
      const e = epochOf(id);
      const s = this.clients.get(id);
      // An older subscription than the one known (a report that lost the race): ignored.
      if (s && e !== undefined && e < s.epoch) continue;
      this.clients.set(id, { relay: report.relay, epoch: e ?? -1, alive: true, unconfirmedSince: undefined });
    }
    for (const id of report.moved ?? []) {
      const s = this.clients.get(id);
      // Sent away to subscribe elsewhere: alive for the grace unless a newer subscription turns up.
      if (current(s, id) && s.alive && s.unconfirmedSince === undefined) s.unconfirmedSince = now;
    }
    for (const id of report.gone) {
      const s = this.clients.get(id);
      // Reported gone about a subscription it already left for another: the newer relay's word stands.
      if (current(s, id)) s.alive = false;
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

  /** The relay (and subscription epoch) a client is counted under, for stats and tests. */
  relayOf(id: string): { relay: string; epoch: number } | undefined {
    const s = this.clients.get(id);
    return s ? { relay: s.relay, epoch: s.epoch } : undefined;
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
