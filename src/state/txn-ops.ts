// The operations of a /v1/txn transaction as a command carries them, and the
// check every replica makes of each. Kept apart from txn.ts (which applies
// them to the store) so the command codec does not load the storage engine.

export const TXN_VERBS = [
  'set', 'cas', 'lock', 'unlock', 'get', 'get-or-empty', 'get-tree', 'check-index', 'check-session', 'check-not-exists',
  'delete', 'delete-tree', 'delete-cas', 'check-fence',
] as const;
export type TxnVerb = (typeof TXN_VERBS)[number];
const VERBS: ReadonlySet<string> = new Set(TXN_VERBS);
/** Verbs that write (a transaction with none is read-only and may be answered from any replica). */
export const WRITE_VERBS: ReadonlySet<TxnVerb> = new Set(['set', 'cas', 'lock', 'unlock', 'delete', 'delete-tree', 'delete-cas']);

/** Consul's limit on operations in one transaction (the issue's: 64). */
export const MAX_TXN_OPS = 64;

export interface TxnOp {
  verb: TxnVerb;
  key: string;
  /** The value's bytes (the HTTP layer decodes Consul's base64 once, at the proposer). */
  value: Uint8Array;
  flags: number;
  index: number;
  session: string;
}

/** Why an op is not well formed, or undefined (checked by the proposer and by every replica). */
export function txnOpProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'not an object';
  const o = v as Record<string, unknown>;
  if (typeof o.verb !== 'string' || !VERBS.has(o.verb)) return `unknown KV verb ${JSON.stringify(o.verb)}`;
  if (typeof o.key !== 'string') return 'Key must be a string';
  if (o.key === '' && o.verb !== 'get-tree' && o.verb !== 'delete-tree') return 'Key must not be empty';
  if (!(o.value instanceof Uint8Array)) return 'Value must be bytes';
  if (!Number.isInteger(o.flags) || (o.flags as number) < 0 || (o.flags as number) > 0xffff_ffff) return 'Flags must be 0..4294967295';
  if (!Number.isSafeInteger(o.index) || (o.index as number) < 0) return 'Index must be a non-negative integer';
  if (typeof o.session !== 'string') return 'Session must be a string';
  if ((o.verb === 'lock' || o.verb === 'unlock' || o.verb === 'check-session') && o.session === '') return `${o.verb} needs a Session`;
  return undefined;
}

