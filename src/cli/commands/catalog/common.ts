// Consul's JSON for the catalog reads the catalog commands make: nodes, and a
// service's instances with their node and checks.

import type { AgentCheck, AgentService } from '../services/common.js';

/** One node of GET /v1/catalog/nodes (Consul's Node). */
export interface CatalogNode {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string> | null;
  Meta: Record<string, string> | null;
}

/** One instance of GET /v1/health/service/<name> (Consul's ServiceEntry): its node, itself, and every check that applies. */
export interface HealthServiceEntry {
  Node: CatalogNode;
  Service: AgentService;
  Checks: AgentCheck[];
}
