// Reading request bodies under a byte limit: refuse early on Content-Length,
// stop reading the moment a chunked body passes the limit, never buffer more.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClientGoneError, badRequest, payloadTooLarge } from './errors.js';

export interface BodyLimit {
  maxBytes: number;
  /** The 413 message: `received` is the declared length, or undefined for a chunked body. */
  tooLarge(maxBytes: number, received: number | undefined): string;
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The whole body, at most `limit.maxBytes` bytes. Throws HttpError 413 (the
 * connection is then closed, since the rest of the body stays unread) or
 * ClientGoneError when the client disconnects midway.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: BodyLimit): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit.maxBytes) {
    return Promise.reject(payloadTooLarge(limit.tooLarge(limit.maxBytes, declared)));
  }
  // With `Expect: 100-continue` the client waits for our word before it sends the body.
  if (/^100-continue$/i.test(req.headers.expect ?? '')) res.writeContinue();
  if (declared === 0 || req.readableEnded) return Promise.resolve(Buffer.alloc(0));

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limit.maxBytes) {
        cleanup();
        req.pause();
        reject(payloadTooLarge(limit.tooLarge(limit.maxBytes, declared)));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
    };
    const onError = (): void => {
      cleanup();
      reject(new ClientGoneError());
    };
    // 'close' before 'end': the client hung up midway.
    const onClose = onError;
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** A JSON object body under `maxBytes`: 413 when larger, 400 when not JSON or not an object. */
export async function readJsonObject(req: IncomingMessage, res: ServerResponse, maxBytes: number, options: { emptyIsObject?: boolean } = {}): Promise<Record<string, unknown>> {
  const body = await readBody(req, res, {
    maxBytes,
    tooLarge: (max, got) => `request body${got === undefined ? '' : ` (${got} bytes)`} too large: at most ${max} bytes of JSON`,
  });
  if (options.emptyIsObject === true && body.toString('utf8').trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest(`malformed JSON body: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest('the body must be a JSON object');
  return value as Record<string, unknown>;
}
