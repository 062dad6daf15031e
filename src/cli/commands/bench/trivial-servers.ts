// The trivial servers `konsul bench self-test` measures the tool against, run
// in a child process of their own: an HTTP server that answers every request
// with 200 "true", and a UDP server that echoes each DNS query back as an
// empty NOERROR answer. Whatever the tool reaches against them is its ceiling.
//
//   node trivial-servers.js   prints {"http":PORT,"dns":PORT} on one line, serves until stdin closes

import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startTrivialServers(): Promise<{ http: number; dns: number; close: () => Promise<void> }> {
  const http = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '4' });
      res.end('true');
    });
  });
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const udp = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  udp.on('message', (query, peer) => {
    if (query.length < 12) return;
    query[2] |= 0x80; // QR: this is an answer
    query[3] &= 0xf0; // RCODE 0
    udp.send(query, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  return {
    http: (http.address() as AddressInfo).port,
    dns: udp.address().port,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const servers = await startTrivialServers();
  process.stdout.write(`${JSON.stringify({ http: servers.http, dns: servers.dns })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void servers.close().then(() => process.exit(0)));
}
