// What the session commands share: Consul's session JSON, how a human sees it,
// and creating one on an agent that may have just started.

import type { AgentClient } from '../../client.js';
import { AgentHttpError } from '../../errors.js';

/** One session as the agent answers it (Consul's shape; LockDelay in nanoseconds). */
export interface SessionJson {
  ID: string;
  Name: string;
  Node: string;
  LockDelay: number;
  Behavior: string;
  TTL: string;
  NodeChecks: string[] | null;
  ServiceChecks: Array<{ ID: string }> | null;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A session id is a UUID: checked before anything is sent. */
export const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function lockDelayText(ns: number): string {
  const ms = ns / 1e6;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function checksText(s: SessionJson): string {
  const all = [...(s.NodeChecks ?? []), ...(s.ServiceChecks ?? []).map((c) => c.ID)];
  return all.length === 0 ? '-' : all.join(',');
}


/** How long create waits for an agent that has just started to appear (healthy) in the catalog. */
const NEW_AGENT_WAIT_MS = 5000;

/**
 * PUT /v1/session/create; the new id. An agent that has just started is in the
 * catalog (with its serfHealth check) a moment later: until then the answer is
 * "Missing node registration" or "Missing check 'serfHealth'", and create asks
 * again, for up to 5 s.
 */
export async function createSession(client: AgentClient, body: Record<string, unknown>): Promise<string> {
  const deadline = Date.now() + NEW_AGENT_WAIT_MS;
  for (;;) {
    try {
      return (await client.call('PUT', '/v1/session/create', { body: JSON.stringify(body) })).json<{ ID: string }>().ID;
    } catch (error) {
      const settling = error instanceof AgentHttpError && error.status === 400
        && /Missing node registration|Missing check 'serfHealth'/.test(error.body) && body.Node === undefined;
      if (!settling || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
