// `konsul session`, `konsul lock`, `konsul txn` and kv put --acquire/--fence
// against the real HTTP API over a real state machine: what they print, the
// JSON they give scripts, exit codes, and konsul lock stopping its command
// when the lock is lost.

import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { startServer, type TestServer } from '../http/helpers.js';
import { parseTable, run } from './harness.js';

async function server(t: TestContext): Promise<TestServer> {
  const s = await startServer(t);
  for (let i = 0; i < 200 && !s.agent.state.catalog.node('n1'); i++) await new Promise((r) => setTimeout(r, 5));
  s.agent.apply({ type: 'catalog', op: { op: 'node-health', node: 'n1', status: 'passing', output: 'alive' } });
  return s;
}

describe('konsul session', () => {
  test('create prints the id; list, info and destroy show and end it', async (t) => {
    const s = await server(t);
    const at = ['--http-addr', s.url];
    const created = await run(['session', 'create', '--name', 'deploy', '--ttl', '30s', '--lock-delay', '2s', ...at]);
    assert.equal(created.code, EXIT.ok, created.err);
    const id = created.out.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);

    const list = await run(['session', 'list', ...at]);
    assert.deepEqual(parseTable(list.out).map((r) => [r.ID, r.NAME, r.NODE, r.TTL, r['LOCK-DELAY'], r.CHECKS]), [[id, 'deploy', 'n1', '30s', '2s', 'serfHealth']]);
    const json = await run(['session', 'list', '--json', '--node', 'n1', ...at]);
    assert.equal((JSON.parse(json.out) as Array<{ ID: string }>)[0]!.ID, id);

    const info = await run(['session', 'info', id, ...at]);
    assert.match(info.out, /Behavior: +release/);
    assert.equal((await run(['session', 'destroy', id, ...at])).code, EXIT.ok);
    const gone = await run(['session', 'info', id, ...at]);
    assert.equal(gone.code, EXIT.failed);
    assert.match(gone.err, /not found/);
  });

  test('mistakes are one-line usage errors (exit 2); agent refusals exit 1', async (t) => {
    const s = await server(t);
    const at = ['--http-addr', s.url];
    for (const argv of [['session', 'info', 'nope'], ['session', 'destroy', 'x'], ['session', 'create', '--behavior', 'boom'], ['session', 'create', '--check', 'a', '--no-checks']]) {
      const r = await run([...argv, ...at]);
      assert.equal(r.code, EXIT.usage, argv.join(' '));
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
    const badTtl = await run(['session', 'create', '--ttl', '1s', ...at]);
    assert.equal(badTtl.code, EXIT.failed);
    assert.match(badTtl.err, /Invalid Session TTL/);
  });
});

describe('konsul kv put --acquire/--release/--fence', () => {
  test('acquire prints the fencing token; a second session is refused; a stale fence writes nothing', async (t) => {
    const s = await server(t);
    const at = ['--http-addr', s.url];
    const a = (await run(['session', 'create', '--lock-delay', '0s', ...at])).out.trim();
    const b = (await run(['session', 'create', ...at])).out.trim();
    const got = await run(['kv', 'put', '--json', '--acquire', a, 'svc/leader', 'a', ...at]);
    assert.equal(got.code, EXIT.ok, got.err);
    const token = (JSON.parse(got.out) as { FencingToken: number }).FencingToken;
    assert.ok(token > 0);
    const refused = await run(['kv', 'put', '--acquire', b, 'svc/leader', 'b', ...at]);
    assert.equal(refused.code, EXIT.failed);
    assert.match(refused.err, /held by another session/);
    const held = JSON.parse((await run(['kv', 'get', '--json', 'svc/leader', ...at])).out) as { Session: string; LockIndex: number };
    assert.deepEqual([held.Session, held.LockIndex], [a, 1]);
    assert.equal((await run(['kv', 'put', '--fence', String(token), '--fence-key', 'svc/leader', 'db', 'one', ...at])).code, EXIT.ok);
    assert.equal((await run(['session', 'destroy', a, ...at])).code, EXIT.ok);
    const stale = await run(['kv', 'put', '--fence', String(token), '--fence-key', 'svc/leader', 'db', 'two', ...at]);
    assert.equal(stale.code, EXIT.failed);
    assert.match(stale.err, /no longer held under fencing token/);
    assert.equal((await run(['kv', 'get', 'db', ...at])).out, 'one');
    assert.equal((await run(['kv', 'put', '--acquire', a, '--release', a, 'k', 'v', ...at])).code, EXIT.usage);
  });
});

describe('konsul txn', () => {
  test('applies from stdin and prints results; a failed op rolls back and exits 1 naming it', async (t) => {
    const s = await server(t);
    const at = ['--http-addr', s.url];
    const ok = await run(['txn', ...at], { stdin: JSON.stringify([{ KV: { Verb: 'set', Key: 'x', Value: 'MQ==' } }, { KV: { Verb: 'get', Key: 'x' } }]) });
    assert.equal(ok.code, EXIT.ok, ok.err);
    assert.deepEqual(parseTable(ok.out).map((r) => [r.KEY, r.VALUE]), [['x', '-'], ['x', '1']]);
    const failed = await run(['txn', ...at], { stdin: JSON.stringify([{ KV: { Verb: 'set', Key: 'y', Value: '' } }, { KV: { Verb: 'check-not-exists', Key: 'x' } }]) });
    assert.equal(failed.code, EXIT.failed);
    assert.match(failed.err, /operation 1: key "x" exists/);
    assert.equal((await run(['kv', 'get', 'y', ...at])).code, EXIT.failed, 'nothing applied');
    const json = await run(['txn', '--json', '--stale', ...at], { stdin: JSON.stringify([{ KV: { Verb: 'get', Key: 'x' } }]) });
    assert.equal((JSON.parse(json.out) as { Results: unknown[] }).Results.length, 1);
    assert.equal((await run(['txn', ...at], { stdin: '{"not":"an array"}' })).code, EXIT.usage);
    assert.equal((await run(['txn', '/nonexistent/ops.json', ...at])).code, EXIT.usage);
  });
});

describe('konsul lock', () => {
  test('runs the command with the lock held and the token in its environment, exits with its status, and releases', async (t) => {
    const s = await server(t);
    const at = ['--http-addr', s.url];
    const r = await run(['lock', '--lock-delay', '0s', ...at, 'jobs/backup', '--', '/bin/sh', '-c', 'echo "$KONSUL_LOCK_KEY $KONSUL_FENCING_TOKEN"; exit 7']);
    assert.equal(r.code, 7, r.err);
    const [key, token] = r.out.trim().split(' ');
    assert.equal(key, 'jobs/backup/.lock');
    assert.ok(Number(token) > 0);
    const entry = s.agent.state.kvGet('jobs/backup/.lock')!;
    assert.equal(entry.session, undefined, 'released after the command');
    assert.deepEqual(s.agent.state.sessions(), [], 'its session was destroyed');
  });

  test('stops the command when the lock is lost, and exits 1', async (t) => {
    const s = await server(t);
    const at = ['--http-addr', s.url];
    const running = run(['lock', '--lock-delay', '0s', ...at, 'jobs/long', 'echo started; sleep 20; echo finished']);
    let session: string | undefined;
    for (let i = 0; i < 400 && session === undefined; i++) {
      session = s.agent.state.kvGet('jobs/long/.lock')?.session;
      if (session === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(session, 'the lock was taken');
    await new Promise((r) => setTimeout(r, 200));
    await s.agent.coord.destroySession(session);
    const r = await running;
    assert.equal(r.code, EXIT.failed);
    assert.match(r.out, /started/);
    assert.doesNotMatch(r.out, /finished/);
    assert.match(r.err, /lost while the command ran/);
  });
});
