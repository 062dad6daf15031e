// DNS over TCP (RFC 7766): each message framed by a 2-byte length, several
// queries per connection (answered in the order they complete), an idle
// timeout, and back-pressure. A bad frame closes its connection and nothing else.

import type { Socket } from 'node:net';
import type { QueryHandler } from './handler.js';
import { HEADER_BYTES } from './message.js';

export interface TcpConnectionOptions {
  handler: QueryHandler;
  idleTimeoutMs: number;
  /** Called once when the connection is gone. */
  onClose: () => void;
}

export function serveTcpConnection(socket: Socket, options: TcpConnectionOptions): void {
  const { handler, idleTimeoutMs } = options;
  // Bytes of a frame that has not fully arrived (at most one frame: 2 + 65 535 bytes).
  let pending: Buffer | undefined;

  socket.setNoDelay(true);
  socket.setTimeout(idleTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.once('close', options.onClose);

  const send = (response: Buffer | undefined): void => {
    if (!response || socket.destroyed || !socket.writable) return;
    const length = Buffer.allocUnsafe(2);
    length.writeUInt16BE(response.length, 0);
    socket.cork();
    socket.write(length);
    const flushed = socket.write(response);
    socket.uncork();
    // A client that sends faster than it reads waits for its answers to drain.
    if (!flushed && !socket.isPaused()) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  };

  socket.on('data', (chunk: Buffer) => {
    const data = pending ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    while (data.length - at >= 2) {
      const length = data.readUInt16BE(at);
      if (length < HEADER_BYTES) {
        // Not even a DNS header: the stream cannot be trusted to be in step any more.
        handler.countDropped();
        socket.destroy();
        return;
      }
      if (data.length - at - 2 < length) break;
      const message = data.subarray(at + 2, at + 2 + length);
      at += 2 + length;
      const result = handler.handle(message, 'tcp');
      if (result instanceof Promise) void result.then(send);
      else send(result);
    }
    pending = at < data.length ? data.subarray(at) : undefined;
  });
}
