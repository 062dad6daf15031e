// `konsul members` against a stand-in agent: Consul's member list as a table
// of node, address, role, status and Raft vote (konsul's own tag), and --json.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { AgentMember } from '../../src/cli/commands/members.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { FakeAgent, deadAddress, parseTable, run } from './harness.js';

function member(name: string, addr: string, status: number, tags: Record<string, string>): AgentMember {
  return { Name: name, Addr: addr, Port: 7000, Tags: { dc: 'dc1', vsn: '1', ...tags }, Status: status };
}

describe('konsul members', () => {
  let agent: FakeAgent;
  const members = (...args: string[]): string[] => ['members', ...args, '--http-addr', agent.address];

  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    await agent.close();
  });
  beforeEach(() => {
    agent.requests.length = 0;
    agent.members = [
      member('s1', '10.0.0.1', 1, { role: 'consul', voter: 'true', raft_addr: '10.0.0.1:7000' }),
      member('s2-catching-up', '10.0.0.2', 1, { role: 'consul', voter: 'false', raft_addr: '10.0.0.2:7000' }),
      member('c1', '10.0.0.3', 4, { role: 'node', voter: 'false' }),
      member('c2', 'fd00::4', 3, { role: 'node', voter: 'false' }),
    ];
  });

  it('a table of node, address, role, status and voter', async () => {
    const r = await run(members());
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(agent.requests.map((q) => `${q.method} ${q.url}`), ['GET /v1/agent/members']);
    assert.deepEqual(parseTable(r.out), [
      { NODE: 's1', ADDRESS: '10.0.0.1:7000', ROLE: 'server', STATUS: 'alive', VOTER: 'yes' },
      { NODE: 's2-catching-up', ADDRESS: '10.0.0.2:7000', ROLE: 'server', STATUS: 'alive', VOTER: 'no' },
      { NODE: 'c1', ADDRESS: '10.0.0.3:7000', ROLE: 'client', STATUS: 'failed', VOTER: 'no' },
      { NODE: 'c2', ADDRESS: '[fd00::4]:7000', ROLE: 'client', STATUS: 'left', VOTER: 'no' },
    ]);
  });

  it('a member without konsul\'s voter tag (a Consul agent) shows "-"; unknown statuses and roles as given', async () => {
    agent.members = [
      { Name: 'consul-1', Addr: '10.0.0.9', Port: 8301, Tags: { role: 'consul' }, Status: 2 },
      { Name: 'odd', Addr: '10.0.0.10', Port: 8301, Tags: null, Status: 7 },
    ];
    assert.deepEqual(parseTable((await run(members())).out), [
      { NODE: 'consul-1', ADDRESS: '10.0.0.9:8301', ROLE: 'server', STATUS: 'leaving', VOTER: '-' },
      { NODE: 'odd', ADDRESS: '10.0.0.10:8301', ROLE: '-', STATUS: '7', VOTER: '-' },
    ]);
  });

  it('--json prints the agent\'s answer, Consul\'s shape', async () => {
    const r = await run(members('--json'));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(JSON.parse(r.out), agent.members);
  });

  it('the agent\'s error is one line with its reason; exit 1', async () => {
    agent.failNext = { status: 503, body: 'no known leader' };
    const r = await run(members());
    assert.equal(r.code, EXIT.failed);
    assert.equal(r.err, 'Error: no known leader (HTTP 503)\n');
  });

  it('an unreachable agent exits 3', async () => {
    const r = await run(['members', '--http-addr', await deadAddress()]);
    assert.equal(r.code, EXIT.unreachable);
    assert.match(r.err, /^Error: no konsul agent at [^\n]+: is `konsul agent` running\? [^\n]+\n$/);
  });
});
