// The catalog as one token may see it: what DNS answers from when ACLs are on
// (Consul's DNS answers with the anonymous token's service and node read rights).

import type { CatalogCheck, CatalogNode, CatalogReader, CatalogService, HealthStatus, ServiceInstance } from '../state/catalog-types.js';
import type { Authorizer } from './authorizer.js';

/**
 * A CatalogReader that leaves out what `authorizer()` may not read. Its index moves when the catalog's
 * or the rights' version does, so a cache keyed on it (the DNS answer cache) never serves old rights.
 */
export class FilteredCatalog implements CatalogReader {
  private lastCatalog = -1;
  private lastVersion = -1;
  private index = 0;

  constructor(
    private readonly catalog: CatalogReader,
    private readonly authorizer: () => Authorizer,
    private readonly version: () => number,
  ) {}

  catalogIndex(): number {
    const c = this.catalog.catalogIndex();
    const v = this.version();
    if (c !== this.lastCatalog || v !== this.lastVersion) {
      this.lastCatalog = c;
      this.lastVersion = v;
      this.index++;
    }
    return this.index;
  }

  private nodeOk(name: string): boolean {
    return this.authorizer().allowed('node', name, 'read');
  }

  private serviceOk(name: string): boolean {
    return this.authorizer().allowed('service', name, 'read');
  }

  nodes(): CatalogNode[] {
    return this.catalog.nodes().filter((n) => this.nodeOk(n.node));
  }

  node(name: string): CatalogNode | undefined {
    const n = this.catalog.node(name);
    return n && this.nodeOk(n.node) ? n : undefined;
  }

  nodeServices(name: string): CatalogService[] {
    if (!this.node(name)) return [];
    return this.catalog.nodeServices(name).filter((s) => this.serviceOk(s.service));
  }

  nodeChecks(name: string): CatalogCheck[] {
    if (!this.node(name)) return [];
    return this.catalog.nodeChecks(name).filter((c) => c.serviceName === '' || this.serviceOk(c.serviceName));
  }

  serviceNames(): Map<string, string[]> {
    return new Map([...this.catalog.serviceNames()].filter(([name]) => this.serviceOk(name)));
  }

  instances(service: string, tag?: string): ServiceInstance[] {
    const all = this.catalog.instances(service, tag);
    if (all.length === 0 || !this.serviceOk(all[0]!.service.service)) return [];
    return all.filter((i) => this.nodeOk(i.node.node));
  }

  checksInState(state: HealthStatus | 'any'): CatalogCheck[] {
    return this.catalog.checksInState(state).filter((c) => this.nodeOk(c.node) && (c.serviceName === '' || this.serviceOk(c.serviceName)));
  }

  serviceIndex(service: string): number {
    return this.catalog.serviceIndex(service);
  }

  nodeIndex(name: string): number {
    return this.catalog.nodeIndex(name);
  }
}
