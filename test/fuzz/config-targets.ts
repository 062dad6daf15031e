// Fuzz target for the agent's settings: flags, KONSUL_* environment variables
// and a JSON config file, each valid, near-valid or garbage. resolveConfig must
// give a config whose numbers are in range or a ConfigError naming where the
// bad value came from; never another error.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, resolveConfig, type AgentFlagValues } from '../../src/agent/config.js';
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
  'KONSUL_RAFT_BIND_ADDR', 'KONSUL_RAFT_ADVERTISE_ADDR', 'KONSUL_HTTP_ADDR', 'KONSUL_DNS_ADDR', 'KONSUL_RAFT_TOKEN', 'KONSUL_CLUSTER_ID',
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
    const property = fc.property(
      flagsArb, envArb,
      fc.option(fc.oneof(fileArb, mutated(fileArb), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))), { nil: undefined }),
      fc.boolean(),
      (flags0, env0, file, viaEnv) => {
        // Copies: fast-check replays the same values while shrinking.
        const flags = { ...flags0 };
        const env = { ...env0 };
        if (file !== undefined) {
          writeFileSync(path, file);
          if (viaEnv) env.KONSUL_CONFIG_FILE = path;
          else flags.config = path;
        }
        try {
          const c = resolveConfig(flags, env);
          for (const [name, v] of Object.entries({
            electionTimeoutMs: c.electionTimeoutMs, heartbeatIntervalMs: c.heartbeatIntervalMs, snapshotThreshold: c.snapshotThreshold,
            deadServerTimeoutMs: c.deadServerTimeoutMs, maxValueBytes: c.maxValueBytes, nodeHealthTimeoutMs: c.nodeHealthTimeoutMs,
            antiEntropyIntervalMs: c.antiEntropyIntervalMs, raftPort: c.raftAddr.port, httpPort: c.httpAddr.port,
          })) {
            assert.ok(Number.isSafeInteger(v) && v >= 0, `${name} is ${v}`);
          }
          assert.ok(c.heartbeatIntervalMs * 2 <= c.electionTimeoutMs);
          assert.ok(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(c.nodeId), `node id ${JSON.stringify(c.nodeId)}`);
          for (const [name, ttl] of Object.entries(c.dns.serviceTtlSeconds)) {
            assert.ok(Number.isSafeInteger(ttl) && ttl >= 0, `dns ttl ${name}=${ttl}`);
          }
        } catch (error) {
          assert.ok(error instanceof ConfigError, `not a ConfigError: ${String((error as Error)?.stack ?? error)}`);
          assert.ok(!(error as Error).message.includes('\n'), 'a config error spans lines');
        }
      },
    );
    return { property, teardown: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};
