// Members that left or were removed (issue 15): the leader records each as
// left (member-left, once the cluster runs protocol 2) instead of deleting its
// record, and forgets it after the reconnect timeout, as Consul's servers reap
// left members after reconnect_timeout (72 h).

import { encodeCommand } from '../state/index.js';
import type { AgentContext } from './context.js';

/** On the leader: the member `id` is gone from the cluster; keep it as left (or, at protocol 1, delete its record). */
export async function proposeMemberGone(ctx: AgentContext, id: string): Promise<void> {
  if (ctx.state.clusterVersion() >= 2) {
    await ctx.driver.propose(encodeCommand({ type: 'member-left', id, at: Date.now() }));
  } else if (ctx.state.member(id)) {
    await ctx.driver.propose(encodeCommand({ type: 'member-delete', id }));
  }
}

/** How often the leader looks for left members past the reconnect timeout. */
const CHECK_EVERY_MS = 1000;
const lastCheck = new WeakMap<AgentContext, number>();

/** On the leader (from autopilot's round): forget one left member whose reconnect timeout passed. */
export async function reapLeftMembers(ctx: AgentContext, now = Date.now()): Promise<void> {
  if (now - (lastCheck.get(ctx) ?? 0) < CHECK_EVERY_MS) return;
  lastCheck.set(ctx, now);
  const expired = ctx.state.leftMembers().find((m) => now - m.leftAt >= ctx.cfg.reconnectTimeoutMs);
  if (expired === undefined) return;
  ctx.logger.info({ member: expired.id }, 'forgetting a member that left, after the reconnect timeout');
  await ctx.driver.propose(encodeCommand({ type: 'member-forget', id: expired.id }));
}
