// One unit test per safety rule of the core that a random seed of the
// simulator used to be the only guard of: one vote per term, ReadIndex held
// until the leader's first entry of its term commits, learners outside the
// commit quorum, and nothing uncommitted handed to apply. Each reads as the
// scenario it checks; the ReadIndex one also runs the core's broken variant to
// show the test tells them apart.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Net, bytes, text } from './net.js';
import { MessageType, emptyMessage, type Message, type RaftNode, type UnsafeKnobs } from '../../src/raft/index.js';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);

function voteRequest(from: string, to: string, term: number): Message {
  const m = emptyMessage(MessageType.Vote, from, to, term);
  m.index = 0;
  m.logTerm = 0;
  return m;
}

/** Step `m` into `node` and return the messages its next Ready sends (both halves), advancing it. */
function answer(node: RaftNode, m: Message): Message[] {
  node.step(m);
  const rd = node.ready();
  const out = [...rd.messagesBeforePersist, ...rd.messages];
  node.advance(rd);
  return out;
}

describe('one vote per term', () => {
  test('a node that voted for n2 in term 5 refuses n3 in term 5, and grants n2 again', () => {
    const net = new Net(ids(3).map((id) => ({ id, options: { preVote: false, checkQuorum: false } })), ids(3));
    const n1 = net.node('n1');
    const first = answer(n1, voteRequest('n2', 'n1', 5));
    assert.deepEqual(first.map((m) => [m.type, m.to, m.reject]), [[MessageType.VoteResp, 'n2', false]]);
    assert.equal(n1.vote, 'n2');
    const second = answer(n1, voteRequest('n3', 'n1', 5));
    assert.deepEqual(second.map((m) => [m.type, m.to, m.reject]), [[MessageType.VoteResp, 'n3', true]]);
    assert.equal(n1.vote, 'n2', 'the vote stays with n2');
    const again = answer(n1, voteRequest('n2', 'n1', 5));
    assert.deepEqual(again.map((m) => [m.to, m.reject]), [['n2', false]], 'a repeated request from the same candidate is granted');
    // A later term frees the vote.
    const later = answer(n1, voteRequest('n3', 'n1', 6));
    assert.deepEqual(later.map((m) => [m.to, m.reject]), [['n3', false]]);
  });

  test('the vote is in the Ready that grants it, and the grant waits for its persist', () => {
    const net = new Net(ids(3).map((id) => ({ id, options: { preVote: false, checkQuorum: false } })), ids(3));
    const n1 = net.node('n1');
    n1.step(voteRequest('n2', 'n1', 5));
    const rd = n1.ready();
    assert.deepEqual(rd.hardState && [rd.hardState.term, rd.hardState.vote], [5, 'n2']);
    assert.equal(rd.mustSync, true, 'a vote is fsynced');
    assert.deepEqual(rd.messagesBeforePersist, [], 'nothing leaves before the vote is durable');
    assert.equal(rd.messages.length, 1);
    n1.advance(rd);
  });
});

describe('ReadIndex waits for the leader to commit in its term', () => {
  /** A leader elected while its appends are dropped (so its no-op is not committed) asks for a read index. */
  function readBeforeNoopCommits(unsafe: UnsafeKnobs): { answeredEarly: boolean; index: number | undefined; commitAfter: number } {
    const net = new Net(ids(3).map((id) => ({ id, options: { unsafe } })), ids(3));
    net.elect('n1');
    net.tickAll(3);
    const before = net.node('n1').log.committed;
    // A second election in a later term, its appends held back: the no-op of that term stays uncommitted.
    net.dropIf = (m) => m.type === MessageType.App;
    const leader = net.elect('n2');
    assert.equal(leader.leader, 'n2');
    assert.ok(leader.log.lastIndex() > before, 'the new leader appended its no-op');
    leader.readIndex('r1');
    net.settle();
    const early = net.reads.get('n2')!.find((r) => r.context === 'r1');
    net.dropIf = () => false;
    net.tickAll(3);
    const read = net.reads.get('n2')!.find((r) => r.context === 'r1');
    return { answeredEarly: early !== undefined, index: read?.index, commitAfter: leader.log.committed };
  }

  test('the read is answered only once the no-op of the new term has committed, at that commit index', () => {
    const r = readBeforeNoopCommits({});
    assert.equal(r.answeredEarly, false, 'no read index before the term\'s first commit');
    assert.ok(r.index !== undefined, 'answered after the commit');
    assert.ok(r.index! >= r.commitAfter - 1 && r.index! <= r.commitAfter);
  });

  test('the broken core (readIndexBeforeTermCommit) answers early, and the same check sees it', () => {
    assert.equal(readBeforeNoopCommits({ readIndexBeforeTermCommit: true }).answeredEarly, true);
  });
});

describe('learners are never in the commit quorum', () => {
  test('with both other voters cut off, acks from two learners do not commit the leader\'s entry', () => {
    const net = new Net([...ids(3), 'l1', 'l2'].map((id) => ({ id })), ids(3), ['l1', 'l2']);
    const leader = net.elect('n1');
    net.tickAll(3);
    const committed = leader.log.committed;
    net.cut('n1', 'n2', 'n3');
    const { index } = leader.propose(bytes('only-learners-have-it'));
    net.tickAll(2);
    for (const l of ['l1', 'l2']) assert.equal(net.node(l).log.lastIndex(), index, `${l} holds the entry`);
    assert.equal(leader.log.committed, committed, 'one voter and two learners are not a majority of three voters');
    assert.ok(!net.applied.get('n1')!.some((e) => text(e.data) === 'only-learners-have-it'));
    net.heal();
    net.tickAll(3);
    assert.ok(leader.log.committed >= index, 'committed once a voter acknowledges it');
  });
});

describe('uncommitted entries are never handed to apply', () => {
  test('followers hold entries whose acks never reach the leader: no node applies them', () => {
    const net = new Net(ids(3).map((id) => ({ id })), ids(3));
    const leader = net.elect('n1');
    net.tickAll(3);
    const committed = leader.log.committed;
    net.dropIf = (m) => m.type === MessageType.AppResp;
    const { index } = leader.propose(bytes('never-acknowledged'));
    net.tickAll(5);
    for (const id of ids(3)) {
      const node = net.node(id);
      assert.equal(node.log.lastIndex(), index, `${id} holds the entry`);
      assert.ok(node.log.committed < index, `${id} does not count it committed`);
      assert.ok(!net.applied.get(id)!.some((e) => e.index >= index), `${id} applied nothing past the commit index`);
    }
    assert.equal(leader.log.committed, committed);
  });

  test('every Ready hands out only entries at or below the commit index', () => {
    const net = new Net(ids(3).map((id) => ({ id })), ids(3));
    const leader = net.elect('n1');
    net.dropIf = (m) => m.type === MessageType.AppResp && m.from === 'n3';
    for (let i = 0; i < 20; i++) {
      leader.propose(bytes(`w${i}`));
      if (i % 3 === 0) net.cut('n1', 'n2');
      if (i % 3 === 2) net.heal();
      for (const node of net.nodes.values()) {
        while (node.hasReady()) {
          const rd = node.ready();
          for (const e of rd.committedEntries) assert.ok(e.index <= node.log.committed, `${node.id} got ${e.index} above commit ${node.log.committed}`);
          node.advance(rd);
        }
      }
      net.tickAll(1);
    }
  });
});
