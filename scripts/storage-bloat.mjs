#!/usr/bin/env node
// Writes a long Raft log through LmdbLogStore with periodic compaction and
// reports the data file's size and the throughput, to see whether LMDB's file
// bloats or slows under truncation. Needs `npx tsc -p .` first.
//
//   node scripts/storage-bloat.mjs [--entries 1000000] [--size 100] [--batch 100]
//     [--in-flight 8] [--compact-every 10000] [--keep 10000] [--dir DIR]
//     [--pin-reader-ms 0]   hold a read txn this long once per report interval,
//                           as a snapshot stream sharing the env would

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { LmdbLogStore } = await import(new URL('../dist/src/storage/index.js', import.meta.url).href);

const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    size: { type: 'string', default: '100' },
    batch: { type: 'string', default: '100' },
    'in-flight': { type: 'string', default: '8' },
    'compact-every': { type: 'string', default: '10000' },
    keep: { type: 'string', default: '10000' },
    dir: { type: 'string', default: tmpdir() },
    'pin-reader-ms': { type: 'string', default: '0' },
    report: { type: 'string', default: '100000' },
  },
});
const total = Number(args.entries);
const batch = Number(args.batch);
const inFlight = Number(args['in-flight']);
const compactEvery = Number(args['compact-every']);
const keep = Number(args.keep);
const reportEvery = Number(args.report);
const pinMs = Number(args['pin-reader-ms']);
const payload = Buffer.alloc(Number(args.size), 0x62);
const conf = { members: [{ id: 'n1', address: '127.0.0.1:7000', voter: true }] };

const dir = mkdtempSync(join(args.dir, 'konsul-bloat-'));
const log = LmdbLogStore.open(dir);
// The env is private to the store; this script reaches in only to report page
// numbers and to pin a reader.
const env = log['env'];
const pageSize = env.stat().pageSize;

function fileInfo() {
  const st = statSync(join(dir, 'data.mdb'));
  return { bytes: st.size, allocated: st.blocks * 512, pages: env.info().lastPageNumber + 1 };
}

const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
console.log(`${total} entries of ${payload.length} bytes, batches of ${batch}, ${inFlight} in flight, compact every ${compactEvery} keeping ${keep}${pinMs ? `, reader pinned ${pinMs} ms per interval` : ''}; page ${pageSize} B; dir ${dir}`);
console.log('entries     elapsed   entries/s(interval)  data.mdb size   allocated   pages used   stored entries');

let next = 1;
let lastCompactAt = 0;
let reportedAt = 0;
let intervalStart = performance.now();
const start = performance.now();
let pinned;
let unpinTimer;
let compactions = 0;

function maybeReport(force = false) {
  const written = next - 1;
  if (written === reportedAt || (!force && written - reportedAt < reportEvery)) return;
  const now = performance.now();
  const rate = (written - reportedAt) / ((now - intervalStart) / 1000);
  const f = fileInfo();
  console.log(
    `${String(written).padStart(8)}  ${((now - start) / 1000).toFixed(1).padStart(7)}s  ${Math.round(rate).toString().padStart(19)}  ` +
    `${mib(f.bytes).padStart(13)}  ${mib(f.allocated).padStart(10)}  ${String(f.pages).padStart(11)}  ${String(log.lastIndex() - log.firstIndex() + 1).padStart(15)}`,
  );
  reportedAt = written;
  intervalStart = now;
  if (pinMs > 0 && !pinned) {
    pinned = env.beginTxn({ readOnly: true });
    unpinTimer = setTimeout(() => { pinned.abort(); pinned = undefined; }, pinMs);
  }
}

async function writer() {
  while (next <= total) {
    const from = next;
    const to = Math.min(total, from + batch - 1);
    next = to + 1;
    const entries = [];
    for (let i = from; i <= to; i++) entries.push({ index: i, term: 1, type: 0, data: payload });
    const writes = [log.persist({ entries, hardState: { term: 1, vote: 'n1', commit: to } })];
    if (to - lastCompactAt >= compactEvery) {
      // Raft's rhythm: snapshot at the newest index, drop all but the last `keep` entries.
      lastCompactAt = to;
      compactions++;
      writes.push(log.setSnapshotMeta({ index: to, term: 1, conf }));
      if (to > keep) writes.push(log.compact(to - keep));
    }
    await Promise.all(writes);
    maybeReport();
  }
}

await Promise.all(Array.from({ length: inFlight }, writer));
maybeReport(true);
const elapsed = (performance.now() - start) / 1000;
const stats = log.stats();
const f = fileInfo();
console.log(
  `done: ${total} entries in ${elapsed.toFixed(1)}s = ${Math.round(total / elapsed)} entries/s; ` +
  `${stats.commits} txns, ${stats.syncsFinished} fsyncs, ${compactions} compactions; ` +
  `data.mdb ${mib(f.bytes)} (${mib(f.allocated)} allocated, ${f.pages} pages in use) for ~${keep}-${keep + compactEvery} live entries`,
);
clearTimeout(unpinTimer);
if (pinned) pinned.abort();
await log.close();
rmSync(dir, { recursive: true, force: true });
