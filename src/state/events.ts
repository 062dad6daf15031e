// User events (Consul's /v1/event/fire and /v1/event/list). Consul spreads
// them by gossip and keeps the last 256 in each agent's memory; konsul sends
// them through the Raft log (so every agent gets each one, in one order) and
// keeps the last 256 in memory too: nothing is written to the state tables,
// so an event is as ephemeral as in Consul (a restart keeps only those still
// in the log after the last snapshot).

import { TopicWatchers } from './watchers.js';

export interface UserEvent {
  /** A UUID, chosen by the agent that fired it. */
  id: string;
  name: string;
  /** Empty when there is none. */
  payload: Buffer;
  /** Regular expressions (RE2) the receiving agent matches against its node name, service names and tags; '' matches all. */
  nodeFilter: string;
  serviceFilter: string;
  tagFilter: string;
}

export interface AppliedEvent extends UserEvent {
  /** The Raft index it was applied at: Consul's LTime, ordered the same on every agent. */
  ltime: number;
}

/** Consul's agent keeps this many. */
export const EVENT_BUFFER = 256;
export const MAX_EVENT_NAME_BYTES = 256;
/** Consul's limit on name + payload. */
export const MAX_EVENT_PAYLOAD_BYTES = 512;

export class EventBuffer {
  private readonly events: AppliedEvent[] = [];
  private readonly watchers = new TopicWatchers();

  push(event: AppliedEvent): void {
    this.events.push(event);
    if (this.events.length > EVENT_BUFFER) this.events.shift();
    this.watchers.notify('events', event.ltime);
  }

  /** Oldest first. */
  list(): readonly AppliedEvent[] {
    return this.events;
  }

  /** The LTime of the newest event (1 when none), the index /v1/event/list answers with. */
  index(): number {
    return Math.max(1, this.events[this.events.length - 1]?.ltime ?? 0);
  }

  /** Until an event newer than afterIndex arrives (or the timeout or signal ends the wait). */
  wait(afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.watchers.wait('events', () => this.index(), afterIndex, timeoutMs, signal);
  }
}
