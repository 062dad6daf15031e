// PUT /v1/txn: Consul's transaction endpoint for KV operations. Up to 64
// operations, applied all or nothing in one Raft entry: 200 with Results, 409
// with Errors (nothing applied), 413 past the limits. A transaction without
// writes is a read, answered at the asked consistency (?stale: this replica).

import type { ServerResponse } from 'node:http';
import { MAX_TXN_OPS, TXN_VERBS, type TxnOp, type TxnOutcome } from '../state/index.js';
import { MAX_KEY_BYTES } from '../storage/index.js';
import { readBody } from './body.js';
import { parseConsistency, readHeaders } from './consistency.js';
import { HttpError, badRequest } from './errors.js';
import { entryJson } from './kv.js';
import { sendJson } from './respond.js';
import { aclPerOperation, enforce } from './acl-check.js';
import type { AclRequirement, RequestContext, RouteSpec } from './types.js';

const VERBS: ReadonlySet<string> = new Set(TXN_VERBS);

function tooLarge(message: string): HttpError {
  return new HttpError('KONSUL_ERR_TOO_LARGE', message, 'too-large');
}

/** The body's operations, checked one by one: a bad one is a 400 naming its index, a too-large one a 413. */
export function parseTxnBody(body: unknown, maxValueBytes: number): TxnOp[] {
  if (!Array.isArray(body)) throw badRequest('Failed to parse body: a transaction is a JSON array of operations');
  if (body.length > MAX_TXN_OPS) throw tooLarge(`Transaction contains too many operations (${body.length} > ${MAX_TXN_OPS})`);
  return body.map((raw: unknown, i): TxnOp => {
    const at = `operation ${i}`;
    if (typeof raw !== 'object' || raw === null) throw badRequest(`Failed to parse body: ${at} is not an object`);
    const o = raw as Record<string, unknown>;
    if (o.KV === undefined) {
      const kind = Object.keys(o)[0] ?? 'empty';
      throw badRequest(`${at}: only KV operations are supported (got ${JSON.stringify(kind)})`);
    }
    const kv = o.KV as Record<string, unknown>;
    if (typeof kv !== 'object' || kv === null) throw badRequest(`${at}: KV must be an object`);
    const verb = kv.Verb;
    if (typeof verb !== 'string' || !VERBS.has(verb)) throw badRequest(`${at}: unknown KV verb ${JSON.stringify(verb)} (one of ${TXN_VERBS.join(', ')})`);
    const key = kv.Key ?? '';
    if (typeof key !== 'string') throw badRequest(`${at}: Key must be a string`);
    if (key === '' && verb !== 'get-tree' && verb !== 'delete-tree') throw badRequest(`${at}: Key must not be empty for ${verb}`);
    if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw badRequest(`${at}: key too long: at most ${MAX_KEY_BYTES} bytes`);
    const value = kv.Value ?? '';
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) {
      throw badRequest(`${at}: Value must be base64`);
    }
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length > maxValueBytes) throw tooLarge(`Value for key ${JSON.stringify(key)} is too large (${bytes.length} > ${maxValueBytes} bytes)`);
    const flags = kv.Flags ?? 0;
    if (!Number.isInteger(flags) || (flags as number) < 0 || (flags as number) > 0xffff_ffff) throw badRequest(`${at}: Flags must be an integer 0..4294967295`);
    const index = kv.Index ?? 0;
    if (!Number.isSafeInteger(index) || (index as number) < 0) throw badRequest(`${at}: Index must be a non-negative integer`);
    const session = kv.Session ?? '';
    if (typeof session !== 'string') throw badRequest(`${at}: Session must be a string`);
    if ((verb === 'lock' || verb === 'unlock' || verb === 'check-session') && session === '') throw badRequest(`${at}: ${verb} needs a Session`);
    return { verb: verb as TxnOp['verb'], key, value: bytes, flags: flags as number, index: index as number, session };
  });
}

// sec: Consul's rules for a transaction's KV operations: writes need key:write (delete-tree on the
// whole subtree), checks key:read; reads are filtered from the results instead (as Consul does).
const READ_VERBS: ReadonlySet<TxnOp['verb']> = new Set(['get', 'get-or-empty', 'get-tree']);
const CHECK_VERBS: ReadonlySet<TxnOp['verb']> = new Set(['check-index', 'check-session', 'check-not-exists', 'check-fence']);

/** What operation `op` needs from the token, or undefined for a read (filtered from the results). */
export function txnOpRequirement(op: TxnOp): AclRequirement | undefined {
  if (READ_VERBS.has(op.verb)) return undefined;
  if (CHECK_VERBS.has(op.verb)) return { resource: 'key', need: 'read', name: op.key };
  if (op.verb === 'delete-tree') return { resource: 'key', need: 'write', name: op.key, subtree: true };
  return { resource: 'key', need: 'write', name: op.key };
}

export function txnResponseJson(outcome: TxnOutcome): Record<string, unknown> {
  if (!outcome.ok) return { Results: null, Errors: outcome.errors.map((e) => ({ OpIndex: e.opIndex, What: e.what })) };
  return {
    Results: outcome.results.map((r) => {
      const json = entryJson(r.entry);
      if (!r.withValue) json.Value = null;
      return { KV: json };
    }),
    Errors: null,
  };
}

function send(res: ServerResponse, outcome: TxnOutcome, headers: Record<string, string | number | string[]>): void {
  sendJson(res, outcome.ok ? 200 : 409, txnResponseJson(outcome), headers);
}

async function putTxn(ctx: RequestContext): Promise<void> {
  const consistency = parseConsistency(ctx.query);
  // Values travel base64 (4/3 larger) in a JSON envelope.
  const maxBytes = Math.ceil((ctx.limits.maxValueBytes * 4) / 3) + 64 * 1024;
  const raw = await readBody(ctx.req, ctx.res, {
    maxBytes,
    tooLarge: (max, got) => `Request body${got === undefined ? '' : `(${got} bytes)`} too large, max size: ${max} bytes`,
  });
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest('Failed to parse body: not JSON');
  }
  const ops = parseTxnBody(body, ctx.limits.maxValueBytes);
  if (ops.length === 0) {
    sendJson(ctx.res, 200, { Results: [], Errors: null });
    return;
  }
  enforce(ctx.token, ops.map(txnOpRequirement).filter((r): r is AclRequirement => r !== undefined));
  const answer = await ctx.agent.coord.txn(ops, consistency);
  const outcome = answer.outcome.ok && !ctx.authz.management
    ? { ...answer.outcome, results: answer.outcome.results.filter((r) => ctx.authz.allowed('key', r.entry.key, 'read')) }
    : answer.outcome;
  const headers: Record<string, string> = answer.meta
    ? readHeaders(answer.index, answer.meta, consistency) as Record<string, string>
    : { 'X-Consul-Index': String(Math.max(1, answer.index)) };
  send(ctx.res, outcome, headers);
}

export const txnRoutes: readonly RouteSpec[] = [
  { method: 'PUT', path: '/v1/txn', handler: putTxn, acl: aclPerOperation('key'), params: ['dc', 'stale', 'consistent'], consulParams: ['dc', 'stale', 'consistent', 'ns', 'partition'] },
];
