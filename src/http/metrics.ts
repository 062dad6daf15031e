// /metrics: the agent's Prometheus registry as text (also at Consul's
// /v1/agent/metrics?format=prometheus).

import { badRequest } from './errors.js';
import { sendBytes } from './respond.js';
import { aclNeed } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

async function prometheus(ctx: RequestContext): Promise<void> {
  const text = await ctx.agent.metrics();
  sendBytes(ctx.res, 200, Buffer.from(text, 'utf8'), ctx.agent.metricsContentType);
}

async function consulMetrics(ctx: RequestContext): Promise<void> {
  if (ctx.query.get('format') !== 'prometheus') throw badRequest('only ?format=prometheus is supported');
  await prometheus(ctx);
}

const agentRead = aclNeed('agent', 'read', (i) => i.agent.nodeId);

export const metricsRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/metrics', handler: prometheus, acl: agentRead },
  { method: 'GET', path: '/v1/agent/metrics', handler: consulMetrics, acl: agentRead },
];
