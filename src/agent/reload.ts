// Applying the config files to a running agent: the services and checks they
// define (at start and on SIGHUP), and on SIGHUP the settings that can change
// without a restart. A config that does not load is logged and the running one kept.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  loadConfig, SETTINGS, settingValue,
  type AgentConfig, type AgentFlagValues, type LoadedConfig, type SettingName, type SettingSpec,
} from './config.js';
import type { CheckDefinition } from './local/definitions.js';
import type { LocalServices } from './services.js';

/** Which services and checks the config files registered, so a later config without them removes them (and only them). */
const OWNED_FILE = 'config-definitions.json';

interface Owned { services: string[]; checks: string[] }

export interface DefinitionChanges {
  added: string[];
  updated: string[];
  removed: string[];
}

export interface ReloadReport {
  ok: boolean;
  /** Why the new config was not taken (ok false). */
  error?: string;
  /** Settings (config-file keys) whose new value is in effect. */
  applied: string[];
  /** Settings that changed but keep their running value until a restart. */
  restartNeeded: string[];
  services: DefinitionChanges;
  checks: DefinitionChanges;
}

/** Each setting's effective value as comparable text; taken before start-up fills in what the data dir says. */
export function settingValues(loaded: LoadedConfig): Record<SettingName, string> {
  const out = {} as Record<SettingName, string>;
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    out[name] = JSON.stringify(settingValue(name, loaded.config, loaded.origins[name]) ?? null);
  }
  return out;
}

function byId<T extends { id: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface ConfigReloaderOptions {
  flags: AgentFlagValues;
  env: NodeJS.ProcessEnv;
  /** The running configuration; settings that reload are changed in it. */
  config: AgentConfig;
  initial: LoadedConfig;
  /** settingValues(initial), taken before start-up changed the config. */
  initialValues: Record<SettingName, string>;
  local: LocalServices;
  logger: Logger;
  dataDir: string;
  /** sec: new TLS files' contents (certificate rotation); called on every reload that reads different bytes. */
  onTls?: (tls: NonNullable<AgentConfig['tls']>) => void;
}

export class ConfigReloader {
  private values: Record<SettingName, string>;

  constructor(private readonly o: ConfigReloaderOptions) {
    this.values = { ...o.initialValues };
  }

  /** Registers the initial config's services and checks (and removes those an earlier config had and this one has not). */
  start(): { services: DefinitionChanges; checks: DefinitionChanges } {
    return this.applyDefinitions(this.o.initial);
  }

  /** SIGHUP: read every source again and apply what can change now. */
  reload(): ReloadReport {
    const log = this.o.logger;
    let loaded: LoadedConfig;
    try {
      loaded = loadConfig(this.o.flags, this.o.env);
    } catch (error) {
      const message = (error as Error).message;
      log.error({ err: message }, 'config reload failed; the running configuration is kept');
      const none = { added: [], updated: [], removed: [] };
      return { ok: false, error: message, applied: [], restartNeeded: [], services: none, checks: { ...none } };
    }
    const values = settingValues(loaded);
    const applied: string[] = [];
    const restartNeeded: string[] = [];
    for (const name of Object.keys(SETTINGS) as SettingName[]) {
      if (values[name] === this.values[name]) continue;
      const spec: SettingSpec = SETTINGS[name];
      if (!spec.reloadable) {
        restartNeeded.push(spec.file);
        continue;
      }
      this.apply(name, loaded.config);
      this.values[name] = values[name];
      applied.push(spec.file);
    }
    // sec: certificates rotate in place (same paths, new bytes): compare contents, not paths.
    const nextTls = loaded.config.tls;
    const currentTls = this.o.config.tls;
    if (nextTls && currentTls && this.o.onTls
      && !(nextTls.cert.equals(currentTls.cert) && nextTls.key.equals(currentTls.key) && nextTls.ca.equals(currentTls.ca))) {
      try {
        this.o.onTls(nextTls);
        this.o.config.tls = nextTls;
        applied.push('tls_cert', 'tls_key', 'tls_ca');
      } catch (error) {
        log.error({ err: (error as Error).message }, 'the new TLS certificate or key was refused; the running ones are kept');
      }
    }
    const changes = this.applyDefinitions(loaded);
    log.info({ applied, services: changes.services, checks: changes.checks, files: loaded.files }, 'configuration reloaded');
    if (restartNeeded.length > 0) {
      log.warn({ settings: restartNeeded }, 'these settings changed in the config but take effect only after a restart');
    }
    return { ok: true, applied, restartNeeded, ...changes };
  }

  private apply(name: SettingName, next: AgentConfig): void {
    if (name === 'logLevel') {
      this.o.config.logLevel = next.logLevel;
      this.o.logger.level = next.logLevel;
    } else if (name === 'enableScriptChecks') {
      this.o.config.enableScriptChecks = next.enableScriptChecks;
    }
  }

  private applyDefinitions(loaded: LoadedConfig): { services: DefinitionChanges; checks: DefinitionChanges } {
    const { local, logger } = this.o;
    const owned = this.readOwned();
    const services: DefinitionChanges = { added: [], updated: [], removed: [] };
    const checks: DefinitionChanges = { added: [], updated: [], removed: [] };
    const failed = (what: string) => (error: Error): void => {
      logger.warn({ definition: what, err: error.message }, 'could not apply a definition from the config files');
    };

    // The local changes happen synchronously inside these calls; the catalog sync that follows is not waited for.
    const wantServices = new Set(loaded.services.map((s) => s.registration.service.id));
    for (const id of owned.services) {
      if (wantServices.has(id) || local.service(id) === undefined) continue;
      services.removed.push(id);
      local.deregisterService(id).catch(failed(`service ${id}`));
    }
    for (const { registration } of loaded.services) {
      const { service } = registration;
      const want = byId(registration.checks.map((c) => ({ ...c, serviceId: service.id })));
      const existing = local.service(service.id);
      const existingChecks = byId(local.listChecks().map((c) => c.definition).filter((c) => c.serviceId === service.id));
      if (existing && owned.services.includes(service.id) && same(existing, service) && same(existingChecks, want)) continue;
      (existing ? services.updated : services.added).push(service.id);
      local.registerService(service, want).catch(failed(`service ${service.id}`));
    }

    const wantChecks = new Set(loaded.checks.map((c) => c.check.id));
    const current = new Map<string, CheckDefinition>(local.listChecks().map((c) => [c.definition.id, c.definition]));
    for (const id of owned.checks) {
      if (wantChecks.has(id) || !current.has(id)) continue;
      checks.removed.push(id);
      local.deregisterCheck(id).catch(failed(`check ${id}`));
    }
    for (const { check } of loaded.checks) {
      const existing = current.get(check.id);
      if (existing && owned.checks.includes(check.id) && same(existing, check)) continue;
      (existing ? checks.updated : checks.added).push(check.id);
      local.registerCheck(check).catch(failed(`check ${check.id}`));
    }

    this.writeOwned({ services: [...wantServices].sort(), checks: [...wantChecks].sort() });
    return { services, checks };
  }

  private readOwned(): Owned {
    try {
      const saved = JSON.parse(readFileSync(join(this.o.dataDir, OWNED_FILE), 'utf8')) as Partial<Owned>;
      return {
        services: Array.isArray(saved.services) ? saved.services.filter((s) => typeof s === 'string') : [],
        checks: Array.isArray(saved.checks) ? saved.checks.filter((s) => typeof s === 'string') : [],
      };
    } catch {
      return { services: [], checks: [] };
    }
  }

  private writeOwned(owned: Owned): void {
    const path = join(this.o.dataDir, OWNED_FILE);
    const tmp = `${path}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, JSON.stringify(owned));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (error) {
      this.o.logger.warn({ err: (error as Error).message }, 'could not record which services the config files define');
    }
  }
}
