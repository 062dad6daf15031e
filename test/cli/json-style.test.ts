// Issue 15: one JSON naming style for every --json output, Consul's
// (`Key`, `ModifyIndex`, `NodeID`), so `konsul kv get --recurse --json app |
// jq -r '.[].Key'` works as it does on Consul's API. Table-driven over the
// CLI's own definitions: a command with --json that is not in the table fails
// this test until it is added (with the arguments to run it, or the reason it
// is not run here).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { buildCli } from '../../src/cli/full-cli.js';
import { commandModel } from '../../src/cli/docs/model.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { FakeAgent, run } from './harness.js';

/** Object keys that hold data (names, ids, meta keys), not field names, below these fields. */
const DATA_FIELDS = new Set(['Tags', 'Meta', 'TaggedAddresses', 'Tables', 'ServiceMeta', 'NodeMeta']);
/** Objects keyed by data whose values are records in the style (ops2: autopilot state's Servers and RedundancyZones). */
const DATA_KEYED_RECORDS = new Set(['Servers', 'RedundancyZones']);

/** Every key of `value` not in Consul's style, as a path ($.Members[0].raftAddress); `topIsData`: the top object's keys are data. */
export function styleViolations(value: unknown, topIsData = false, path = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => styleViolations(v, false, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const here = `${path}.${k}`;
    if (topIsData) return styleViolations(v, false, here);
    const bad = /^[A-Z][A-Za-z0-9]*$/.test(k) ? [] : [here];
    const keyedByData = DATA_KEYED_RECORDS.has(k) && v !== null && typeof v === 'object' && !Array.isArray(v);
    return DATA_FIELDS.has(k) ? bad : [...bad, ...styleViolations(v, keyedByData, here)];
  });
}

type Target = 'agent' | 'fake' | 'none';
interface Case { args?: string[]; target: Target; topIsData?: boolean; reason?: string }

// The arguments after the command's words (--json and --http-addr are added); every command with --json is here.
const CASES: Record<string, Case> = {
  'agent': { target: 'none', reason: '--print-config --json prints config-file settings by their snake_case file keys (data); test/agent/print-config.test.ts checks it' },
  'watch': { target: 'none', reason: 'prints Consul\'s API JSON for the view as it is (GET /v1/kv/..., /v1/health/...), already in this style; test/cli/watch.test.ts reads it' },
  'top': { args: ['--interval', '500ms'], target: 'agent' },
  // ---- coord's commands
  'session create': { args: [], target: 'agent' },
  'session list': { args: [], target: 'agent' },
  'session info': { target: 'none', reason: 'added by coord (needs a session id); its JSON is not yet checked here' },
  'session destroy': { target: 'none', reason: 'added by coord (needs a session id); its JSON is not yet checked here' },
  'txn': { target: 'none', reason: 'added by coord (needs a transaction file); its JSON is not yet checked here' },
  'lock': { target: 'none', reason: 'added by coord (runs a child command under a lock); its JSON is not yet checked here' },
  'info': { args: [], target: 'agent' },
  // ---- api's and ops' commands
  'maint': { args: [], target: 'agent' },
  'event': { args: ['--list'], target: 'agent' },
  'operator autopilot state': { args: [], target: 'agent' },
  'operator autopilot get-config': { args: [], target: 'agent' },
  'operator autopilot set-config': { args: ['--min-quorum', '0'], target: 'agent' },
  'monitor': { target: 'none', reason: 'streams log lines until Ctrl-C: with --json each line is the agent\'s pino JSON line, as Consul\'s monitor -log-json passes its logger\'s lines' },
  'reload': { target: 'none', reason: 'needs an agent process with config files; test/cli/agent-ops.test.ts runs it' },
  'leave': { args: [], target: 'fake' },
  'demo': { target: 'none', reason: 'starts five agents; test/cli/demo.test.ts reads its --json in this style (DataDir, Agents[].ID)' },
  'kv get': { args: ['--recurse', 'app'], target: 'agent' },
  'kv put': { args: ['app/c', '3'], target: 'agent' },
  'kv delete': { args: ['app/c'], target: 'agent' },
  'kv export': { args: ['app'], target: 'agent' },
  'kv import': { args: ['@import'], target: 'agent' },
  'services register': { args: ['--name', 'web', '--port', '80', '--tag', 'v1'], target: 'agent' },
  'services list': { args: [], target: 'agent', topIsData: true },
  'services deregister': { args: ['gone'], target: 'agent' },
  'check pass': { args: ['service:ttl'], target: 'agent' },
  'catalog services': { args: [], target: 'agent', topIsData: true },
  'catalog service': { args: ['web'], target: 'agent' },
  'catalog nodes': { args: [], target: 'agent' },
  'members': { args: [], target: 'agent' },
  'cluster status': { args: [], target: 'agent' },
  'cluster leader': { args: [], target: 'agent' },
  'cluster peers': { args: [], target: 'agent' },
  'cluster stats': { args: [], target: 'agent' },
  'cluster health': { args: [], target: 'agent' },
  'cluster join': { args: ['--address', '10.1.2.3:7000'], target: 'fake' },
  'cluster leave': { args: ['--node', 'n9'], target: 'fake' },
  'cluster transfer-leader': { args: [], target: 'fake' },
  'cluster snapshot': { args: [], target: 'agent' },
  'snapshot save': { args: ['@snap'], target: 'agent' },
  'snapshot inspect': { args: ['@snap'], target: 'agent' },
  'snapshot restore': { args: ['@snap'], target: 'agent' },
  'version': { args: [], target: 'agent' },
  // ---- sec's commands: they print Consul's ACL API objects (AccessorID, SecretID, Policies) as the agent answers them
  'acl bootstrap': { target: 'none', reason: 'needs an agent with ACLs on (this one has them off); test/cli/tls-acl.test.ts reads its --json SecretID' },
  'acl policy create': { target: 'none', reason: 'as acl bootstrap: needs ACLs on and a management token' },
  'acl policy update': { target: 'none', reason: 'as acl policy create' },
  'acl policy read': { target: 'none', reason: 'as acl policy create' },
  'acl policy list': { target: 'none', reason: 'as acl policy create' },
  'acl policy delete': { target: 'none', reason: 'as acl policy create' },
  'acl token create': { target: 'none', reason: 'as acl policy create; test/cli/tls-acl.test.ts reads its --json SecretID' },
  'acl token update': { target: 'none', reason: 'as acl policy create' },
  'acl token read': { target: 'none', reason: 'as acl policy create' },
  'acl token list': { target: 'none', reason: 'as acl policy create' },
  'acl token delete': { target: 'none', reason: 'as acl policy create' },
  'tls ca create': { target: 'none', reason: 'writes files, talks to no agent; test/cli/tls-acl.test.ts runs it' },
  'tls cert create': { target: 'none', reason: 'as tls ca create' },
  'bench write': { target: 'none', reason: 'a measuring tool with no Consul counterpart: its JSON is the bench reports\' input (test/bench), kept as it is' },
  'bench read': { target: 'none', reason: 'as bench write' },
  'bench dns': { target: 'none', reason: 'as bench write' },
  'bench failover': { target: 'none', reason: 'as bench write' },
  'bench self-test': { target: 'none', reason: 'as bench write' },
};

describe('issue 15: every --json speaks Consul\'s naming style', () => {
  let agent: RunningAgent;
  let fake: FakeAgent;
  const dir = mkdtempSync(join(tmpdir(), 'konsul-json-'));
  const files: Record<string, string> = { '@snap': join(dir, 'state.snap'), '@import': join(dir, 'import.json') };

  before(async () => {
    agent = await startAgent({ dev: true, httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0', raftAddr: '127.0.0.1:0' }, {}, pino({ level: 'silent' }));
    for (let i = 0; i < 250 && agent.agent.status().leader === null; i++) await new Promise((r) => setTimeout(r, 20));
    fake = await FakeAgent.start();
    for (const [k, v] of [['app/a', '1'], ['app/b', '2']]) assert.equal((await run(['kv', 'put', '--http-addr', agent.httpAddress, k, v])).code, EXIT.ok);
    assert.equal((await run(['services', 'register', '--http-addr', agent.httpAddress, '--name', 'gone'])).code, EXIT.ok);
    assert.equal((await run(['services', 'register', '--http-addr', agent.httpAddress, '--name', 'ttl', '--check-ttl', '30s'])).code, EXIT.ok);
    writeFileSync(files['@import'] ?? '', JSON.stringify([{ Key: 'imported', Flags: 0, Value: 'eA==' }]));
  });
  after(async () => {
    await agent.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the checker reports keys not in the style, and leaves data keys alone', () => {
    assert.deepEqual(styleViolations({ Key: 'a', modifyIndex: 1, Members: [{ raftAddress: 'x' }], Meta: { some_key: 'v' } }),
      ['$.modifyIndex', '$.Members[0].raftAddress']);
    assert.deepEqual(styleViolations({ web: ['v1'] }, true), []);
    assert.deepEqual(styleViolations({ web: ['v1'] }), ['$.web']);
  });

  const model = commandModel(buildCli('konsul')).filter((c) => c.options.some((o) => o.names.includes('--json')));
  it('every command with --json is in this test\'s table', () => {
    const missing = model.map((c) => c.words.join(' ')).filter((path) => CASES[path] === undefined);
    assert.deepEqual(missing, [], 'add each to CASES in test/cli/json-style.test.ts: its arguments, or why it is not run here');
  });

  // In the table's order: snapshot save before inspect and restore.
  for (const [path, c] of Object.entries(CASES)) {
    if (c.target === 'none') {
      it(`konsul ${path} --json: not run here (${c.reason})`, () => {
        assert.ok(c.reason && c.reason.length > 10);
      });
      continue;
    }
    it(`konsul ${path} --json: every key in Consul's style`, async () => {
      const addr = c.target === 'agent' ? agent.httpAddress : fake.address;
      const args = (c.args ?? []).map((a) => files[a] ?? a);
      const http = path === 'snapshot inspect' || path === 'version' ? [] : ['--http-addr', addr];
      const r = await run([...path.split(' '), '--json', ...http, ...args]);
      assert.equal(r.code, EXIT.ok, `${path}: ${r.err}`);
      const value = JSON.parse(r.out) as unknown;
      assert.ok(value !== null && typeof value === 'object', `${path} printed a JSON object or array`);
      assert.deepEqual(styleViolations(value, c.topIsData ?? false), [], `${path}: keys not in Consul's style`);
    });
  }
});
