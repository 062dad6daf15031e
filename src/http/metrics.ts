// /metrics: the agent's Prometheus registry as text (also at Consul's
// /v1/agent/metrics?format=prometheus, served with the JSON form in api-routes.ts).

import { sendBytes } from './respond.js';
import { aclNeed } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

async function prometheus(ctx: RequestContext): Promise<void> {
  const text = await ctx.agent.metrics();
  sendBytes(ctx.res, 200, Buffer.from(text, 'utf8'), ctx.agent.metricsContentType);
}

const agentRead = aclNeed('agent', 'read', (i) => i.agent.nodeId);

export const metricsRoutes: readonly RouteSpec[] = [
  { method: 'GET', path: '/metrics', handler: prometheus, acl: agentRead, params: [] },
];
