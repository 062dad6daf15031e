// `konsul bench write|read|dns|failover|self-test` against stand-ins: the
// requests they send, the --json shape, errors counted by kind, exit codes and
// flag errors. No timing is asserted: only counts and shapes.

import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import type { FailoverResult } from '../../src/cli/commands/bench/failover.js';
import type { BenchResult } from '../../src/cli/commands/bench/stats.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { FakeAgent, deadAddress, run } from './harness.js';

function assertResultShape(r: BenchResult): void {
  assert.deepEqual(Object.keys(r).sort(), ['concurrency', 'errorCount', 'errors', 'latencyMs', 'ok', 'seconds', 'target', 'throughput', 'workload']);
  assert.deepEqual(Object.keys(r.latencyMs).sort(), ['max', 'mean', 'p50', 'p90', 'p99']);
  if (r.ok > 0) {
    assert.ok(r.latencyMs.p50 <= r.latencyMs.p90 && r.latencyMs.p90 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max, JSON.stringify(r.latencyMs));
    assert.ok(r.throughput > 0);
  }
  assert.equal(r.errorCount, Object.values(r.errors).reduce((a, b) => a + b, 0));
}

describe('konsul bench write and read', () => {
  let agent: FakeAgent;
  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    await agent.close();
  });
  beforeEach(() => {
    agent.kv.clear();
    agent.requests.length = 0;
    agent.refuse = undefined;
  });

  it('write --requests sends exactly that many PUTs, round-robin over --key-count keys, with --value-size bytes', async () => {
    const r = await run(['bench', 'write', '--http-addr', agent.address, '-n', '40', '-c', '4', '--key-count', '5', '--value-size', '17', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    const result = JSON.parse(r.out) as BenchResult;
    assertResultShape(result);
    assert.equal(result.workload, 'write');
    assert.equal(result.ok, 40);
    assert.equal(result.errorCount, 0);
    assert.equal(result.concurrency, 4);
    assert.equal(agent.requests.length, 40);
    assert.ok(agent.requests.every((q) => q.method === 'PUT' && q.body.length === 17));
    assert.deepEqual([...new Set(agent.requests.map((q) => q.url))].sort(), ['/v1/kv/bench/0', '/v1/kv/bench/1', '/v1/kv/bench/2', '/v1/kv/bench/3', '/v1/kv/bench/4']);
    assert.deepEqual([...agent.kv.keys()].sort(), ['bench/0', 'bench/1', 'bench/2', 'bench/3', 'bench/4']);
  });

  it('the human output names throughput, the percentiles and errors', async () => {
    const r = await run(['bench', 'write', '--http-addr', agent.address, '-n', '10', '--prefix', 'x/y-']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /^write against http:\/\/127\.0\.0\.1:\d+, concurrency 16/);
    assert.match(r.out, /throughput\s+[\d.]+ ops\/s \(10 ok\)/);
    assert.match(r.out, /p50 [\d.]+ ms\s+p90 [\d.]+ ms\s+p99 [\d.]+ ms\s+max [\d.]+ ms/);
    assert.match(r.out, /errors\s+0\n$/);
    assert.equal(agent.requests[0].url, '/v1/kv/x/y-0');
  });

  it('answers that are not a success are counted by kind, not as latencies', async () => {
    let n = 0;
    agent.refuse = () => (n++ % 4 === 0 ? { status: 503, body: 'no leader' } : n % 4 === 2 ? { status: 200, body: 'false' } : undefined);
    const r = await run(['bench', 'write', '--http-addr', agent.address, '-n', '40', '-c', '1', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    const result = JSON.parse(r.out) as BenchResult;
    assertResultShape(result);
    assert.deepEqual(result.errors, { 'HTTP 503': 10, 'answer not "true"': 10 });
    assert.equal(result.ok, 20);
  });

  it('read writes every key first, then reads them with the consistency mode in the query', async () => {
    const r = await run(['bench', 'read', '--http-addr', agent.address, '-n', '30', '--key-count', '3', '--consistency', 'stale', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    const result = JSON.parse(r.out) as BenchResult;
    assertResultShape(result);
    assert.equal(result.workload, 'read stale');
    assert.equal(result.ok, 30);
    const puts = agent.requests.filter((q) => q.method === 'PUT').map((q) => q.url).sort();
    assert.deepEqual(puts, ['/v1/kv/bench/0', '/v1/kv/bench/1', '/v1/kv/bench/2']);
    const gets = agent.requests.filter((q) => q.method === 'GET');
    assert.equal(gets.length, 30);
    assert.ok(gets.every((q) => /^\/v1\/kv\/bench\/[0-2]\?stale$/.test(q.url)), gets[0].url);
  });

  it('read --no-prefill of missing keys fails with exit 1 and one line naming why', async () => {
    const r = await run(['bench', 'read', '--http-addr', agent.address, '-n', '5', '--no-prefill', '--consistency', 'consistent']);
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.err, 'Error: no read succeeded (missing key (HTTP 404): 5)\n');
    assert.ok(agent.requests.every((q) => q.url.endsWith('?consistent')));
  });

  it('--token (else KONSUL_HTTP_TOKEN) goes with every write and read as X-Consul-Token; none without either', async () => {
    let r = await run(['bench', 'write', '--http-addr', agent.address, '-n', '6', '--token', 'flag-secret', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(agent.requests.map((q) => q.token), Array(6).fill('flag-secret'));
    agent.requests.length = 0;
    r = await run(['bench', 'read', '--http-addr', agent.address, '-n', '4', '--key-count', '2', '--json'], { env: { KONSUL_HTTP_TOKEN: 'env-secret' } });
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal(agent.requests.length, 6);
    assert.ok(agent.requests.every((q) => q.token === 'env-secret'), JSON.stringify(agent.requests));
    agent.requests.length = 0;
    r = await run(['bench', 'write', '--http-addr', agent.address, '-n', '2', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.ok(agent.requests.every((q) => q.token === undefined));
    r = await run(['bench', 'write', '--api', 'etcd', '--http-addr', agent.address, '-n', '2', '--token', 'x']);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /--token is for konsul's API/);
  });

  it('nothing listening: exit 3, one line', async () => {
    const r = await run(['bench', 'write', '--http-addr', await deadAddress(), '-n', '3']);
    assert.equal(r.code, EXIT.unreachable);
    assert.match(r.err, /^Error: no konsul agent at 127\.0\.0\.1:\d+: is `konsul agent` running\? \(connect ECONNREFUSED[^\n]*\n$/);
  });
});

describe('konsul bench --api etcd', () => {
  let server: Server;
  let address = '';
  const seen: Array<{ url: string; body: Record<string, unknown> }> = [];
  const store = new Map<string, string>();
  before(async () => {
    // The two calls of etcd's v3 HTTP/JSON gateway the bench uses, keys and values base64.
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as { key: string; value?: string; serializable?: boolean };
        seen.push({ url: req.url ?? '', body });
        const header = { cluster_id: '1', member_id: '2', revision: '3', raft_term: '4' };
        if (req.url === '/v3/kv/put') {
          store.set(body.key, body.value ?? '');
          res.end(JSON.stringify({ header }));
        } else if (req.url === '/v3/kv/range') {
          const v = store.get(body.key);
          res.end(JSON.stringify(v === undefined ? { header } : { header, kvs: [{ key: body.key, value: v }], count: '1' }));
        } else {
          res.statusCode = 404;
          res.end('{}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('write posts base64 keys and values to /v3/kv/put', async () => {
    seen.length = 0;
    const r = await run(['bench', 'write', '--api', 'etcd', '--http-addr', address, '-n', '6', '--key-count', '2', '--value-size', '4', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal((JSON.parse(r.out) as BenchResult).ok, 6);
    assert.ok(seen.every((s) => s.url === '/v3/kv/put'));
    assert.deepEqual(new Set(seen.map((s) => Buffer.from(s.body.key as string, 'base64').toString())), new Set(['bench/0', 'bench/1']));
    assert.equal(Buffer.from(seen[0].body.value as string, 'base64').toString(), 'abcd');
  });

  it('stale reads are serializable ranges, default reads linearizable', async () => {
    for (const [mode, serializable] of [['stale', true], ['default', false]] as const) {
      seen.length = 0;
      const r = await run(['bench', 'read', '--api', 'etcd', '--http-addr', address, '-n', '4', '--key-count', '2', '--consistency', mode, '--json']);
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal((JSON.parse(r.out) as BenchResult).ok, 4);
      const ranges = seen.filter((s) => s.url === '/v3/kv/range');
      assert.equal(ranges.length, 4);
      assert.ok(ranges.every((s) => s.body.serializable === serializable));
    }
  });
});

describe('konsul bench dns', () => {
  let socket: Socket;
  let port = 0;
  before(async () => {
    // Answers a.example with one A record and everything else with NXDOMAIN.
    socket = createSocket('udp4');
    socket.on('message', (msg, peer) => {
      const q = dnsPacket.decode(msg);
      const name = q.questions?.[0]?.name ?? '';
      const known = name === 'a.example';
      const answer = dnsPacket.encode({
        type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER | (known ? 0 : 3), questions: q.questions,
        answers: known ? [{ type: 'A', name, ttl: 0, data: '10.0.0.1' }] : [],
      });
      socket.send(answer, peer.port, peer.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    port = socket.address().port;
  });
  after(() => socket.close());

  it('counts NOERROR answers as successes and the rest by rcode', async () => {
    const r = await run(['bench', 'dns', '--dns-addr', `127.0.0.1:${port}`, '--name', 'a.example', '--name', 'b.example', '-n', '30', '-c', '3', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    const result = JSON.parse(r.out) as BenchResult;
    assertResultShape(result);
    assert.equal(result.workload, 'dns');
    assert.equal(result.ok, 15);
    assert.deepEqual(result.errors, { NXDOMAIN: 15 });
  });

  it('a server that never answers: every query is a timeout, exit 1', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const r = await run(['bench', 'dns', '--dns-addr', `127.0.0.1:${silent.address().port}`, '-n', '4', '-c', '2', '--timeout', '50ms', '--name', 'a.example']);
      assert.equal(r.code, EXIT.failed);
      assert.equal(r.err, 'Error: no query succeeded (timeout: 4)\n');
    } finally {
      silent.close();
    }
  });
});

describe('konsul bench failover', () => {
  let agent: FakeAgent;
  let dir: string;
  before(async () => {
    agent = await FakeAgent.start();
    dir = mkdtempSync(join(tmpdir(), 'konsul-bench-test-'));
  });
  after(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs --fault-cmd and --heal-cmd each round with the leader named, then writes through the others', async () => {
    // Two members answering on the same stand-in: n1 leads, n2 is the survivor the probes go to.
    const self = { raftAddress: '127.0.0.1:7001', httpAddress: agent.address };
    agent.status = {
      ...agent.status,
      leader: { id: 'n1', ...self },
      members: [{ id: 'n1', ...self, voter: true, leader: true }, { id: 'n2', ...self, voter: true, leader: false }],
    };
    const file = join(dir, 'faults');
    const r = await run([
      'bench', 'failover', '--http-addr', agent.address, '--rounds', '2', '--settle', '0s', '--json',
      '--fault-cmd', `echo "fault $KONSUL_BENCH_ROUND $KONSUL_BENCH_LEADER_ID $KONSUL_BENCH_LEADER_HTTP" >> ${file}`,
      '--heal-cmd', `echo "heal $KONSUL_BENCH_ROUND $KONSUL_BENCH_LEADER_ID" >> ${file}`,
    ], { env: { PATH: process.env.PATH } });
    assert.equal(r.code, EXIT.ok, r.err);
    const result = JSON.parse(r.out) as FailoverResult;
    assert.equal(result.workload, 'failover');
    assert.equal(result.rounds.length, 2);
    assert.equal(result.failed, 0);
    assert.ok(result.rounds.every((x) => x.leader === 'n1' && typeof x.ms === 'number' && x.ms >= 0));
    assert.ok(result.medianMs !== null && result.worstMs !== null && result.medianMs <= result.worstMs);
    assert.deepEqual(readFileSync(file, 'utf8').trim().split('\n'), [
      `fault 1 n1 http://${agent.address}`, 'heal 1 n1', `fault 2 n1 http://${agent.address}`, 'heal 2 n1',
    ]);
    assert.ok(agent.requests.some((q) => q.method === 'PUT' && q.url === '/v1/kv/bench/failover/1'));
  });

  it('a probe counts only once acknowledged: refused writes keep the round going; none in time fails it', async () => {
    let refused = 0;
    agent.requests.length = 0;
    agent.refuse = (q) => (q.method === 'PUT' && q.url === '/v1/kv/bench/failover/1' && refused++ < 5 ? { status: 503, body: 'no leader' } : undefined);
    const ok = await run(['bench', 'failover', '--http-addr', agent.address, '--rounds', '1', '--settle', '0s', '--json', '--fault-cmd', 'true'], { env: { PATH: process.env.PATH } });
    assert.equal(ok.code, EXIT.ok, ok.err);
    assert.equal((JSON.parse(ok.out) as FailoverResult).failed, 0);
    assert.ok(agent.requests.filter((q) => q.url === '/v1/kv/bench/failover/1').length >= 6, 'kept probing past the refusals');

    agent.refuse = (q) => (q.method === 'PUT' && q.url.startsWith('/v1/kv/bench/failover/1') ? { status: 200, body: 'false' } : undefined);
    try {
      const none = await run(['bench', 'failover', '--http-addr', agent.address, '--rounds', '1', '--settle', '0s', '--round-timeout', '300ms', '--json', '--fault-cmd', 'true'], { env: { PATH: process.env.PATH } });
      assert.equal(none.code, EXIT.failed);
      const result = JSON.parse(none.out) as FailoverResult;
      assert.deepEqual(result.rounds.map((r) => r.ms), [null]);
      assert.equal(result.failed, 1);
      assert.equal(result.medianMs, null);
    } finally {
      agent.refuse = undefined;
    }
  });

  it('a member that does not answer is left out when no --heal-cmd brings it back, as long as most answer', async () => {
    const other = await FakeAgent.start();
    const dead = await deadAddress();
    const before = agent.status;
    try {
      const status = {
        ...agent.status,
        leader: { id: 'n1', raftAddress: '127.0.0.1:7001', httpAddress: agent.address },
        members: [
          { id: 'n1', raftAddress: '127.0.0.1:7001', httpAddress: agent.address, voter: true, leader: true },
          { id: 'n2', raftAddress: '127.0.0.1:7002', httpAddress: other.address, voter: true, leader: false },
          { id: 'n3', raftAddress: '127.0.0.1:7003', httpAddress: dead, voter: true, leader: false },
        ],
      };
      agent.status = status;
      other.status = status;
      const r = await run(['bench', 'failover', '--http-addr', agent.address, '--rounds', '2', '--settle', '0s', '--json', '--fault-cmd', 'true'],
        { env: { PATH: process.env.PATH } });
      assert.equal(r.code, EXIT.ok, r.err);
      assert.deepEqual((JSON.parse(r.out) as FailoverResult).rounds.map((x) => x.leader), ['n1', 'n1']);
      assert.ok(other.requests.some((q) => q.method === 'PUT' && q.url.startsWith('/v1/kv/bench/failover/')), 'probes went to the survivor');
    } finally {
      agent.status = before;
      await other.close();
    }
  });

  it('a failing --fault-cmd stops the run with its exit status, exit 1', async () => {
    const r = await run(['bench', 'failover', '--http-addr', agent.address, '--fault-cmd', 'echo broken >&2; exit 7'], { env: { PATH: process.env.PATH } });
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.err, 'Error: --fault-cmd exited with 7: broken\n');
  });

  it('without --fault-cmd the fault is a leadership transfer on the leader', async () => {
    agent.requests.length = 0;
    const r = await run(['bench', 'failover', '--http-addr', agent.address, '--rounds', '1', '--settle', '0s', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.equal((JSON.parse(r.out) as FailoverResult).fault, 'leadership transfer');
    assert.ok(agent.requests.some((q) => q.method === 'POST' && q.url === '/cluster/transfer-leader'));
  });
});

describe('konsul bench flags', () => {
  const cases: Array<[string[], RegExp]> = [
    [['write', '--concurrency', '0'], /^Error: --concurrency must be a whole number from 1 to 10000, got "0"\n$/],
    [['write', '-c', 'many'], /^Error: --concurrency must be a whole number/],
    [['write', '--duration', 'soon'], /^Error: --duration must be a duration from 100ms to 3600s \(examples: 500ms, 10s, 2m\), got "soon"\n$/],
    [['write', '--requests', '1.5'], /^Error: --requests must be a whole number/],
    [['write', '--value-size', '9999999'], /^Error: --value-size must be a whole number from 0 to 524288/],
    [['write', '--api', 'redis'], /^Error: --api must be one of konsul, etcd, got "redis"\n$/],
    [['write', '--prefix', '/abs'], /^Error: --prefix must be non-empty and not start with "\/"/],
    [['write', '--http-addr', 'ftp://x'], /^Error: --http-addr: "ftp:\/\/x" is not host:port/],
    [['read', '--consistency', 'strong'], /^Error: --consistency must be one of default, consistent, stale, got "strong"\n$/],
    [['dns', '--name', 'a.example', '--type', 'MX2'], /^Error: --type must be one of A, AAAA/],
    [['dns'], /^Error: bench dns needs at least one --name to ask for \(example: --name web\.service\.consul\)\n$/],
    [['dns', '--name', 'a.example', '--dns-addr', 'host:99999'], /^Error: --dns-addr must be host:port \(example: 127\.0\.0\.1:8600\), got "host:99999"\n$/],
    [['dns', '--name', `${'a'.repeat(64)}.example`], /^Error: --name must be a DNS name/],
    [['failover', '--api', 'etcd'], /^Error: --api etcd needs --fault-cmd/],
    [['failover', '--heal-cmd', 'true'], /^Error: --heal-cmd only goes with --fault-cmd\n$/],
    [['failover', '--rounds', '0'], /^Error: --rounds must be a whole number from 1 to 1000/],
    [['write', '--bogus'], /^Error: /],
  ];
  for (const [argv, expected] of cases) {
    it(`bench ${argv.join(' ')}: exit 2, one line`, async () => {
      const r = await run(['bench', ...argv]);
      assert.equal(r.code, EXIT.usage, r.err);
      assert.match(r.err, expected);
      assert.equal(r.err.split('\n').length, 2, r.err);
      assert.equal(r.out, '');
    });
  }

  it('--help teaches: description, details and examples', async () => {
    for (const sub of ['write', 'read', 'dns', 'failover', 'self-test']) {
      const r = await run(['bench', sub, '--help']);
      assert.equal(r.code, EXIT.ok);
      assert.match(r.out, /^Usage$/m);
      assert.match(r.out, /^Details$/m);
      assert.match(r.out, /^Examples$/m);
    }
    assert.match((await run(['bench', 'failover', '--help'])).out, /KONSUL_BENCH_LEADER_ID/);
  });
});

describe('konsul bench self-test', () => {
  it('loads the trivial HTTP and UDP servers in a child process and reports both', async () => {
    const r = await run(['bench', 'self-test', '--requests', '200', '-c', '8', '--json']);
    assert.equal(r.code, EXIT.ok, r.err);
    const result = JSON.parse(r.out) as { http: BenchResult; dns: BenchResult };
    assertResultShape(result.http);
    assertResultShape(result.dns);
    assert.equal(result.http.ok, 200);
    assert.equal(result.dns.ok, 200);
    assert.equal(result.http.errorCount + result.dns.errorCount, 0);
  });
});
