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
  'bad-gateway', 'unavailable', 'timeout', 'storage-full',
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
