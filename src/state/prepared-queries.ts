// Consul's prepared queries as replicated state: the `prepared-queries` table
// (one JSON record per query, keyed by its ID), written by `prepared-query`
// commands in the apply's transaction, a copy in memory for reads, name and
// template resolution, and template rendering (type name_prefix_match).
//
// Execution (which instances a query answers with) is in query-exec.ts.

import { compileRe2 } from '../re2.js';
import { parseDuration } from '../duration.js';
import type { StateReader, StateWriter } from '../storage/index.js';
import { SESSIONS_TABLE, isSessionId } from './sessions.js';

export const PREPARED_QUERIES_TABLE = 'prepared-queries';
/** In the state machine's meta table: the index of the last change to any prepared query (u64 as f64). */
export const QUERY_INDEX_KEY = 'preparedQueryIndex';

/** The only template type Consul has. */
export const TEMPLATE_TYPE = 'name_prefix_match';
/** What a token reads as to anyone without the right to see it (Consul's word). */
export const REDACTED_TOKEN = '<hidden>';

export interface QueryTemplate {
  /** '' (not a template) or 'name_prefix_match'. */
  type: string;
  regexp: string;
  removeEmptyTags: boolean;
}

export interface ServiceQuery {
  service: string;
  /** Kept and returned; execution never leaves konsul's one datacenter. */
  failover: { nearestN: number; datacenters: string[] };
  onlyPassing: boolean;
  ignoreCheckIds: string[];
  near: string;
  tags: string[];
  nodeMeta: Record<string, string>;
  serviceMeta: Record<string, string>;
}

/** A query as a request defines it (the ID is chosen by the agent that took a create). */
export interface PreparedQueryInput {
  id: string;
  name: string;
  session: string;
  token: string;
  template: QueryTemplate;
  service: ServiceQuery;
  dns: { ttl: string };
}

export interface PreparedQuery extends PreparedQueryInput {
  createIndex: number;
  modifyIndex: number;
}

export type PreparedQueryOp =
  | { op: 'set'; query: PreparedQueryInput; create: boolean }
  | { op: 'delete'; id: string };

const MAX_TEXT = 4096;
const MAX_LIST = 256;
/** Variables a template may interpolate (`${agent.segment}` is Consul Enterprise's and renders empty). */
const VARIABLE = /\$\{([^}]*)\}/g;
const KNOWN_VARIABLE = /^(name\.full|name\.prefix|name\.suffix|agent\.segment|match\((\d+)\))$/;

const text = (v: unknown, max = MAX_TEXT): v is string => typeof v === 'string' && v.length <= max;
const textList = (v: unknown): v is string[] => Array.isArray(v) && v.length <= MAX_LIST && v.every((x) => text(x));
const textMap = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length <= MAX_LIST
  && Object.entries(v).every(([k, x]) => text(k, 512) && text(x));

/** Every string field of a ServiceQuery, for checking and rendering templates. */
function serviceStrings(s: ServiceQuery): string[] {
  return [s.service, s.near, ...s.tags, ...s.ignoreCheckIds, ...s.failover.datacenters, ...Object.values(s.nodeMeta), ...Object.values(s.serviceMeta)];
}

/**
 * Why a query cannot be stored, or undefined: the shape (checked on encode
 * and on every replica's decode) and Consul's rules for a create or update
 * (a service to query, NearestN >= 0, a DNS TTL that parses, a session or a
 * name for a query that is not a template, a template that compiles).
 */
export function preparedQueryProblem(q: unknown): string | undefined {
  if (typeof q !== 'object' || q === null) return 'the query must be an object';
  const p = q as Partial<PreparedQueryInput>;
  if (!isSessionId(p.id)) return 'the ID must be a UUID';
  if (!text(p.name, 512) || !text(p.session, 64) || !text(p.token, 256)) return 'Name, Session and Token must be strings';
  const t = p.template as Partial<QueryTemplate> | undefined;
  if (typeof t !== 'object' || t === null || !text(t.type, 64) || !text(t.regexp) || typeof t.removeEmptyTags !== 'boolean') return 'Template is malformed';
  const s = p.service as Partial<ServiceQuery> | undefined;
  if (typeof s !== 'object' || s === null) return 'Service must be an object';
  if (!text(s.service, 512) || !text(s.near, 512) || typeof s.onlyPassing !== 'boolean' || !textList(s.tags) || !textList(s.ignoreCheckIds)
    || !textMap(s.nodeMeta) || !textMap(s.serviceMeta)) return 'Service is malformed';
  const f = s.failover as Partial<ServiceQuery['failover']> | undefined;
  if (typeof f !== 'object' || f === null || typeof f.nearestN !== 'number' || !Number.isSafeInteger(f.nearestN) || !textList(f.datacenters)) return 'Service.Failover is malformed';
  if (typeof p.dns !== 'object' || p.dns === null || !text(p.dns.ttl, 64)) return 'DNS is malformed';
  // Consul's parseQuery, in its order and words.
  if (p.name === '' && t.type === '' && p.session === '') return 'Must be bound to a session';
  if (p.token === REDACTED_TOKEN) return `Bad Token '${REDACTED_TOKEN}', it looks like a query definition with a redacted token was submitted`;
  if (s.service === '') return 'Must provide a Service name to query';
  if (f.nearestN < 0) return `Bad NearestN '${f.nearestN}', must be >= 0`;
  if (p.session !== '' && !isSessionId(p.session)) return `invalid session "${p.session}"`;
  if (p.dns.ttl !== '') {
    const ttl = parseDuration(p.dns.ttl);
    if (ttl === undefined) return `Bad DNS TTL '${p.dns.ttl}': time: invalid duration "${p.dns.ttl}"`;
    if (ttl < 0) return `DNS TTL '${p.dns.ttl}', must be >=0`;
  }
  if (t.type !== '' && t.type !== TEMPLATE_TYPE) return `Bad Template.Type '${t.type}'`;
  if (t.type === '' && t.regexp !== '') return 'Template.Regexp is set but Template.Type is not name_prefix_match';
  if (t.regexp !== '') {
    try {
      compileRe2(t.regexp);
    } catch (error) {
      return `Failed compiling template: Bad Regexp: ${(error as Error).message}`;
    }
  }
  for (const str of serviceStrings(s as ServiceQuery)) {
    for (const m of str.matchAll(VARIABLE)) {
      if (t.type === '') continue; // only templates interpolate; a static query keeps the text as it is
      if (!KNOWN_VARIABLE.test(m[1]!.trim())) return `Failed compiling template: unknown variable "${m[1]}"`;
    }
  }
  return undefined;
}

export function isTemplate(q: PreparedQueryInput): boolean {
  return q.template.type === TEMPLATE_TYPE;
}

function encodeQuery(q: PreparedQuery): Buffer {
  return Buffer.from(JSON.stringify(q), 'utf8');
}

/** A stored record, or undefined when it does not parse as one (a restore checks with this first). */
export function decodeQuery(b: Uint8Array): PreparedQuery | undefined {
  let q: PreparedQuery;
  try {
    q = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as PreparedQuery;
  } catch {
    return undefined;
  }
  if (preparedQueryProblem(q) !== undefined) return undefined;
  if (!Number.isSafeInteger(q.createIndex) || !Number.isSafeInteger(q.modifyIndex)) return undefined;
  return q;
}

/**
 * Prepared queries in memory (a copy of the table, reloaded after each batch
 * that changed it: queries are few), with the apply side that writes the table.
 */
export class PreparedQueries {
  private byId = new Map<string, PreparedQuery>();
  private indexValue = 0;
  /** Changes in the batch being applied: reload after it commits. */
  private changedInBatch = 0;
  private pendingOutcomes: Array<[number, string]> = [];
  private readonly outcomes = new Map<number, string>();

  constructor(private readonly metaTable: string) {}

  load(txn: StateReader): void {
    const next = new Map<string, PreparedQuery>();
    for (const rec of txn.scan(PREPARED_QUERIES_TABLE)) {
      const q = decodeQuery(rec.value);
      if (q) next.set(q.id, q);
    }
    this.byId = next;
    const b = txn.get(this.metaTable, QUERY_INDEX_KEY);
    this.indexValue = b && b.length === 8 ? b.readDoubleBE(0) : 0;
  }

  beginBatch(): void {
    this.changedInBatch = 0;
    this.pendingOutcomes = [];
  }

  // ------------------------------------------------------------ apply (inside the transaction)

  /** false (with the reason kept as the entry's outcome) when Consul's state store would refuse it. */
  apply(txn: StateWriter, index: number, op: PreparedQueryOp): boolean {
    if (op.op === 'delete') {
      if (!txn.get(PREPARED_QUERIES_TABLE, op.id)) return true;
      txn.delete(PREPARED_QUERIES_TABLE, op.id);
      this.bump(txn, index);
      return true;
    }
    const q = op.query;
    const existingBytes = txn.get(PREPARED_QUERIES_TABLE, q.id);
    const existing = existingBytes ? decodeQuery(existingBytes) : undefined;
    const problem = op.create && existing ? `ID '${q.id}' is taken`
      : !op.create && !existing ? `Cannot modify non-existent prepared query: '${q.id}'`
        : this.conflict(txn, q);
    if (problem) {
      this.pendingOutcomes.push([index, problem]);
      return false;
    }
    const record: PreparedQuery = { ...q, createIndex: existing?.createIndex ?? index, modifyIndex: index };
    txn.put(PREPARED_QUERIES_TABLE, q.id, encodeQuery(record));
    this.bump(txn, index);
    return true;
  }

  /** Consul's state store checks: a unique name, one empty-name template, no name that is another's ID, a live session. */
  private conflict(txn: StateWriter, q: PreparedQueryInput): string | undefined {
    const name = q.name.toLowerCase();
    for (const rec of txn.scan(PREPARED_QUERIES_TABLE)) {
      const other = decodeQuery(rec.value);
      if (!other || other.id === q.id) continue;
      if (name !== '' && other.name.toLowerCase() === name) return `name '${q.name}' aliases an existing query name`;
      if (name === '' && isTemplate(q) && other.name === '' && isTemplate(other)) return 'a query template with an empty name already exists';
      if (name !== '' && other.id === name) return `name '${q.name}' aliases an existing query ID`;
    }
    if (q.session !== '' && !txn.get(SESSIONS_TABLE, q.session)) return `invalid session "${q.session}"`;
    return undefined;
  }

  /**
   * After sessions may have been destroyed in this transaction: delete the
   * queries bound to a session that is gone (Consul deletes them with it).
   */
  dropOrphans(txn: StateWriter, index: number): void {
    if (!this.anySessionBound && this.changedInBatch === 0) return;
    const gone: Buffer[] = [];
    for (const rec of txn.scan(PREPARED_QUERIES_TABLE)) {
      const q = decodeQuery(rec.value);
      if (q && q.session !== '' && !txn.get(SESSIONS_TABLE, q.session)) gone.push(Buffer.from(rec.key));
    }
    if (gone.length === 0) return;
    for (const key of gone) txn.delete(PREPARED_QUERIES_TABLE, key);
    this.bump(txn, index);
  }

  private get anySessionBound(): boolean {
    for (const q of this.byId.values()) if (q.session !== '') return true;
    return false;
  }

  private bump(txn: StateWriter, index: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleBE(index);
    txn.put(this.metaTable, QUERY_INDEX_KEY, b);
    this.changedInBatch = index;
  }

  /** After the batch committed: reload what changed and keep the outcomes. */
  commit(reload: (fn: (txn: StateReader) => void) => void): void {
    for (const [index, why] of this.pendingOutcomes) this.outcomes.set(index, why);
    while (this.outcomes.size > 1024) this.outcomes.delete(this.outcomes.keys().next().value as number);
    this.pendingOutcomes = [];
    if (this.changedInBatch > 0) {
      reload((txn) => this.load(txn));
      this.changedInBatch = 0;
    }
  }

  /** After a snapshot restore or install. */
  reset(txn: StateReader): void {
    this.load(txn);
    this.pendingOutcomes = [];
    this.changedInBatch = 0;
  }

  // ------------------------------------------------------------ reads

  /** Why the write at `index` was refused, if it was. */
  outcome(index: number): string | undefined {
    return this.outcomes.get(index);
  }

  /** The index of the last change to any query; at least 1. */
  index(): number {
    return Math.max(1, this.indexValue);
  }

  /** Every query, by ID (Consul's order). */
  list(): PreparedQuery[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: string): PreparedQuery | undefined {
    return this.byId.get(id.toLowerCase());
  }

  /**
   * Consul's PreparedQueryResolve: an ID, else a query's exact name
   * (case-insensitive), else the template whose name is the longest prefix of
   * it, rendered for that name. Undefined when nothing answers to it.
   */
  resolve(idOrName: string): PreparedQuery | undefined {
    if (idOrName === '') return undefined;
    if (isSessionId(idOrName.toLowerCase())) {
      const byId = this.get(idOrName);
      if (byId) return byId;
    }
    const lower = idOrName.toLowerCase();
    let template: PreparedQuery | undefined;
    for (const q of this.byId.values()) {
      const name = q.name.toLowerCase();
      if (name === lower && !isTemplate(q)) return q;
      if (isTemplate(q) && lower.startsWith(name) && (template === undefined || name.length > template.name.length)) template = q;
    }
    // An exact name match of a template counts too (a static query of that name was looked for first).
    return template ? renderTemplate(template, idOrName) : undefined;
  }
}

/** Interpolates ${name.full}, ${name.prefix}, ${name.suffix}, ${match(N)} into every string of the template's Service. */
export function renderTemplate(q: PreparedQuery, name: string): PreparedQuery {
  const prefix = name.slice(0, q.name.length);
  const suffix = name.slice(q.name.length);
  let groups: string[] = [];
  if (q.template.regexp !== '') {
    const m = compileRe2(q.template.regexp).matcher(name);
    if (m.find()) for (let i = 0; i <= m.groupCount(); i++) groups.push(m.group(i) ?? '');
    else groups = [];
  }
  const render = (s: string): string => s.replace(VARIABLE, (_all, v: string) => {
    const key = v.trim();
    if (key === 'name.full') return name;
    if (key === 'name.prefix') return prefix;
    if (key === 'name.suffix') return suffix;
    const m = /^match\((\d+)\)$/.exec(key);
    if (m) return groups[Number(m[1])] ?? '';
    return '';
  });
  const renderMap = (m: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, render(v)]));
  const s = q.service;
  let tags = s.tags.map(render);
  if (q.template.removeEmptyTags) tags = tags.filter((t) => t !== '');
  return {
    ...q,
    service: {
      ...s, service: render(s.service), near: render(s.near), tags, ignoreCheckIds: s.ignoreCheckIds.map(render),
      failover: { ...s.failover, datacenters: s.failover.datacenters.map(render) },
      nodeMeta: renderMap(s.nodeMeta), serviceMeta: renderMap(s.serviceMeta),
    },
  };
}

/** What the DNS server and the HTTP layer read prepared queries through. */
export interface PreparedQueryReader {
  index(): number;
  resolve(idOrName: string): PreparedQuery | undefined;
}
