// The check kinds beyond HTTP, TCP, TTL and script, with Consul's status
// semantics: gRPC (the standard grpc.health.v1 protocol, spoken over node:http2
// by hand: one unary call, a few bytes of protobuf), H2PING (an HTTP/2 PING),
// and UDP (a datagram; an ICMP "port unreachable" is critical).

import { createSocket } from 'node:dgram';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { isIP } from 'node:net';
import type { HealthStatus } from '../../state/catalog-types.js';

export interface ProbeResult {
  status: HealthStatus;
  output: string;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function authority(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

function h2session(host: string, port: number, tls: boolean, skipVerify: boolean, signal: AbortSignal): ClientHttp2Session {
  const session = h2connect(`${tls ? 'https' : 'http'}://${authority(host, port)}`, tls ? { rejectUnauthorized: !skipVerify } : {});
  const close = (): void => {
    session.destroy();
  };
  signal.addEventListener('abort', close, { once: true });
  session.once('close', () => signal.removeEventListener('abort', close));
  return session;
}

// ------------------------------------------------------------ gRPC health

/** A protobuf varint. */
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** HealthCheckRequest { string service = 1; } in a gRPC length-prefixed message. */
export function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const body = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** HealthCheckResponse.status (field 1, an enum) from a gRPC message body; 0 (UNKNOWN) when absent. */
export function healthCheckStatus(message: Buffer): number | undefined {
  if (message.length < 5 || message[0] !== 0) return undefined;
  const length = message.readUInt32BE(1);
  const body = message.subarray(5, 5 + length);
  let at = 0;
  let status = 0;
  while (at < body.length) {
    const key = body[at++]!;
    const wire = key & 7;
    let value = 0;
    let shift = 0;
    if (wire === 0) {
      for (;;) {
        const b = body[at++];
        if (b === undefined) return undefined;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      if (key >> 3 === 1) status = value;
    } else if (wire === 2) {
      let len = 0;
      for (;;) {
        const b = body[at++];
        if (b === undefined) return undefined;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      at += len;
    } else return undefined;
  }
  return status;
}

/** grpc-message is percent-encoded; a server that sends bad encoding still gets its text shown. */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** grpc.health.v1.Health/Check: SERVING is passing, anything else (or no answer) critical. */
export function probeGrpc(
  target: { host: string; port: number; service: string; tls: boolean; skipVerify: boolean }, signal: AbortSignal,
): Promise<ProbeResult> {
  const what = `gRPC check ${authority(target.host, target.port)}${target.service ? `/${target.service}` : ''}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: ProbeResult): void => {
      if (done) return;
      done = true;
      session.destroy();
      resolve(result);
    };
    const session = h2session(target.host, target.port, target.tls, target.skipVerify, signal);
    session.on('error', (error) => finish({ status: 'critical', output: `${what}: ${message(error)}` }));
    signal.addEventListener('abort', () => finish({ status: 'critical', output: `${what}: ${message(signal.reason)}` }), { once: true });
    const req = session.request({
      ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    req.on('response', (headers) => {
      // A trailers-only answer (an error) carries the status in the headers.
      if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
      if (headers['grpc-message'] !== undefined) grpcMessage = safeDecode(String(headers['grpc-message']));
    });
    req.on('trailers', (trailers) => {
      grpcStatus = String(trailers['grpc-status'] ?? grpcStatus ?? '');
      if (trailers['grpc-message'] !== undefined) grpcMessage = safeDecode(String(trailers['grpc-message']));
    });
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', (error) => finish({ status: 'critical', output: `${what}: ${message(error)}` }));
    req.on('end', () => {
      if (grpcStatus !== '0') {
        finish({ status: 'critical', output: `${what}: rpc error: code = ${grpcStatus ?? 'unknown'} desc = ${grpcMessage}` });
        return;
      }
      const status = healthCheckStatus(Buffer.concat(chunks));
      if (status === 1) finish({ status: 'passing', output: `${what}: success` });
      else finish({ status: 'critical', output: `${what}: status ${SERVING_STATUS[status ?? 0] ?? status}` });
    });
    req.end(healthCheckRequest(target.service));
  });
}

// ------------------------------------------------------------ H2PING

/** An HTTP/2 connection and a PING answered: passing; anything else critical. */
export function probeH2Ping(target: { host: string; port: number; tls: boolean; skipVerify: boolean }, signal: AbortSignal): Promise<ProbeResult> {
  const what = `HTTP2 ping to ${authority(target.host, target.port)}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: ProbeResult): void => {
      if (done) return;
      done = true;
      session.destroy();
      resolve(result);
    };
    const session = h2session(target.host, target.port, target.tls, target.skipVerify, signal);
    session.on('error', (error) => finish({ status: 'critical', output: `${what} failed: ${message(error)}` }));
    signal.addEventListener('abort', () => finish({ status: 'critical', output: `${what} failed: ${message(signal.reason)}` }), { once: true });
    session.once('connect', () => {
      session.ping((error) => finish(error
        ? { status: 'critical', output: `${what} failed: ${message(error)}` }
        : { status: 'passing', output: 'HTTP2 ping was successful' }));
    });
  });
}

// ------------------------------------------------------------ UDP

/**
 * Consul's UDP check: send a datagram; an answer, or silence for the read
 * window, is passing (UDP promises no reply); an error (ICMP port
 * unreachable arrives as ECONNREFUSED) is critical.
 */
export function probeUdp(target: { host: string; port: number }, readWindowMs: number, signal: AbortSignal): Promise<ProbeResult> {
  const what = `UDP ${authority(target.host, target.port)}`;
  return new Promise((resolve) => {
    const socket = createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (result: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    signal.addEventListener('abort', () => finish({ status: 'critical', output: `${what}: ${message(signal.reason)}` }), { once: true });
    socket.on('error', (error) => finish({ status: 'critical', output: `${what}: ${message(error)}` }));
    socket.on('message', () => finish({ status: 'passing', output: `${what}: Success` }));
    socket.connect(target.port, target.host, () => {
      socket.send(Buffer.from('health'), (error) => {
        if (error) finish({ status: 'critical', output: `${what}: ${message(error)}` });
        else timer = setTimeout(() => finish({ status: 'passing', output: `${what}: Success` }), readWindowMs);
      });
    });
  });
}
