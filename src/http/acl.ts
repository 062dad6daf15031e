// Consul's ACL API: /v1/acl/bootstrap, tokens (/v1/acl/token[s]) and policies
// (/v1/acl/polic(y|ies)), in Consul's JSON shapes. Writes go through Raft (acl commands).

import { createHash, randomUUID } from 'node:crypto';
import { parseRules } from '../acl/rules.js';
import {
  ANONYMOUS_TOKEN_ID, ANONYMOUS_TOKEN_SECRET, GLOBAL_MANAGEMENT_POLICY_ID, tokenExpired, type AclPolicyRecord, type AclRoleRecord, type AclTokenRecord,
} from '../state/acl.js';
import { parseDuration } from '../duration.js';
import { ACL_PUBLIC, aclNeed, aclNotFound, requestToken } from './acl-check.js';
import { readBody, readJsonObject } from './body.js';
import { HttpError, badRequest, notFound } from './errors.js';
import { sendJson } from './respond.js';
import type { RequestContext, RouteSpec } from './types.js';

const MANAGEMENT_POLICY: AclPolicyRecord = {
  id: GLOBAL_MANAGEMENT_POLICY_ID, name: 'global-management', description: 'Builtin Policy that grants unlimited access',
  rules: '', datacenters: [], createIndex: 1, modifyIndex: 1,
};

const ANONYMOUS_TOKEN: AclTokenRecord = {
  accessorId: ANONYMOUS_TOKEN_ID, secretId: ANONYMOUS_TOKEN_SECRET, description: 'Anonymous Token', policies: [], local: false,
  createTime: '1970-01-01T00:00:00Z', createIndex: 1, modifyIndex: 1,
};

function enabled(ctx: RequestContext): void {
  // Consul answers 401 here (and 403 "ACL not found" for an unknown token once ACLs are on).
  if (!ctx.acl.enabled) throw new HttpError('KONSUL_ERR_ACL_DISABLED', 'ACL support disabled', 'unauthorized');
}

function policy(ctx: RequestContext, id: string): AclPolicyRecord | undefined {
  return id === GLOBAL_MANAGEMENT_POLICY_ID ? MANAGEMENT_POLICY : ctx.agent.state.acl.policy(id);
}

function token(ctx: RequestContext, accessorId: string): AclTokenRecord | undefined {
  return ctx.agent.state.acl.token(accessorId) ?? (accessorId === ANONYMOUS_TOKEN_ID ? ANONYMOUS_TOKEN : undefined);
}

function hash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64');
}

/** A token's roles as Consul lists them (a deleted role drops out; no roles: no field). */
function roleLinksJson(ctx: RequestContext, ids: readonly string[]): { Roles?: Array<{ ID: string; Name: string }> } {
  const roles = ids.flatMap((id) => {
    const r = ctx.agent.state.acl.role(id);
    return r ? [{ ID: id, Name: r.name }] : [];
  });
  return roles.length === 0 ? {} : { Roles: roles };
}

/** Consul's token shape; the secret only for callers with acl:write. */
function tokenJson(ctx: RequestContext, t: AclTokenRecord, showSecret: boolean): Record<string, unknown> {
  return {
    AccessorID: t.accessorId,
    SecretID: showSecret ? t.secretId : '<hidden>',
    Description: t.description,
    Policies: t.policies.map((id) => ({ ID: id, Name: policy(ctx, id)?.name ?? '' })),
    ...roleLinksJson(ctx, t.roles ?? []),
    Local: t.local,
    CreateTime: t.createTime,
    ...(t.expirationTime === undefined ? {} : { ExpirationTime: t.expirationTime }),
    Hash: hash([t.description, t.policies, t.roles ?? [], t.local, t.expirationTime ?? '']),
    CreateIndex: t.createIndex,
    ModifyIndex: t.modifyIndex,
  };
}

function policyJson(p: AclPolicyRecord, withRules = true): Record<string, unknown> {
  return {
    ID: p.id, Name: p.name, Description: p.description, ...(withRules ? { Rules: p.rules } : {}),
    Datacenters: p.datacenters.length > 0 ? p.datacenters : null, Hash: hash([p.name, p.description, p.rules, p.datacenters]),
    CreateIndex: p.createIndex, ModifyIndex: p.modifyIndex,
  };
}

function canWrite(ctx: RequestContext): boolean {
  return ctx.authz.allowed('acl', '', 'write');
}

function optionalString(body: Record<string, unknown>, field: string, max = 4096): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw badRequest(`${field} must be a string of at most ${max} characters`);
  return v;
}

/** Policy links: [{ "ID": ... } | { "Name": ... }] to ids of existing policies. */
function policyLinks(ctx: RequestContext, body: Record<string, unknown>): string[] {
  const links = body.Policies;
  if (links === undefined || links === null) return [];
  if (!Array.isArray(links) || links.length > 64) throw badRequest('Policies must be a list of up to 64 {"ID": ...} or {"Name": ...}');
  const ids: string[] = [];
  for (const link of links as unknown[]) {
    if (typeof link !== 'object' || link === null) throw badRequest('each of Policies must be {"ID": ...} or {"Name": ...}');
    const { ID, Name } = link as Record<string, unknown>;
    let found: AclPolicyRecord | undefined;
    if (typeof ID === 'string' && ID !== '') found = policy(ctx, ID);
    else if (typeof Name === 'string' && Name !== '') found = Name === MANAGEMENT_POLICY.name ? MANAGEMENT_POLICY : ctx.agent.state.acl.policyByName(Name);
    else throw badRequest('each of Policies must be {"ID": ...} or {"Name": ...}');
    if (!found) throw badRequest(`cannot find policy ${JSON.stringify(ID ?? Name)}`);
    if (!ids.includes(found.id)) ids.push(found.id);
  }
  return ids;
}

/** Consul's bounds on ExpirationTTL (acl.token_min_expiration_ttl, token_max_expiration_ttl defaults). */
const MIN_EXPIRATION_TTL_MS = 60_000;
const MAX_EXPIRATION_TTL_MS = 24 * 3600_000;

/** sec: a new token's expiry from ExpirationTTL ("1h") or ExpirationTime (RFC 3339, in the future), as ISO; or undefined. */
function tokenExpiration(body: Record<string, unknown>, now: number): string | undefined {
  const ttl = body.ExpirationTTL;
  const time = body.ExpirationTime;
  const hasTtl = ttl !== undefined && ttl !== null && ttl !== '' && ttl !== 0;
  const hasTime = time !== undefined && time !== null && time !== '';
  if (hasTtl && hasTime) throw badRequest('Expiration TTL and Expiration Time cannot both be set');
  if (hasTtl) {
    const ms = typeof ttl === 'string' ? parseDuration(ttl) : undefined;
    if (ms === undefined) throw badRequest(`ExpirationTTL ${JSON.stringify(ttl)} is not a duration (example: "1h")`);
    if (ms < MIN_EXPIRATION_TTL_MS || ms > MAX_EXPIRATION_TTL_MS) throw badRequest(`Token Expiration TTL '${String(ttl)}' should be between 1m0s and 24h0m0s`);
    return new Date(now + ms).toISOString();
  }
  if (hasTime) {
    const at = typeof time === 'string' ? Date.parse(time) : NaN;
    if (!Number.isFinite(at)) throw badRequest(`ExpirationTime ${JSON.stringify(time)} is not a time (RFC 3339)`);
    if (at <= now) throw badRequest('ExpirationTime cannot be in the past');
    if (at > now + MAX_EXPIRATION_TTL_MS) throw badRequest('ExpirationTime cannot be more than 24h0m0s in the future');
    return new Date(at).toISOString();
  }
  return undefined;
}

/** sec: role links, [{ "ID": ... } | { "Name": ... }], to ids of existing roles. */
function roleLinks(ctx: RequestContext, body: Record<string, unknown>): string[] {
  const links = body.Roles;
  if (links === undefined || links === null) return [];
  if (!Array.isArray(links) || links.length > 64) throw badRequest('Roles must be a list of up to 64 {"ID": ...} or {"Name": ...}');
  const ids: string[] = [];
  for (const link of links as unknown[]) {
    if (typeof link !== 'object' || link === null) throw badRequest('each of Roles must be {"ID": ...} or {"Name": ...}');
    const { ID, Name } = link as Record<string, unknown>;
    let found: AclRoleRecord | undefined;
    if (typeof ID === 'string' && ID !== '') found = ctx.agent.state.acl.role(ID);
    else if (typeof Name === 'string' && Name !== '') found = ctx.agent.state.acl.roleByName(Name);
    else throw badRequest('each of Roles must be {"ID": ...} or {"Name": ...}');
    if (!found) throw badRequest(`cannot find role ${JSON.stringify(ID ?? Name)}`);
    if (!ids.includes(found.id)) ids.push(found.id);
  }
  return ids;
}

// ------------------------------------------------------------ bootstrap

async function bootstrap(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  const acl = ctx.agent.state.acl;
  const refused = (): HttpError => new HttpError(
    'KONSUL_ERR_PERMISSION_DENIED', `Permission denied: ACL bootstrap no longer allowed (reset index: ${acl.bootstrapIndex})`, 'forbidden',
  );
  if (acl.bootstrapIndex > 0) throw refused();
  // Consul takes an empty body, or {"BootstrapSecret": ...} to choose the secret.
  const raw = await readBody(ctx.req, ctx.res, { maxBytes: ctx.limits.maxBodyBytes, tooLarge: (max) => `request body too large: at most ${max} bytes` });
  let body: Record<string, unknown> = {};
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw badRequest('malformed JSON body');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the JSON body must be an object');
  }
  const secret = optionalString(body, 'BootstrapSecret', 128) || randomUUID();
  const t = {
    accessorId: randomUUID(), secretId: secret, description: 'Bootstrap Token (Global Management)',
    policies: [GLOBAL_MANAGEMENT_POLICY_ID], local: false, createTime: new Date().toISOString(),
  };
  if (!(await ctx.agent.aclApply({ op: 'bootstrap', token: t }))) throw refused();
  sendJson(ctx.res, 200, tokenJson(ctx, token(ctx, t.accessorId)!, true));
}

// ------------------------------------------------------------ tokens

async function tokenCreate(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const accessorId = optionalString(body, 'AccessorID', 128) || randomUUID();
  const secretId = optionalString(body, 'SecretID', 128) || randomUUID();
  if (secretId === ANONYMOUS_TOKEN_SECRET) throw badRequest('SecretID "anonymous" is reserved');
  const now = Date.now();
  const expirationTime = tokenExpiration(body, now);
  const t = {
    accessorId, secretId, description: optionalString(body, 'Description') ?? '', policies: policyLinks(ctx, body),
    ...(body.Roles === undefined || body.Roles === null ? {} : { roles: roleLinks(ctx, body) }),
    local: body.Local === true, createTime: new Date(now).toISOString(), ...(expirationTime === undefined ? {} : { expirationTime }),
  };
  if (!(await ctx.agent.aclApply({ op: 'token-set', token: t, create: true }))) {
    throw badRequest('a token with this AccessorID or SecretID already exists');
  }
  sendJson(ctx.res, 200, tokenJson(ctx, token(ctx, accessorId)!, true));
}

async function tokenUpdate(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  const existing = token(ctx, ctx.params.id);
  if (!existing) throw notFound(`Cannot find token to update: ${ctx.params.id}`);
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const secret = optionalString(body, 'SecretID', 128);
  if (secret && secret !== existing.secretId) throw badRequest('Changing a token\'s SecretID is not permitted');
  const t = {
    accessorId: existing.accessorId, secretId: existing.secretId,
    description: optionalString(body, 'Description') ?? existing.description,
    policies: body.Policies === undefined ? existing.policies : policyLinks(ctx, body),
    ...(body.Roles === undefined ? (existing.roles === undefined ? {} : { roles: existing.roles }) : { roles: roleLinks(ctx, body) }),
    local: existing.local, createTime: existing.createTime,
    ...(existing.expirationTime === undefined ? {} : { expirationTime: existing.expirationTime }),
  };
  if (body.ExpirationTime !== undefined || body.ExpirationTTL !== undefined) {
    const given = body.ExpirationTime ?? body.ExpirationTTL;
    if (given !== null && given !== '' && given !== (existing.expirationTime ?? '')) throw badRequest('Cannot change expiration time');
  }
  if (!(await ctx.agent.aclApply({ op: 'token-set', token: t, create: false }))) throw notFound(`Cannot find token to update: ${ctx.params.id}`);
  sendJson(ctx.res, 200, tokenJson(ctx, token(ctx, existing.accessorId)!, canWrite(ctx)));
}

function tokenRead(ctx: RequestContext): void {
  enabled(ctx);
  const t = token(ctx, ctx.params.id);
  // Consul answers an unknown accessor with its "ACL not found" (403), as for an unknown secret.
  if (!t) throw aclNotFound();
  sendJson(ctx.res, 200, tokenJson(ctx, t, canWrite(ctx)));
}

function tokenSelf(ctx: RequestContext): void {
  enabled(ctx);
  const secret = requestToken(ctx.req, ctx.query);
  const t = secret === undefined || secret === '' || secret === ANONYMOUS_TOKEN_SECRET
    ? token(ctx, ANONYMOUS_TOKEN_ID) : ctx.agent.state.acl.tokenBySecret(secret);
  if (!t || tokenExpired(t, Date.now())) throw aclNotFound();
  sendJson(ctx.res, 200, tokenJson(ctx, t, true));
}

async function tokenDelete(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  if (ctx.params.id === ANONYMOUS_TOKEN_ID) throw badRequest('Delete operation not permitted on the anonymous token');
  sendJson(ctx.res, 200, await ctx.agent.aclApply({ op: 'token-delete', accessorId: ctx.params.id }));
}

function tokenList(ctx: RequestContext): void {
  enabled(ctx);
  const show = canWrite(ctx);
  const tokens = ctx.agent.state.acl.tokenList();
  if (!tokens.some((t) => t.accessorId === ANONYMOUS_TOKEN_ID)) tokens.push(ANONYMOUS_TOKEN);
  // Consul's filters: tokens linked to a policy (?policy=ID) or to a role (?role=ID).
  const byPolicy = ctx.query.get('policy');
  const byRole = ctx.query.get('role');
  const shown = tokens.filter((t) => (byPolicy === null || byPolicy === '' || t.policies.includes(byPolicy))
    && (byRole === null || byRole === '' || (t.roles ?? []).includes(byRole)));
  sendJson(ctx.res, 200, shown.map((t) => tokenJson(ctx, t, show)));
}

// ------------------------------------------------------------ policies

function policyFields(body: Record<string, unknown>, existing?: AclPolicyRecord): Omit<AclPolicyRecord, 'id' | 'createIndex' | 'modifyIndex'> {
  const name = optionalString(body, 'Name', 128) ?? existing?.name;
  if (!name || !/^[A-Za-z0-9_-]{1,128}$/.test(name)) throw badRequest('Name must be 1 to 128 letters, digits, "-" or "_"');
  const rules = optionalString(body, 'Rules', 64 * 1024) ?? existing?.rules ?? '';
  parseRules(rules);
  const dcs = body.Datacenters;
  if (dcs !== undefined && dcs !== null && (!Array.isArray(dcs) || dcs.length > 64 || !dcs.every((d) => typeof d === 'string' && d.length <= 128))) {
    throw badRequest('Datacenters must be a list of names');
  }
  return {
    name, rules, description: optionalString(body, 'Description') ?? existing?.description ?? '',
    datacenters: (dcs as string[] | undefined | null) ?? existing?.datacenters ?? [],
  };
}

async function policyCreate(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const fields = policyFields(body);
  if (fields.name === MANAGEMENT_POLICY.name || ctx.agent.state.acl.policyByName(fields.name)) {
    throw badRequest(`Invalid Policy: A Policy with Name "${fields.name}" already exists`);
  }
  const id = randomUUID();
  if (!(await ctx.agent.aclApply({ op: 'policy-set', policy: { id, ...fields }, create: true }))) {
    throw badRequest(`Invalid Policy: A Policy with Name "${fields.name}" already exists`);
  }
  sendJson(ctx.res, 200, policyJson(policy(ctx, id)!));
}

async function policyUpdate(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  if (ctx.params.id === GLOBAL_MANAGEMENT_POLICY_ID) throw badRequest('Changing the global-management policy is not permitted');
  const existing = policy(ctx, ctx.params.id);
  if (!existing) throw notFound(`Cannot find policy ${ctx.params.id}`);
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const fields = policyFields(body, existing);
  const other = ctx.agent.state.acl.policyByName(fields.name);
  if (fields.name === MANAGEMENT_POLICY.name || (other && other.id !== existing.id)) {
    throw badRequest(`Invalid Policy: A Policy with Name "${fields.name}" already exists`);
  }
  if (!(await ctx.agent.aclApply({ op: 'policy-set', policy: { id: existing.id, ...fields }, create: false }))) {
    throw notFound(`Cannot find policy ${ctx.params.id}`);
  }
  sendJson(ctx.res, 200, policyJson(policy(ctx, existing.id)!));
}

function policyRead(ctx: RequestContext): void {
  enabled(ctx);
  const p = policy(ctx, ctx.params.id);
  if (!p) throw aclNotFound();
  sendJson(ctx.res, 200, policyJson(p));
}

function policyReadByName(ctx: RequestContext): void {
  enabled(ctx);
  const p = ctx.params.name === MANAGEMENT_POLICY.name ? MANAGEMENT_POLICY : ctx.agent.state.acl.policyByName(ctx.params.name);
  if (!p) throw aclNotFound();
  sendJson(ctx.res, 200, policyJson(p));
}

async function policyDelete(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  if (ctx.params.id === GLOBAL_MANAGEMENT_POLICY_ID) throw badRequest('Delete operation not permitted on the global-management policy');
  sendJson(ctx.res, 200, await ctx.agent.aclApply({ op: 'policy-delete', id: ctx.params.id }));
}

function policyList(ctx: RequestContext): void {
  enabled(ctx);
  sendJson(ctx.res, 200, [MANAGEMENT_POLICY, ...ctx.agent.state.acl.policyList()].map((p) => policyJson(p, false)));
}

// ------------------------------------------------------------ roles (sec)

function roleJson(ctx: RequestContext, r: AclRoleRecord): Record<string, unknown> {
  return {
    ID: r.id, Name: r.name, Description: r.description,
    Policies: r.policies.map((id) => ({ ID: id, Name: policy(ctx, id)?.name ?? '' })),
    Hash: hash([r.name, r.description, r.policies]), CreateIndex: r.createIndex, ModifyIndex: r.modifyIndex,
  };
}

function roleFields(ctx: RequestContext, body: Record<string, unknown>, existing?: AclRoleRecord): Omit<AclRoleRecord, 'id' | 'createIndex' | 'modifyIndex'> {
  const name = optionalString(body, 'Name', 256) ?? existing?.name;
  if (!name || !/^[A-Za-z0-9_-]{1,256}$/.test(name)) throw badRequest('Name must be 1 to 256 letters, digits, "-" or "_"');
  for (const field of ['ServiceIdentities', 'NodeIdentities', 'TemplatedPolicies']) {
    const v = body[field];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) throw badRequest(`${field} are not supported by konsul: link policies`);
  }
  return {
    name, description: optionalString(body, 'Description') ?? existing?.description ?? '',
    policies: body.Policies === undefined ? existing?.policies ?? [] : policyLinks(ctx, body),
  };
}

async function roleCreate(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const fields = roleFields(ctx, body);
  const id = randomUUID();
  if (ctx.agent.state.acl.roleByName(fields.name) || !(await ctx.agent.aclApply({ op: 'role-set', role: { id, ...fields }, create: true }))) {
    throw badRequest(`Invalid Role: A Role with Name "${fields.name}" already exists`);
  }
  sendJson(ctx.res, 200, roleJson(ctx, ctx.agent.state.acl.role(id)!));
}

async function roleUpdate(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  const existing = ctx.agent.state.acl.role(ctx.params.id);
  if (!existing) throw notFound(`Cannot find role ${ctx.params.id}`);
  const body = await readJsonObject(ctx.req, ctx.res, ctx.limits.maxBodyBytes);
  const fields = roleFields(ctx, body, existing);
  const other = ctx.agent.state.acl.roleByName(fields.name);
  if (other && other.id !== existing.id) throw badRequest(`Invalid Role: A Role with Name "${fields.name}" already exists`);
  if (!(await ctx.agent.aclApply({ op: 'role-set', role: { id: existing.id, ...fields }, create: false }))) throw notFound(`Cannot find role ${ctx.params.id}`);
  sendJson(ctx.res, 200, roleJson(ctx, ctx.agent.state.acl.role(existing.id)!));
}

function roleRead(ctx: RequestContext): void {
  enabled(ctx);
  const r = ctx.agent.state.acl.role(ctx.params.id);
  if (!r) throw aclNotFound();
  sendJson(ctx.res, 200, roleJson(ctx, r));
}

function roleReadByName(ctx: RequestContext): void {
  enabled(ctx);
  const r = ctx.agent.state.acl.roleByName(ctx.params.name);
  if (!r) throw aclNotFound();
  sendJson(ctx.res, 200, roleJson(ctx, r));
}

async function roleDelete(ctx: RequestContext): Promise<void> {
  enabled(ctx);
  sendJson(ctx.res, 200, await ctx.agent.aclApply({ op: 'role-delete', id: ctx.params.id }));
}

function roleList(ctx: RequestContext): void {
  enabled(ctx);
  const byPolicy = ctx.query.get('policy');
  const roles = ctx.agent.state.acl.roleList().filter((r) => byPolicy === null || byPolicy === '' || r.policies.includes(byPolicy));
  sendJson(ctx.res, 200, roles.map((r) => roleJson(ctx, r)));
}

const aclRead = aclNeed('acl', 'read');
const aclWrite = aclNeed('acl', 'write');

export const aclRoutes: readonly RouteSpec[] = [
  { method: 'PUT', path: '/v1/acl/bootstrap', handler: bootstrap, acl: ACL_PUBLIC, params: [], consulParams: [] },
  { method: 'GET', path: '/v1/acl/token/self', handler: tokenSelf, acl: ACL_PUBLIC, params: [], consulParams: ['ns'] },
  { method: 'PUT', path: '/v1/acl/token', handler: tokenCreate, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'GET', path: '/v1/acl/token/:id', handler: tokenRead, acl: aclRead, params: [], consulParams: ['ns', 'expanded'] },
  { method: 'PUT', path: '/v1/acl/token/:id', handler: tokenUpdate, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'DELETE', path: '/v1/acl/token/:id', handler: tokenDelete, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'GET', path: '/v1/acl/tokens', handler: tokenList, acl: aclRead, params: ['policy', 'role'], consulParams: ['policy', 'role', 'authmethod', 'authmethod-ns', 'ns'] },
  { method: 'PUT', path: '/v1/acl/policy', handler: policyCreate, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'GET', path: '/v1/acl/policy/name/:name', handler: policyReadByName, acl: aclRead, params: [], consulParams: ['ns'] },
  { method: 'GET', path: '/v1/acl/policy/:id', handler: policyRead, acl: aclRead, params: [], consulParams: ['ns'] },
  { method: 'PUT', path: '/v1/acl/policy/:id', handler: policyUpdate, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'DELETE', path: '/v1/acl/policy/:id', handler: policyDelete, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'GET', path: '/v1/acl/policies', handler: policyList, acl: aclRead, params: [], consulParams: ['ns'] },
  // sec: roles
  { method: 'PUT', path: '/v1/acl/role', handler: roleCreate, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'GET', path: '/v1/acl/role/name/:name', handler: roleReadByName, acl: aclRead, params: [], consulParams: ['ns'] },
  { method: 'GET', path: '/v1/acl/role/:id', handler: roleRead, acl: aclRead, params: [], consulParams: ['ns'] },
  { method: 'PUT', path: '/v1/acl/role/:id', handler: roleUpdate, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'DELETE', path: '/v1/acl/role/:id', handler: roleDelete, acl: aclWrite, params: [], consulParams: ['ns'] },
  { method: 'GET', path: '/v1/acl/roles', handler: roleList, acl: aclRead, params: ['policy'], consulParams: ['policy', 'ns'] },
];
