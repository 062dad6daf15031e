// A full disk (ops): the data dir's filesystem is watched (statfs, every
// 100 ms). Below the reserve, this node stops taking in log entries: as a
// follower it drops the leader's appends and snapshots (the leader commits
// with the others and retries this one later), as the leader it refuses new
// writes with a clear error (507) and hands leadership to a voter that is
// caught up. When space is freed it takes entries again by itself. Nothing is
// acknowledged that is not durable on a majority: a dropped append is never
// acknowledged, and a refused write never entered the log.
//
// The reserve is slack for what still must be written while full (the term
// and vote of an election, the entries already in flight): 5% of the
// filesystem, at least 1 MiB and at most 64 MiB.

import { statfsSync } from 'node:fs';
import { KonsulError } from '../errors.js';
import type { TransportLogger } from '../transport/index.js';
import { unsafeForTests } from './unsafe.js';

const MiB = 1024 * 1024;

/** The data dir's disk is (nearly) full: the write was not taken. */
export class DiskFullError extends KonsulError {
  constructor(detail: string) {
    super('KONSUL_ERR_DISK_FULL', `the disk of this node's data dir is full (${detail}); the write was not taken: free space there`, 'storage-full', { retryable: true });
    this.name = 'DiskFullError';
  }
}

export function reserveBytes(filesystemBytes: number): number {
  return Math.min(64 * MiB, Math.max(MiB, Math.floor(filesystemBytes * 0.05)));
}

export class DiskGuard {
  full = false;
  free = Number.POSITIVE_INFINITY;
  reserve = 0;
  /** Times the guard turned on (for stats and tests). */
  episodes = 0;
  /** Appends and snapshots dropped while full. */
  dropped = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly logger: TransportLogger,
    private readonly onChange: (full: boolean) => void,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    // TEST ONLY (unsafe.ts): no guard, to show the fault suite notices.
    if (this.dir === '' || unsafeForTests() === 'ignore-disk-full') return;
    this.check();
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  detail(): string {
    return `${(this.free / MiB).toFixed(1)} MiB free, under the ${(this.reserve / MiB).toFixed(1)} MiB reserve`;
  }

  check(): void {
    let full: boolean;
    try {
      const st = statfsSync(this.dir);
      this.free = st.bavail * st.bsize;
      this.reserve = reserveBytes(st.blocks * st.bsize);
      full = this.free < this.reserve;
    } catch {
      return; // the data dir is gone (a test wiped it): nothing to judge
    }
    if (full === this.full) return;
    this.full = full;
    if (full) {
      this.episodes++;
      this.logger.error({ dir: this.dir, free: this.free, reserve: this.reserve },
        `disk full: ${this.detail()}; this node takes no log entries and no writes until space is freed`);
    } else {
      this.logger.info({ dir: this.dir, free: this.free, reserve: this.reserve, dropped: this.dropped },
        'disk space is back: this node takes log entries again');
    }
    this.onChange(full);
  }
}
