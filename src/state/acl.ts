// The replicated ACL state: tokens and policies in the `acl` table, written by
// `acl` commands in the apply's transaction, and a cache of both in memory for reads.
//
// Secrets are chosen by the proposer (the agent that took the request) and carried in the command,
// so every replica stores the same token.

import type { StateReader, StateWriter } from '../storage/index.js';

export const ACL_TABLE = 'acl';

/** Consul's built-in ids. */
export const GLOBAL_MANAGEMENT_POLICY_ID = '00000000-0000-0000-0000-000000000001';
export const ANONYMOUS_TOKEN_ID = '00000000-0000-0000-0000-000000000002';
export const ANONYMOUS_TOKEN_SECRET = 'anonymous';

export interface AclTokenRecord {
  accessorId: string;
  secretId: string;
  description: string;
  /** Policy ids. */
  policies: string[];
  /** sec: role ids (each role's policies count as the token's); absent in tokens made before roles. */
  roles?: string[];
  local: boolean;
  createTime: string;
  /** sec: when the token stops working (ISO 8601), from Consul's ExpirationTTL or ExpirationTime; none: never. */
  expirationTime?: string;
  createIndex: number;
  modifyIndex: number;
}

/** Whether `token` has expired at `now` (ms since the epoch): it then resolves as no token at all. */
export function tokenExpired(token: Pick<AclTokenRecord, 'expirationTime'>, now: number): boolean {
  return token.expirationTime !== undefined && Date.parse(token.expirationTime) <= now;
}

export interface AclPolicyRecord {
  id: string;
  name: string;
  description: string;
  rules: string;
  datacenters: string[];
  createIndex: number;
  modifyIndex: number;
}

/** sec: a named set of policies tokens link to (Consul's ACL roles). */
export interface AclRoleRecord {
  id: string;
  name: string;
  description: string;
  /** Policy ids. */
  policies: string[];
  createIndex: number;
  modifyIndex: number;
}

type TokenInput = Omit<AclTokenRecord, 'createIndex' | 'modifyIndex'>;
type PolicyInput = Omit<AclPolicyRecord, 'createIndex' | 'modifyIndex'>;
type RoleInput = Omit<AclRoleRecord, 'createIndex' | 'modifyIndex'>;

export type AclOp =
  | { op: 'bootstrap'; token: TokenInput }
  | { op: 'token-set'; token: TokenInput; create: boolean }
  | { op: 'token-delete'; accessorId: string }
  | { op: 'policy-set'; policy: PolicyInput; create: boolean }
  | { op: 'policy-delete'; id: string }
  // sec: roles
  | { op: 'role-set'; role: RoleInput; create: boolean }
  | { op: 'role-delete'; id: string };

const BOOTSTRAP_KEY = 'm/bootstrap';
const TOKEN = 't/';
const POLICY = 'p/';
const ROLE = 'r/';
const MAX_FIELD = 4096;
const MAX_RULES = 64 * 1024;
const MAX_LINKS = 64;

const str = (v: unknown, max = MAX_FIELD): v is string => typeof v === 'string' && v.length <= max;
const id = (v: unknown): v is string => str(v, 128) && v.length > 0;
const strList = (v: unknown, check: (x: unknown) => boolean): boolean => Array.isArray(v) && v.length <= MAX_LINKS && v.every(check);

function tokenProblem(t: unknown): string | undefined {
  if (typeof t !== 'object' || t === null) return 'token must be an object';
  const r = t as Record<string, unknown>;
  if (!id(r.accessorId)) return 'token accessorId must be 1 to 128 characters';
  if (!id(r.secretId)) return 'token secretId must be 1 to 128 characters';
  if (!str(r.description)) return 'token description must be a string up to 4096 characters';
  if (!strList(r.policies, id)) return 'token policies must be up to 64 policy ids';
  if (r.roles !== undefined && !strList(r.roles, id)) return 'token roles must be up to 64 role ids';
  if (typeof r.local !== 'boolean') return 'token local must be true or false';
  if (!str(r.createTime, 64)) return 'token createTime must be a string';
  if (r.expirationTime !== undefined && !(str(r.expirationTime, 64) && Number.isFinite(Date.parse(r.expirationTime)))) return 'token expirationTime must be a time';
  return undefined;
}

function policyProblem(p: unknown): string | undefined {
  if (typeof p !== 'object' || p === null) return 'policy must be an object';
  const r = p as Record<string, unknown>;
  if (!id(r.id)) return 'policy id must be 1 to 128 characters';
  if (!str(r.name, 128) || !/^[A-Za-z0-9_-]{1,128}$/.test(r.name)) return 'policy name must be 1 to 128 letters, digits, "-" or "_"';
  if (!str(r.description)) return 'policy description must be a string up to 4096 characters';
  if (!str(r.rules, MAX_RULES)) return 'policy rules must be a string up to 64 KiB';
  if (!strList(r.datacenters, (d) => str(d, 128))) return 'policy datacenters must be a list of names';
  return undefined;
}

function roleProblem(p: unknown): string | undefined {
  if (typeof p !== 'object' || p === null) return 'role must be an object';
  const r = p as Record<string, unknown>;
  if (!id(r.id)) return 'role id must be 1 to 128 characters';
  if (!str(r.name, 256) || !/^[A-Za-z0-9_-]{1,256}$/.test(r.name)) return 'role name must be 1 to 256 letters, digits, "-" or "_"';
  if (!str(r.description)) return 'role description must be a string up to 4096 characters';
  if (!strList(r.policies, id)) return 'role policies must be up to 64 policy ids';
  return undefined;
}

/** Why a stored token, policy or role record (a snapshot's, on restore) is malformed, or undefined. */
export function aclRecordProblem(kind: 'token' | 'policy' | 'role', record: unknown): string | undefined {
  return kind === 'token' ? tokenProblem(record) : kind === 'policy' ? policyProblem(record) : roleProblem(record);
}

/** Why an ACL operation is malformed (checked on encode and on decode), or undefined. */
export function aclOpProblem(op: unknown): string | undefined {
  if (typeof op !== 'object' || op === null) return 'not an object';
  const o = op as Record<string, unknown>;
  switch (o.op) {
    case 'bootstrap': return tokenProblem(o.token);
    case 'token-set': return typeof o.create === 'boolean' ? tokenProblem(o.token) : 'create must be true or false';
    case 'token-delete': return id(o.accessorId) ? undefined : 'accessorId must be 1 to 128 characters';
    case 'policy-set': return typeof o.create === 'boolean' ? policyProblem(o.policy) : 'create must be true or false';
    case 'policy-delete': return id(o.id) ? undefined : 'id must be 1 to 128 characters';
    case 'role-set': return typeof o.create === 'boolean' ? roleProblem(o.role) : 'create must be true or false';
    case 'role-delete': return id(o.id) ? undefined : 'id must be 1 to 128 characters';
    default: return `unknown ACL operation ${JSON.stringify(o.op)}`;
  }
}

function put(txn: StateWriter, key: string, value: unknown): void {
  txn.put(ACL_TABLE, key, Buffer.from(JSON.stringify(value), 'utf8'));
}

function get<T>(txn: StateReader, key: string): T | undefined {
  const b = txn.get(ACL_TABLE, key);
  if (!b) return undefined;
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Tokens and policies as the replica holds them; reloaded after each batch that changed any. */
export class AclState {
  private tokens = new Map<string, AclTokenRecord>();
  private bySecret = new Map<string, AclTokenRecord>();
  private policyMap = new Map<string, AclPolicyRecord>();
  private roleMap = new Map<string, AclRoleRecord>();
  private bootstrapIndexValue = 0;
  /** Moves on every change: caches of decisions are keyed on it. */
  private versionValue = 0;
  private readonly listeners: Array<() => void> = [];

  load(read: <T>(fn: (txn: StateReader) => T) => T): void {
    read((txn) => {
      this.tokens = new Map();
      this.bySecret = new Map();
      this.policyMap = new Map();
      this.roleMap = new Map();
      this.bootstrapIndexValue = get<number>(txn, BOOTSTRAP_KEY) ?? 0;
      for (const rec of txn.scan(ACL_TABLE)) {
        const key = rec.key.toString('utf8');
        let value: unknown;
        try {
          value = JSON.parse(rec.value.toString('utf8'));
        } catch {
          continue;
        }
        if (key.startsWith(TOKEN)) {
          const t = value as AclTokenRecord;
          this.tokens.set(t.accessorId, t);
          this.bySecret.set(t.secretId, t);
        } else if (key.startsWith(POLICY)) {
          const p = value as AclPolicyRecord;
          this.policyMap.set(p.id, p);
        } else if (key.startsWith(ROLE)) {
          const r = value as AclRoleRecord;
          this.roleMap.set(r.id, r);
        }
      }
    });
    this.versionValue++;
    for (const l of this.listeners) l();
  }

  /** Applies one operation in the batch's transaction; false when refused (the same on every replica). */
  apply(txn: StateWriter, index: number, op: AclOp): boolean {
    switch (op.op) {
      case 'bootstrap': {
        if ((get<number>(txn, BOOTSTRAP_KEY) ?? 0) > 0) return false;
        if (!this.secretFree(txn, op.token.secretId, op.token.accessorId)) return false;
        put(txn, BOOTSTRAP_KEY, index);
        put(txn, TOKEN + op.token.accessorId, { ...op.token, createIndex: index, modifyIndex: index });
        return true;
      }
      case 'token-set': {
        const existing = get<AclTokenRecord>(txn, TOKEN + op.token.accessorId);
        // The anonymous token exists from the start, stored or not.
        const exists = existing !== undefined || op.token.accessorId === ANONYMOUS_TOKEN_ID;
        if (op.create === exists) return false;
        if (existing && existing.secretId !== op.token.secretId) return false;
        if (op.token.accessorId === ANONYMOUS_TOKEN_ID) {
          if (op.token.secretId !== ANONYMOUS_TOKEN_SECRET) return false;
        } else if (!existing && !this.secretFree(txn, op.token.secretId, op.token.accessorId)) return false;
        put(txn, TOKEN + op.token.accessorId, { ...op.token, createIndex: existing?.createIndex ?? index, modifyIndex: index });
        return true;
      }
      case 'token-delete':
        if (op.accessorId === ANONYMOUS_TOKEN_ID) return false;
        return txn.delete(ACL_TABLE, TOKEN + op.accessorId);
      case 'policy-set': {
        const existing = get<AclPolicyRecord>(txn, POLICY + op.policy.id);
        if (op.create === (existing !== undefined)) return false;
        if (op.policy.id === GLOBAL_MANAGEMENT_POLICY_ID) return false;
        for (const rec of txn.scan(ACL_TABLE, { prefix: POLICY })) {
          const other = JSON.parse(rec.value.toString('utf8')) as AclPolicyRecord;
          if (other.id !== op.policy.id && other.name === op.policy.name) return false;
        }
        put(txn, POLICY + op.policy.id, { ...op.policy, createIndex: existing?.createIndex ?? index, modifyIndex: index });
        return true;
      }
      case 'policy-delete':
        if (op.id === GLOBAL_MANAGEMENT_POLICY_ID) return false;
        return txn.delete(ACL_TABLE, POLICY + op.id);
      // sec: roles
      case 'role-set': {
        const existing = get<AclRoleRecord>(txn, ROLE + op.role.id);
        if (op.create === (existing !== undefined)) return false;
        for (const rec of txn.scan(ACL_TABLE, { prefix: ROLE })) {
          const other = JSON.parse(rec.value.toString('utf8')) as AclRoleRecord;
          if (other.id !== op.role.id && other.name === op.role.name) return false;
        }
        put(txn, ROLE + op.role.id, { ...op.role, createIndex: existing?.createIndex ?? index, modifyIndex: index });
        return true;
      }
      case 'role-delete':
        return txn.delete(ACL_TABLE, ROLE + op.id);
    }
  }

  private secretFree(txn: StateReader, secret: string, accessor: string): boolean {
    if (secret === ANONYMOUS_TOKEN_SECRET) return false;
    for (const rec of txn.scan(ACL_TABLE, { prefix: TOKEN })) {
      const t = JSON.parse(rec.value.toString('utf8')) as AclTokenRecord;
      if (t.secretId === secret && t.accessorId !== accessor) return false;
    }
    return true;
  }

  // ------------------------------------------------------------ reads

  get version(): number {
    return this.versionValue;
  }

  /** The index of the bootstrap, 0 before it. */
  get bootstrapIndex(): number {
    return this.bootstrapIndexValue;
  }

  tokenBySecret(secret: string): AclTokenRecord | undefined {
    return this.bySecret.get(secret);
  }

  token(accessorId: string): AclTokenRecord | undefined {
    return this.tokens.get(accessorId);
  }

  tokenList(): AclTokenRecord[] {
    return [...this.tokens.values()].sort((a, b) => a.createIndex - b.createIndex);
  }

  policy(id: string): AclPolicyRecord | undefined {
    return this.policyMap.get(id);
  }

  policyByName(name: string): AclPolicyRecord | undefined {
    for (const p of this.policyMap.values()) if (p.name === name) return p;
    return undefined;
  }

  policyList(): AclPolicyRecord[] {
    return [...this.policyMap.values()].sort((a, b) => a.createIndex - b.createIndex);
  }

  role(id: string): AclRoleRecord | undefined {
    return this.roleMap.get(id);
  }

  roleByName(name: string): AclRoleRecord | undefined {
    for (const r of this.roleMap.values()) if (r.name === name) return r;
    return undefined;
  }

  roleList(): AclRoleRecord[] {
    return [...this.roleMap.values()].sort((a, b) => a.createIndex - b.createIndex);
  }

  /** Called after every reload (start-up, a batch with ACL changes, a restore). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
}
