// Snapshot archives (konsul snapshot save / restore): a consistent image of
// the state machine streamed out, and a restore proposed through Raft so every
// member replaces its state at the same index.

import { BadSnapshotError, SnapshotFailedError } from '../errors.js';
import { encodeCommand } from '../state/index.js';
import { writeArchive, type ArchiveHeader } from '../state/archive.js';
import { restoreProblem } from '../state/machine.js';
import { snapshotAcl } from '../state/acl-restore.js';
import type { NodeStorage } from '../storage/index.js';
import type { SnapshotArchiveStream } from './api.js';
import type { AgentContext } from './context.js';

/** The image of the state machine at its applied index, as archive chunks. Call after the read barrier. */
export function openArchive(ctx: AgentContext, storage: NodeStorage): SnapshotArchiveStream {
  const image = storage.state.snapshot();
  const index = image.appliedIndex;
  const header: ArchiveHeader = {
    index,
    term: ctx.driver.raft.log.term(index) ?? 0,
    createdAt: new Date().toISOString(),
    nodeId: ctx.nodeId,
    datacenter: ctx.cfg.datacenter,
  };
  return { header, chunks: writeArchive(header, image), close: () => image.close() };
}

/** Replace the state machine with `state` on every member, through the log. */
export async function restoreArchive(ctx: AgentContext, state: Buffer): Promise<{ index: number }> {
  const problem = restoreProblem(state);
  if (problem) throw new BadSnapshotError(`the snapshot cannot be restored: ${problem}`);
  const bytes = encodeCommand({ type: 'restore', state });
  const r = await ctx.forwarder.onLeader('propose', bytes, () => ctx.driver.propose(bytes));
  await ctx.driver.waitApplied(r.index);
  if (r.result === false) throw new SnapshotFailedError('the state machine refused the snapshot; nothing was changed');
  ctx.logger.info({ index: r.index, bytes: state.length }, 'snapshot restored through Raft');
  // sec: say what happened to the ACL tables: an operator must not find out from a 403.
  const acl = snapshotAcl(state);
  if (acl.records > 0) {
    ctx.logger.warn({ index: r.index, tokens: acl.tokens.length, policies: acl.policies.length },
      'the restore replaced this cluster\'s ACL tokens and policies with the snapshot\'s');
  } else {
    ctx.logger.info({ index: r.index }, 'the snapshot holds no ACL tokens or policies: this cluster\'s are kept');
  }
  return { index: r.index };
}
