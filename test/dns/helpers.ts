// Starts the DNS server on 127.0.0.1:0 over a FakeCatalog and gives tests real
// clients: Node's c-ares Resolver, and raw UDP/TCP exchanges of dns-packet messages.

import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import dnsPacket from 'dns-packet';
import { startDnsServer, type DnsServer, type DnsServerOptions } from '../../src/dns/index.js';
import { FakeCatalog } from './fake-catalog.js';

/** dns-packet's types know every record type but the ANY question. */
export type QueryType = dnsPacket.RecordType | 'ANY';

export interface TestDns {
  server: DnsServer;
  catalog: FakeCatalog;
  port: number;
  /** A c-ares resolver pointed at the server (one try, short timeout). */
  resolver(): Resolver;
  /** Ask one question over UDP and decode the answer. */
  ask(name: string, type: QueryType, options?: AskOptions): Promise<dnsPacket.DecodedPacket>;
  /** Ask one question over TCP and decode the answer. */
  askTcp(name: string, type: QueryType, options?: AskOptions): Promise<dnsPacket.DecodedPacket>;
}

export interface AskOptions {
  /** Advertise EDNS0 with this UDP payload size. */
  edns?: number;
  flags?: number;
  id?: number;
}

/** web on three nodes (tags v1, v2, primary; one with its own address), db on an IPv6 node, node-a with meta. */
export function sampleCatalog(): FakeCatalog {
  return new FakeCatalog()
    .addNode('node-a', '10.0.0.1', { rack: 'r1' })
    .addNode('node-b', '10.0.0.2')
    .addNode('node-c', '10.0.0.3')
    .addNode('node-v6', 'fd00::6')
    .addService({ node: 'node-a', service: 'web', tags: ['v1', 'primary'], port: 8080, weights: { passing: 10, warning: 1 } })
    .addService({ node: 'node-b', service: 'web', tags: ['v2'], port: 8081, weights: { passing: 10, warning: 1 } })
    .addService({ node: 'node-c', service: 'web', tags: ['v1'], address: '192.168.1.30', port: 8082, weights: { passing: 10, warning: 1 } })
    .addService({ node: 'node-v6', service: 'db', port: 5432 });
}

export async function startDns(
  t: TestContext, catalog: FakeCatalog = sampleCatalog(), options: Partial<DnsServerOptions> = {},
): Promise<TestDns> {
  // These tests look at whole answers, truncation and shuffling: no udp_answer_limit unless a test sets one
  // (limits.test.ts checks Consul's default of 3).
  const server = await startDnsServer({ catalog, host: '127.0.0.1', port: 0, udpAnswerLimit: 1000, ...options });
  t.after(() => server.close());
  const port = server.address.port;
  return {
    server, catalog, port,
    resolver() {
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([`127.0.0.1:${port}`]);
      return r;
    },
    async ask(name, type, o) {
      const reply = await udpExchange(port, encodeQuery(name, type, o));
      if (!reply) throw new Error(`no UDP answer for ${name} ${type}`);
      return dnsPacket.decode(reply);
    },
    async askTcp(name, type, o) {
      const [reply] = await tcpExchange(port, [encodeQuery(name, type, o)]);
      if (!reply) throw new Error(`no TCP answer for ${name} ${type}`);
      return dnsPacket.decode(reply);
    },
  };
}

/** A standard query with one question (RD set unless flags say otherwise). */
export function encodeQuery(name: string, type: QueryType, o: AskOptions = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: o.id ?? 4242,
    flags: o.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, name }],
    additionals: o.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: o.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });
}

/** Send one datagram; the reply, or undefined when none comes within timeoutMs. */
export function udpExchange(port: number, message: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, timeoutMs);
    socket.once('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.close();
      reject(error);
    });
    socket.send(message, port, '127.0.0.1');
  });
}

/**
 * Send datagrams in order from one socket and give the first reply. The server
 * reads them in order, so when the last is a valid query and its answer comes
 * first, none of the earlier ones was answered.
 */
export async function udpFirstReply(port: number, messages: Buffer[]): Promise<Buffer | undefined> {
  const socket = createSocket('udp4');
  try {
    const reply = new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2000);
      socket.once('message', (message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
    for (const message of messages) socket.send(message, port, '127.0.0.1');
    return await reply;
  } finally {
    socket.close();
  }
}

/**
 * Send raw bytes over one TCP connection (already framed when `framed`, else each
 * message gets its 2-byte length) and collect `expect` replies (default: one per message).
 * Resolves early when the server closes the connection; with `end`, the client
 * half-closes after writing, so the server finishes and closes without waiting.
 */
export function tcpExchange(
  port: number, messages: Buffer[], options: { framed?: boolean; expect?: number; timeoutMs?: number; end?: boolean } = {},
): Promise<Buffer[]> {
  const expect = options.expect ?? messages.length;
  return new Promise((resolve, reject) => {
    const replies: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(replies);
    };
    const timer = setTimeout(done, options.timeoutMs ?? 3000);
    socket.on('connect', () => {
      for (const m of messages) socket.write(options.framed ? m : frame(m));
      if (options.end) socket.end();
    });
    onFrames(socket, (reply) => {
      replies.push(reply);
      if (replies.length >= expect) done();
    });
    socket.on('close', done);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') done();
      else reject(error);
    });
  });
}

export function rcodeOf(packet: dnsPacket.DecodedPacket): string {
  return (packet as dnsPacket.DecodedPacket & { rcode: string }).rcode;
}

/** The data of every answer of one type. */
export function dataOf<T = unknown>(records: dnsPacket.Answer[] | undefined, type: string): T[] {
  return (records ?? []).filter((r) => r.type === type).map((r) => (r as unknown as { data: T }).data);
}

/** A message with its 2-byte TCP length in front. */
export function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** Calls onReply with each length-framed message as it completes on the socket. */
function onFrames(socket: Socket, onReply: (reply: Buffer) => void): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
      const reply = pending.subarray(2, 2 + pending.readUInt16BE(0));
      pending = pending.subarray(2 + reply.length);
      onReply(reply);
    }
  });
}

/** One TCP connection to the server, for tests that interleave queries with other connections. */
export interface TcpClient {
  /** Send one framed message and wait for the next reply. */
  query(message: Buffer): Promise<Buffer>;
  /** Wait for the next reply. */
  next(): Promise<Buffer>;
  /** Bytes as they are, no framing added. */
  writeRaw(bytes: Buffer): void;
  /** Settles when the server closes the connection. */
  closed: Promise<void>;
  close(): void;
}

export async function openTcp(port: number): Promise<TcpClient> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const replies: Buffer[] = [];
  const waiters: Array<(reply: Buffer) => void> = [];
  onFrames(socket, (reply) => {
    const waiter = waiters.shift();
    if (waiter) waiter(reply);
    else replies.push(reply);
  });
  socket.on('error', () => socket.destroy());
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const next = (): Promise<Buffer> => {
    const ready = replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      waiters.push(resolve);
      void closed.then(() => reject(new Error('connection closed before the reply')));
    });
  };
  return {
    query(message) {
      socket.write(frame(message));
      return next();
    },
    next,
    writeRaw(bytes) {
      socket.write(bytes);
    },
    closed,
    close() {
      socket.destroy();
    },
  };
}

/** A DNS header with the given counts (flags 0x0100: a query with RD). */
export function rawHeader(id: number, counts: [number, number, number, number], flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return h;
}

/** A question from raw labels (so a label may hold a '.'), with type and class. */
export function rawQuestion(labels: string[], qtype = 1, qclass = 1): Buffer {
  const parts = labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l, 'latin1')]), Buffer.from(l, 'latin1')]));
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(qtype, 1);
  tail.writeUInt16BE(qclass, 3);
  return Buffer.concat([...parts, tail]);
}
