// The Raft log as the core sees it: the entries since the last snapshot, held
// in memory, with the commit, stable (persisted) and applied marks, and the
// history of configurations the log contains (a server uses its latest one).

import { applyConfChange, decodeConfChange } from './confchange.js';
import { RaftUsageError } from './errors.js';
import { EntryType, type ConfState, type Entry, type Snapshot, type SnapshotMeta } from './types.js';

export class RaftLog {
  /** Everything at or below snapshot.index is compacted away. */
  snapshot: SnapshotMeta;
  /** The image of the last snapshot, when the caller gave one (the simulator does). */
  snapshotData: Uint8Array | undefined;
  private entries: Entry[];
  committed: number;
  /** Highest index handed to the caller for applying and acknowledged by advance(). */
  applied: number;
  /** Highest index known to be on disk. */
  stableTo: number;
  /** Highest index handed out in a Ready for persisting (stable once advanced). */
  inProgressTo: number;
  /** A snapshot received from the leader, to be handed out in the next Ready. */
  pendingSnapshot: Snapshot | undefined;
  /** Configurations set by entries after the snapshot, in index order. */
  private confs: Array<{ index: number; conf: ConfState }> = [];

  constructor(snapshot: SnapshotMeta, entries: Entry[], committed: number, applied: number) {
    this.snapshot = snapshot;
    this.snapshotData = undefined;
    if (entries.length > 0 && entries[0].index !== snapshot.index + 1) {
      throw new RaftUsageError(`entries start at ${entries[0].index}, expected ${snapshot.index + 1}`);
    }
    this.entries = entries.slice();
    const last = this.lastIndex();
    this.committed = Math.min(Math.max(committed, snapshot.index), last);
    this.applied = Math.min(Math.max(applied, snapshot.index), this.committed);
    this.stableTo = last;
    this.inProgressTo = last;
    this.pendingSnapshot = undefined;
    this.recordConfs(this.entries);
  }

  firstIndex(): number {
    return this.snapshot.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1].term : this.snapshot.term;
  }

  /** The term of the entry at `index`, or undefined when it is compacted or not there. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index < this.snapshot.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshot.index - 1].term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshot.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshot.index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** The election restriction: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi), at most `maxBytes` of data (but always at least one). */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    lo = Math.max(lo, this.firstIndex());
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi) return [];
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.entries[i - this.snapshot.index - 1];
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * The last index at or below `index` whose term is at most `term`: where the
   * logs may agree. Used by both sides of fast backtracking.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > this.snapshot.index; index--) {
      const t = this.term(index)!;
      if (t <= term) return { index, term: t };
    }
    return { index, term: this.term(index) ?? 0 };
  }

  /**
   * The follower's side of AppendEntries: when the entry at prevIndex has
   * prevTerm, append what is new (dropping a conflicting suffix) and advance
   * the commit. Returns the last index now known to match the leader, or
   * undefined on a mismatch.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    let conflictAt = 0;
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) {
        conflictAt = e.index;
        break;
      }
    }
    if (conflictAt !== 0) {
      if (conflictAt <= this.committed) {
        throw new RaftUsageError(`entry ${conflictAt} conflicts with the committed log (commit ${this.committed})`);
      }
      this.truncateAndAppend(entries.slice(conflictAt - prevIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** The leader's append of its own new entries. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    if (entries[0].index !== this.lastIndex() + 1) {
      throw new RaftUsageError(`append at ${entries[0].index}, expected ${this.lastIndex() + 1}`);
    }
    for (const e of entries) this.entries.push(e);
    this.recordConfs(entries);
  }

  private truncateAndAppend(entries: Entry[]): void {
    const after = entries[0].index;
    if (after <= this.lastIndex()) {
      this.entries.length = after - this.snapshot.index - 1;
      this.stableTo = Math.min(this.stableTo, after - 1);
      this.inProgressTo = Math.min(this.inProgressTo, after - 1);
      while (this.confs.length > 0 && this.confs[this.confs.length - 1].index >= after) this.confs.pop();
    }
    for (const e of entries) this.entries.push(e);
    this.recordConfs(entries);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new RaftUsageError(`commit ${index} is beyond the last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  /** Entries not yet handed out for persisting. */
  unstableEntries(): Entry[] {
    return this.slice(this.inProgressTo + 1, this.lastIndex() + 1);
  }

  /** Committed entries that are also on disk here and not yet handed out for applying. */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const hi = Math.min(this.committed, this.stableTo);
    if (this.applied >= hi) return [];
    return this.slice(this.applied + 1, hi + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    return this.applied < Math.min(this.committed, this.stableTo);
  }

  /** Replace the whole log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    this.snapshot = snapshot.meta;
    this.snapshotData = snapshot.data;
    this.entries = [];
    this.confs = [];
    this.committed = snapshot.meta.index;
    this.applied = snapshot.meta.index;
    // Not stable until the caller has installed it and called advance().
    this.stableTo = Math.min(this.stableTo, snapshot.meta.index);
    this.inProgressTo = snapshot.meta.index;
    this.pendingSnapshot = snapshot;
  }

  /** Forget entries up to `index` (at most the applied index): the caller holds a snapshot there. */
  compact(index: number, data?: Uint8Array): void {
    if (index <= this.snapshot.index) return;
    if (index > this.applied) throw new RaftUsageError(`cannot compact to ${index}, applied is ${this.applied}`);
    const term = this.term(index)!;
    const conf = this.confAt(index);
    this.entries = this.entries.slice(index - this.snapshot.index);
    this.confs = this.confs.filter((c) => c.index > index);
    this.snapshot = { index, term, conf };
    this.snapshotData = data;
  }

  /** The latest configuration in the log, committed or not. */
  latestConf(): ConfState {
    return this.confs.length > 0 ? this.confs[this.confs.length - 1].conf : this.snapshot.conf;
  }

  /** The index of the entry that set the latest configuration (the snapshot's index if none since). */
  latestConfIndex(): number {
    return this.confs.length > 0 ? this.confs[this.confs.length - 1].index : this.snapshot.index;
  }

  confAt(index: number): ConfState {
    let conf = this.snapshot.conf;
    for (const c of this.confs) {
      if (c.index > index) break;
      conf = c.conf;
    }
    return conf;
  }

  private recordConfs(entries: Entry[]): void {
    for (const e of entries) {
      if (e.type !== EntryType.ConfChange) continue;
      this.confs.push({ index: e.index, conf: applyConfChange(this.latestConf(), decodeConfChange(e.data)) });
    }
  }
}
