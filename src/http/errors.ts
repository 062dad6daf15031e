// Errors the HTTP layer raises itself (bad query, body too large, unknown
// route) and the one place that turns any thrown error into a response.

import type { ServerResponse } from 'node:http';
import { KonsulError } from '../errors.js';
import type { HttpLogger } from './types.js';

/** A request the HTTP layer refuses before it reaches the agent. */
export class HttpError extends KonsulError {
  /** Close the connection after answering: the request body was left unread. */
  readonly closeConnection: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: string, message: string, httpStatus: number, extra: { closeConnection?: boolean; headers?: Record<string, string> } = {}) {
    super(code, message, httpStatus);
    this.name = 'HttpError';
    this.closeConnection = extra.closeConnection ?? false;
    this.headers = extra.headers ?? {};
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError('KONSUL_ERR_BAD_REQUEST', message, 400);
}

export function notFound(message = 'not found'): HttpError {
  return new HttpError('KONSUL_ERR_NOT_FOUND', message, 404);
}

export function methodNotAllowed(method: string, allowed: readonly string[]): HttpError {
  return new HttpError('KONSUL_ERR_METHOD_NOT_ALLOWED', `method ${method} not allowed`, 405, { headers: { Allow: allowed.join(', ') } });
}

export function payloadTooLarge(message: string): HttpError {
  return new HttpError('KONSUL_ERR_TOO_LARGE', message, 413, { closeConnection: true });
}

/** The client went away while its request was being read; there is nobody to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGoneError';
  }
}

/**
 * Answer with `error`: a KonsulError with its status and message as text/plain
 * (Consul answers errors in plain text), anything else as a logged 500.
 */
export function sendError(res: ServerResponse, error: unknown, logger: HttpLogger | undefined, method: string, url: string): void {
  if (error instanceof ClientGoneError) {
    res.destroy();
    return;
  }
  if (res.headersSent) {
    // Part of a response is already out: the only honest signal left is to cut it.
    logger?.error({ err: error, method, url }, 'request failed after the response started');
    res.destroy();
    return;
  }
  let status = 500;
  let message = 'internal server error';
  const headers: Record<string, string> = {};
  if (error instanceof KonsulError) {
    status = error.httpStatus;
    message = error.message;
    if (status >= 500) logger?.warn({ code: error.code, err: error.message, method, url }, 'request failed');
    if (error instanceof HttpError) {
      Object.assign(headers, error.headers);
      if (error.closeConnection) headers.Connection = 'close';
    }
  } else {
    logger?.error({ err: error, method, url }, 'unexpected error while serving a request');
  }
  const body = Buffer.from(message, 'utf8');
  headers['Content-Type'] = 'text/plain; charset=utf-8';
  headers['Content-Length'] = String(body.length);
  res.writeHead(status, headers);
  res.end(body);
}
