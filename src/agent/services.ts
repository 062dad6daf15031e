// This agent's own services and checks: registered over /v1/agent, kept in the
// data dir so they survive a restart, checked by their runners, and kept in
// the catalog: a local change writes one small incremental operation for the
// service or check it touched (its cost does not grow with the services the
// node holds), and anti-entropy (at start-up, periodically, after a failed
// write) compares everything with what the catalog says about this node and
// writes operations only for what differs. A check whose output changed but
// not its status is no difference: only status changes (and registrations)
// are written.

import { closeSync, fsync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BadRequestError, KonsulError, NotFoundError } from '../errors.js';
import {
  catalogDelta, catalogSyncDiffers, SERVICE_EXTRA_KEYS, worstStatus,
  type Catalog, type CatalogOp, type ServiceExtras, type CheckInput, type HealthStatus, type LocalCatalogView,
  type NodeInput, type ServiceInput,
} from '../state/index.js';
import type { TransportLogger } from '../transport/index.js';
import type { CheckDefinition, ServiceDefinition } from './local/definitions.js';
import { CheckRunner } from './local/runner.js';

export interface LocalCheckState {
  definition: CheckDefinition;
  status: HealthStatus;
  output: string;
}

export interface LocalServicesOptions {
  dataDir: string;
  /** This node's catalog record (its address may change with the HTTP or Raft address). */
  node: () => NodeInput;
  catalog: Catalog;
  /** Writes a catalog operation through Raft (forwarded to the leader); resolves once applied here. */
  write: (op: CatalogOp) => Promise<void>;
  /** May this agent write to the catalog now (a member with a leader)? */
  ready: () => boolean;
  antiEntropyIntervalMs: number;
  logger: TransportLogger;
  /** Services this node has by its role, not by registration (a server's `consul`), synced with the rest. */
  builtinServices?: () => ServiceInput[];
  /** scale: may changes go as incremental operations (the cluster runs protocol 2)? Else one full sync. Default: yes. */
  incremental?: () => boolean;
}

interface Entry {
  definition: CheckDefinition;
  status: HealthStatus;
  output: string;
  runner: CheckRunner | undefined;
}

const FILE = 'local-services.json';
/**
 * Registrations made since FILE was last written, one JSON line each, appended
 * and fsynced before the registration is answered: a registration costs one
 * small write, not a rewrite of every service the agent holds. Folded into
 * FILE once it is longer than twice what FILE holds.
 */
const JOURNAL = 'local-services.journal';
/** The journal is folded no sooner than this many lines. */
const MIN_JOURNAL_LINES = 1024;

/** One registration's changes, as a journal line. */
interface JournalLine {
  seq: number;
  services?: ServiceDefinition[];
  checks?: LocalCheckState[];
  deleteServices?: string[];
  deleteChecks?: string[];
}
/** Consul's ids for the checks maintenance mode adds. */
export const NODE_MAINTENANCE_CHECK_ID = '_node_maintenance';
export const SERVICE_MAINTENANCE_CHECK_PREFIX = '_service_maintenance:';
/** How soon a failed sync is tried again. */
const RETRY_MS = 1000;
/** Catalog writes in flight at once from one agent (they share the leader's group commits). */
const WRITES_IN_FLIGHT = 64;

export class LocalServices {
  private readonly services = new Map<string, ServiceDefinition>();
  private readonly checks = new Map<string, Entry>();
  private readonly opts: LocalServicesOptions;
  private syncing: Promise<void> | undefined;
  /** Compare everything with the catalog on the next round (start-up, anti-entropy, after a failure). */
  private full = true;
  /** Services and checks changed since the last round (the next round writes only these). */
  private pendingServices = new Set<string>();
  private pendingChecks = new Set<string>();
  /** Callers waiting for the round that carries their change. */
  private roundWaiters: Array<() => void> = [];
  /** Check ids by service id (so a service's checks are found without looking at the others). */
  private readonly checksByService = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private reaper: NodeJS.Timeout | undefined;
  private stopped = false;
  /** How many syncs were written, and how many found nothing to write (for tests and stats). */
  readonly counters = { written: 0, unchanged: 0, failed: 0 };

  constructor(options: LocalServicesOptions) {
    this.opts = options;
  }

  /** Loads what the data dir holds, starts the checks and the anti-entropy timer. */
  start(): void {
    this.load();
    for (const e of this.checks.values()) this.startRunner(e);
    this.timer = setInterval(() => {
      this.full = true;
      this.kick();
    }, this.opts.antiEntropyIntervalMs);
    this.timer.unref();
    this.reaper = setInterval(() => this.reapCritical(), 1000);
    this.reaper.unref();
    this.kick();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.reaper);
    for (const e of this.checks.values()) e.runner?.stop();
    // A status change not yet saved is saved now, so a clean stop loses nothing.
    if (this.persistTimer) {
      clearTimeout(this.persistTimer);
      this.persistTimer = undefined;
      try {
        this.persist();
      } catch (error) {
        this.opts.logger.warn({ err: (error as Error).message }, 'could not save the local services on stop');
      }
    }
    if (this.journalFd !== undefined) {
      // Lines whose grouped fsync has not run yet are made durable before the file closes.
      if (this.journalSync) fsyncSync(this.journalFd);
      closeSync(this.journalFd);
      this.journalFd = undefined;
    }
  }

  // ------------------------------------------------------------ registrations

  /** Adds or replaces a service and its checks; resolves once the catalog has it (or the sync failed: it is retried). */
  async registerService(service: ServiceDefinition, checks: CheckDefinition[]): Promise<void> {
    this.services.set(service.id, service);
    // Consul: re-registering a service replaces the checks defined with it.
    const dropped: string[] = [];
    for (const [id, e] of this.checks) {
      if (e.definition.serviceId === service.id && !checks.some((c) => c.id === id)) dropped.push(id);
    }
    for (const id of dropped) this.dropCheck(id);
    for (const c of checks) this.putCheck({ ...c, serviceId: service.id });
    const durable = this.record({ services: [service], checks: checks.map((c) => this.checkState(c.id)), deleteChecks: dropped });
    this.pendingServices.add(service.id);
    for (const id of dropped) this.pendingChecks.add(id);
    for (const c of checks) this.pendingChecks.add(c.id);
    await Promise.all([durable, this.changed()]);
  }

  async deregisterService(id: string): Promise<boolean> {
    if (!this.services.delete(id)) return false;
    const dropped = [...this.checks].filter(([, e]) => e.definition.serviceId === id).map(([checkId]) => checkId);
    for (const checkId of dropped) this.dropCheck(checkId);
    const durable = this.record({ deleteServices: [id], deleteChecks: dropped });
    this.pendingServices.add(id);
    for (const checkId of dropped) this.pendingChecks.add(checkId);
    await Promise.all([durable, this.changed()]);
    return true;
  }

  async registerCheck(check: CheckDefinition): Promise<void> {
    if (check.serviceId !== '' && !this.services.has(check.serviceId)) {
      throw new KonsulError('KONSUL_ERR_NOT_FOUND', `ServiceID "${check.serviceId}" does not exist`, 'invalid');
    }
    this.putCheck(check);
    const durable = this.record({ checks: [this.checkState(check.id)] });
    this.pendingChecks.add(check.id);
    await Promise.all([durable, this.changed()]);
  }

  async deregisterCheck(id: string): Promise<boolean> {
    if (!this.checks.has(id)) return false;
    this.dropCheck(id);
    const durable = this.record({ deleteChecks: [id] });
    this.pendingChecks.add(id);
    await Promise.all([durable, this.changed()]);
    return true;
  }

  /** A TTL check's update (PUT /v1/agent/check/pass|warn|fail|update). */
  async updateTtl(id: string, status: HealthStatus, output?: string): Promise<void> {
    const e = this.checks.get(id);
    if (!e) throw new NotFoundError(`Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
    if (e.definition.kind !== 'ttl' || !e.runner) throw new BadRequestError(`check "${id}" is not a TTL check`);
    const before = e.status;
    e.runner.ttlUpdate(status, output);
    // The runner calls back on a status change; a same-status update still refreshes the output (as the runner capped it).
    e.output = e.runner.status().output;
    if (e.status !== before) await this.changed();
  }

  /**
   * Maintenance mode (Consul's PUT /v1/agent/maintenance and
   * /v1/agent/service/maintenance/:id): a critical check `_node_maintenance`
   * (serviceId '') or `_service_maintenance:<id>` while enabled, gone once
   * disabled. false: no such service.
   */
  async setMaintenance(serviceId: string, enable: boolean, reason: string): Promise<boolean> {
    if (serviceId !== '' && !this.services.has(serviceId)) return false;
    const node = serviceId === '';
    const id = node ? NODE_MAINTENANCE_CHECK_ID : `${SERVICE_MAINTENANCE_CHECK_PREFIX}${serviceId}`;
    if (!enable) {
      if (this.checks.has(id)) await this.deregisterCheck(id);
      return true;
    }
    this.putCheck({
      id, name: node ? 'Node Maintenance Mode' : 'Service Maintenance Mode', serviceId,
      notes: reason || `Maintenance mode is enabled for this ${node ? 'node' : 'service'}, but no reason was provided. This is a default message.`,
      kind: 'maintenance', intervalMs: 0, timeoutMs: 0, successBeforePassing: 0, failuresBeforeCritical: 0, initialStatus: 'critical',
    });
    this.checks.get(id)!.status = 'critical';
    const durable = this.record({ checks: [this.checkState(id)] });
    this.pendingChecks.add(id);
    await Promise.all([durable, this.changed()]);
    return true;
  }

  listServices(): ServiceDefinition[] {
    return [...this.services.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  service(id: string): ServiceDefinition | undefined {
    return this.services.get(id);
  }

  listChecks(): LocalCheckState[] {
    return [...this.checks.values()]
      .map((e) => ({ definition: e.definition, status: e.status, output: e.output }))
      .sort((a, b) => (a.definition.id < b.definition.id ? -1 : a.definition.id > b.definition.id ? 1 : 0));
  }

  private putCheck(def: CheckDefinition): void {
    const old = this.checks.get(def.id);
    old?.runner?.stop();
    // A re-registered check keeps the status it had, unless the registration names one.
    const entry: Entry = { definition: def, status: old?.status ?? def.initialStatus, output: old?.output ?? '', runner: undefined };
    if (old) this.unindexCheck(def.id, old.definition.serviceId);
    this.checks.set(def.id, entry);
    this.indexCheck(def.id, def.serviceId);
    if (!this.stopped && this.timer) this.startRunner(entry);
  }

  private dropCheck(id: string): void {
    const e = this.checks.get(id);
    e?.runner?.stop();
    if (e) this.unindexCheck(id, e.definition.serviceId);
    this.checks.delete(id);
  }

  private indexCheck(id: string, serviceId: string): void {
    if (serviceId === '') return;
    let set = this.checksByService.get(serviceId);
    if (!set) this.checksByService.set(serviceId, (set = new Set()));
    set.add(id);
  }

  private unindexCheck(id: string, serviceId: string): void {
    const set = this.checksByService.get(serviceId);
    set?.delete(id);
    if (set?.size === 0) this.checksByService.delete(serviceId);
  }

  private startRunner(e: Entry): void {
    // A maintenance check is critical until it is removed: nothing to run.
    if (e.definition.kind === 'maintenance') return;
    e.runner = new CheckRunner(e.definition, (status, output) => {
      if (this.checks.get(e.definition.id) !== e) return;
      const moved = e.status !== status;
      e.status = status;
      e.output = output;
      this.opts.logger.info({ check: e.definition.id, status }, moved ? 'check status changed' : 'check output changed');
      this.persistSoon();
      this.pendingChecks.add(e.definition.id);
      this.kick();
    }, {
      logger: this.opts.logger, initial: { status: e.status, output: e.output },
      aliasHealth: (alias) => this.aliasHealth(e.definition.id, alias),
    });
    e.runner.start();
  }

  /**
   * An alias check's status: the worst of the aliased service's checks and its
   * node's (this agent's own state for a local alias, the catalog for another
   * node), as Consul's alias checks report. A missing service or node is critical.
   */
  private aliasHealth(selfId: string, alias: NonNullable<CheckDefinition['alias']>): { status: HealthStatus; output: string } {
    const local = this.opts.node().node;
    const node = alias.node === '' ? local : alias.node;
    const wanted = (serviceId: string): boolean => serviceId === '' || serviceId === alias.serviceId;
    let statuses: Array<{ id: string; status: HealthStatus }>;
    if (node.toLowerCase() === local.toLowerCase()) {
      if (alias.serviceId !== '' && !this.services.has(alias.serviceId)) return { status: 'critical', output: `Service ${alias.serviceId} could not be found on node ${node}` };
      statuses = [...this.checks.values()].filter((x) => x.definition.id !== selfId && wanted(x.definition.serviceId))
        .map((x) => ({ id: x.definition.id, status: x.status }));
    } else {
      if (!this.opts.catalog.node(node)) return { status: 'critical', output: `Node ${node} could not be found` };
      if (alias.serviceId !== '' && !this.opts.catalog.nodeServices(node).some((s) => s.id === alias.serviceId)) {
        return { status: 'critical', output: `Service ${alias.serviceId} could not be found on node ${node}` };
      }
      statuses = this.opts.catalog.nodeChecks(node).filter((c) => wanted(c.serviceId)).map((c) => ({ id: c.checkId, status: c.status }));
    }
    const worst = worstStatus(statuses.map((s) => s.status));
    if (statuses.length === 0) return { status: 'passing', output: 'No checks found.' };
    if (worst === 'passing') return { status: 'passing', output: 'All checks passing.' };
    return { status: worst, output: `Aliased check "${statuses.find((s) => s.status === worst)!.id}" is ${worst}` };
  }

  /** DeregisterCriticalServiceAfter: a service whose check stayed critical that long is deregistered. */
  private reapCritical(): void {
    const now = performance.now();
    for (const e of this.checks.values()) {
      const after = e.definition.deregisterCriticalServiceAfterMs;
      const since = e.runner?.criticalSinceMs();
      if (after === undefined || since === undefined || e.definition.serviceId === '' || now - since < after) continue;
      this.opts.logger.warn({ service: e.definition.serviceId, check: e.definition.id }, 'deregistering a service whose check stayed critical past DeregisterCriticalServiceAfter');
      this.deregisterService(e.definition.serviceId).catch((error: Error) => {
        this.opts.logger.warn({ service: e.definition.serviceId, err: error.message }, 'could not deregister the service');
      });
      return;
    }
  }

  // ------------------------------------------------------------ anti-entropy

  /** The sync that would make the catalog match this agent. */
  desired(): Extract<CatalogOp, { op: 'sync' }> {
    const services: ServiceInput[] = this.listServices().map((s) => ({
      id: s.id, service: s.name, tags: s.tags, address: s.address, port: s.port, meta: s.meta, weights: s.weights,
      enableTagOverride: s.enableTagOverride, ...serviceExtras(s),
    }));
    for (const b of this.opts.builtinServices?.() ?? []) if (!services.some((s) => s.id === b.id)) services.push(b);
    const checks: CheckInput[] = this.listChecks().map((c) => ({
      checkId: c.definition.id, name: c.definition.name, status: c.status, notes: c.definition.notes, output: c.output,
      serviceId: c.definition.serviceId, type: c.definition.kind,
    }));
    return { op: 'sync', node: this.opts.node(), services, checks };
  }

  /** Write this node's entry again if the catalog differs (after a snapshot restore replaced the catalog). */
  resync(): void {
    // Before start() the local services are not loaded yet; start() syncs anyway.
    if (this.timer === undefined) return;
    this.full = true;
    this.kick();
  }

  /** What this agent holds, by id, as the catalog's inputs. */
  private view(): LocalCatalogView {
    return {
      node: this.opts.node(),
      service: (id) => {
        const s = this.services.get(id);
        if (!s) return this.opts.builtinServices?.().find((b) => b.id === id);
        return {
          id: s.id, service: s.name, tags: s.tags, address: s.address, port: s.port, meta: s.meta, weights: s.weights,
          enableTagOverride: s.enableTagOverride, ...serviceExtras(s),
        };
      },
      check: (id) => {
        const c = this.checks.get(id);
        return c && {
          checkId: c.definition.id, name: c.definition.name, status: c.status, notes: c.definition.notes, output: c.output,
          serviceId: c.definition.serviceId, type: c.definition.kind,
        };
      },
      checksOf: (serviceId) => [...(this.checksByService.get(serviceId) ?? [])],
      serviceIds: () => [...this.services.keys(), ...(this.opts.builtinServices?.() ?? []).map((b) => b.id).filter((id) => !this.services.has(id))],
      checkIds: () => this.checks.keys(),
    };
  }

  /** Resolves once the round that carries the changes made so far is done (written, or failed and left to a retry). */
  private changed(): Promise<void> {
    const done = new Promise<void>((resolve) => this.roundWaiters.push(resolve));
    this.kick();
    return done;
  }

  /** Starts a round unless one is running (that one loops while there is more to do). */
  private kick(): void {
    if (this.syncing || this.stopped) {
      if (this.stopped) this.releaseWaiters();
      return;
    }
    this.syncing = this.syncLoop().finally(() => {
      this.syncing = undefined;
      // A change that came in while the loop was ending: another round (unless it is waiting to retry).
      if (this.roundWaiters.length > 0 && !this.retrying) this.kick();
    });
  }

  private releaseWaiters(): void {
    const ws = this.roundWaiters;
    this.roundWaiters = [];
    for (const w of ws) w();
  }

  private async syncLoop(): Promise<void> {
    while (!this.stopped && (this.full || this.pendingServices.size > 0 || this.pendingChecks.size > 0 || this.roundWaiters.length > 0)) {
      const waiters = this.roundWaiters;
      this.roundWaiters = [];
      const release = (): void => { for (const w of waiters) w(); };
      if (!this.opts.ready()) {
        // Kept for later; the callers need not wait (their change is saved locally).
        release();
        this.retryLater();
        return;
      }
      const full = this.full;
      const scope = { services: this.pendingServices, checks: this.pendingChecks };
      this.full = false;
      this.pendingServices = new Set();
      this.pendingChecks = new Set();
      // A cluster still at protocol version 1 (a rolling upgrade) knows only the full sync: compare everything and write one.
      const incremental = this.opts.incremental?.() ?? true;
      const ops = incremental ? catalogDelta(this.opts.catalog, this.view(), full ? undefined : scope)
        : catalogSyncDiffers(this.opts.catalog, this.desired()) ? [this.desired()] : [];
      if (ops.length === 0) {
        if (full) this.counters.unchanged++;
        release();
        continue;
      }
      try {
        await this.writeAll(ops);
        this.counters.written += ops.length;
      } catch (error) {
        this.counters.failed++;
        this.opts.logger.debug({ err: (error as Error).message }, 'catalog sync failed; retrying');
        // The next round compares everything: whatever of this one did not land is found again.
        this.full = true;
        release();
        this.retryLater();
        return;
      }
      release();
    }
  }

  /** Writes operations for distinct services and checks, several at once; rejects with the first failure once all settled. */
  private async writeAll(ops: CatalogOp[]): Promise<void> {
    let next = 0;
    let failure: Error | undefined;
    const worker = async (): Promise<void> => {
      while (next < ops.length && !this.stopped) {
        const op = ops[next++]!;
        try {
          await this.opts.write(op);
        } catch (error) {
          failure ??= error as Error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITES_IN_FLIGHT, ops.length) }, worker));
    if (failure) throw failure;
  }

  private retrying = false;

  private retryLater(): void {
    if (this.retrying) return;
    this.retrying = true;
    const t = setTimeout(() => {
      this.retrying = false;
      this.kick();
    }, RETRY_MS);
    t.unref();
  }

  // ------------------------------------------------------------ persistence

  private persistTimer: NodeJS.Timeout | undefined;

  /** Status changes are saved a little later, batched (a lost status is re-learned by the next check run). */
  private persistSoon(): void {
    if (this.persistTimer) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      if (this.stopped) return;
      try {
        this.persist();
      } catch (error) {
        this.opts.logger.warn({ err: (error as Error).message }, 'could not save the check statuses');
      }
    }, 500);
    this.persistTimer.unref();
  }

  /** The number of the last change recorded (in FILE's `seq`, or a journal line's). */
  private seq = 0;
  private journalFd: number | undefined;
  private journalLines = 0;

  private checkState(id: string): LocalCheckState {
    const e = this.checks.get(id)!;
    return { definition: e.definition, status: e.status, output: e.output };
  }

  /** Appends one registration's changes to the journal and fsyncs it, or folds everything into FILE when the journal is long. */
  private record(change: Omit<JournalLine, 'seq'>): Promise<void> {
    this.seq++;
    if (this.journalLines >= Math.max(MIN_JOURNAL_LINES, 2 * (this.services.size + this.checks.size))) {
      this.persist();
      return Promise.resolve();
    }
    this.journalFd ??= openSync(join(this.opts.dataDir, JOURNAL), 'a', 0o600);
    writeSync(this.journalFd, `${JSON.stringify({ seq: this.seq, ...change })}\n`);
    this.journalLines++;
    return this.syncJournal();
  }

  private journalSync: Promise<void> | undefined;

  /**
   * One fsync, off the event loop, for every journal line written in this
   * turn (group commit): sixteen registrations at once cost one fsync, not
   * sixteen in a row on the event loop.
   */
  private syncJournal(): Promise<void> {
    this.journalSync ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.journalSync = undefined;
        const fd = this.journalFd;
        if (fd === undefined) {
          resolve();
          return;
        }
        fsync(fd, (error) => (error ? reject(error) : resolve()));
      });
    });
    return this.journalSync;
  }

  /**
   * Writes the registrations (and the checks' last statuses) to a temp file,
   * fsyncs it and renames it over the old one; then empties the journal. A
   * crash between the two leaves journal lines FILE already holds: their
   * `seq` is not above FILE's, so loading skips them.
   */
  private persist(): void {
    const path = join(this.opts.dataDir, FILE);
    const tmp = `${path}.tmp`;
    const body = JSON.stringify({
      version: 1,
      seq: this.seq,
      services: this.listServices(),
      checks: this.listChecks(),
    });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    if (this.journalLines > 0) {
      this.journalFd ??= openSync(join(this.opts.dataDir, JOURNAL), 'a', 0o600);
      ftruncateSync(this.journalFd, 0);
      fsyncSync(this.journalFd);
      this.journalLines = 0;
    }
  }

  private load(): void {
    const saved = this.readFile(FILE);
    let seq = 0;
    if (saved !== undefined) {
      let parsed: { seq?: number; services?: ServiceDefinition[]; checks?: LocalCheckState[] };
      try {
        parsed = JSON.parse(saved) as typeof parsed;
      } catch {
        this.opts.logger.warn({ file: FILE }, 'the saved local services do not parse; starting without them');
        parsed = {};
      }
      seq = typeof parsed.seq === 'number' ? parsed.seq : 0;
      for (const s of parsed.services ?? []) this.services.set(s.id, s);
      for (const c of parsed.checks ?? []) {
        this.checks.set(c.definition.id, { definition: c.definition, status: c.status, output: c.output, runner: undefined });
      }
    }
    const journal = this.readFile(JOURNAL);
    let replayed = 0;
    for (const text of journal?.split('\n') ?? []) {
      if (text === '') continue;
      let line: JournalLine;
      try {
        line = JSON.parse(text) as JournalLine;
      } catch {
        // A line cut short by a crash was never acknowledged: it and anything after it are dropped.
        this.opts.logger.warn({ file: JOURNAL }, 'the local services journal ends with a torn line; ignoring it');
        break;
      }
      if (typeof line.seq !== 'number' || line.seq <= seq) continue;
      seq = line.seq;
      replayed++;
      for (const id of line.deleteServices ?? []) this.services.delete(id);
      for (const id of line.deleteChecks ?? []) this.checks.delete(id);
      for (const s of line.services ?? []) this.services.set(s.id, s);
      for (const c of line.checks ?? []) {
        this.checks.set(c.definition.id, { definition: c.definition, status: c.status, output: c.output, runner: undefined });
      }
    }
    this.seq = seq;
    this.checksByService.clear();
    for (const [id, e] of this.checks) this.indexCheck(id, e.definition.serviceId);
    // Fold what the journal held into FILE, so the journal starts empty.
    if (journal !== undefined && journal !== '') {
      this.journalLines = replayed + 1;
      this.persist();
    }
  }

  private readFile(name: string): string | undefined {
    try {
      return readFileSync(join(this.opts.dataDir, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}

/** The registration fields a definition carries as given (only those set). */
function serviceExtras(s: ServiceDefinition): ServiceExtras {
  const out: ServiceExtras = {};
  for (const key of SERVICE_EXTRA_KEYS) if (s[key] !== undefined) (out as Record<string, unknown>)[key] = s[key];
  return out;
}
