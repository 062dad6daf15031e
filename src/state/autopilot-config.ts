// ---- ops: the autopilot configuration (Consul's `operator autopilot
// get-config|set-config`, GET|PUT /v1/operator/autopilot/configuration),
// replicated: one record in the state machine's meta table, written by the
// autopilot-config command (tag 42, protocol 2) with an optional check-and-set
// on its ModifyIndex. Until one was written, each leader uses the defaults its
// own settings give (--stabilization-time, --election-timeout).

/** What the autopilot follows. Durations in milliseconds. */
export interface AutopilotConfig {
  /** Remove servers (and members) silent past the dead-server timeout. */
  cleanupDeadServers: boolean;
  /** A server the leader has not heard from this long is unhealthy. */
  lastContactThresholdMs: number;
  /** A server more than this many entries behind the leader's commit index is unhealthy. */
  maxTrailingLogs: number;
  /** Never remove or demote a voter when fewer than this many voters would remain (0: no floor). */
  minQuorum: number;
  /** A non-voting server is promoted only after staying healthy this long. */
  serverStabilizationTimeMs: number;
  /** The node meta key naming each server's redundancy zone ('' = no zones). */
  redundancyZoneTag: string;
  /** Kept for Consul's clients: konsul upgrades in place (protocol versions), there is no upgrade migration to turn off. */
  disableUpgradeMigration: boolean;
  /** Kept for Consul's clients; unused (see disableUpgradeMigration). */
  upgradeVersionTag: string;
}

/** The stored record: the configuration and the indexes of the commands that wrote it. */
export interface AutopilotConfigRecord extends AutopilotConfig {
  createIndex: number;
  modifyIndex: number;
}

export const AUTOPILOT_CONFIG_FIELDS: ReadonlyArray<keyof AutopilotConfig> = [
  'cleanupDeadServers', 'lastContactThresholdMs', 'maxTrailingLogs', 'minQuorum', 'serverStabilizationTimeMs',
  'redundancyZoneTag', 'disableUpgradeMigration', 'upgradeVersionTag',
];

const MAX_DURATION_MS = 24 * 3_600_000;
const MAX_TAG_BYTES = 128;

/** Why this is not an autopilot configuration, or undefined (checked on encode and on every replica's decode). */
export function autopilotConfigProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const c = value as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (!(AUTOPILOT_CONFIG_FIELDS as readonly string[]).includes(key)) return `unknown field ${JSON.stringify(key)}`;
  }
  for (const f of ['cleanupDeadServers', 'disableUpgradeMigration'] as const) {
    if (typeof c[f] !== 'boolean') return `${f} must be true or false`;
  }
  for (const f of ['lastContactThresholdMs', 'serverStabilizationTimeMs'] as const) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_DURATION_MS) return `${f} must be whole milliseconds from 0 to 24h`;
  }
  if (c.lastContactThresholdMs === 0) return 'the last contact threshold must be above 0';
  for (const f of ['maxTrailingLogs', 'minQuorum'] as const) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) return `${f} must be an integer from 0 to 4294967295`;
  }
  for (const f of ['redundancyZoneTag', 'upgradeVersionTag'] as const) {
    const v = c[f];
    if (typeof v !== 'string' || Buffer.byteLength(v) > MAX_TAG_BYTES) return `${f} must be a string of at most ${MAX_TAG_BYTES} bytes`;
  }
  return undefined;
}

/** The record's stored form: JSON of the fields in a fixed order, then the indexes. */
export function encodeAutopilotRecord(r: AutopilotConfigRecord): Buffer {
  const out: Record<string, unknown> = {};
  for (const f of AUTOPILOT_CONFIG_FIELDS) out[f] = r[f];
  out.createIndex = r.createIndex;
  out.modifyIndex = r.modifyIndex;
  return Buffer.from(JSON.stringify(out), 'utf8');
}

/** The stored record, or undefined when the bytes are not one (treated as never written). */
export function decodeAutopilotRecord(bytes: Buffer | undefined): AutopilotConfigRecord | undefined {
  if (!bytes) return undefined;
  try {
    const raw = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const { createIndex, modifyIndex, ...config } = raw;
    if (autopilotConfigProblem(config) !== undefined || typeof createIndex !== 'number' || typeof modifyIndex !== 'number') return undefined;
    return { ...(config as unknown as AutopilotConfig), createIndex, modifyIndex };
  } catch {
    return undefined;
  }
}

/** A copy holding only the configuration's fields, in their fixed order. */
export function pickAutopilotConfig(c: AutopilotConfig): AutopilotConfig {
  const out: Record<string, unknown> = {};
  for (const f of AUTOPILOT_CONFIG_FIELDS) out[f] = c[f];
  return out as unknown as AutopilotConfig;
}
