// The catalog's records as the state machine holds them, and the read
// interface the HTTP and DNS layers use. Names (node and service) are looked
// up case-insensitively, as Consul does; records keep the case they were
// registered with.

export type HealthStatus = 'passing' | 'warning' | 'critical';

export interface CatalogNode {
  /** The node's UUID (derived from its name, stable across restarts). */
  id: string;
  /** The node name: the agent's node id. */
  node: string;
  address: string;
  datacenter: string;
  taggedAddresses: Record<string, string>;
  meta: Record<string, string>;
  createIndex: number;
  modifyIndex: number;
}

export interface ServiceWeights {
  passing: number;
  warning: number;
}

/**
 * Registration fields konsul keeps and returns exactly as given, though it
 * has no service mesh: a proxy's Kind and Proxy block, Connect, the service's
 * TaggedAddresses, SocketPath and Locality. Absent when not given.
 */
export interface ServiceExtras {
  kind?: string;
  proxy?: Record<string, unknown>;
  connect?: Record<string, unknown>;
  taggedAddresses?: Record<string, unknown>;
  socketPath?: string;
  locality?: Record<string, unknown>;
}

/** The ServiceExtras keys, in the order records hold them. */
export const SERVICE_EXTRA_KEYS = ['kind', 'proxy', 'connect', 'taggedAddresses', 'socketPath', 'locality'] as const;

export interface CatalogService extends ServiceExtras {
  node: string;
  id: string;
  service: string;
  tags: string[];
  /** Empty: use the node's address. */
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: ServiceWeights;
  enableTagOverride: boolean;
  createIndex: number;
  modifyIndex: number;
}

export interface CatalogCheck {
  node: string;
  checkId: string;
  name: string;
  status: HealthStatus;
  notes: string;
  output: string;
  /** Empty for a node-level check. */
  serviceId: string;
  serviceName: string;
  serviceTags: string[];
  /** 'http', 'tcp', 'ttl', 'script', 'serf' or '' */
  type: string;
  createIndex: number;
  modifyIndex: number;
}

/** One instance of a service with its node and every check that applies to it (its own and its node's). */
export interface ServiceInstance {
  node: CatalogNode;
  service: CatalogService;
  checks: CatalogCheck[];
  /** The worst status among checks (passing when there are none). */
  status: HealthStatus;
}

/** The node-level check the leader keeps for every agent (Consul's name for it). */
export const NODE_HEALTH_CHECK_ID = 'serfHealth';
export const NODE_HEALTH_CHECK_NAME = 'Serf Health Status';

/** Reads of the catalog from this agent's local replica. Every call is synchronous and cheap (in memory). */
export interface CatalogReader {
  /** Raised by every catalog change; a cache keyed on it is never stale. At least 1. */
  catalogIndex(): number;
  nodes(): CatalogNode[];
  /** Case-insensitive. */
  node(name: string): CatalogNode | undefined;
  /** Services and checks registered on a node (case-insensitive name). */
  nodeServices(name: string): CatalogService[];
  nodeChecks(name: string): CatalogCheck[];
  /** Every service name with the union of its instances' tags. */
  serviceNames(): Map<string, string[]>;
  /** The instances of a service (case-insensitive name), optionally only those with `tag` (case-insensitive). */
  instances(service: string, tag?: string): ServiceInstance[];
  /** Every check in a given state ('any' for all). */
  checksInState(state: HealthStatus | 'any'): CatalogCheck[];
  /** The index of the last change to a service's instances or their health (case-insensitive). */
  serviceIndex(service: string): number;
  /** The index of the last change to a node, its services or its checks (case-insensitive). */
  nodeIndex(name: string): number;
}

/** The worst of a set of statuses: critical > warning > passing. */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = 'passing';
  for (const s of statuses) {
    if (s === 'critical') return s;
    if (s === 'warning') worst = s;
  }
  return worst;
}
