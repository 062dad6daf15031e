// Config files and directories: the order they are read in, where each value
// came from, service and check definitions, and errors that name the file and the key.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  AGENT_FLAG_NAMES, ConfigError, closestKey, loadConfig, printableConfig, SETTINGS, type AgentFlagValues,
} from '../../src/agent/config.js';

/** Every temporary dir this file made, removed when it ends. */
const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function dir(files: Record<string, unknown>): string {
  const d = mkdtempSync(join(tmpdir(), 'konsul-conf-'));
  made.push(d);
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(d, name), typeof body === 'string' ? body : JSON.stringify(body));
  }
  return d;
}

function errorOf(flags: AgentFlagValues, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(flags, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), 'one line');
    return error.message;
  }
  return assert.fail('expected a ConfigError');
}

describe('config files and directories', () => {
  it('a directory is read in lexical order, later files win; other files are ignored', () => {
    const d = dir({
      '20-b.json': { http_addr: '127.0.0.1:9002', log_level: 'warn' },
      '10-a.json': { data_dir: '/tmp/a', http_addr: '127.0.0.1:9001', node_id: 'n1' },
      'README.txt': 'not json at all',
    });
    mkdirSync(join(d, 'sub.json'));
    const l = loadConfig({ config: d }, {});
    assert.deepEqual(l.files, [join(d, '10-a.json'), join(d, '20-b.json')]);
    assert.equal(l.config.httpAddr.port, 9002);
    assert.equal(l.config.logLevel, 'warn');
    assert.equal(l.config.dataDir, '/tmp/a');
    assert.deepEqual(l.origins.httpAddr, { source: 'file', from: join(d, '20-b.json'), raw: '127.0.0.1:9002' });
    assert.equal(l.origins.dataDir?.from, join(d, '10-a.json'));
  });

  it('--config is repeatable: later paths override earlier ones; flags and variables still win', () => {
    const a = dir({ 'a.json': { data_dir: '/tmp/a', node_id: 'n1', dns_addr: '127.0.0.1:9601', datacenter: 'east' } });
    const b = dir({ 'b.json': { dns_addr: '127.0.0.1:9602', datacenter: 'west' } });
    const paths = [join(a, 'a.json'), join(b, 'b.json')];
    const l = loadConfig({ config: paths, datacenter: 'north' }, { KONSUL_DNS_ADDR: '127.0.0.1:9603' });
    assert.equal(l.config.datacenter, 'north');
    assert.equal(l.config.dnsAddr.port, 9603);
    assert.equal(loadConfig({ config: paths }, {}).config.dnsAddr.port, 9602);
    assert.equal(loadConfig({ config: [...paths].reverse() }, {}).config.dnsAddr.port, 9601);
    assert.deepEqual(l.origins.datacenter, { source: 'flag', from: '--datacenter', raw: 'north' });
    assert.deepEqual(l.origins.dnsAddr, { source: 'env', from: 'KONSUL_DNS_ADDR', raw: '127.0.0.1:9603' });
    assert.equal(l.origins.electionTimeout, undefined, 'a default has no origin');
    // KONSUL_CONFIG_FILE is used when no --config is given.
    assert.equal(loadConfig({}, { KONSUL_CONFIG_FILE: b, KONSUL_DATA_DIR: '/tmp/x' }).config.datacenter, 'west');
  });

  it('an unknown key names the file and suggests the key meant', () => {
    const d = dir({ 'a.json': { data_dir: '/x', electon_timeout: '1s' } });
    assert.equal(errorOf({ config: d }),
      `${join(d, 'a.json')}: unknown setting "electon_timeout" (did you mean "election_timeout"?); see konsul.conf(5) for the keys`);
    assert.equal(closestKey('election-timeout', ['election_timeout', 'data_dir']), 'election_timeout');
    assert.equal(closestKey('--http-addr', ['http_addr']), 'http_addr');
    assert.equal(closestKey('colour', ['election_timeout', 'data_dir']), undefined);
    const far = dir({ 'a.json': { colour: 'blue' } });
    assert.match(errorOf({ config: far }), /unknown setting "colour"; see/);
  });

  it('a wrong type, a bad duration or a bad address names the file and the key', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ server: 'yes' }, /: server: expected true or false, got "yes"$/],
      [{ election_timeout: 'soon' }, /: election_timeout: "soon" is not a duration/],
      [{ http_addr: 'localhost:http' }, /: http_addr: "localhost:http" is not host:port/],
      [{ node_id: { name: 'x' } }, /: node_id: expected a string, got \{"name":"x"\}$/],
      [{ log_level: 'loud' }, /: log_level: "loud" is not one of/],
      [{ log_format: 'xml' }, /: log_format: "xml" is not one of json, text, auto$/],
      [{ kv_max_value_size: '1TB' }, /: kv_max_value_size: "1TB" is not a size/],
      [{ data_dir: '' }, /: data_dir: must not be empty$/],
    ];
    for (const [body, expected] of cases) {
      const d = dir({ 'konsul.json': { data_dir: '/tmp/x', ...body } });
      const message = errorOf({ config: d });
      assert.ok(message.startsWith(`${join(d, 'konsul.json')}: `), message);
      assert.match(message, expected);
    }
    const broken = dir({ 'a.json': '{"data_dir": ' });
    assert.match(errorOf({ config: broken }), new RegExp(`^${join(broken, 'a.json')}: not valid JSON`));
    assert.match(errorOf({ config: dir({ 'a.json': [1, 2] }) }), /a\.json: must hold a JSON object/);
    assert.match(errorOf({ config: '/nonexistent/konsul.d' }), /^--config: cannot read \/nonexistent\/konsul\.d: ENOENT$/);
    assert.match(errorOf({}, { KONSUL_CONFIG_FILE: '/nonexistent.json' }), /^KONSUL_CONFIG_FILE: cannot read/);
  });

  it('service and check definitions in Consul\'s forms are read with the file they came from', () => {
    const d = dir({
      '00-base.json': { data_dir: '/tmp/x', node_id: 'n1' },
      '10-web.json': { service: { name: 'web', port: 8080, tags: ['v1'], check: { http: 'http://127.0.0.1:8080/health', interval: '10s' } } },
      '20-more.json': {
        services: [{ id: 'db-1', name: 'db', port: 5432 }, { name: 'cache', port: 6379 }],
        check: { id: 'disk', name: 'disk space', ttl: '30s' },
        checks: [{ id: 'db-tcp', name: 'db port', service_id: 'db-1', tcp: '127.0.0.1:5432', interval: '5s' }],
      },
    });
    const l = loadConfig({ config: d }, {});
    assert.deepEqual(l.services.map((s) => [s.registration.service.id, s.file.slice(d.length + 1)]),
      [['web', '10-web.json'], ['db-1', '20-more.json'], ['cache', '20-more.json']]);
    assert.equal(l.services[0].registration.checks.length, 1);
    assert.equal(l.services[0].registration.checks[0].kind, 'http');
    assert.deepEqual(l.checks.map((c) => [c.check.id, c.check.kind, c.check.serviceId]), [['disk', 'ttl', ''], ['db-tcp', 'tcp', 'db-1']]);
    const printed = printableConfig(l);
    assert.deepEqual(printed.services.map((s) => s.id), ['web', 'db-1', 'cache']);
    assert.deepEqual(printed.checks.map((c) => c.id), ['disk', 'db-tcp']);
  });

  it('bad definitions name the file and the field', () => {
    const badPort = dir({ 'web.json': { data_dir: '/tmp/x', service: { name: 'web', port: 'eighty' } } });
    assert.match(errorOf({ config: badPort }), new RegExp(`^${join(badPort, 'web.json')}: service\\.Port: "eighty"`));
    const twice = dir({ 'a.json': { data_dir: '/tmp/x', service: { name: 'web' } }, 'b.json': { service: { name: 'web' } } });
    assert.equal(errorOf({ config: twice }), `${join(twice, 'b.json')}: service "web" is also defined in ${join(twice, 'a.json')}`);
    const orphan = dir({ 'a.json': { data_dir: '/tmp/x', check: { id: 'c', name: 'c', ttl: '10s', service_id: 'ghost' } } });
    assert.match(errorOf({ config: orphan }), /a\.json: check "c": ServiceID "ghost" is not a service defined in the config files$/);
    const badCheck = dir({ 'a.json': { data_dir: '/tmp/x', checks: [{ id: 'c', name: 'c', ttl: 'soon' }] } });
    assert.match(errorOf({ config: badCheck }), /a\.json: checks\[0\]: .*"soon" is not a duration/);
    const script = dir({ 'a.json': { data_dir: '/tmp/x', check: { id: 'sh', name: 'sh', args: ['/bin/true'], interval: '10s' } } });
    assert.match(errorOf({ config: script }), /a\.json: check "sh" is a script check: set enable_script_checks to allow it$/);
    assert.equal(loadConfig({ config: script, enableScriptChecks: true }, {}).checks[0].check.kind, 'script');
  });

  it('--print-config values: the effective value, where it came from; the join token is not shown', () => {
    const d = dir({ 'a.json': { data_dir: '/tmp/x', node_id: 'n1', election_timeout: 1000 } });
    const p = printableConfig(loadConfig({ config: d, token: 's3cret' }, { KONSUL_LOG_LEVEL: 'debug' }));
    assert.deepEqual(p.settings.election_timeout, {
      value: '1s', source: 'file', from: join(d, 'a.json'), flag: '--election-timeout', env: 'KONSUL_RAFT_ELECTION_TIMEOUT', reloadable: false,
    });
    assert.deepEqual(p.settings.log_level, {
      value: 'debug', source: 'env', from: 'KONSUL_LOG_LEVEL', flag: '--log-level', env: 'KONSUL_LOG_LEVEL', reloadable: true,
    });
    assert.equal(p.settings.token.value, '(hidden)');
    assert.ok(!JSON.stringify(p).includes('s3cret'));
    assert.deepEqual(p.settings.heartbeat_interval, {
      value: '167ms', source: 'default', from: null, flag: '--heartbeat-interval', env: 'KONSUL_RAFT_HEARTBEAT_TIMEOUT', reloadable: false,
    });
    // Every setting of the table is printed, under its config-file key.
    assert.deepEqual(Object.keys(p.settings).sort(), Object.values(SETTINGS).map((s) => s.file).sort());
  });

  it('the settings table and the flags agree', () => {
    const flags = new Set(Object.keys(AGENT_FLAG_NAMES));
    for (const s of Object.values(SETTINGS)) assert.ok(flags.has(s.flag), `${s.file} has a flag`);
    // Every flag but --config is a setting.
    assert.equal(flags.size, Object.keys(SETTINGS).length + 1);
  });
});

describe('config files: any JSON', () => {
  it('either loads or fails with one ConfigError line that starts with the file\'s path', async () => {
    const { default: fc } = await import('fast-check');
    const keys = [...Object.values(SETTINGS).map((s) => s.file), 'service', 'services', 'check', 'checks', 'Server', 'colour'];
    const d = mkdtempSync(join(tmpdir(), 'konsul-conf-any-'));
    made.push(d);
    const file = join(d, 'any.json');
    let loaded = 0;
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), (body) => {
      writeFileSync(file, JSON.stringify({ data_dir: '/tmp/x', ...body }));
      try {
        loadConfig({ config: file }, {});
        loaded++;
      } catch (error) {
        assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
        assert.ok(!error.message.includes('\n'), error.message);
        assert.ok(error.message.startsWith(`${file}: `), error.message);
      }
    }), { numRuns: 400, seed: 5 });
    assert.ok(loaded > 0, 'some inputs load');
  });
});
