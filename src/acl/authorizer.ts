// Decisions from a token's rules: an exact rule beats a prefix rule, the longest
// prefix wins, and with no rule the default policy (allow or deny) answers, as in Consul.

import { GLOBAL_RESOURCES, stronger, type AclAccess, type AclResource, type GlobalResource, type NamedResource, type ParsedRules } from './rules.js';

/** What a request needs: read (list satisfies nothing else), write, or list (key listing). */
export type AclNeed = 'read' | 'write' | 'list';
export type DefaultPolicy = 'allow' | 'deny';

function grants(access: AclAccess, need: AclNeed): boolean {
  switch (access) {
    case 'deny': return false;
    case 'write': return true;
    case 'read': return need !== 'write';
    case 'list': return need === 'list';
  }
}

interface PrefixRule { name: string; access: AclAccess }

class ResourceRules {
  readonly exact = new Map<string, AclAccess>();
  /** Longest first, so the first match is the one that counts. */
  prefixes: PrefixRule[] = [];

  add(name: string, prefix: boolean, access: AclAccess): void {
    if (!prefix) {
      const seen = this.exact.get(name);
      this.exact.set(name, seen ? stronger(seen, access) : access);
      return;
    }
    const seen = this.prefixes.find((p) => p.name === name);
    if (seen) seen.access = stronger(seen.access, access);
    else this.prefixes.push({ name, access });
  }

  sort(): void {
    this.prefixes.sort((a, b) => b.name.length - a.name.length);
  }

  /** The rule that applies to `name`, or undefined. */
  lookup(name: string): AclAccess | undefined {
    const exact = this.exact.get(name);
    if (exact !== undefined) return exact;
    for (const p of this.prefixes) if (name.startsWith(p.name)) return p.access;
    return undefined;
  }
}

export interface Authorizer {
  /** true for the management token and when ACLs are off: every check passes. */
  readonly management: boolean;
  allowed(resource: AclResource, name: string, need: AclNeed): boolean;
  /** Write on `prefix` and on everything under it (a recursive delete): no rule under it may say less. */
  allowedPrefixWrite(resource: NamedResource, prefix: string): boolean;
}

export const ALLOW_ALL: Authorizer = {
  management: true,
  allowed: () => true,
  allowedPrefixWrite: () => true,
};

/** An authorizer from a token's policies' rules, merged (deny > write > read > list for the same rule). */
export function compileAuthorizer(policies: readonly ParsedRules[], defaultPolicy: DefaultPolicy): Authorizer {
  const named = new Map<NamedResource, ResourceRules>();
  const global = new Map<GlobalResource, AclAccess>();
  for (const p of policies) {
    for (const r of p.named) {
      let rules = named.get(r.resource);
      if (!rules) named.set(r.resource, (rules = new ResourceRules()));
      rules.add(r.name, r.prefix, r.access);
    }
    for (const g of GLOBAL_RESOURCES) {
      const a = p.global[g];
      if (a !== undefined) global.set(g, global.has(g) ? stronger(global.get(g)!, a) : a);
    }
  }
  for (const rules of named.values()) rules.sort();
  const fallback = defaultPolicy === 'allow';

  const allowed = (resource: AclResource, name: string, need: AclNeed): boolean => {
    const rules = named.get(resource as NamedResource);
    const access = rules ? rules.lookup(name) : global.get(resource as GlobalResource);
    return access === undefined ? fallback : grants(access, need);
  };
  return {
    management: false,
    allowed,
    allowedPrefixWrite(resource, prefix) {
      if (!allowed(resource, prefix, 'write')) return false;
      const rules = named.get(resource);
      if (!rules) return true;
      for (const [name, access] of rules.exact) if (name.startsWith(prefix) && !grants(access, 'write')) return false;
      for (const p of rules.prefixes) if (p.name.startsWith(prefix) && !grants(p.access, 'write')) return false;
      return true;
    },
  };
}
