// A writer killed with SIGKILL mid-stream: on reopen every acknowledged entry is
// there, checksums hold, and the log is a clean prefix of what was written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { LmdbLogStore } from '../../src/storage/index.js';
import { tempDir } from './helpers.js';

const storeModule = new URL('../../src/storage/index.js', import.meta.url).href;

const writer = `
import { LmdbLogStore } from ${JSON.stringify(storeModule)};
const log = LmdbLogStore.open(process.argv[1]);
let index = 0;
async function loop() {
  for (;;) {
    const entries = [];
    for (let i = 0; i < 5; i++) { index++; entries.push({ index, term: 1, type: 0, data: Buffer.from('entry-' + index) }); }
    const last = index;
    // Several persists in flight, like a leader with a stream of proposals.
    log.persist({ entries, hardState: { term: 1, vote: 'n1', commit: last } }).then(() => process.stdout.write('acked ' + last + '\\n'));
    await new Promise((r) => setImmediate(r));
  }
}
loop();
`;

test('after kill -9 every acknowledged entry is on disk', async (t) => {
  const dir = tempDir(t, 'crash');
  const child = spawn(process.execPath, ['--input-type=module', '-e', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let acked = 0;
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) acked = Math.max(acked, Number(line.split(' ')[1]));
      if (acked >= 2000 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', () => resolve());
    child.on('error', reject);
  });
  assert.ok(acked >= 2000, `the writer died early after ${acked} acks`);

  const log = LmdbLogStore.open(dir);
  t.after(() => log.close());
  const loaded = log.load();
  assert.ok(loaded.entries.length >= acked, `acked ${acked} but only ${loaded.entries.length} entries survived`);
  loaded.entries.forEach((e, i) => {
    assert.equal(e.index, i + 1);
    assert.equal(Buffer.from(e.data).toString(), `entry-${i + 1}`);
  });
  assert.ok(loaded.hardState!.commit >= acked);
  t.diagnostic(`acked ${acked}, found ${loaded.entries.length} after SIGKILL`);
});
