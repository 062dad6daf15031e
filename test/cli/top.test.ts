// Issue 15: `konsul top`, the live view: a plain snapshot when stdout is not a
// terminal, and under a real terminal (tmux) a screen refreshed every second,
// with keys to sort and to quit.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { counterSum, render, type Sample } from '../../src/cli/commands/top.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { waitFor } from '../cluster/harness.js';
import { run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'konsul.js');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

function sampleOf(at: number, applied: number, writes: number, members: Sample['status']['members']): Sample {
  return {
    at, applied, writes, reads: 0, dnsQueries: 0, checks: { passing: 2, warning: 0, critical: 1 },
    status: { nodeId: 'a', role: 'leader', term: 4, leader: { id: 'a', httpAddress: '' }, commitIndex: 100, members, quorum: true },
  };
}

describe('issue 15: konsul top', () => {
  let agent: RunningAgent;
  let addr: string;

  before(async () => {
    agent = await startAgent({ dev: true, nodeId: 'top1', httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0', raftAddr: '127.0.0.1:0' }, {}, pino({ level: 'silent' }));
    addr = agent.httpAddress;
    for (let i = 0; i < 250 && agent.agent.status().leader === null; i++) await new Promise((r) => setTimeout(r, 20));
  });
  after(async () => {
    await agent.stop();
  });

  it('render: rates from two samples, lag behind the commit index, the sort asked for', () => {
    const members = [
      { id: 'a', raftAddress: '', httpAddress: '', voter: true, leader: true, healthy: true, matchIndex: 100, lastContactMs: 0 },
      { id: 'b', raftAddress: '', httpAddress: '', voter: true, leader: false, healthy: true, matchIndex: 90, lastContactMs: 40 },
      { id: 'c', raftAddress: '', httpAddress: '', voter: false, leader: false, healthy: false, matchIndex: 97, lastContactMs: 900 },
    ];
    const lines = render(sampleOf(0, 10, 5, members), sampleOf(2000, 30, 25, members), 'lag', 'http://127.0.0.1:8500');
    assert.match(lines[0] ?? '', /leader a\s+term 4\s+quorum yes/);
    assert.match(lines[1] ?? '', /^apply 10\.0\/s\s+writes 10\.0\/s\s+reads 0\.0\/s\s+dns 0\.0 q\/s$/);
    assert.match(lines[2] ?? '', /^checks: 2 passing, 0 warning, 1 critical/);
    const rows = (lines[4] ?? '').split('\n').slice(1).map((l) => l.split(/\s{2,}/));
    assert.deepEqual(rows.map((r) => [r[0], r[5]]), [['b', '10'], ['c', '3'], ['a', '0']]);
    assert.equal(counterSum('konsul_http_requests_total{method="GET",code="200"} 7\nkonsul_http_requests_total{method="PUT",code="200"} 3\n', 'konsul_http_requests_total', /method="GET"/), 7);
  });

  it('stdout not a terminal: one plain snapshot, then exit 0', async () => {
    const r = await run(['top', '--interval', '500ms', '--http-addr', addr]);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.doesNotMatch(r.out, /\x1b/, 'no terminal escapes');
    assert.match(r.out, /^konsul top — 127\.0\.0\.1:\d+\s+leader top1\s+term \d+/);
    assert.match(r.out, /^NODE\s+ROLE\s+HEALTH\s+LAST CONTACT\s+MATCH INDEX\s+LAG$/m);
    assert.match(r.out, /^top1\s+leader\s+healthy/m);
    assert.equal((await run(['top', '--sort', 'size', '--http-addr', addr])).code, EXIT.usage);
  });

  it('under a real terminal: refreshed, s changes the sort, q quits', { skip: !hasTmux && 'tmux is not installed' }, async () => {
    const socket = `konsul-top-${process.pid}`;
    const tmux = (...args: string[]): string => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' }).stdout;
    const screen = (): string => tmux('capture-pane', '-p', '-t', 't');
    spawnSync('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-s', 't', '-x', '120', '-y', '30',
      `${process.execPath} ${BIN} top --http-addr ${addr}; echo TOP-EXIT-$?; sleep 30`]);
    try {
      await waitFor('the view', () => (/leader top1/.test(screen()) && /^top1\s+leader/m.test(screen()) ? true : undefined), 20_000);
      assert.match(screen(), /sort: node\s+s: change sort\s+q: quit/);
      // Writes show up as a write rate on a later refresh.
      for (let i = 0; i < 30; i++) await run(['kv', 'put', '--http-addr', addr, `top/k${i}`, 'v']);
      await waitFor('a write rate above zero', () => (/writes [1-9]\d*\.\d\/s/.test(screen()) ? true : undefined), 20_000);
      tmux('send-keys', '-t', 't', 's');
      await waitFor('the sort changed', () => (/sort: role/.test(screen()) ? true : undefined), 10_000);
      tmux('send-keys', '-t', 't', 'q');
      await waitFor('top quit with 0', () => (/TOP-EXIT-0/.test(screen()) ? true : undefined), 10_000);
    } finally {
      tmux('kill-server');
    }
  });
});
