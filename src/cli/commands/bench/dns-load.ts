// The DNS load generator behind `konsul bench dns`: one UDP socket, a closed
// loop of `concurrency` queries in flight (slot i owns query id i, so matching
// an answer is an array index), bounded by a duration or a query count. Lost
// queries are found by one sweep timer, not a timer per query.

import { createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import type { Progress } from './http-load.js';
import { LatencyRecorder, buildResult, type BenchResult } from './stats.js';

export const DNS_TYPES = ['A', 'AAAA', 'SRV', 'TXT', 'ANY', 'SOA', 'NS', 'PTR', 'CNAME'] as const;
export type DnsType = (typeof DNS_TYPES)[number];

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export interface DnsLoadOptions {
  host: string;
  port: number;
  questions: Array<{ name: string; type: DnsType }>;
  concurrency: number;
  durationMs?: number;
  requests?: number;
  timeoutMs: number;
  onProgress?: (p: Progress) => void;
}

/** One query as bytes, id 0 (each send writes its slot's id). */
export function encodeQuery(name: string, type: DnsType): Buffer {
  return dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as dnsPacket.RecordType }] });
}

export async function runDnsLoad(options: DnsLoadOptions): Promise<BenchResult> {
  const { concurrency, durationMs, requests, host, port } = options;
  if (durationMs === undefined && requests === undefined) throw new Error('a duration or a query count is needed');
  const encoded = options.questions.map((q) => encodeQuery(q.name, q.type));
  const slots = Math.min(concurrency, 0x10000);
  const sentAt = new Float64Array(slots).fill(-1);
  const latencies = new LatencyRecorder();
  const errors: Record<string, number> = {};
  let errorCount = 0;
  const count = (kind: string): void => {
    errors[kind] = (errors[kind] ?? 0) + 1;
    errorCount++;
  };
  const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const start = performance.now();
  const end = durationMs === undefined ? Infinity : start + durationMs;
  const limit = requests ?? Infinity;
  let sent = 0;
  let inFlight = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));

  const sendFrom = (slot: number): void => {
    if (sent >= limit || performance.now() >= end) {
      if (inFlight === 0) finish();
      return;
    }
    // A copy: the socket may read the bytes after this returns, and each slot writes its own id.
    const message = Buffer.from(encoded[sent % encoded.length]);
    sent++;
    message.writeUInt16BE(slot, 0);
    sentAt[slot] = performance.now();
    inFlight++;
    socket.send(message, port, host, (error) => {
      if (error && sentAt[slot] >= 0) {
        sentAt[slot] = -1;
        inFlight--;
        count(error.message.split('\n')[0]);
        setImmediate(() => sendFrom(slot));
      }
    });
  };

  socket.on('error', () => {});
  socket.on('message', (reply) => {
    if (reply.length < 12) return;
    const slot = reply.readUInt16BE(0);
    if (slot >= slots || sentAt[slot] < 0) return;
    const latency = performance.now() - sentAt[slot];
    sentAt[slot] = -1;
    inFlight--;
    const rcode = reply[3] & 0x0f;
    if (rcode === 0) latencies.add(latency);
    else count(RCODES[rcode] ?? `RCODE ${rcode}`);
    sendFrom(slot);
  });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (let slot = 0; slot < slots; slot++) {
      if (sentAt[slot] >= 0 && now - sentAt[slot] > options.timeoutMs) {
        sentAt[slot] = -1;
        inFlight--;
        count('timeout');
        sendFrom(slot);
      }
    }
    if (inFlight === 0) finish();
  }, Math.max(5, Math.min(100, options.timeoutMs / 4)));
  const progress = options.onProgress
    ? setInterval(() => options.onProgress!({ elapsedSeconds: (performance.now() - start) / 1000, ok: latencies.count, errors: errorCount }), 1000)
    : undefined;
  for (let slot = 0; slot < slots; slot++) sendFrom(slot);
  try {
    await done;
  } finally {
    clearInterval(sweep);
    if (progress) clearInterval(progress);
    socket.close();
  }
  const seconds = (performance.now() - start) / 1000;
  return buildResult('dns', `${host.includes(':') ? `[${host}]` : host}:${port}`, concurrency, latencies, errors, seconds);
}
