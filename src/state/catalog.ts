// The service catalog: nodes, their services and their checks, replicated
// through Raft. Records live in LMDB tables (so snapshots carry them) and in
// memory (so DNS and HTTP lookups cost a map lookup). Each agent writes its own
// node with one `sync` operation that carries the node's whole set of services
// and checks; the leader writes the node-level health check. Applying an
// operation that changes nothing writes nothing and moves no index.
//
// Indexes: every change raises the catalog index, the index of the node it
// touched and of every service name whose lookup result it changed (an
// instance added, removed or edited, or a check or node of it changed). They
// are stored in a table of their own, in the same transaction, so every
// replica reports the same indexes, across restarts and snapshots alike.

import type { StateReader, StateWriter } from '../storage/index.js';
import {
  NODE_HEALTH_CHECK_ID, NODE_HEALTH_CHECK_NAME, SERVICE_EXTRA_KEYS, worstStatus,
  type CatalogCheck, type CatalogNode, type CatalogReader, type CatalogService, type HealthStatus, type ServiceInstance,
} from './catalog-types.js';
import { TopicWatchers } from './watchers.js';

export const CATALOG_NODES_TABLE = 'catalog-nodes';
export const CATALOG_SERVICES_TABLE = 'catalog-services';
export const CATALOG_CHECKS_TABLE = 'catalog-checks';
export const CATALOG_INDEX_TABLE = 'catalog-indexes';
export const CATALOG_TABLES: readonly string[] = [CATALOG_NODES_TABLE, CATALOG_SERVICES_TABLE, CATALOG_CHECKS_TABLE, CATALOG_INDEX_TABLE];

export type NodeInput = Omit<CatalogNode, 'createIndex' | 'modifyIndex'>;
export type ServiceInput = Omit<CatalogService, 'node' | 'createIndex' | 'modifyIndex'>;
export type CheckInput = Omit<CatalogCheck, 'node' | 'serviceName' | 'serviceTags' | 'createIndex' | 'modifyIndex'>;

export type CatalogOp =
  /** The node's record and its complete set of services and checks (all but the leader's node check). */
  | { op: 'sync'; node: NodeInput; services: ServiceInput[]; checks: CheckInput[] }
  /** The node and everything on it leave the catalog. */
  | { op: 'deregister-node'; node: string }
  /** The leader's node-level check for `node` (ignored when the node is not in the catalog). */
  | { op: 'node-health'; node: string; status: HealthStatus; output: string }
  // api branch (issue 18): PUT /v1/catalog/register and /v1/catalog/deregister, merged into the node's entry on apply.
  /** Upsert the node (unless skipNodeUpdate and it exists), one service, and checks; the rest of the node stays. */
  | { op: 'register'; node: NodeInput; skipNodeUpdate: boolean; service?: ServiceInput; checks: CheckInput[] }
  /** Remove one service (and its checks) or one check from a node. */
  | { op: 'deregister'; node: string; serviceId?: string; checkId?: string }
  // scale: incremental changes, one service or check each; their cost does not grow with the node's other services.
  /** Adds or replaces one service with the checks given (and removes the checks named in deleteChecks); writes the node record if it changed. */
  | { op: 'service-put'; node: NodeInput; service: ServiceInput; checks: CheckInput[]; deleteChecks: string[] }
  /** Removes one service and the checks of it named (the agent knows them; anti-entropy removes any it missed). */
  | { op: 'service-delete'; node: string; serviceId: string; checkIds: string[] }
  /** Adds or replaces one check (its service, if any, must be registered). */
  | { op: 'check-put'; node: NodeInput; check: CheckInput }
  /** Removes one check. */
  | { op: 'check-delete'; node: string; checkId: string };

/** The incremental operations (encoded under their own command tag). */
export const CATALOG_DELTA_OPS: ReadonlySet<string> = new Set(['service-put', 'service-delete', 'check-put', 'check-delete']);

export const NODE_ALIVE_OUTPUT = 'Agent alive and reachable';
export const NODE_DEAD_OUTPUT = 'Agent not live or unreachable';

/** Limits on names and ids, so every table key fits LMDB's 511 bytes. */
export const MAX_NODE_NAME = 128;
export const MAX_ID_BYTES = 256;
const MAX_TEXT_BYTES = 64 * 1024;
const STATUSES: ReadonlySet<string> = new Set(['passing', 'warning', 'critical']);

// ------------------------------------------------------------ validation

/** Why an operation is not well formed, or undefined. Used on encode (the proposer) and decode (every replica). */
export function catalogOpProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  switch (value.op) {
    case 'sync': {
      const nodeProblem = nodeInputProblem(value.node);
      if (nodeProblem) return `node: ${nodeProblem}`;
      if (!Array.isArray(value.services) || !Array.isArray(value.checks)) return 'services and checks must be arrays';
      const serviceIds = new Set<string>();
      for (const s of value.services as unknown[]) {
        const p = serviceInputProblem(s);
        if (p) return `service: ${p}`;
        const id = (s as ServiceInput).id;
        if (serviceIds.has(id)) return `service id ${JSON.stringify(id)} repeats`;
        serviceIds.add(id);
      }
      const checkIds = new Set<string>();
      for (const c of value.checks as unknown[]) {
        const p = checkInputProblem(c);
        if (p) return `check: ${p}`;
        const check = c as CheckInput;
        if (check.checkId === NODE_HEALTH_CHECK_ID) return `check id ${NODE_HEALTH_CHECK_ID} is the leader's`;
        if (checkIds.has(check.checkId)) return `check id ${JSON.stringify(check.checkId)} repeats`;
        if (check.serviceId !== '' && !serviceIds.has(check.serviceId)) {
          return `check ${JSON.stringify(check.checkId)} is for service ${JSON.stringify(check.serviceId)}, which is not registered`;
        }
        checkIds.add(check.checkId);
      }
      return undefined;
    }
    case 'deregister-node':
      return nameProblem(value.node, 'node', MAX_NODE_NAME);
    case 'register': {
      const nodeProblem = nodeInputProblem(value.node);
      if (nodeProblem) return `node: ${nodeProblem}`;
      if (typeof value.skipNodeUpdate !== 'boolean') return 'skipNodeUpdate must be a boolean';
      if (value.service !== undefined) {
        const p = serviceInputProblem(value.service);
        if (p) return `service: ${p}`;
      }
      if (!Array.isArray(value.checks)) return 'checks must be an array';
      const ids = new Set<string>();
      for (const c of value.checks as unknown[]) {
        const p = checkInputProblem(c);
        if (p) return `check: ${p}`;
        const id = (c as CheckInput).checkId;
        if (id === NODE_HEALTH_CHECK_ID) return `check id ${NODE_HEALTH_CHECK_ID} is the leader's`;
        if (ids.has(id)) return `check id ${JSON.stringify(id)} repeats`;
        ids.add(id);
      }
      return undefined;
    }
    case 'deregister':
      return nameProblem(value.node, 'node', MAX_NODE_NAME)
        ?? (value.serviceId === undefined ? undefined : nameProblem(value.serviceId, 'serviceId', MAX_ID_BYTES))
        ?? (value.checkId === undefined ? undefined : nameProblem(value.checkId, 'checkId', MAX_ID_BYTES))
        ?? (value.serviceId !== undefined && value.checkId !== undefined ? 'serviceId and checkId cannot both be set' : undefined);
    case 'node-health':
      return nameProblem(value.node, 'node', MAX_NODE_NAME)
        ?? (STATUSES.has(value.status as string) ? undefined : 'status must be passing, warning or critical')
        ?? textProblem(value.output, 'output');
    // scale: incremental operations
    case 'service-put': {
      const p = nodeInputProblem(value.node);
      if (p) return `node: ${p}`;
      const sp = serviceInputProblem(value.service);
      if (sp) return `service: ${sp}`;
      if (!Array.isArray(value.checks) || !Array.isArray(value.deleteChecks)) return 'checks and deleteChecks must be arrays';
      const serviceId = (value.service as ServiceInput).id;
      const ids = new Set<string>();
      for (const c of value.checks as unknown[]) {
        const cp = checkInputProblem(c);
        if (cp) return `check: ${cp}`;
        const check = c as CheckInput;
        if (check.checkId === NODE_HEALTH_CHECK_ID) return `check id ${NODE_HEALTH_CHECK_ID} is the leader's`;
        if (check.serviceId !== serviceId) return `check ${JSON.stringify(check.checkId)} is not for service ${JSON.stringify(serviceId)}`;
        if (ids.has(check.checkId)) return `check id ${JSON.stringify(check.checkId)} repeats`;
        ids.add(check.checkId);
      }
      for (const id of value.deleteChecks as unknown[]) {
        const ip = nameProblem(id, 'deleteChecks item', MAX_ID_BYTES);
        if (ip) return ip;
        if (id === NODE_HEALTH_CHECK_ID) return `check id ${NODE_HEALTH_CHECK_ID} is the leader's`;
      }
      return undefined;
    }
    case 'service-delete':
      return nameProblem(value.node, 'node', MAX_NODE_NAME) ?? nameProblem(value.serviceId, 'serviceId', MAX_ID_BYTES)
        ?? (Array.isArray(value.checkIds) ? (value.checkIds as unknown[]).map((c) => nameProblem(c, 'checkIds item', MAX_ID_BYTES)).find((x) => x) : 'checkIds must be an array');
    case 'check-put': {
      const p = nodeInputProblem(value.node);
      if (p) return `node: ${p}`;
      const cp = checkInputProblem(value.check);
      if (cp) return `check: ${cp}`;
      return (value.check as CheckInput).checkId === NODE_HEALTH_CHECK_ID ? `check id ${NODE_HEALTH_CHECK_ID} is the leader's` : undefined;
    }
    case 'check-delete':
      return nameProblem(value.node, 'node', MAX_NODE_NAME) ?? nameProblem(value.checkId, 'checkId', MAX_ID_BYTES)
        ?? (value.checkId === NODE_HEALTH_CHECK_ID ? `check id ${NODE_HEALTH_CHECK_ID} is the leader's` : undefined);
    default:
      return `unknown op ${JSON.stringify(value.op)}`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textProblem(v: unknown, what: string): string | undefined {
  if (typeof v !== 'string') return `${what} must be a string`;
  return Buffer.byteLength(v, 'utf8') > MAX_TEXT_BYTES ? `${what} is over ${MAX_TEXT_BYTES} bytes` : undefined;
}

function nameProblem(v: unknown, what: string, maxBytes: number): string | undefined {
  if (typeof v !== 'string' || v === '') return `${what} must be a non-empty string`;
  if (v.includes('\u0000')) return `${what} must not contain NUL`;
  return Buffer.byteLength(v, 'utf8') > maxBytes ? `${what} is over ${maxBytes} bytes` : undefined;
}

function stringMapProblem(v: unknown, what: string): string | undefined {
  if (!isObject(v)) return `${what} must be an object`;
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') return `${what}.${k} must be a string`;
  return undefined;
}

function nodeInputProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  return nameProblem(v.node, 'node', MAX_NODE_NAME) ?? textProblem(v.id, 'id') ?? textProblem(v.address, 'address')
    ?? textProblem(v.datacenter, 'datacenter') ?? stringMapProblem(v.taggedAddresses, 'taggedAddresses')
    ?? stringMapProblem(v.meta, 'meta');
}

function serviceInputProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  const w = v.weights;
  const weight = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 65535;
  return nameProblem(v.id, 'id', MAX_ID_BYTES) ?? nameProblem(v.service, 'service', MAX_ID_BYTES)
    ?? (Array.isArray(v.tags) && v.tags.every((t) => typeof t === 'string') ? undefined : 'tags must be strings')
    ?? textProblem(v.address, 'address')
    ?? (Number.isInteger(v.port) && (v.port as number) >= 0 && (v.port as number) <= 65535 ? undefined : 'port must be 0-65535')
    ?? stringMapProblem(v.meta, 'meta')
    ?? (isObject(w) && weight(w.passing) && weight(w.warning) ? undefined : 'weights must be integers 0-65535')
    ?? (typeof v.enableTagOverride === 'boolean' ? undefined : 'enableTagOverride must be a boolean')
    ?? serviceExtrasProblem(v);
}

/** Consul's service kinds ('' is a plain service). */
export const SERVICE_KINDS: ReadonlySet<string> = new Set(['', 'connect-proxy', 'mesh-gateway', 'terminating-gateway', 'ingress-gateway', 'api-gateway']);

// api branch (issue 18): the registration fields kept as given.
function serviceExtrasProblem(v: Record<string, unknown>): string | undefined {
  if (v.kind !== undefined && (typeof v.kind !== 'string' || !SERVICE_KINDS.has(v.kind))) return 'kind is not a Consul service kind';
  if (v.socketPath !== undefined) {
    const p = textProblem(v.socketPath, 'socketPath');
    if (p) return p;
  }
  for (const key of ['proxy', 'connect', 'taggedAddresses', 'locality'] as const) {
    if (v[key] === undefined) continue;
    if (!isObject(v[key])) return `${key} must be an object`;
    if (Buffer.byteLength(JSON.stringify(v[key]), 'utf8') > MAX_TEXT_BYTES) return `${key} is over ${MAX_TEXT_BYTES} bytes`;
  }
  return undefined;
}

function checkInputProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  return nameProblem(v.checkId, 'checkId', MAX_ID_BYTES) ?? textProblem(v.name, 'name')
    ?? (STATUSES.has(v.status as string) ? undefined : 'status must be passing, warning or critical')
    ?? textProblem(v.notes, 'notes') ?? textProblem(v.output, 'output')
    ?? (typeof v.serviceId === 'string' ? undefined : 'serviceId must be a string') ?? textProblem(v.type, 'type');
}

// ------------------------------------------------------------ records

const SEP = '\u0000';
const lower = (s: string): string => s.toLowerCase();
const childKey = (nodeKey: string, id: string): string => nodeKey + SEP + id;

function sortedMap(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}

// Records are built with a fixed key order, so their JSON (indexes aside) compares equal exactly when their content does.
function nodeRecord(n: NodeInput, createIndex: number, modifyIndex: number): CatalogNode {
  return {
    id: n.id, node: n.node, address: n.address, datacenter: n.datacenter,
    taggedAddresses: sortedMap(n.taggedAddresses), meta: sortedMap(n.meta), createIndex, modifyIndex,
  };
}

function serviceRecord(node: string, s: ServiceInput, createIndex: number, modifyIndex: number): CatalogService {
  const record: CatalogService = {
    node, id: s.id, service: s.service, tags: [...s.tags], address: s.address, port: s.port, meta: sortedMap(s.meta),
    weights: { passing: s.weights.passing, warning: s.weights.warning }, enableTagOverride: s.enableTagOverride,
    createIndex, modifyIndex,
  };
  // Only the fields given, in a fixed order: a record without them is the same JSON as before they existed.
  for (const key of SERVICE_EXTRA_KEYS) {
    if (s[key] !== undefined) (record as unknown as Record<string, unknown>)[key] = s[key];
  }
  return record;
}

function checkRecord(
  node: string, c: CheckInput, service: CatalogService | undefined, createIndex: number, modifyIndex: number,
): CatalogCheck {
  return {
    node, checkId: c.checkId, name: c.name, status: c.status, notes: c.notes, output: c.output, serviceId: c.serviceId,
    serviceName: service?.service ?? '', serviceTags: service ? [...service.tags] : [], type: c.type, createIndex, modifyIndex,
  };
}

/** A record's content without its indexes (and, when asked, a check's output), for "did anything change". */
function content(record: { createIndex: number; modifyIndex: number }, ignoreOutput = false): string {
  return JSON.stringify(ignoreOutput ? { ...record, createIndex: 0, modifyIndex: 0, output: '' } : { ...record, createIndex: 0, modifyIndex: 0 });
}

/**
 * Would this sync change the catalog, leaving check output aside? An agent
 * asks before writing, so a check whose output changed but not its status
 * costs no Raft write (the output goes along with the next real change).
 */
export function catalogSyncDiffers(catalog: CatalogReader, op: Extract<CatalogOp, { op: 'sync' }>): boolean {
  const node = catalog.node(op.node.node);
  if (!node || content(node) !== content(nodeRecord(op.node, 0, 0))) return true;
  const services = new Map(catalog.nodeServices(node.node).map((s) => [s.id, s]));
  if (services.size !== op.services.length) return true;
  const wanted = new Map<string, CatalogService>();
  for (const input of op.services) {
    const record = serviceRecord(node.node, input, 0, 0);
    const old = services.get(input.id);
    if (!old || content(old) !== content(record)) return true;
    wanted.set(input.id, record);
  }
  const checks = new Map(catalog.nodeChecks(node.node).filter((c) => c.checkId !== NODE_HEALTH_CHECK_ID).map((c) => [c.checkId, c]));
  if (checks.size !== op.checks.length) return true;
  for (const input of op.checks) {
    const old = checks.get(input.checkId);
    const record = checkRecord(node.node, input, wanted.get(input.serviceId), 0, 0);
    if (!old || content(old, true) !== content(record, true)) return true;
  }
  return false;
}

/** scale: what an agent holds locally, by id, for catalogDelta. */
export interface LocalCatalogView {
  node: NodeInput;
  service(id: string): ServiceInput | undefined;
  check(id: string): CheckInput | undefined;
  /** The ids of the checks registered with a service. */
  checksOf(serviceId: string): string[];
  serviceIds(): Iterable<string>;
  checkIds(): Iterable<string>;
}

/**
 * scale: the incremental operations that make the catalog's record of this
 * node match what the agent holds, for the ids in `scope` (anti-entropy: every
 * id, local or in the catalog). Each id costs a map lookup, so a change of one
 * service costs the same whatever else the node holds. A check whose output
 * alone changed is no difference.
 */
export function catalogDelta(catalog: Catalog, local: LocalCatalogView, scope?: { services: Iterable<string>; checks: Iterable<string> }): CatalogOp[] {
  const name = local.node.node;
  const ops: CatalogOp[] = [];
  const serviceIds = new Set(scope ? scope.services : [...local.serviceIds(), ...catalog.nodeServices(name).map((x) => x.id)]);
  const checkIds = new Set(scope ? scope.checks
    : [...local.checkIds(), ...catalog.nodeChecks(name).filter((c) => c.checkId !== NODE_HEALTH_CHECK_ID).map((c) => c.checkId)]);
  const covered = new Set<string>();
  for (const id of serviceIds) {
    const want = local.service(id);
    const have = catalog.nodeService(name, id);
    if (!want) {
      if (have) ops.push({ op: 'service-delete', node: name, serviceId: id, checkIds: [] });
      continue;
    }
    const record = serviceRecord(name, want, 0, 0);
    if (have && content(have) === content(record)) continue;
    const checks: CheckInput[] = [];
    for (const cid of local.checksOf(id)) {
      const c = local.check(cid);
      if (c) checks.push(c);
      covered.add(cid);
    }
    ops.push({ op: 'service-put', node: local.node, service: want, checks, deleteChecks: [] });
  }
  for (const id of checkIds) {
    if (covered.has(id) || id === NODE_HEALTH_CHECK_ID) continue;
    const want = local.check(id);
    const have = catalog.nodeCheck(name, id);
    if (!want) {
      if (have) ops.push({ op: 'check-delete', node: name, checkId: id });
      continue;
    }
    const service = want.serviceId === '' ? undefined : catalog.nodeService(name, want.serviceId);
    // A check of a service the catalog lacks goes with that service's put.
    if (want.serviceId !== '' && !service && !ops.some((o) => o.op === 'service-put' && o.service.id === want.serviceId)) {
      const s = local.service(want.serviceId);
      if (s) ops.push({ op: 'service-put', node: local.node, service: s, checks: local.checksOf(s.id).map((c) => local.check(c)!).filter(Boolean), deleteChecks: [] });
      continue;
    }
    if (want.serviceId !== '' && !service) continue;
    if (have && content(have, true) === content(checkRecord(name, want, service, 0, 0), true)) continue;
    ops.push({ op: 'check-put', node: local.node, check: want });
  }
  const node = catalog.node(name);
  if (!node || content(node) !== content(nodeRecord(local.node, 0, 0))) {
    if (!ops.some((o) => o.op === 'service-put' || o.op === 'check-put')) {
      // The node record alone: an empty sync when the node holds nothing, else one service re-put carries it.
      const first = [...local.serviceIds()][0];
      const s = first === undefined ? undefined : local.service(first);
      if (s) ops.push({ op: 'service-put', node: local.node, service: s, checks: [], deleteChecks: [] });
      else if ([...local.checkIds()].length === 0) ops.push({ op: 'sync', node: local.node, services: [], checks: [] });
      else ops.push({ op: 'check-put', node: local.node, check: local.check([...local.checkIds()][0]!)! });
    }
  }
  return ops;
}

function encodeRecord(r: object): Buffer {
  return Buffer.from(JSON.stringify(r), 'utf8');
}

function decodeRecord<T>(b: Buffer): T {
  return JSON.parse(b.toString('utf8')) as T;
}

function encodeIndex(index: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(index);
  return b;
}

/** One table write an apply made, replayed on the in-memory copy once the transaction committed. */
interface Change {
  table: string;
  key: string;
  record: CatalogNode | CatalogService | CatalogCheck | undefined;
}

/** What a batch of operations changed; collected inside the transaction, applied to memory after it commits. */
export class CatalogBatch {
  readonly changes: Change[] = [];
  /** Topic -> index ('catalog', 's:' + lower service name, 'n:' + lower node name). */
  readonly indexes = new Map<string, number>();
  clear(): void {
    this.changes.length = 0;
    this.indexes.clear();
  }
}

// ------------------------------------------------------------ the catalog

export class Catalog implements CatalogReader {
  private readonly nodesByKey = new Map<string, CatalogNode>();
  private readonly servicesByNode = new Map<string, Map<string, CatalogService>>();
  private readonly checksByNode = new Map<string, Map<string, CatalogCheck>>();
  /** lower service name -> keys (lower node + NUL + service id) of its instances. */
  private readonly instancesByName = new Map<string, Set<string>>();
  /** Topic -> index, as stored. */
  private readonly indexes = new Map<string, number>();
  private readonly watchers = new TopicWatchers();

  /** (Re)loads the in-memory copy from the tables. */
  load(read: <T>(fn: (txn: StateReader) => T) => T): void {
    this.nodesByKey.clear();
    this.servicesByNode.clear();
    this.checksByNode.clear();
    this.instancesByName.clear();
    this.indexes.clear();
    read((txn) => {
      for (const r of txn.scan(CATALOG_NODES_TABLE)) this.putNode(r.key.toString('utf8'), decodeRecord(r.value));
      for (const r of txn.scan(CATALOG_SERVICES_TABLE)) this.putService(r.key.toString('utf8'), decodeRecord(r.value));
      for (const r of txn.scan(CATALOG_CHECKS_TABLE)) this.putCheck(r.key.toString('utf8'), decodeRecord(r.value));
      for (const r of txn.scan(CATALOG_INDEX_TABLE)) this.indexes.set(r.key.toString('utf8'), r.value.readDoubleBE(0));
      return undefined;
    });
  }

  /** Applies one operation inside the batch's transaction; returns false when it was ignored. */
  apply(txn: StateWriter, index: number, op: CatalogOp, batch: CatalogBatch): boolean {
    const touched = new Set<string>();
    let changed = false;
    const put = (table: string, key: string, record: Change['record']): void => {
      if (record) txn.put(table, key, encodeRecord(record));
      else txn.delete(table, key);
      batch.changes.push({ table, key, record });
      changed = true;
    };
    const scanChildren = <T>(table: string, nodeKey: string): Map<string, T> => {
      const out = new Map<string, T>();
      for (const r of txn.scan(table, { prefix: nodeKey + SEP })) out.set(r.key.toString('utf8'), decodeRecord<T>(r.value));
      return out;
    };

    switch (op.op) {
      case 'sync': {
        const nodeKey = lower(op.node.node);
        const oldNodeBytes = txn.get(CATALOG_NODES_TABLE, nodeKey);
        const oldNode = oldNodeBytes ? decodeRecord<CatalogNode>(oldNodeBytes) : undefined;
        const oldServices = scanChildren<CatalogService>(CATALOG_SERVICES_TABLE, nodeKey);
        const oldChecks = scanChildren<CatalogCheck>(CATALOG_CHECKS_TABLE, nodeKey);

        let node = nodeRecord(op.node, oldNode?.createIndex ?? index, index);
        if (oldNode && content(oldNode) === content(node)) node = oldNode;
        else {
          put(CATALOG_NODES_TABLE, nodeKey, node);
          // A node's address or meta is part of every instance on it.
          for (const s of oldServices.values()) touched.add(lower(s.service));
          for (const s of op.services) touched.add(lower(s.service));
        }

        const services = new Map<string, CatalogService>();
        for (const input of op.services) {
          const key = childKey(nodeKey, input.id);
          const old = oldServices.get(key);
          let record = serviceRecord(node.node, input, old?.createIndex ?? index, index);
          if (old && content(old) === content(record)) record = old;
          else {
            put(CATALOG_SERVICES_TABLE, key, record);
            touched.add(lower(record.service));
            if (old) touched.add(lower(old.service));
          }
          services.set(input.id, record);
        }
        for (const [key, old] of oldServices) {
          if (services.has(old.id)) continue;
          put(CATALOG_SERVICES_TABLE, key, undefined);
          touched.add(lower(old.service));
        }

        const checkIds = new Set<string>();
        for (const input of op.checks) {
          const key = childKey(nodeKey, input.checkId);
          const old = oldChecks.get(key);
          const service = input.serviceId === '' ? undefined : services.get(input.serviceId);
          let record = checkRecord(node.node, input, service, old?.createIndex ?? index, index);
          checkIds.add(input.checkId);
          if (old && content(old) === content(record)) record = old;
          else {
            put(CATALOG_CHECKS_TABLE, key, record);
            this.touchCheck(touched, record, old, services.values());
          }
        }
        for (const [key, old] of oldChecks) {
          // The leader's node check is not the agent's to remove.
          if (checkIds.has(old.checkId) || old.checkId === NODE_HEALTH_CHECK_ID) continue;
          put(CATALOG_CHECKS_TABLE, key, undefined);
          this.touchCheck(touched, old, undefined, services.values());
        }
        if (changed) this.bump(txn, batch, index, nodeKey, touched);
        return true;
      }
      case 'deregister-node': {
        const nodeKey = lower(op.node);
        if (!txn.get(CATALOG_NODES_TABLE, nodeKey)) return true;
        put(CATALOG_NODES_TABLE, nodeKey, undefined);
        for (const [key, s] of scanChildren<CatalogService>(CATALOG_SERVICES_TABLE, nodeKey)) {
          put(CATALOG_SERVICES_TABLE, key, undefined);
          touched.add(lower(s.service));
        }
        for (const key of scanChildren<CatalogCheck>(CATALOG_CHECKS_TABLE, nodeKey).keys()) put(CATALOG_CHECKS_TABLE, key, undefined);
        this.bump(txn, batch, index, nodeKey, touched);
        return true;
      }
      case 'register':
      case 'deregister': {
        const merged = this.merged(txn, op);
        return merged === undefined ? false : this.apply(txn, index, merged, batch);
      }
      // scale
      case 'service-put':
      case 'service-delete':
      case 'check-put':
      case 'check-delete': {
        const r = this.applyDelta(txn, index, op, put, touched);
        if (r === false) return false;
        if (r.changed) this.bump(txn, batch, index, r.nodeKey, touched);
        return true;
      }
      case 'node-health': {
        const nodeKey = lower(op.node);
        const nodeBytes = txn.get(CATALOG_NODES_TABLE, nodeKey);
        if (!nodeBytes) return false;
        const node = decodeRecord<CatalogNode>(nodeBytes);
        const key = childKey(nodeKey, NODE_HEALTH_CHECK_ID);
        const oldBytes = txn.get(CATALOG_CHECKS_TABLE, key);
        const old = oldBytes ? decodeRecord<CatalogCheck>(oldBytes) : undefined;
        const record = checkRecord(node.node, {
          checkId: NODE_HEALTH_CHECK_ID, name: NODE_HEALTH_CHECK_NAME, status: op.status, notes: '', output: op.output,
          serviceId: '', type: 'serf',
        }, undefined, old?.createIndex ?? index, index);
        if (old && content(old) === content(record)) return true;
        put(CATALOG_CHECKS_TABLE, key, record);
        for (const s of scanChildren<CatalogService>(CATALOG_SERVICES_TABLE, nodeKey).values()) touched.add(lower(s.service));
        this.bump(txn, batch, index, nodeKey, touched);
        return true;
      }
    }
  }

  /**
   * A register or deregister as the sync it amounts to: the node's services
   * and checks as stored, with the change made. Undefined when it changes
   * nothing that exists (a deregister of an unknown node, service or check).
   */
  private merged(txn: StateWriter, op: Extract<CatalogOp, { op: 'register' | 'deregister' }>): Extract<CatalogOp, { op: 'sync' }> | undefined {
    const nodeKey = lower(typeof op.node === 'string' ? op.node : op.node.node);
    const stored = txn.get(CATALOG_NODES_TABLE, nodeKey);
    const oldNode = stored ? decodeRecord<CatalogNode>(stored) : undefined;
    const services: ServiceInput[] = [];
    for (const r of txn.scan(CATALOG_SERVICES_TABLE, { prefix: nodeKey + SEP })) {
      const { node: _n, createIndex: _c, modifyIndex: _m, ...input } = decodeRecord<CatalogService>(r.value);
      services.push(input);
    }
    const checks: CheckInput[] = [];
    for (const r of txn.scan(CATALOG_CHECKS_TABLE, { prefix: nodeKey + SEP })) {
      const { node: _n, serviceName: _s, serviceTags: _t, createIndex: _c, modifyIndex: _m, ...input } = decodeRecord<CatalogCheck>(r.value);
      if (input.checkId !== NODE_HEALTH_CHECK_ID) checks.push(input);
    }
    const nodeInput = (n: CatalogNode): NodeInput => ({
      id: n.id, node: n.node, address: n.address, datacenter: n.datacenter, taggedAddresses: n.taggedAddresses, meta: n.meta,
    });
    if (op.op === 'deregister') {
      if (!oldNode) return undefined;
      if (op.serviceId !== undefined) {
        if (!services.some((s) => s.id === op.serviceId)) return undefined;
        return {
          op: 'sync', node: nodeInput(oldNode), services: services.filter((s) => s.id !== op.serviceId),
          checks: checks.filter((c) => c.serviceId !== op.serviceId),
        };
      }
      if (op.checkId !== undefined) {
        if (!checks.some((c) => c.checkId === op.checkId)) return undefined;
        return { op: 'sync', node: nodeInput(oldNode), services, checks: checks.filter((c) => c.checkId !== op.checkId) };
      }
      return undefined;
    }
    const node = oldNode && op.skipNodeUpdate ? nodeInput(oldNode) : op.node;
    if (op.service) {
      const at = services.findIndex((s) => s.id === op.service!.id);
      if (at >= 0) services[at] = op.service;
      else services.push(op.service);
    }
    for (const c of op.checks) {
      // A check for a service the node does not have is dropped, as a sync would refuse it.
      if (c.serviceId !== '' && !services.some((s) => s.id === c.serviceId)) continue;
      const at = checks.findIndex((x) => x.checkId === c.checkId);
      if (at >= 0) checks[at] = c;
      else checks.push(c);
    }
    return { op: 'sync', node, services, checks };
  }

  // ------------------------------------------------------------ scale: incremental operations

  /** One incremental operation: reads and writes only the records it names (a node-level check touches the node's services' indexes). */
  private applyDelta(txn: StateWriter, index: number, op: CatalogOp, put: (table: string, key: string, record: Change['record']) => void,
    touched: Set<string>): { nodeKey: string; changed: boolean } | false {
    const getRecord = <T>(table: string, key: string): T | undefined => {
      const b = txn.get(table, key);
      return b ? decodeRecord<T>(b) : undefined;
    };
    const nodeServices = (nodeKey: string): CatalogService[] => {
      const out: CatalogService[] = [];
      for (const r of txn.scan(CATALOG_SERVICES_TABLE, { prefix: nodeKey + SEP })) out.push(decodeRecord<CatalogService>(r.value));
      return out;
    };
    let changed = false;
    const write = (table: string, key: string, record: Change['record']): void => {
      put(table, key, record);
      changed = true;
    };
    /** Writes the node record if absent or different; returns it. */
    const ensureNode = (input: NodeInput): CatalogNode => {
      const nodeKey = lower(input.node);
      const old = getRecord<CatalogNode>(CATALOG_NODES_TABLE, nodeKey);
      const node = nodeRecord(input, old?.createIndex ?? index, index);
      if (old && content(old) === content(node)) return old;
      write(CATALOG_NODES_TABLE, nodeKey, node);
      // A node's address or meta is part of every instance on it (a rare change: only then are its services read).
      if (old) for (const s of nodeServices(nodeKey)) touched.add(lower(s.service));
      return node;
    };
    const putCheck = (node: CatalogNode, input: CheckInput, service: CatalogService | undefined): void => {
      const key = childKey(lower(node.node), input.checkId);
      const old = getRecord<CatalogCheck>(CATALOG_CHECKS_TABLE, key);
      const record = checkRecord(node.node, input, service, old?.createIndex ?? index, index);
      if (old && content(old) === content(record)) return;
      write(CATALOG_CHECKS_TABLE, key, record);
      this.touchCheck(touched, record, old, input.serviceId === '' && (!old || old.serviceId === '') ? nodeServices(lower(node.node)) : []);
    };
    const deleteCheck = (nodeKey: string, checkId: string): void => {
      const key = childKey(nodeKey, checkId);
      const old = getRecord<CatalogCheck>(CATALOG_CHECKS_TABLE, key);
      if (!old || old.checkId === NODE_HEALTH_CHECK_ID) return;
      write(CATALOG_CHECKS_TABLE, key, undefined);
      this.touchCheck(touched, old, undefined, old.serviceId === '' ? nodeServices(nodeKey) : []);
    };
    switch (op.op) {
      case 'service-put': {
        const node = ensureNode(op.node);
        const nodeKey = lower(node.node);
        const key = childKey(nodeKey, op.service.id);
        const old = getRecord<CatalogService>(CATALOG_SERVICES_TABLE, key);
        let service = serviceRecord(node.node, op.service, old?.createIndex ?? index, index);
        if (old && content(old) === content(service)) service = old;
        else {
          write(CATALOG_SERVICES_TABLE, key, service);
          touched.add(lower(service.service));
          if (old) touched.add(lower(old.service));
        }
        for (const id of op.deleteChecks) deleteCheck(nodeKey, id);
        for (const c of op.checks) putCheck(node, c, service);
        // A renamed or retagged service: its other checks carry its name and tags.
        if (old && (old.service !== service.service || JSON.stringify(old.tags) !== JSON.stringify(service.tags))) {
          for (const r of txn.scan(CATALOG_CHECKS_TABLE, { prefix: nodeKey + SEP })) {
            const c = decodeRecord<CatalogCheck>(r.value);
            if (c.serviceId !== service.id || op.checks.some((x) => x.checkId === c.checkId)) continue;
            write(CATALOG_CHECKS_TABLE, r.key.toString('utf8'), { ...c, serviceName: service.service, serviceTags: [...service.tags], modifyIndex: index });
          }
        }
        return { nodeKey, changed };
      }
      case 'service-delete': {
        const nodeKey = lower(op.node);
        const key = childKey(nodeKey, op.serviceId);
        const old = getRecord<CatalogService>(CATALOG_SERVICES_TABLE, key);
        if (!old) return { nodeKey, changed: false };
        write(CATALOG_SERVICES_TABLE, key, undefined);
        touched.add(lower(old.service));
        // Its checks go with it (Consul); only those that are this service's.
        for (const id of op.checkIds) {
          const ck = childKey(nodeKey, id);
          if (getRecord<CatalogCheck>(CATALOG_CHECKS_TABLE, ck)?.serviceId === op.serviceId) write(CATALOG_CHECKS_TABLE, ck, undefined);
        }
        return { nodeKey, changed };
      }
      case 'check-put': {
        const node = ensureNode(op.node);
        const nodeKey = lower(node.node);
        let service: CatalogService | undefined;
        if (op.check.serviceId !== '') {
          service = getRecord<CatalogService>(CATALOG_SERVICES_TABLE, childKey(nodeKey, op.check.serviceId));
          // A check for a service the catalog does not hold is refused, the same on every replica.
          if (!service) return false;
        }
        putCheck(node, op.check, service);
        return { nodeKey, changed };
      }
      case 'check-delete': {
        const nodeKey = lower(op.node);
        deleteCheck(nodeKey, op.checkId);
        return { nodeKey, changed };
      }
      default:
        return false;
    }
  }

  /** A check changed: a service check touches its service, a node check every service on the node. */
  private touchCheck(touched: Set<string>, now: CatalogCheck, old: CatalogCheck | undefined, services: Iterable<CatalogService>): void {
    for (const c of old ? [now, old] : [now]) {
      if (c.serviceName !== '') touched.add(lower(c.serviceName));
      else if (c.serviceId === '') for (const s of services) touched.add(lower(s.service));
    }
  }

  private bump(txn: StateWriter, batch: CatalogBatch, index: number, nodeKey: string, services: Set<string>): void {
    const topics = ['catalog', `n:${nodeKey}`, ...[...services].map((s) => `s:${s}`)];
    const value = encodeIndex(index);
    for (const topic of topics) {
      txn.put(CATALOG_INDEX_TABLE, topic, value);
      batch.indexes.set(topic, index);
    }
  }

  /** After the batch's transaction committed: update the in-memory copy and wake the waiters. */
  commit(batch: CatalogBatch): void {
    for (const c of batch.changes) {
      switch (c.table) {
        case CATALOG_NODES_TABLE:
          if (c.record) this.putNode(c.key, c.record as CatalogNode);
          else this.nodesByKey.delete(c.key);
          break;
        case CATALOG_SERVICES_TABLE:
          if (c.record) this.putService(c.key, c.record as CatalogService);
          else this.deleteService(c.key);
          break;
        case CATALOG_CHECKS_TABLE:
          if (c.record) this.putCheck(c.key, c.record as CatalogCheck);
          else this.deleteCheck(c.key);
          break;
      }
    }
    for (const [topic, index] of batch.indexes) this.indexes.set(topic, index);
    if (this.watchers.size > 0) for (const [topic, index] of batch.indexes) this.watchers.notify(topic, index);
  }

  /** After a snapshot restore: wake every waiter with its topic's index now. */
  wakeAll(): void {
    this.watchers.finishAll((topic) => this.topicIndex(topic));
  }

  private putNode(key: string, n: CatalogNode): void {
    this.nodesByKey.set(key, n);
  }

  private putService(key: string, s: CatalogService): void {
    const nodeKey = key.slice(0, key.indexOf(SEP));
    let m = this.servicesByNode.get(nodeKey);
    if (!m) this.servicesByNode.set(nodeKey, (m = new Map()));
    const old = m.get(s.id);
    if (old) this.instancesByName.get(lower(old.service))?.delete(key);
    m.set(s.id, s);
    let set = this.instancesByName.get(lower(s.service));
    if (!set) this.instancesByName.set(lower(s.service), (set = new Set()));
    set.add(key);
  }

  private deleteService(key: string): void {
    const at = key.indexOf(SEP);
    const nodeKey = key.slice(0, at);
    const m = this.servicesByNode.get(nodeKey);
    const old = m?.get(key.slice(at + 1));
    if (!m || !old) return;
    m.delete(old.id);
    if (m.size === 0) this.servicesByNode.delete(nodeKey);
    const set = this.instancesByName.get(lower(old.service));
    set?.delete(key);
    if (set?.size === 0) this.instancesByName.delete(lower(old.service));
  }

  private putCheck(key: string, c: CatalogCheck): void {
    const nodeKey = key.slice(0, key.indexOf(SEP));
    let m = this.checksByNode.get(nodeKey);
    if (!m) this.checksByNode.set(nodeKey, (m = new Map()));
    m.set(c.checkId, c);
  }

  private deleteCheck(key: string): void {
    const at = key.indexOf(SEP);
    const nodeKey = key.slice(0, at);
    const m = this.checksByNode.get(nodeKey);
    m?.delete(key.slice(at + 1));
    if (m?.size === 0) this.checksByNode.delete(nodeKey);
  }

  // ------------------------------------------------------------ reads (CatalogReader)

  catalogIndex(): number {
    return Math.max(1, this.indexes.get('catalog') ?? 0);
  }

  serviceIndex(service: string): number {
    return Math.max(1, this.indexes.get(`s:${lower(service)}`) ?? 0);
  }

  nodeIndex(name: string): number {
    return Math.max(1, this.indexes.get(`n:${lower(name)}`) ?? 0);
  }

  private topicIndex(topic: string): number {
    return Math.max(1, this.indexes.get(topic) ?? 0);
  }

  nodes(): CatalogNode[] {
    return [...this.nodesByKey.values()].sort((a, b) => cmp(a.node, b.node));
  }

  node(name: string): CatalogNode | undefined {
    return this.nodesByKey.get(lower(name));
  }

  /** scale: one service of a node (case-insensitive node name), without listing the others. */
  nodeService(name: string, id: string): CatalogService | undefined {
    return this.servicesByNode.get(lower(name))?.get(id);
  }

  /** scale: one check of a node. */
  nodeCheck(name: string, id: string): CatalogCheck | undefined {
    return this.checksByNode.get(lower(name))?.get(id);
  }

  nodeServices(name: string): CatalogService[] {
    return [...(this.servicesByNode.get(lower(name))?.values() ?? [])].sort((a, b) => cmp(a.id, b.id));
  }

  nodeChecks(name: string): CatalogCheck[] {
    return [...(this.checksByNode.get(lower(name))?.values() ?? [])].sort((a, b) => cmp(a.checkId, b.checkId));
  }

  serviceNames(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const names = [...this.instancesByName.keys()].sort();
    for (const lowerName of names) {
      const tags = new Set<string>();
      let name: string | undefined;
      for (const key of this.instancesByName.get(lowerName)!) {
        const s = this.serviceAt(key);
        if (!s) continue;
        // Instances may spell the name differently ('web', 'Web'): show the same one on every replica,
        // whatever order they were applied or loaded in.
        if (name === undefined || s.service < name) name = s.service;
        for (const t of s.tags) tags.add(t);
      }
      if (name !== undefined) out.set(name, [...tags].sort());
    }
    return out;
  }

  instances(service: string, tag?: string): ServiceInstance[] {
    const keys = this.instancesByName.get(lower(service));
    if (!keys) return [];
    const wanted = tag === undefined ? undefined : lower(tag);
    const out: ServiceInstance[] = [];
    for (const key of keys) {
      const s = this.serviceAt(key);
      if (!s) continue;
      if (wanted !== undefined && !s.tags.some((t) => lower(t) === wanted)) continue;
      const nodeKey = key.slice(0, key.indexOf(SEP));
      const node = this.nodesByKey.get(nodeKey);
      if (!node) continue;
      const checks: CatalogCheck[] = [];
      for (const c of this.checksByNode.get(nodeKey)?.values() ?? []) {
        if (c.serviceId === '' || c.serviceId === s.id) checks.push(c);
      }
      // In check id order, as nodeChecks gives them: the map's own order depends on how it was filled.
      checks.sort((a, b) => cmp(a.checkId, b.checkId));
      out.push({ node, service: s, checks, status: worstStatus(checks.map((c) => c.status)) });
    }
    return out.sort((a, b) => cmp(a.node.node, b.node.node) || cmp(a.service.id, b.service.id));
  }

  checksInState(state: HealthStatus | 'any'): CatalogCheck[] {
    const out: CatalogCheck[] = [];
    for (const m of this.checksByNode.values()) for (const c of m.values()) if (state === 'any' || c.status === state) out.push(c);
    return out.sort((a, b) => cmp(a.node, b.node) || cmp(a.checkId, b.checkId));
  }

  private serviceAt(key: string): CatalogService | undefined {
    const at = key.indexOf(SEP);
    return this.servicesByNode.get(key.slice(0, at))?.get(key.slice(at + 1));
  }

  // ------------------------------------------------------------ blocking queries

  /** Waits until the catalog index passes afterIndex (or the timeout or signal ends the wait). */
  waitCatalog(afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.watchers.wait('catalog', () => this.catalogIndex(), afterIndex, timeoutMs, signal);
  }

  /** Waits until a service's lookup result changes: only a change to that service wakes it. */
  waitService(service: string, afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.watchers.wait(`s:${lower(service)}`, () => this.serviceIndex(service), afterIndex, timeoutMs, signal);
  }

  waitNode(name: string, afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.watchers.wait(`n:${lower(name)}`, () => this.nodeIndex(name), afterIndex, timeoutMs, signal);
  }

  get waiting(): number {
    return this.watchers.size;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
