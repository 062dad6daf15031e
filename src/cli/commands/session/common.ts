// What the session commands share: Consul's session JSON and how a human sees it.

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
