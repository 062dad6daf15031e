// The leader's node check (Consul's serfHealth) for every node in the catalog:
// critical once the leader has not heard from its agent for the node health
// timeout, passing again when it has; a node that is no longer a member leaves
// the catalog. Writes only changes.

import { findMember, type NodeId } from '../raft/index.js';
import { NODE_ALIVE_OUTPUT, NODE_DEAD_OUTPUT, NODE_HEALTH_CHECK_ID, encodeCommand, type CatalogOp } from '../state/index.js';
import type { AgentContext } from './context.js';

/** One round on the leader; `heard(id)` is when the leader last heard from that node (performance.now() time). */
export async function nodeHealthRound(ctx: AgentContext, now: number, heard: (id: NodeId) => number): Promise<void> {
  const conf = ctx.driver.raft.conf();
  const catalog = ctx.state.catalog;
  for (const node of catalog.nodes()) {
    let op: CatalogOp | undefined;
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
    await ctx.driver.propose(encodeCommand({ type: 'catalog', op }));
  }
}
