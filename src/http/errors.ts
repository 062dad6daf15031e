// Errors the HTTP layer raises itself (bad query, body too large, unknown
// route) and the one place that turns any thrown error into a response.

import type { ServerResponse } from 'node:http';
import { KonsulError, isTypedError, type ErrorKind } from '../errors.js';
import type { HttpLogger } from './types.js';

/** The one table from error kinds to HTTP statuses: the only place a status is chosen for an error. */
export const HTTP_STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  conflict: 409,
  'too-large': 413,
  internal: 500,
  'not-implemented': 501,
  'bad-gateway': 502,
  unavailable: 503,
  timeout: 504,
  'storage-full': 507,
};

/** The HTTP status for any error: its kind's status for errors of the model, else 500. */
export function httpStatusOf(error: unknown): number {
  return isTypedError(error) ? HTTP_STATUS_OF_KIND[error.kind] : 500;
}

/** A request the HTTP layer refuses before it reaches the agent. */
export class HttpError extends KonsulError {
  /** Close the connection after answering: the request body was left unread. */
  readonly closeConnection: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: string, message: string, kind: ErrorKind, extra: { closeConnection?: boolean; headers?: Record<string, string> } = {}) {
    super(code, message, kind);
    this.name = 'HttpError';
    this.closeConnection = extra.closeConnection ?? false;
    this.headers = extra.headers ?? {};
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError('KONSUL_ERR_BAD_REQUEST', message, 'invalid');
}

export function notFound(message = 'not found'): HttpError {
  return new HttpError('KONSUL_ERR_NOT_FOUND', message, 'not-found');
}

export function methodNotAllowed(method: string, allowed: readonly string[]): HttpError {
  return new HttpError('KONSUL_ERR_METHOD_NOT_ALLOWED', `method ${method} not allowed`, 'method-not-allowed', { headers: { Allow: allowed.join(', ') } });
}

export function payloadTooLarge(message: string): HttpError {
  return new HttpError('KONSUL_ERR_TOO_LARGE', message, 'too-large', { closeConnection: true });
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
  if (isTypedError(error)) {
    status = HTTP_STATUS_OF_KIND[error.kind];
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
