#!/usr/bin/env node
// What applying KV writes costs the state machine itself, in one process:
// `node scripts/apply-bench.mjs [writesPerEntry 6] [entriesPerBatch 9] [batches 3000]`
// (after `npm run build`) applies batches of entries of 100-byte kv-set
// commands (several to an entry as the leader's batcher groups them) on a real
// LMDB store in a temp dir, and prints the decode and apply cost per write.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STATE_TABLES, StateMachine, encodeCommand, decodeCommand } from '../dist/src/state/index.js';
import { openStorage } from '../dist/src/storage/index.js';
const int = (i, dflt, max) => {
  const v = Number(process.argv[i] ?? dflt);
  if (!Number.isInteger(v) || v < 1 || v > max) {
    process.stderr.write(`argument ${i - 1}: expected a whole number from 1 to ${max}, got ${process.argv[i]}\n`);
    process.exit(2);
  }
  return v;
};
const perEntry = int(2, 6, 1000), entriesPerBatch = int(3, 9, 1000), batches = int(4, 3000, 100_000);
const dir = mkdtempSync(join(tmpdir(), 'applyb-'));
const storage = openStorage(dir, { state: { tables: STATE_TABLES } });
const sm = new StateMachine(storage.state);
const value = Buffer.alloc(100, 97);
let index = sm.appliedIndex(), n = 0;
const mk = () => {
  const cmds = Array.from({ length: perEntry }, () => encodeCommand({ type: 'kv-set', key: `load/${n++ % 1000}`, value, flags: 0 }));
  return perEntry === 1 ? cmds[0] : encodeCommand({ type: 'batch', commands: cmds });
};
const pre = Array.from({ length: batches }, () => Array.from({ length: entriesPerBatch }, mk));
// decode cost alone
let t0 = performance.now();
for (const b of pre) for (const e of b) decodeCommand(e);
const dec = performance.now() - t0;
t0 = performance.now();
for (const b of pre) sm.apply(b.map((command) => ({ index: ++index, command })));
const el = performance.now() - t0;
const writes = batches * entriesPerBatch * perEntry;
console.log(`decode ${(dec * 1000 / writes).toFixed(2)} µs/write; apply ${(el * 1000 / writes).toFixed(2)} µs/write, ${(el * 1000 / batches).toFixed(1)} µs/batch (${entriesPerBatch} entries × ${perEntry} writes)`);
await storage.close(); rmSync(dir, { recursive: true, force: true });
