// Scenario tests for the Raft core, after the Raft paper and thesis: each test
// reads as the story of one situation and checks what the algorithm promises.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Net, bytes, text } from './net.js';
import {
  ConfChangeType,
  MessageType,
  RaftNode,
  Role,
  bootstrapSnapshot,
} from '../../src/raft/index.js';
import { ConfChangeError, NotLeaderError, ProposalDroppedError, RaftUsageError } from '../../src/raft/index.js';
import { Prng } from '../sim/prng.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i + 1}`);

function cluster(n: number, opts: { preVote?: boolean; checkQuorum?: boolean } = {}): Net {
  const voters = ids(n);
  return new Net(voters.map((id) => ({ id, options: opts })), voters);
}

describe('leader election', () => {
  test('a three-node cluster elects exactly one leader by its timers alone', () => {
    const net = cluster(3);
    net.tickAll(40);
    assert.equal(net.leaders().length, 1);
    const leader = net.node(net.leaders()[0]);
    for (const node of net.nodes.values()) {
      assert.equal(node.term, leader.term);
      assert.equal(node.leader, leader.id);
    }
  });

  test('a candidate with a shorter log of the same last term is refused (the election restriction)', () => {
    const net = new Net(
      [
        { id: 'n1', terms: [1, 1] },
        { id: 'n2', terms: [1, 1, 1] },
        { id: 'n3', terms: [1, 1, 1] },
      ],
      ids(3),
      [],
    );
    net.elect('n1');
    assert.notEqual(net.node('n1').role, Role.Leader);
    net.elect('n2');
    assert.equal(net.node('n2').role, Role.Leader);
  });

  test('a vote is granted once per term', () => {
    const net = cluster(3, { preVote: false, checkQuorum: false });
    net.cut('n2', 'n3');
    net.elect('n2');
    assert.equal(net.node('n1').vote, 'n2');
    // n3 campaigns in the same term: n1 has voted already.
    net.heal();
    net.cut('n2', 'n3');
    const n3 = net.node('n3');
    n3.campaignNow();
    net.settle();
    assert.equal(net.leaders().length, 1);
  });

  test('pre-vote: a node back from a partition does not disrupt the leader', () => {
    const net = cluster(3);
    net.elect('n1');
    const term = net.node('n1').term;
    net.isolate('n3');
    net.tick('n3', 100); // many election timeouts alone: pre-votes fail, the term stays
    assert.equal(net.node('n3').term, term);
    net.heal();
    net.tickAll(3);
    assert.equal(net.node('n1').role, Role.Leader);
    assert.equal(net.node('n1').term, term);
  });

  test('without pre-vote the same node does disrupt the leader (why pre-vote exists)', () => {
    const net = cluster(3, { preVote: false, checkQuorum: false });
    net.elect('n1');
    const term = net.node('n1').term;
    net.isolate('n3');
    net.tick('n3', 100);
    assert.ok(net.node('n3').term > term);
    net.heal();
    net.tickAll(3);
    assert.ok(net.node('n1').term > term, 'the leader saw the higher term and stepped down');
  });

  test('check-quorum: a leader cut off from the others steps down within an election timeout', () => {
    const net = cluster(3);
    net.elect('n1');
    net.isolate('n1');
    net.tick('n1', 25);
    assert.equal(net.node('n1').role, Role.Follower);
  });

  test('learners never campaign', () => {
    const net = new Net(ids(3).map((id) => ({ id })), ['n1', 'n2'], ['n3']);
    net.isolate('n3');
    net.tick('n3', 100);
    assert.equal(net.node('n3').role, Role.Follower);
    assert.equal(net.node('n3').term, 0);
  });
});

describe('log replication', () => {
  test('figure 7: a new leader brings every follower log to its own', () => {
    // The leader's log and the six follower logs of the Raft paper's figure 7.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 1, 4],
      c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 1, 4, 4, 4, 4],
      f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    const specs = [
      { id: 'leader', terms: leaderLog, hardState: { term: 7, vote: '', commit: 0 } },
      ...Object.entries(followers).map(([id, terms]) => ({ id, terms, hardState: { term: 7, vote: '', commit: 0 } })),
    ];
    const net = new Net(specs, specs.map((s) => s.id));
    net.elect('leader');
    assert.equal(net.node('leader').role, Role.Leader);
    assert.equal(net.node('leader').term, 8);
    const want = [...leaderLog, 8]; // plus the new leader's no-op
    for (const id of Object.keys(followers)) {
      assert.deepEqual(net.logTerms(id), want, `follower ${id}`);
      assert.equal(net.node(id).log.committed, 11, `follower ${id} learns the commit`);
    }
  });

  test('figure 8: a leader never commits an entry of an earlier term by counting replicas', () => {
    // s1 and s2 hold X at index 2 (term 2); s5 holds Y at index 2 (term 3).
    const specs = [
      { id: 's1', terms: [1, 2], hardState: { term: 3, vote: '', commit: 1 } },
      { id: 's2', terms: [1, 2], hardState: { term: 3, vote: '', commit: 1 } },
      { id: 's3', terms: [1], hardState: { term: 3, vote: '', commit: 1 } },
      { id: 's4', terms: [1], hardState: { term: 3, vote: '', commit: 1 } },
      // s5 has heard of term 4 (as in the paper, it campaigns next in term 5).
      { id: 's5', terms: [1, 3], hardState: { term: 4, vote: '', commit: 1 } },
    ].map((s) => ({ ...s, options: { maxSizePerMsg: 1 } }));
    const run = (unsafe: boolean) => {
      const net = new Net(
        specs.map((s) => ({ ...s, options: { ...s.options, unsafe: { commitPreviousTermByCounting: unsafe } } })),
        specs.map((s) => s.id),
      );
      // s1 wins term 4 without s5, then replicates X to s3 and s4, but its own
      // no-op reaches nobody: an append carrying it is dropped once the
      // follower holds index 2 (before that, the follower's refusal is what
      // makes s1 back up and send X alone).
      net.cut('s1', 's5');
      net.dropIf = (m) =>
        m.type === MessageType.App && m.entries.some((e) => e.term === 4) && net.node(m.to).log.lastIndex() >= 2;
      net.elect('s1');
      assert.equal(net.node('s1').role, Role.Leader);
      assert.equal(net.node('s3').log.term(2), 2, 's3 now holds X too: a majority has it');
      const committedByS1 = net.node('s1').log.committed;
      // s1 crashes; s5 (last term 3) wins with s2, s3, s4 and overwrites index 2.
      net.nodes.delete('s1');
      net.dropIf = () => false;
      net.heal();
      net.elect('s5');
      assert.equal(net.node('s5').role, Role.Leader);
      net.settle();
      return { committedByS1, overwritten: net.node('s3').log.term(2) };
    };
    const safe = run(false);
    assert.equal(safe.committedByS1, 1, 'X was not committed: it can still be overwritten');
    assert.equal(safe.overwritten, 3);
    const broken = run(true);
    assert.equal(broken.committedByS1, 2, 'the broken variant declares X committed');
    assert.equal(broken.overwritten, 3, '...and X is then lost: exactly the anomaly the rule prevents');
  });

  test('the leader counts itself toward a quorum only after its own disk has the entry', () => {
    const prng = new Prng(7);
    const solo = new RaftNode({ id: 'a', random: () => prng.next(), snapshot: bootstrapSnapshot([{ id: 'a', address: '' }]), hardState: { term: 1, vote: '', commit: 1 } });
    solo.campaignNow();
    assert.equal(solo.role, Role.Leader);
    let rd = solo.ready();
    const noop = rd.entries.at(-1)!;
    assert.equal(solo.log.committed, 1, 'nothing committed before the no-op is persisted');
    solo.advance(rd);
    assert.equal(solo.log.committed, noop.index);
    const { index } = solo.propose(bytes('x'));
    rd = solo.ready();
    assert.deepEqual(rd.entries.map((e) => e.index), [index]);
    assert.ok(solo.log.committed < index);
    solo.advance(rd);
    assert.equal(solo.log.committed, index);
    rd = solo.ready();
    assert.equal(text(rd.committedEntries.at(-1)!.data), 'x');
  });

  test('ready() twice without advance() is a usage error', () => {
    const prng = new Prng(1);
    const solo = new RaftNode({ id: 'a', random: () => prng.next(), snapshot: bootstrapSnapshot([{ id: 'a', address: '' }]) });
    solo.campaignNow();
    solo.ready();
    assert.throws(() => solo.ready(), RaftUsageError);
  });

  test('proposals to a follower fail with the leader named', () => {
    const net = cluster(3);
    net.elect('n1');
    assert.throws(() => net.node('n2').propose(bytes('x')), (e: unknown) => e instanceof NotLeaderError && e.leader === 'n1');
  });

  test('a leader without quorum stops taking proposals once the uncommitted cap is reached', () => {
    const net = new Net(ids(3).map((id) => ({ id, options: { maxUncommittedSize: 100 } })), ids(3));
    net.elect('n1');
    net.cut('n1', 'n2', 'n3');
    const leader = net.node('n1');
    let accepted = 0;
    assert.throws(() => {
      for (let i = 0; i < 100; i++) {
        leader.propose(new Uint8Array(30));
        accepted++;
      }
    }, ProposalDroppedError);
    assert.ok(accepted >= 3 && accepted <= 4, `accepted ${accepted}`);
  });

  test('pipelining: with a window of 2, a follower never has more than 2 appends in flight', () => {
    const net = new Net(ids(3).map((id) => ({ id, options: { maxInflightMsgs: 2, maxSizePerMsg: 1 } })), ids(3));
    net.elect('n1');
    const leader = net.node('n1');
    // Hold n2's answers back, then propose 10 entries one per message.
    net.blocked.add('n2>n1');
    net.delivered.length = 0;
    for (let i = 0; i < 10; i++) {
      leader.propose(bytes(`e${i}`));
      net.settle();
    }
    const toN2 = net.delivered.filter((m) => m.type === MessageType.App && m.to === 'n2' && m.entries.length > 0);
    assert.equal(toN2.length, 2);
    net.heal();
    net.tickAll(2);
    assert.equal(net.node('n2').log.lastIndex(), leader.log.lastIndex());
  });
});

describe('reads', () => {
  test('ReadIndex is not answered before the new leader has committed an entry of its term', () => {
    const net = cluster(3);
    net.dropIf = (m) => m.type === MessageType.App; // the no-op reaches nobody
    net.elect('n1');
    const leader = net.node('n1');
    assert.equal(leader.role, Role.Leader);
    const noopIndex = leader.log.lastIndex();
    assert.equal(leader.readIndex('r1'), true);
    net.tickAll(3); // heartbeats flow, but the no-op does not commit
    assert.ok(leader.log.committed < noopIndex);
    assert.deepEqual(net.reads.get('n1'), [], 'no read index while the term has no commit');
    net.dropIf = () => false;
    net.tickAll(3);
    assert.ok(leader.log.committed >= noopIndex);
    const reads = net.reads.get('n1')!;
    assert.deepEqual(reads.map((r) => r.context), ['r1']);
    assert.ok(reads[0].index >= noopIndex, 'the read index covers the no-op');
  });

  test('a follower gets a read index from the leader', () => {
    const net = cluster(3);
    net.elect('n1');
    const leader = net.node('n1');
    leader.propose(bytes('a'));
    net.settle();
    const follower = net.node('n2');
    assert.equal(follower.readIndex('f1'), true);
    net.settle(); // request, heartbeat round, acknowledgements, response
    const reads = net.reads.get('n2')!;
    assert.deepEqual(reads, [{ context: 'f1', index: leader.log.committed }]);
    assert.deepEqual(net.reads.get('n1'), [], 'the leader answered by message, not locally');
    assert.ok(net.delivered.some((m) => m.type === MessageType.ReadIndexResp && m.to === 'n2'));
  });

  test('a follower with no known leader cannot ask for a read index', () => {
    const net = cluster(3);
    assert.equal(net.node('n2').readIndex('f1'), false);
  });

  test('a lease read is answered at once inside the lease, and not by a leader whose lease ran out', () => {
    const net = cluster(3);
    net.elect('n1');
    net.tickAll(2);
    const leader = net.node('n1');
    assert.equal(leader.leaseValid(), true);
    // Inside the lease: answered in the next Ready, with no message exchanged.
    const before = net.delivered.length;
    leader.readIndex('l1', { lease: true });
    const rd = leader.ready();
    assert.deepEqual(rd.readStates.map((r) => r.context), ['l1']);
    assert.deepEqual([...rd.messagesBeforePersist, ...rd.messages], []);
    leader.advance(rd);
    assert.equal(net.delivered.length, before);
    // Cut off, the lease runs out before the election timeout; then a lease
    // read falls back to a heartbeat round that cannot complete.
    net.isolate('n1');
    for (let i = 0; i < 9; i++) net.tick('n1');
    assert.equal(leader.leaseValid(), false, 'no quorum heard for longer than the lease');
    leader.readIndex('l2', { lease: true });
    net.settle();
    assert.ok(!net.reads.get('n1')!.some((r) => r.context === 'l2'), 'an isolated leader serves no read');
  });

  test('leaseReadIndex gives the commit index exactly when a lease read would be answered at once', () => {
    const net = cluster(3);
    net.elect('n1');
    const leader = net.node('n1');
    assert.equal(net.node('n2').leaseReadIndex(), undefined, 'a follower has no lease');
    net.tickAll(2);
    leader.propose(bytes('x'));
    net.settle();
    assert.equal(leader.leaseValid(), true);
    assert.equal(leader.leaseReadIndex(), leader.log.committed);
    net.isolate('n1');
    for (let i = 0; i < 9; i++) net.tick('n1');
    assert.equal(leader.leaseValid(), false);
    assert.equal(leader.leaseReadIndex(), undefined, 'a leader whose lease ran out answers nothing at once');
  });

  test('check-quorum is required for lease reads', () => {
    const net = cluster(3, { checkQuorum: false, preVote: false });
    net.elect('n1');
    net.tickAll(2);
    assert.equal(net.node('n1').leaseValid(), false);
  });
});

describe('membership', () => {
  test('add a learner, let it catch up, promote it: it then counts and can lead', () => {
    const net = cluster(3);
    net.elect('n1');
    const leader = net.node('n1');
    for (let i = 0; i < 5; i++) leader.propose(bytes(`v${i}`));
    net.settle();
    const prng = new Prng(99);
    net.add('n4', { random: () => prng.next() });
    leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 'n4', address: 'n4:7000' });
    net.settle();
    net.tickAll(2);
    const n4 = net.node('n4');
    assert.equal(n4.log.lastIndex(), leader.log.lastIndex(), 'the learner caught up');
    assert.equal(n4.conf().members.find((m) => m.id === 'n4')?.voter, false);
    leader.proposeConfChange({ type: ConfChangeType.Promote, nodeId: 'n4', address: '' });
    net.settle();
    net.tickAll(1);
    assert.equal(leader.conf().members.filter((m) => m.voter).length, 4);
    leader.transferLeader('n4');
    net.settle();
    assert.equal(n4.role, Role.Leader);
  });

  test('one change at a time, and none before the leader commits in its term', () => {
    const net = cluster(3);
    net.dropIf = (m) => m.type === MessageType.App;
    net.elect('n1');
    const leader = net.node('n1');
    assert.throws(
      () => leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 'n9', address: '' }),
      /has not yet committed/,
    );
    net.dropIf = () => false;
    net.tickAll(2);
    net.cut('n1', 'n2', 'n3');
    leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 'n9', address: '' });
    assert.throws(
      () => leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 'n8', address: '' }),
      (e: unknown) => e instanceof ConfChangeError && /pending/.test(e.message),
    );
  });

  test('invalid changes are refused with a reason', () => {
    const net = cluster(3);
    net.elect('n1');
    net.tickAll(1);
    const leader = net.node('n1');
    assert.throws(() => leader.proposeConfChange({ type: ConfChangeType.Promote, nodeId: 'n2', address: '' }), /already a voter/);
    assert.throws(() => leader.proposeConfChange({ type: ConfChangeType.Remove, nodeId: 'zz', address: '' }), /not a member/);
  });

  test('a leader can remove itself: it steps down once the change commits and the rest elect a new one', () => {
    const net = cluster(3);
    net.elect('n1');
    net.tickAll(1);
    const leader = net.node('n1');
    leader.proposeConfChange({ type: ConfChangeType.Remove, nodeId: 'n1', address: '' });
    net.settle();
    net.tickAll(1);
    assert.equal(leader.role, Role.Follower);
    net.tickAll(40);
    const leaders = net.leaders();
    assert.equal(leaders.length, 1);
    assert.notEqual(leaders[0], 'n1');
    assert.equal(net.node(leaders[0]).conf().members.some((m) => m.id === 'n1'), false);
  });
});

describe('leadership transfer', () => {
  test('the target is caught up, then takes over at the next term', () => {
    const net = cluster(3);
    net.elect('n1');
    const term = net.node('n1').term;
    net.cut('n1', 'n3');
    for (let i = 0; i < 3; i++) net.node('n1').propose(bytes(`w${i}`));
    net.settle();
    net.heal();
    net.node('n1').transferLeader('n3');
    assert.throws(() => net.node('n1').propose(bytes('during')), ProposalDroppedError);
    net.settle();
    net.tickAll(1);
    assert.equal(net.node('n3').role, Role.Leader);
    assert.equal(net.node('n3').term, term + 1);
  });

  test('a transfer to an unreachable target is abandoned after an election timeout', () => {
    const net = cluster(3);
    net.elect('n1');
    net.isolate('n3');
    const leader = net.node('n1');
    leader.transferLeader('n3');
    assert.equal(leader.status().leadTransferee, 'n3');
    for (let i = 0; i < 11; i++) net.tick('n1');
    assert.equal(leader.status().leadTransferee, '');
    assert.equal(leader.role, Role.Leader);
    leader.propose(bytes('after'));
  });
});

describe('snapshots', () => {
  test('a node that needs compacted entries gets a snapshot and continues from it', () => {
    const net = cluster(3);
    net.elect('n1');
    net.isolate('n3');
    const leader = net.node('n1');
    for (let i = 0; i < 20; i++) leader.propose(bytes(`v${i}`));
    net.settle();
    leader.compact(leader.log.applied, bytes('IMAGE'));
    assert.ok(leader.log.firstIndex() > 2);
    net.heal();
    net.delivered.length = 0;
    net.tickAll(3);
    const snap = net.delivered.find((m) => m.type === MessageType.Snap && m.to === 'n3');
    assert.ok(snap, 'a snapshot went to n3');
    assert.equal(text(snap.snapshot!.data!), 'IMAGE');
    const n3 = net.node('n3');
    assert.equal(n3.log.lastIndex(), leader.log.lastIndex());
    assert.equal(n3.log.snapshot.index, leader.log.snapshot.index);
    leader.propose(bytes('after'));
    net.settle();
    net.tickAll(1);
    assert.equal(n3.log.committed, leader.log.committed);
  });
});

describe('leader unreachable (its connection closed)', () => {
  test('a follower told its leader is gone campaigns as the lease lapses, not anywhere up to two election timeouts', () => {
    // electionTicks is 10: the usual timeout is drawn from [10, 20); the hint narrows it to [10, 13).
    const seen: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const net = cluster(3);
      // Different draws per seed: advance each node's random source a different amount.
      for (const node of net.nodes.values()) for (let i = 0; i < seed; i++) (node as unknown as { random: () => number }).random();
      net.elect('n1');
      net.isolate('n1');
      net.node('n2').leaderUnreachable();
      net.node('n3').leaderUnreachable();
      let ticks = 0;
      while (!net.leaders().some((id) => id !== 'n1') && ticks < 100) {
        ticks++;
        net.tick('n2');
        net.tick('n3');
      }
      seen.push(ticks);
    }
    assert.ok(Math.max(...seen) <= 13, `a new leader took ${Math.max(...seen)} ticks (the hinted range is [10, 13)): ${seen}`);
    assert.ok(Math.min(...seen) >= 10, `a new leader before the lease lapsed: ${seen}`);
  });

  test('a hint about a leader that still sends heartbeats changes nothing', () => {
    const net = cluster(3);
    net.elect('n1');
    const term = net.node('n1').term;
    net.node('n2').leaderUnreachable();
    net.node('n3').leaderUnreachable();
    net.tickAll(100);
    assert.deepEqual(net.leaders(), ['n1']);
    assert.equal(net.node('n2').term, term);
  });
});
