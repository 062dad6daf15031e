// scale: a server's answers to client agents' peer requests (src/agent/clients.ts)
// go through the typed peer-request table after the transport authenticated
// the sender; on top, a client acts only as itself. These checks, over the
// real table and codecs, with a stand-in for the rest of the agent.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientDuties } from '../../src/agent/clients.js';
import type { AgentContext } from '../../src/agent/context.js';
import { servePeerRequest, encodeRequest, type PeerFrom } from '../../src/agent/peer-requests.js';
import { Role } from '../../src/raft/index.js';
import { decodeCommand, encodeCommand, type Command } from '../../src/state/index.js';

interface Setup {
  duties: ClientDuties;
  proposed: Command[];
}

function setup(): Setup {
  const proposed: Command[] = [];
  const members = [
    { id: 's1', raftAddress: '127.0.0.1:1', httpAddress: '', server: true, modifyIndex: 1 },
    { id: 's2', raftAddress: '127.0.0.1:2', httpAddress: '', server: true, modifyIndex: 1 },
    { id: 'c1', raftAddress: '127.0.0.1:3', httpAddress: '', server: false, modifyIndex: 1 },
  ];
  const raft = {
    leader: 's1', role: Role.Leader,
    conf: () => ({ members: [{ id: 's1', address: '127.0.0.1:1', voter: true }, { id: 's2', address: '127.0.0.1:2', voter: true }] }),
    log: { firstIndex: () => 1, committed: 0, slice: () => [] },
  };
  const ctx = {
    nodeId: 's1',
    cfg: { relayFanout: 64, relaySilenceMs: 2000, nodeHealthTimeoutMs: 2000, deadServerTimeoutMs: 60_000 },
    driver: {
      raft, conf: () => raft.conf(), lastHeard: new Map(), addressBook: new Map(),
      propose: async (bytes: Uint8Array) => {
        proposed.push(decodeCommand(bytes));
        return { result: true, index: proposed.length };
      },
      readBarrier: async () => undefined,
    },
    state: {
      onApplied: () => undefined, members: () => members, member: (id: string) => members.find((m) => m.id === id),
      catalog: { nodes: () => [] }, appliedIndex: () => 0,
    },
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    forwarder: { onLeader: (_m: string, _r: unknown, local: () => Promise<unknown>) => local() },
    knownLeader: () => 's1',
  } as unknown as AgentContext;
  const duties = new ClientDuties({
    ctx, storage: {} as never, raftAddress: () => '127.0.0.1:1',
    propose: async (bytes) => {
      proposed.push(decodeCommand(bytes));
      return { result: true, index: proposed.length };
    },
  });
  return { duties, proposed };
}

const from = (nodeId: string, role?: 'server' | 'client'): PeerFrom => ({ nodeId, address: '127.0.0.1:9', version: 2, role });

async function ask(s: Setup, method: Parameters<typeof encodeRequest>[0], request: unknown, sender: PeerFrom): Promise<Uint8Array> {
  return servePeerRequest(s.duties.handlers, method, Buffer.from(encodeRequest(method, request as never)), sender);
}

describe('client agents\' requests at a server', () => {
  test('a relay pull names the node that sent it; another node\'s is refused', async () => {
    const s = setup();
    const pull = { id: 'c2', address: '127.0.0.1:4', from: 1, waitMs: 0, wantRelays: false };
    await assert.rejects(ask(s, 'relay-pull', pull, from('c1')), /subscribes only as itself/);
    const answer = await ask(s, 'relay-pull', pull, from('c2'));
    assert.ok(answer.length > 4, 'the pull as itself is answered');
  });

  test('a client joins only as itself; a server may pass another client\'s join on', async () => {
    const s = setup();
    const info = { id: 'c9', raftAddress: '127.0.0.1:5', httpAddress: '127.0.0.1:6' };
    await assert.rejects(ask(s, 'client-join', info, from('c1')), /may join only as itself/);
    await assert.rejects(ask(s, 'client-join', info, from('s2', 'client')), /may join only as itself/, 'a client certificate is a client, whatever its id');
    assert.equal(s.proposed.length, 0);
    await ask(s, 'client-join', info, from('c9'));
    await ask(s, 'client-join', { ...info, raftAddress: '127.0.0.1:7' }, from('s2'));
    assert.deepEqual(s.proposed.map((c) => c.type), ['member-set', 'member-set']);
    assert.equal((s.proposed[0] as Extract<Command, { type: 'member-set' }>).server, false);
  });

  test('a client never proposes membership or version changes, except leaving itself', async () => {
    const s = setup();
    const propose = (cmd: Command, sender: PeerFrom): Promise<Uint8Array> => ask(s, 'client-propose', encodeCommand(cmd), sender);
    await assert.rejects(propose({ type: 'member-set', id: 'c1', raftAddress: 'x:1', httpAddress: '', server: true }, from('c1')), /cannot come from a client/);
    await assert.rejects(propose({ type: 'member-delete', id: 's2' }, from('c1')), /cannot come from a client/);
    await assert.rejects(propose({ type: 'cluster-version', version: 2 }, from('c1')), /cannot come from a client/);
    assert.equal(s.proposed.length, 0);
    await propose({ type: 'member-delete', id: 'c1' }, from('c1'));
    await propose({ type: 'kv-set', key: 'k', value: Buffer.from('v'), flags: 0 }, from('c1'));
    assert.deepEqual(s.proposed.map((c) => c.type), ['member-delete', 'kv-set']);
  });

  test('relay reports: a client reports only its own subscribers; a server passes its relays\' reports on', async () => {
    const s = setup();
    const report = { relay: 'c1', alive: ['c5'], gone: [], full: false };
    await assert.rejects(ask(s, 'relay-report', { reports: [report] }, from('c2')), /may report its subscribers only as itself/);
    await ask(s, 'relay-report', { reports: [report] }, from('c1'));
    await ask(s, 'relay-report', { reports: [report] }, from('s2'));
    assert.equal(s.duties.relay.clientAlive('c5'), true);
  });

  test('a malformed request is the caller\'s error, not a crash', async () => {
    const s = setup();
    await assert.rejects(servePeerRequest(s.duties.handlers, 'relay-pull', Buffer.from('{"id":1}'), from('c1')), /malformed relay-pull request/);
    await assert.rejects(servePeerRequest(s.duties.handlers, 'relay-report', Buffer.from('{"reports":[{"relay":"c1"}]}'), from('c1')), /malformed relay-report request/);
    await assert.rejects(servePeerRequest(s.duties.handlers, 'no-such', Buffer.alloc(0), from('c1')), /unknown request/);
  });
});
