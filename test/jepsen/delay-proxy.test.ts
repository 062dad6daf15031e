// The delaying proxy (the delay fault where tc netem is missing): bytes pass
// both ways unchanged and in order; while its control file says "MS JITTER" a
// round trip takes at least twice MS; back at "0" the delay goes away.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, waitFor } from '../cluster/harness.js';

test('the delay proxy forwards both ways in order, and delays while told to', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-proxy-'));
  const control = join(dir, 'ctl');
  writeFileSync(control, '0\n');
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const port = await freePort();
  const proxy = spawn(process.execPath, [
    join(dirname(fileURLToPath(import.meta.url)), 'delay-proxy.js'),
    '127.0.0.1', String(port), '127.0.0.1', String((echo.address() as AddressInfo).port), control,
  ], { stdio: 'ignore' });
  t.after(() => {
    proxy.kill('SIGKILL');
    echo.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const socket = await waitFor('the proxy to listen', () => new Promise<ReturnType<typeof connect> | undefined>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', () => resolve(undefined));
  }), 10_000, 50);
  t.after(() => socket.destroy());
  let received = '';
  socket.on('data', (b: Buffer) => { received += b.toString(); });
  const roundTrip = async (text: string): Promise<number> => {
    const before = received.length;
    const t0 = performance.now();
    socket.write(text);
    await waitFor(`echo of ${text}`, async () => (received.length >= before + text.length ? true : undefined), 10_000, 2);
    return performance.now() - t0;
  };
  await roundTrip('a');
  for (let i = 0; i < 20; i++) socket.write(String(i % 10));
  await waitFor('in-order echo', async () => (received.length >= 21 ? true : undefined), 10_000, 5);
  assert.equal(received, 'a' + '01234567890123456789');
  writeFileSync(control, '150 0\n');
  await sleep(300); // read every 100 ms
  const slow = await roundTrip('b');
  assert.ok(slow >= 300, `a round trip took ${slow.toFixed(0)} ms with 150 ms each way`);
  writeFileSync(control, '0\n');
  await sleep(300);
  const fast = await roundTrip('c');
  assert.ok(fast < slow, `a round trip still took ${fast.toFixed(0)} ms after the delay was lifted (${slow.toFixed(0)} ms with it)`);
});
