// An in-memory CatalogReader for the DNS tests and benchmark: nodes, services
// and checks that a test changes at will, each change raising the index.

import {
  worstStatus,
  type CatalogCheck, type CatalogNode, type CatalogReader, type CatalogService, type HealthStatus, type ServiceInstance,
} from '../../src/state/catalog-types.js';

export interface ServiceSpec {
  node: string;
  service: string;
  /** Defaults to the service name. */
  id?: string;
  tags?: string[];
  address?: string;
  port: number;
  weights?: { passing: number; warning: number };
}

const lower = (s: string): string => s.toLowerCase();

export class FakeCatalog implements CatalogReader {
  private index = 1;
  private readonly nodeMap = new Map<string, CatalogNode>();
  /** lower node name -> service id -> service */
  private readonly services = new Map<string, Map<string, CatalogService>>();
  /** lower node name -> check id -> check */
  private readonly checks = new Map<string, Map<string, CatalogCheck>>();
  /** How often instances() ran: the DNS cache should keep this low. */
  instanceCalls = 0;

  addNode(node: string, address: string, meta: Record<string, string> = {}): this {
    this.nodeMap.set(lower(node), {
      id: `id-${node}`, node, address, datacenter: 'dc1', taggedAddresses: {}, meta,
      createIndex: this.index, modifyIndex: this.index,
    });
    return this.bump();
  }

  addService(spec: ServiceSpec): this {
    const id = spec.id ?? spec.service;
    let byId = this.services.get(lower(spec.node));
    if (!byId) this.services.set(lower(spec.node), (byId = new Map()));
    byId.set(id, {
      node: spec.node, id, service: spec.service, tags: spec.tags ?? [], address: spec.address ?? '', port: spec.port,
      meta: {}, weights: spec.weights ?? { passing: 1, warning: 1 }, enableTagOverride: false,
      createIndex: this.index, modifyIndex: this.index,
    });
    return this.bump();
  }

  removeService(node: string, id: string): this {
    this.services.get(lower(node))?.delete(id);
    return this.bump();
  }

  /** Set a check's status: on a service instance (serviceId) or, with serviceId '', on the node. */
  setCheck(node: string, serviceId: string, status: HealthStatus): this {
    let byId = this.checks.get(lower(node));
    if (!byId) this.checks.set(lower(node), (byId = new Map()));
    const service = serviceId === '' ? undefined : this.services.get(lower(node))?.get(serviceId);
    const checkId = serviceId === '' ? 'serfHealth' : `service:${serviceId}`;
    byId.set(checkId, {
      node, checkId, name: checkId, status, notes: '', output: '', serviceId, serviceName: service?.service ?? '',
      serviceTags: service?.tags ?? [], type: 'ttl', createIndex: this.index, modifyIndex: this.index,
    });
    return this.bump();
  }

  // ------------------------------------------------------------ CatalogReader

  catalogIndex(): number {
    return this.index;
  }

  nodes(): CatalogNode[] {
    return [...this.nodeMap.values()];
  }

  node(name: string): CatalogNode | undefined {
    return this.nodeMap.get(lower(name));
  }

  nodeServices(name: string): CatalogService[] {
    return [...(this.services.get(lower(name))?.values() ?? [])];
  }

  nodeChecks(name: string): CatalogCheck[] {
    return [...(this.checks.get(lower(name))?.values() ?? [])];
  }

  serviceNames(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const byId of this.services.values()) {
      for (const s of byId.values()) out.set(s.service, [...new Set([...(out.get(s.service) ?? []), ...s.tags])]);
    }
    return out;
  }

  instances(service: string, tag?: string): ServiceInstance[] {
    this.instanceCalls++;
    const out: ServiceInstance[] = [];
    for (const [nodeKey, byId] of this.services) {
      const node = this.nodeMap.get(nodeKey);
      if (!node) continue;
      for (const s of byId.values()) {
        if (lower(s.service) !== lower(service)) continue;
        if (tag !== undefined && !s.tags.some((t) => lower(t) === lower(tag))) continue;
        const checks = [...(this.checks.get(nodeKey)?.values() ?? [])].filter((c) => c.serviceId === '' || c.serviceId === s.id);
        out.push({ node, service: s, checks, status: worstStatus(checks.map((c) => c.status)) });
      }
    }
    return out;
  }

  checksInState(state: HealthStatus | 'any'): CatalogCheck[] {
    return [...this.checks.values()].flatMap((m) => [...m.values()]).filter((c) => state === 'any' || c.status === state);
  }

  serviceIndex(): number {
    return this.index;
  }

  nodeIndex(): number {
    return this.index;
  }

  private bump(): this {
    this.index++;
    return this;
  }
}
