// konsul's DNS interface: Consul-style names (web.service.consul, node1.node.consul,
// _web._tcp.service.consul) answered from the local replica over UDP and TCP on one port.

import { createSocket, type RemoteInfo, type Socket as UdpSocket, type SocketOptions } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { QueryHandler, type DnsStats } from './handler.js';
import { resolveDnsOptions, type DnsServerOptions } from './options.js';
import { serveTcpConnection } from './tcp.js';

export type { DnsStats } from './handler.js';
export type { DnsLogger, DnsServerOptions } from './options.js';

export interface DnsServer {
  /** Where UDP and TCP both listen. */
  readonly address: { host: string; port: number };
  /** Stop listening, cut TCP connections and abandon forwarded queries. */
  close(): Promise<void>;
  stats(): DnsStats & { tcpConnections: number };
}

/** With port 0, how often to pick a new UDP port when TCP cannot have the same one. */
const BIND_ATTEMPTS = 20;
const MAX_TCP_CONNECTIONS = 1024;
/** Room for bursts of queries while the event loop is busy; the kernel caps it at its own limit. */
const UDP_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const config = resolveDnsOptions(options);
  const { logger } = config;
  // UDP and TCP must bind the same address: resolve a host name once.
  const host = isIP(config.host) ? config.host : (await lookup(config.host)).address;
  const wildcard = host === '0.0.0.0' || host === '::';
  const handler = new QueryHandler(config, wildcard ? undefined : host);

  const { udp, tcp, port } = await bindBoth(host, config.port);
  const connections = new Set<Socket>();
  let closed = false;

  const sendUdp = (response: Buffer | undefined, to: RemoteInfo): void => {
    // No callback: libuv then tries the send at once instead of queueing it
    // (a failure comes as the socket's 'error' event).
    if (response && !closed) udp.send(response, to.port, to.address);
  };
  udp.on('message', (message, from) => {
    const result = handler.handle(message, 'udp');
    if (result instanceof Promise) void result.then((response) => sendUdp(response, from));
    else sendUdp(result, from);
  });
  udp.on('error', (error) => logger?.warn({ err: error.message }, 'DNS UDP socket error'));

  tcp.maxConnections = MAX_TCP_CONNECTIONS;
  tcp.on('connection', (socket: Socket) => {
    connections.add(socket);
    serveTcpConnection(socket, {
      handler,
      idleTimeoutMs: config.tcpIdleTimeoutMs,
      onClose: () => connections.delete(socket),
    });
  });
  tcp.on('error', (error) => logger?.warn({ err: error.message }, 'DNS TCP server error'));

  return {
    address: { host, port },
    stats: () => ({ ...handler.stats(), tcpConnections: connections.size }),
    async close() {
      if (closed) return;
      closed = true;
      handler.close();
      const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const socket of connections) socket.destroy();
      await Promise.all([tcpClosed, new Promise<void>((resolve) => udp.close(() => resolve()))]);
    },
  };
}

/** UDP first (it picks the port when asked for 0), then TCP on the port UDP got. */
async function bindBoth(host: string, port: number): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = await bindUdp(host, port);
    const bound = udp.address().port;
    try {
      return { udp, tcp: await listenTcp(host, bound), port: bound };
    } catch (error) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (port !== 0 || !taken || attempt >= BIND_ATTEMPTS) throw error;
    }
  }
}

/**
 * Every address the UDP socket sends to is a literal IP (the client's); by
 * default each send would still go through dns.lookup and a tick.
 */
const literalLookup: SocketOptions['lookup'] = (address, options, callback) => {
  const family = isIP(address);
  if (family !== 0) callback(null, address, family);
  else dnsLookup(address, options, callback);
};

function bindUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({
      type: isIP(host) === 6 ? 'udp6' : 'udp4',
      recvBufferSize: UDP_RECV_BUFFER_BYTES,
      lookup: literalLookup,
    });
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function listenTcp(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
