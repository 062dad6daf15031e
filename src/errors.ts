// konsul's one error model: every error a user or a peer can see has a stable
// code (KONSUL_ERR_*), a `kind` that says what went wrong, and `retryable`,
// which says the request did nothing and may be sent again. Callers branch on
// those properties, never on message text. No HTTP here: http/errors.ts holds
// the one table from kinds to statuses. The Raft core's errors (raft/errors.ts)
// have the same shape without importing this file.

/** What went wrong, in the caller's terms. */
export type ErrorKind =
  | 'invalid' // the request is malformed or breaks a rule
  | 'forbidden' // refused: the caller may not do this
  | 'unauthorized' // the feature that would say who the caller is is off (Consul's 401 "ACL support disabled")
  | 'not-found'
  | 'method-not-allowed'
  | 'conflict' // the request is valid but the current state forbids it
  | 'too-large'
  | 'internal' // a bug or an unexpected failure
  | 'not-implemented'
  | 'bad-gateway' // another node answered something we cannot use
  | 'unavailable' // no leader, no quorum, an unreachable peer: try again later
  | 'timeout'
  | 'storage-full';

/** Any error of the model (KonsulError or the Raft core's RaftError): what callers and the HTTP edge read. */
export interface TypedError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly retryable: boolean;
}

export class KonsulError extends Error implements TypedError {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly retryable: boolean;

  constructor(code: string, message: string, kind: ErrorKind = 'internal', options: { retryable?: boolean } = {}) {
    super(message);
    this.name = 'KonsulError';
    this.code = code;
    this.kind = kind;
    this.retryable = options.retryable ?? false;
  }
}

const KINDS: ReadonlySet<string> = new Set<ErrorKind>([
  'invalid', 'forbidden', 'not-found', 'method-not-allowed', 'conflict', 'too-large', 'internal', 'not-implemented',
  'bad-gateway', 'unavailable', 'timeout', 'storage-full', 'unauthorized',
]);

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && KINDS.has(value);
}

/** True for any error of the model, whichever room raised it. */
export function isTypedError(error: unknown): error is TypedError {
  if (!(error instanceof Error)) return false;
  const e = error as Partial<TypedError>;
  return typeof e.code === 'string' && isErrorKind(e.kind) && typeof e.retryable === 'boolean';
}

/** Whether `error` guarantees its request did nothing, so sending it again (perhaps elsewhere) is safe. */
export function isRetryable(error: unknown): boolean {
  return isTypedError(error) && error.retryable;
}

// ---- one class per code (undici's lib/core/errors.js): the errors several rooms raise.
// Room-specific ones live beside their room (raft/errors.ts, storage/errors.ts, transport/errors.ts, ...).

/** The request is malformed or breaks a rule. */
export class BadRequestError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_REQUEST', message, 'invalid');
    this.name = 'BadRequestError';
  }
}

/** What the request names does not exist. */
export class NotFoundError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_NOT_FOUND', message, 'not-found');
    this.name = 'NotFoundError';
  }
}

/** The request is valid, but the current state forbids it (a member already there, the last voter...). */
export class ConflictError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_CONFLICT', message, 'conflict');
    this.name = 'ConflictError';
  }
}

/** Something did not happen within its time limit. */
export class OperationTimeoutError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_TIMEOUT', message, 'timeout');
    this.name = 'OperationTimeoutError';
  }
}

/** Another node answered something this one cannot use. */
export class BadResponseError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_RESPONSE', message, 'bad-gateway');
    this.name = 'BadResponseError';
  }
}

/** Taking or restoring a snapshot failed on this node. */
export class SnapshotFailedError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_SNAPSHOT', message, 'internal');
    this.name = 'SnapshotFailedError';
  }
}

/** A snapshot offered for restore cannot be restored. */
export class BadSnapshotError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_SNAPSHOT', message, 'invalid');
    this.name = 'BadSnapshotError';
  }
}

/** The same operation is already running (a snapshot being taken). */
export class BusyError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BUSY', message, 'conflict');
    this.name = 'BusyError';
  }
}
