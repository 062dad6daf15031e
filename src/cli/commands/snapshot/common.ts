// What the snapshot commands share: progress on a terminal for large
// archives, byte counts for humans, and the JSON shape of an archive.

import type { Writable } from 'node:stream';
import type { ParsedArchive } from '../../../state/archive.js';

/** Below this, no progress line: it would only flicker. */
const PROGRESS_FROM_BYTES = 1024 * 1024;
const PROGRESS_EVERY_MS = 200;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/**
 * A "Saving snapshot: 12.3 MiB" line on stderr, redrawn in place, only when
 * stderr is a terminal and the archive passed 1 MiB; nothing when piped.
 */
export class Progress {
  private readonly tty: boolean;
  private shown = false;
  private last = 0;

  constructor(private readonly stream: Writable, private readonly label: string) {
    this.tty = (stream as { isTTY?: boolean }).isTTY === true;
  }

  update(bytes: number): void {
    if (!this.tty || bytes < PROGRESS_FROM_BYTES) return;
    const now = Date.now();
    if (this.shown && now - this.last < PROGRESS_EVERY_MS) return;
    this.last = now;
    this.shown = true;
    this.stream.write(`\r\x1b[K${this.label}: ${formatBytes(bytes)}`);
  }

  done(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}

/** `--json` shape of an archive (save, inspect). */
export interface ArchiveJson {
  file: string;
  index: number;
  term: number;
  createdAt: string;
  nodeId: string;
  datacenter: string;
  size: number;
  records: number;
  tables: Record<string, number>;
  sha256: string;
  verified: true;
}

export function archiveJson(file: string, a: ParsedArchive): ArchiveJson {
  return {
    file,
    index: a.header.index,
    term: a.header.term,
    createdAt: a.header.createdAt,
    nodeId: a.header.nodeId,
    datacenter: a.header.datacenter,
    size: a.size,
    records: a.trailer.records,
    tables: a.trailer.tables,
    sha256: a.sha256,
    verified: true,
  };
}
