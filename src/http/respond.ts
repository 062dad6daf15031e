// Writing responses: one writeHead with every header and a known
// Content-Length, so keep-alive connections stay reusable and nothing is chunked.

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  sendBytes(res, status, Buffer.from(JSON.stringify(value), 'utf8'), 'application/json', headers);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  sendBytes(res, status, Buffer.from(text, 'utf8'), 'text/plain; charset=utf-8', headers);
}

/** A status with no body at all (Consul's 404 for a missing key). */
export function sendEmpty(res: ServerResponse, status: number, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': '0' });
  res.end();
}

export function sendBytes(res: ServerResponse, status: number, body: Uint8Array, contentType: string, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': String(body.byteLength) });
  res.end(body);
}
