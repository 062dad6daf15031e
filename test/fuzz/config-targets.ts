// Fuzz target for the agent's settings: flags, KONSUL_* environment variables
// and a JSON config file, each valid, near-valid or garbage. resolveConfig must
// give a config whose numbers are in range or a ConfigError naming where the
// bad value came from; never another error.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, resolveConfig, type AgentConfig, type AgentFlagValues } from '../../src/agent/config.js';
import { mutated, type FuzzTarget } from './runner.js';

/** Text for a setting: typical good values, near misses, and any string. */
const valueText = fc.oneof(
  fc.constantFrom(
    '', ' ', '0', '1', '16', '300ms', '50ms', '2s', '5m', '1h', '-1s', '1.5s', '1e3', '99999999999999999999', 'true', 'false', 'yes',
    '127.0.0.1:7000', '[::1]:7000', '::1', 'host:99999', 'a:b:c', 'n1', 'dc1', 'consul', 'consul.', 'a..b', '512KiB', '1MiB', '9MiB', 'web=10s,*=5s',
    '=5s', 'web=x', 'info', 'trace', 'loud', '1.2.3.4,5.6.7.8:53', 'a b',
  ),
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const jsonValue = fc.oneof(valueText, fc.jsonValue({ maxDepth: 2 }), fc.array(valueText, { maxLength: 3 }), fc.dictionary(valueText, valueText, { maxKeys: 2 }));

const stringFlags = [
  'join', 'nodeId', 'dataDir', 'raftAddr', 'advertise', 'httpAddr', 'dnsAddr', 'token', 'clusterId', 'logLevel', 'electionTimeout',
  'heartbeatInterval', 'snapshotThreshold', 'snapshotInterval', 'deadServerTimeout', 'stabilizationTime', 'maxValueSize',
  'datacenter', 'domain', 'recursor', 'dnsNodeTtl', 'dnsServiceTtl', 'nodeHealthTimeout', 'antiEntropyInterval',
] as const;
const boolFlags = ['server', 'bootstrap', 'dev', 'dnsOnlyPassing', 'enableScriptChecks'] as const;
const envNames = [
  'KONSUL_SERVER', 'KONSUL_RAFT_BOOTSTRAP', 'KONSUL_DEV', 'KONSUL_RAFT_JOIN', 'KONSUL_NODE_ID', 'KONSUL_DATA_DIR', 'KONSUL_RAFT_DATA_DIR',
  'KONSUL_RAFT_BIND_ADDR', 'KONSUL_RAFT_ADVERTISE_ADDR', 'KONSUL_HTTP_BIND_ADDR', 'KONSUL_DNS_ADDR', 'KONSUL_RAFT_TOKEN', 'KONSUL_CLUSTER_ID',
  'KONSUL_LOG_LEVEL', 'KONSUL_RAFT_ELECTION_TIMEOUT', 'KONSUL_RAFT_HEARTBEAT_TIMEOUT', 'KONSUL_RAFT_SNAPSHOT_THRESHOLD',
  'KONSUL_RAFT_SNAPSHOT_INTERVAL', 'KONSUL_DEAD_SERVER_TIMEOUT', 'KONSUL_SERVER_STABILIZATION_TIME', 'KONSUL_KV_MAX_VALUE_SIZE',
  'KONSUL_DATACENTER', 'KONSUL_DNS_DOMAIN', 'KONSUL_DNS_RECURSORS', 'KONSUL_DNS_ONLY_PASSING', 'KONSUL_DNS_NODE_TTL',
  'KONSUL_DNS_SERVICE_TTL', 'KONSUL_NODE_HEALTH_TIMEOUT', 'KONSUL_ANTI_ENTROPY_INTERVAL', 'KONSUL_ENABLE_SCRIPT_CHECKS',
];
const fileKeys = [
  'server', 'bootstrap', 'dev', 'join', 'node_id', 'data_dir', 'raft_addr', 'advertise', 'http_addr', 'dns_addr', 'token', 'cluster_id',
  'log_level', 'election_timeout', 'heartbeat_interval', 'snapshot_threshold', 'snapshot_interval', 'dead_server_timeout',
  'server_stabilization_time', 'kv_max_value_size', 'datacenter', 'domain', 'recursors', 'dns_only_passing', 'dns_node_ttl',
  'dns_service_ttl', 'node_health_timeout', 'anti_entropy_interval', 'enable_script_checks', 'tls_cert', 'unknown_key', '__proto__',
];

const flagsArb: fc.Arbitrary<AgentFlagValues> = fc.record({
  strings: fc.uniqueArray(fc.tuple(fc.constantFrom(...stringFlags), valueText), { maxLength: 5, selector: ([k]) => k }),
  bools: fc.uniqueArray(fc.tuple(fc.constantFrom(...boolFlags), fc.boolean()), { maxLength: 3, selector: ([k]) => k }),
  dataDir: fc.boolean(),
}).map(({ strings, bools, dataDir }) => {
  const flags: Record<string, unknown> = {};
  if (dataDir) flags.dataDir = '/tmp/konsul-fuzz-not-created';
  for (const [k, v] of strings) flags[k] = v;
  for (const [k, v] of bools) flags[k] = v;
  return flags as AgentFlagValues;
});

const durations = fc.constantFrom('0', '1', '4ms', '5ms', '49ms', '50ms', '99ms', '100ms', '300ms', '999ms', '1s', '5s', '60s', '61s', '5m', '24h', '25h', '1h30m');
/** Per setting, values near its limits: most give a config, and those that do must be in range. */
const plausible: Partial<Record<(typeof stringFlags)[number], fc.Arbitrary<string>>> = {
  electionTimeout: durations, heartbeatInterval: durations, snapshotInterval: durations, deadServerTimeout: durations,
  stabilizationTime: durations, dnsNodeTtl: durations, nodeHealthTimeout: durations, antiEntropyInterval: durations,
  snapshotThreshold: fc.constantFrom('0', '15', '16', '8192', '1073741824', '1073741825'),
  maxValueSize: fc.constantFrom('0', '1', '512KiB', '8MiB', '8388609', '9MiB'),
  raftAddr: fc.constantFrom('127.0.0.1:0', '127.0.0.1:65535', '127.0.0.1:65536', '[::1]:7000', '0.0.0.0:7000'),
  httpAddr: fc.constantFrom('127.0.0.1:8500', '127.0.0.1', 'localhost:1'),
  join: fc.constantFrom('127.0.0.1:7000', '10.0.0.1,10.0.0.2:7001', '[::1]'),
  datacenter: fc.constantFrom('dc1', 'DC2', 'a-b', '-a'),
  domain: fc.constantFrom('consul', 'consul.', 'example.com.', 'a..b'),
  dnsServiceTtl: fc.constantFrom('web=10s', 'web=10s,*=5s', '*=0s', 'web=25h'),
  logLevel: fc.constantFrom('info', 'debug', 'warn'),
};
const plausibleFlagsArb: fc.Arbitrary<AgentFlagValues> = fc.tuple(
  fc.uniqueArray(fc.constantFrom(...(Object.keys(plausible) as Array<keyof typeof plausible>)), { maxLength: 4 })
    .chain((keys) => fc.tuple(...keys.map((k) => plausible[k]!.map((v) => [k, v] as const)))),
  fc.oneof(
    { weight: 9, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...stringFlags), valueText) },
  ),
  fc.boolean(),
).map(([pairs, hostile, server]) => {
  const flags: Record<string, unknown> = { dataDir: '/tmp/konsul-fuzz-not-created', nodeId: 'n1', server };
  for (const [k, v] of pairs) flags[k] = v;
  if (hostile) flags[hostile[0]] = hostile[1];
  return flags as AgentFlagValues;
});

const envArb = fc.uniqueArray(fc.tuple(fc.constantFrom(...envNames), valueText), { maxLength: 5, selector: ([k]) => k })
  .map((pairs) => Object.fromEntries(pairs) as NodeJS.ProcessEnv);

const fileArb = fc.uniqueArray(fc.tuple(fc.constantFrom(...fileKeys), jsonValue), { maxLength: 6, selector: ([k]) => k })
  .map((pairs) => Buffer.from(`{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`));

export const configTarget: FuzzTarget = {
  name: 'agent-config',
  description: 'resolveConfig over hostile flags, KONSUL_* variables and JSON config files (generated, byte-mutated, random); a config with in-range values or a ConfigError naming its source',
  testRuns: 8000,
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'konsul-fuzz-config-'));
    const path = join(dir, 'konsul.json');
    const seen = { ok: 0, refused: 0 };
    const property = fc.property(
      fc.oneof(
        // Hostile everywhere: flags, variables and a config file.
        fc.tuple(flagsArb, envArb, fc.option(fc.oneof(fileArb, mutated(fileArb), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))), { nil: undefined })),
        // Near the limits, mostly valid: what resolves must be in range.
        fc.tuple(plausibleFlagsArb, fc.constant({} as NodeJS.ProcessEnv), fc.constant(undefined)),
      ),
      fc.boolean(),
      ([flags0, env0, file], viaEnv) => {
        // Copies: fast-check replays the same values while shrinking.
        const flags = { ...flags0 };
        const env = { ...env0 };
        if (file !== undefined) {
          writeFileSync(path, file);
          if (viaEnv) env.KONSUL_CONFIG_FILE = path;
          else flags.config = path;
        }
        let c: AgentConfig;
        try {
          c = resolveConfig(flags, env);
        } catch (error) {
          assert.ok(error instanceof ConfigError, `not a ConfigError: ${String((error as Error)?.stack ?? error)}`);
          seen.refused++;
          assert.ok(!(error as Error).message.includes('\n'), 'a config error spans lines');
          return;
        }
        for (const [name, v] of Object.entries({
          electionTimeoutMs: c.electionTimeoutMs, heartbeatIntervalMs: c.heartbeatIntervalMs, snapshotThreshold: c.snapshotThreshold,
          deadServerTimeoutMs: c.deadServerTimeoutMs, maxValueBytes: c.maxValueBytes, nodeHealthTimeoutMs: c.nodeHealthTimeoutMs,
          antiEntropyIntervalMs: c.antiEntropyIntervalMs, raftPort: c.raftAddr.port, httpPort: c.httpAddr.port,
        })) {
          assert.ok(Number.isSafeInteger(v) && v >= 0, `${name} is ${v}`);
        }
        // The documented ranges (konsul agent --help).
        const within = (name: string, v: number, min: number, max: number): void => assert.ok(v >= min && v <= max, `${name} ${v} outside ${min}..${max}`);
        within('electionTimeoutMs', c.electionTimeoutMs, 50, 60_000);
        within('heartbeatIntervalMs', c.heartbeatIntervalMs, 5, 10_000);
        within('snapshotThreshold', c.snapshotThreshold, 16, 2 ** 30);
        within('maxValueBytes', c.maxValueBytes, 1, 8 * 2 ** 20);
        within('antiEntropyIntervalMs', c.antiEntropyIntervalMs, 100, 24 * 3_600_000);
        within('raft port', c.raftAddr.port, 0, 65_535);
        within('http port', c.httpAddr.port, 0, 65_535);
        assert.ok(c.heartbeatIntervalMs * 2 <= c.electionTimeoutMs);
        assert.ok(c.deadServerTimeoutMs >= 4 * c.electionTimeoutMs);
        assert.ok(c.nodeHealthTimeoutMs >= 2 * c.electionTimeoutMs);
        seen.ok++;
        assert.ok(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(c.nodeId), `node id ${JSON.stringify(c.nodeId)}`);
        for (const [name, ttl] of Object.entries(c.dns.serviceTtlSeconds)) {
          assert.ok(Number.isSafeInteger(ttl) && ttl >= 0, `dns ttl ${name}=${ttl}`);
        }
      },
    );
    return {
      property,
      async after() {
        // The generator reaches both: settings that resolve and settings that are refused.
        // (Only judged over enough cases: a handful may all land on one side.)
        if (seen.ok + seen.refused >= 200) assert.ok(seen.ok >= (seen.ok + seen.refused) * 0.1 && seen.refused > 0, JSON.stringify(seen));
      },
      teardown: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};
