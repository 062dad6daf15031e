// A node's catalog UUID, derived from its name so it is stable across restarts
// (Consul's node IDs are UUIDs). Apart so a client agent need not load agent.ts.

import { createHash } from 'node:crypto';

/** A stable UUID for a node name (Consul's node IDs are UUIDs). */
export function nodeUuid(name: string): string {
  const h = createHash('sha256').update(`konsul-node:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
