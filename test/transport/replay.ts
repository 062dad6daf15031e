// A recording TCP proxy (what an eavesdropper on the wire captures) and the replay of what it
// recorded, raw, on a fresh connection: the checker for "a captured handshake is worth nothing".

import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { FrameType, type Frame } from '../../src/transport/codec.js';
import { FrameParser } from '../../src/transport/parser.js';

export interface RecordingProxy {
  /** host:port to dial instead of the target. */
  readonly address: string;
  /** Every byte dialers sent, one buffer per connection (in the order connections opened). */
  readonly sent: Buffer[][];
  close(): Promise<void>;
}

export async function recordingProxy(target: { host: string; port: number }): Promise<RecordingProxy> {
  const sent: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const captured: Buffer[] = [];
    sent.push(captured);
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d: Buffer) => {
      captured.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ReplayOutcome {
  /** The listener took the replayed handshake (HelloOk) or answered a replayed request (Response). */
  accepted: boolean;
  frames: Frame[];
}

/** Sends `bytes` at once on a fresh connection to `port` and reads what comes back for up to `waitMs`. */
export function replay(port: number, bytes: Buffer, waitMs = 3000): Promise<ReplayOutcome> {
  return new Promise((resolve) => {
    const frames: Frame[] = [];
    const parser = new FrameParser(1 << 20);
    const socket = connect(port, '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ accepted: frames.some((f) => f.type === FrameType.HelloOk || f.type === FrameType.Response), frames });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.parse(chunk, (f) => frames.push(f));
      } catch {
        done();
      }
      if (frames.some((f) => f.type === FrameType.Response || f.type === FrameType.HelloReject)) done();
    });
    socket.on('close', done);
    socket.once('connect', () => socket.write(bytes));
  });
}
