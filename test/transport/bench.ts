// Transport benchmarks: codec encode/decode rate for a typical App message and
// loopback throughput between two real transports. Run: node dist/test/transport/bench.js

import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Message } from '../../src/raft/types.js';
import { BufferWriter } from '../../src/byte-writer.js';
import { frameEncodeError, writeMessageFrame, type Frame } from '../../src/transport/codec.js';
import { FrameParser } from '../../src/transport/parser.js';
import { formatAddress, Transport } from '../../src/transport/transport.js';
import { appMessage } from './arbitraries.js';
import { heartbeat } from './helpers.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 2);

function rate(label: string, count: number, ms: number, bytes?: number): void {
  const perSecond = (count / ms) * 1000;
  const mb = bytes === undefined ? '' : `, ${((bytes / ms) * 1000 / 1024 / 1024).toFixed(1)} MiB/s`;
  console.log(`${label.padEnd(44)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} msg/s${mb}`);
}

/** Runs `batch` until `seconds` have passed; returns iterations and elapsed ms. */
function timed(batch: () => number): { count: number; ms: number } {
  for (let i = 0; i < 200; i++) batch(); // warm-up
  const start = performance.now();
  let count = 0;
  while (performance.now() - start < seconds * 1000) count += batch();
  return { count, ms: performance.now() - start };
}

function codecBench(message: Message, label: string): void {
  const writer = new BufferWriter(16 * 1024, frameEncodeError);
  const frameBytes = (() => {
    writeMessageFrame(writer, message);
    return writer.take().length;
  })();

  const encode = timed(() => {
    for (let i = 0; i < 100; i++) writeMessageFrame(writer, message);
    writer.take();
    return 100;
  });
  rate(`encode ${label}`, encode.count, encode.ms, encode.count * frameBytes);

  for (let i = 0; i < 100; i++) writeMessageFrame(writer, message);
  const hundredFrames = writer.take();
  const parser = new FrameParser();
  let decoded = 0;
  const onFrame = (_frame: Frame): void => {
    decoded++;
  };
  const decode = timed(() => {
    parser.parse(hundredFrames, onFrame);
    return 100;
  });
  rate(`decode ${label}`, decode.count, decode.ms, decode.count * frameBytes);

  // 64 KiB chunks, as a socket delivers them: most frames decode in place, some straddle.
  const chunks: Buffer[] = [];
  for (let at = 0; at < hundredFrames.length; at += 65_536) chunks.push(hundredFrames.subarray(at, at + 65_536));
  const roundTrip = timed(() => {
    for (let i = 0; i < 100; i++) writeMessageFrame(writer, message);
    const bytes = writer.take();
    for (let at = 0; at < bytes.length; at += 65_536) parser.parse(bytes.subarray(at, at + 65_536), onFrame);
    return 100;
  });
  rate(`encode+decode ${label} (64 KiB chunks)`, roundTrip.count, roundTrip.ms, roundTrip.count * frameBytes);
  if (decoded === 0) throw new Error('nothing decoded');
  console.log(`  (${label}: ${frameBytes} bytes per frame)`);
}

async function loopbackBench(label: string, make: (i: number) => Message, total: number): Promise<void> {
  let received = 0;
  const addresses = new Map<string, string>();
  const options = {
    clusterId: 'bench',
    listen: { host: '127.0.0.1', port: 0 },
    resolve: (id: string) => addresses.get(id),
    maxQueuedMessages: 100_000,
    maxQueuedBytes: 256 * 1024 * 1024,
  };
  const a = new Transport({ ...options, nodeId: 'a', onMessage: () => {} });
  const b = new Transport({ ...options, nodeId: 'b', onMessage: () => { received++; } });
  await a.start();
  await b.start();
  addresses.set('a', formatAddress(a.address));
  addresses.set('b', formatAddress(b.address));
  const messages = Array.from({ length: 1000 }, (_, i) => make(i));

  // Connect and warm up.
  a.send(messages[0]!);
  while (received < 1) await nextTurn();
  received = 0;
  const start = performance.now();
  let sent = 0;
  const batch = 500;
  const window = 20_000;
  while (sent < total) {
    // Keep a bounded number in flight so nothing is dropped and the figure is delivered messages.
    if (sent - received > window) {
      await nextTurn();
      continue;
    }
    for (let i = 0; i < batch; i++) a.send(messages[(sent + i) % messages.length]!);
    sent += batch;
    await nextTurn();
  }
  while (received < sent) await nextTurn();
  const ms = performance.now() - start;
  const { counters } = a.stats();
  rate(`loopback ${label}`, received, ms, counters.bytesSent);
  if (counters.messagesDropped > 0) console.log(`  (dropped ${counters.messagesDropped})`);
  await a.close();
  await b.close();
}

console.log(`node ${process.version}, ${seconds}s per codec case`);
codecBench(appMessage('a', 'b', 64, 100), 'App 64x100B');
codecBench(heartbeat('a', 'b', 1), 'Heartbeat');
await loopbackBench('Heartbeat', (i) => heartbeat('a', 'b', i), 2_000_000);
await loopbackBench('App 64x100B', (i) => appMessage('a', 'b', 64, 100, i * 64 + 1), 200_000);
