// /v1/snapshot: Consul's snapshot API. GET streams a point-in-time archive of
// the whole replicated state (read at the leader's index unless ?stale;
// X-Consul-Index is the index it holds). PUT takes an archive back and
// replaces the KV store and the catalog with it, through Raft, on every member.

import type { ServerResponse } from 'node:http';
import { ArchiveError, parseArchive } from '../state/archive.js';
import { readBody } from './body.js';
import { readHeaders } from './consistency.js';
import { badRequest, HttpError } from './errors.js';
import { flag } from './query.js';
import { sendJson } from './respond.js';
import { aclNeed } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';
import { managesSnapshot, snapshotAcl, withoutTableRecords } from '../state/acl-restore.js';
import { ACL_TABLE } from '../state/acl.js';
import { requestToken } from './acl-check.js';
import { boolParam } from './params.js';

/**
 * The largest archive PUT /v1/snapshot takes. A restore travels as one Raft
 * entry, and an entry must fit the transport's 16 MiB frame with room to spare.
 */
export const MAX_RESTORE_BYTES = 8 * 1024 * 1024;

/** Resolves when the response can take more, false when the client went away. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

async function getSnapshot(ctx: RequestContext): Promise<void> {
  const { agent, query, res } = ctx;
  if (flag(query, 'consistent')) throw badRequest('?consistent is not supported for snapshots; the default reads at the leader\'s index');
  const consistency = flag(query, 'stale') ? 'stale' : 'default';
  const meta = await agent.barrier(consistency);
  const snapshot = await agent.snapshotArchive('stale');
  const chunks = snapshot.chunks[Symbol.asyncIterator]();
  try {
    // The first chunk before the status line: a failure to start is still an ordinary error answer.
    let next = await chunks.next();
    res.writeHead(200, {
      ...readHeaders(snapshot.header.index, meta, consistency),
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': `attachment; filename="konsul-${snapshot.header.index}.snap"`,
      'X-Konsul-Snapshot-Term': String(snapshot.header.term),
    });
    while (!next.done) {
      if (!res.write(next.value) && !(await drained(res))) return;
      if (res.destroyed) return;
      next = await chunks.next();
    }
    res.end();
  } catch (error) {
    // Mid-stream there is no status to send: cut the connection, so the client sees a truncated archive.
    if (res.headersSent) res.destroy(error as Error);
    else throw error;
  } finally {
    await chunks.return?.(undefined);
    snapshot.close();
  }
}

async function putSnapshot(ctx: RequestContext): Promise<void> {
  const { agent, req, res } = ctx;
  const body = await readBody(req, res, {
    maxBytes: MAX_RESTORE_BYTES,
    tooLarge: (max, got) => `snapshot${got === undefined ? '' : ` of ${got} bytes`} too large: a restore takes at most ${max} bytes`,
  });
  if (body.length === 0) throw badRequest('missing snapshot archive: the request body is empty');
  let archive;
  try {
    archive = parseArchive(body, { keepBody: true });
  } catch (error) {
    if (error instanceof ArchiveError) throw badRequest(error.message);
    throw error;
  }
  // sec: a restore replaces the cluster's ACL tokens and policies with the snapshot's (Consul's
  // behaviour), unless the snapshot holds none or ?keep-acls says to keep the cluster's. With ACLs on,
  // it must not lock its caller out: the caller's token must be a management token of the snapshot.
  let state = archive.body!;
  const keepAcls = boolParam(ctx.query, 'keep-acls');
  const acl = snapshotAcl(state);
  let acls: 'replaced' | 'kept' = acl.records > 0 && !keepAcls ? 'replaced' : 'kept';
  if (acl.records > 0 && keepAcls) state = withoutTableRecords(state, ACL_TABLE);
  if (acls === 'replaced' && ctx.acl.enabled && !managesSnapshot(acl, requestToken(req, ctx.query))) {
    throw new HttpError(
      'KONSUL_ERR_RESTORE_LOCKOUT',
      `restoring this snapshot would lock you out: it replaces this cluster's ACL tokens and policies (${acl.tokens.length} tokens), `
        + 'and the token of this request is not a management token among them. Restore with a management token of the snapshot, '
        + 'or keep this cluster\'s ACLs (?keep-acls; konsul snapshot restore --keep-acls). Nothing was changed.',
      'conflict',
    );
  }
  if (acl.records === 0) acls = 'kept';
  const { index } = await agent.restoreArchive(state);
  sendJson(res, 200, {
    Index: index,
    SnapshotIndex: archive.header.index,
    SnapshotTerm: archive.header.term,
    Records: archive.trailer.records,
    Tables: archive.trailer.tables,
    ACLs: acls,
  }, { 'X-Consul-Index': String(index) });
}

// Consul: snapshots need a management token (they hold every key and token).
const management = aclNeed('acl', 'write');

export const snapshotRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/v1/snapshot', handler: getSnapshot, acl: management, params: ['dc', 'stale'], consulParams: ['dc', 'stale'], note: 'konsul\'s own archive format, not Consul\'s' },
  {
    method: 'PUT', path: '/v1/snapshot', handler: putSnapshot, acl: management, params: ['dc', 'keep-acls'], consulParams: ['dc'],
    note: 'restores konsul archives only; ACL tables replaced as in Consul, refused (409) if that would lock the caller out, kept with ?keep-acls',
  },
];
