// What the services and catalog commands share: Consul's JSON for an agent's
// services and checks, and how an address, tags and health read in a table.

import { worstStatus, type HealthStatus } from '../../../state/catalog-types.js';

/** One service of GET /v1/agent/services, keyed there by ID (Consul's AgentService; the fields the CLI reads). */
export interface AgentService {
  ID: string;
  Service: string;
  /** Go encodes an empty list as null. */
  Tags: string[] | null;
  /** Empty: the node's address. */
  Address: string;
  Port: number;
  Meta: Record<string, string> | null;
}

/** One check of GET /v1/agent/checks, keyed there by CheckID (Consul's AgentCheck). */
export interface AgentCheck {
  Node: string;
  CheckID: string;
  Name: string;
  /** passing, warning or critical. */
  Status: string;
  Notes: string;
  Output: string;
  /** Empty for a node-level check, which counts for every service of the node. */
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[] | null;
  Type: string;
}

/** The worst status among checks, as Consul aggregates them: passing when there are none. */
export function aggregateStatus(checks: readonly Pick<AgentCheck, 'Status'>[]): string {
  return worstStatus(checks.map((c) => c.Status as HealthStatus));
}

/** `host:port`, brackets around an IPv6 host; an empty host (the node's address) reads `:port`, no port reads as the host alone. */
export function hostPort(host: string, port: number): string {
  if (port === 0) return host || '-';
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function tagsText(tags: readonly string[] | null): string {
  return tags && tags.length > 0 ? tags.join(',') : '-';
}
