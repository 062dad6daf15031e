// From a request's secret to an Authorizer, on any agent, from its own replica of
// the ACL state: the anonymous token when none is given, the management policy, a cache per version.

import type { AclState } from '../state/acl.js';
import { ANONYMOUS_TOKEN_ID, ANONYMOUS_TOKEN_SECRET, GLOBAL_MANAGEMENT_POLICY_ID, tokenExpired } from '../state/acl.js';
import { ALLOW_ALL, compileAuthorizer, type Authorizer, type DefaultPolicy } from './authorizer.js';
import { parseRules, type ParsedRules } from './rules.js';

export interface AclSettings {
  enabled: boolean;
  defaultPolicy: DefaultPolicy;
}

export const ACL_DISABLED: AclSettings = { enabled: false, defaultPolicy: 'allow' };

export interface ResolvedToken {
  authorizer: Authorizer;
  /** For messages: the token's accessor id (never its secret). */
  accessorId: string;
  anonymous: boolean;
  /** sec: when the token expires (ms since the epoch), if it does: a cached resolution is dropped then. */
  expiresAt?: number;
}

const MAX_CACHED = 4096;
const EMPTY: ParsedRules = { named: [], global: {} };

export class AclResolver {
  private cache = new Map<string, ResolvedToken>();
  private cacheVersion = -1;
  private readonly rules = new Map<string, { text: string; parsed: ParsedRules }>();

  constructor(private readonly state: AclState, readonly settings: AclSettings) {}

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** undefined: the secret names no token ("ACL not found"). An empty or absent secret is the anonymous token. */
  resolve(secret: string | undefined): ResolvedToken | undefined {
    if (!this.settings.enabled) return { authorizer: ALLOW_ALL, accessorId: '', anonymous: false };
    if (this.cacheVersion !== this.state.version) {
      this.cache = new Map();
      this.cacheVersion = this.state.version;
    }
    const key = secret === undefined || secret === '' ? ANONYMOUS_TOKEN_SECRET : secret;
    const hit = this.cache.get(key);
    if (hit && (hit.expiresAt === undefined || hit.expiresAt > Date.now())) return hit;
    if (hit) this.cache.delete(key);
    const resolved = this.compute(key);
    if (!resolved) return undefined;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, resolved);
    return resolved;
  }

  private compute(secret: string): ResolvedToken | undefined {
    const anonymous = secret === ANONYMOUS_TOKEN_SECRET;
    const token = anonymous ? this.state.token(ANONYMOUS_TOKEN_ID) : this.state.tokenBySecret(secret);
    if (!token && !anonymous) return undefined;
    // An expired token is no token, as in Consul ("ACL not found").
    if (token && !anonymous && tokenExpired(token, Date.now())) return undefined;
    const expiresAt = token?.expirationTime === undefined ? undefined : Date.parse(token.expirationTime);
    // sec: a token's policies and its roles' policies, once each.
    const policyIds = [...new Set([...(token?.policies ?? []), ...(token?.roles ?? []).flatMap((r) => this.state.role(r)?.policies ?? [])])];
    if (policyIds.includes(GLOBAL_MANAGEMENT_POLICY_ID)) {
      return { authorizer: ALLOW_ALL, accessorId: token!.accessorId, anonymous, expiresAt };
    }
    const parsed: ParsedRules[] = [];
    for (const id of policyIds) {
      const policy = this.state.policy(id);
      if (policy) parsed.push(this.parsed(policy.id, policy.rules));
    }
    return { authorizer: compileAuthorizer(parsed, this.settings.defaultPolicy), accessorId: token?.accessorId ?? ANONYMOUS_TOKEN_ID, anonymous, expiresAt };
  }

  private parsed(id: string, text: string): ParsedRules {
    const seen = this.rules.get(id);
    if (seen && seen.text === text) return seen.parsed;
    let parsed: ParsedRules;
    try {
      parsed = parseRules(text);
    } catch {
      // Rules are checked before they are proposed; a policy that still fails to parse grants nothing.
      parsed = EMPTY;
    }
    this.rules.set(id, { text, parsed });
    return parsed;
  }
}
