// The leader's node check (Consul's serfHealth) for every node in the catalog:
// critical once the leader has not heard from its agent for the node health
// timeout, passing again when it has; a node that is no longer a member leaves
// the catalog. Writes only changes, a round's all at once (one group commit).
// Client agents (scale: member records outside the configuration) are judged
// by clients.ts from their relays' reports.

import { findMember, type NodeId } from '../raft/index.js';
import { NODE_ALIVE_OUTPUT, NODE_DEAD_OUTPUT, NODE_HEALTH_CHECK_ID, encodeCommand, type CatalogOp, type Command } from '../state/index.js';
import type { ClientDuties } from './clients.js';
import type { AgentContext } from './context.js';

/** One round on the leader; `heard(id)` is when the leader last heard from that node (performance.now() time). */
export async function nodeHealthRound(ctx: AgentContext, now: number, heard: (id: NodeId) => number, clients?: ClientDuties): Promise<void> {
  const conf = ctx.driver.raft.conf();
  const catalog = ctx.state.catalog;
  const clientIds = clients?.clientIds() ?? new Set<string>();
  const writes: Command[] = [];
  for (const node of catalog.nodes()) {
    let op: CatalogOp | undefined;
    if (clientIds.has(node.node)) continue;
    if (!findMember(conf, node.node)) {
      op = { op: 'deregister-node', node: node.node };
      ctx.logger.info({ member: node.node }, 'removing a node that is no longer a member from the catalog');
    } else {
      const alive = node.node === ctx.nodeId || now - heard(node.node) < ctx.cfg.nodeHealthTimeoutMs;
      const status = alive ? 'passing' : 'critical';
      const current = catalog.nodeChecks(node.node).find((c) => c.checkId === NODE_HEALTH_CHECK_ID);
      if (current?.status === status) continue;
      op = { op: 'node-health', node: node.node, status, output: alive ? NODE_ALIVE_OUTPUT : NODE_DEAD_OUTPUT };
      if (current) ctx.logger.info({ member: node.node, status }, 'node health changed');
    }
    writes.push({ type: 'catalog', op });
  }
  if (clients) writes.push(...clients.healthRound(now, clientIds));
  await Promise.all(writes.map((cmd) => ctx.driver.propose(encodeCommand(cmd))));
}
