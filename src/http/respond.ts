// Writing responses: one writeHead with every header and a known
// Content-Length, so keep-alive connections stay reusable and nothing is chunked.

import { stringifyJsonExact } from '../json-exact.js';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

const prettyResponses = new WeakSet<ServerResponse>();

/** The request asked for ?pretty: indent this response's JSON, as Consul does. */
export function markPretty(res: ServerResponse): void {
  prettyResponses.add(res);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  sendJsonText(res, status, stringifyJsonExact(value, prettyResponses.has(res) ? 4 : undefined), headers);
}

/** JSON.stringify with bigints (Consul's uint64 KV Flags) written digit for digit (api, issue 18). */
export { stringifyJsonExact as stringifyJson } from '../json-exact.js';

/** JSON the caller serialized itself (numbers beyond 2^53 written digit for digit). */
export function sendJsonText(res: ServerResponse, status: number, json: string, headers: OutgoingHttpHeaders = {}): void {
  sendString(res, status, json, 'application/json', headers);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  sendString(res, status, text, 'text/plain; charset=utf-8', headers);
}

// A string body, not a Buffer: Node then writes the head and the body in one
// write() (a Buffer body goes out with the head through writev), with no copy.
function sendString(res: ServerResponse, status: number, body: string, contentType: string, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body, 'utf8')) });
  res.end(body, 'utf8');
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
