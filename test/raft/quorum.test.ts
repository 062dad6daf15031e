// Majority arithmetic, the one place the core and the agent ask it: committed
// index, vote result and "is this set a quorum", for odd and even voter sets,
// a lone voter, learners (never counted) and an empty configuration.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MajorityConfig, hasQuorum, quorumOf } from '../../src/raft/index.js';

const conf = (voters: string[], learners: string[] = []) => ({
  members: [...voters.map((id) => ({ id, address: id, voter: true })), ...learners.map((id) => ({ id, address: id, voter: false }))],
});

test('committed index: the highest index a majority has reached', () => {
  const q = new MajorityConfig(['a', 'b', 'c']);
  assert.equal(q.committedIndex((id) => ({ a: 5, b: 3, c: 1 })[id]), 3);
  assert.equal(q.committedIndex((id) => ({ a: 5 })[id as 'a']), 0, 'unknown counts as 0');
  const four = new MajorityConfig(['a', 'b', 'c', 'd']);
  assert.equal(four.committedIndex((id) => ({ a: 9, b: 7, c: 4, d: 2 })[id]), 4, 'four voters need three');
  assert.equal(new MajorityConfig(['a']).committedIndex(() => 8), 8);
  assert.equal(new MajorityConfig([]).committedIndex(() => 8), 0);
});

test('vote result: won with a majority of grants, lost with a majority of refusals, else pending', () => {
  const q = new MajorityConfig(['a', 'b', 'c', 'd', 'e']);
  const votes = (m: Record<string, boolean>) => (id: string) => m[id];
  assert.equal(q.voteResult(votes({ a: true, b: true })), 'pending');
  assert.equal(q.voteResult(votes({ a: true, b: true, c: true })), 'won');
  assert.equal(q.voteResult(votes({ a: false, b: false, c: false, d: true })), 'lost');
  assert.equal(q.voteResult(votes({ a: true, b: true, c: false, d: false })), 'pending');
  assert.equal(q.voteResult(votes({ x: true, y: true, z: true })), 'pending', 'non-voters do not count');
});

test('is a quorum: learners and strangers never count', () => {
  const c = conf(['a', 'b', 'c'], ['l1', 'l2']);
  assert.equal(hasQuorum(c, ['a', 'l1', 'l2']), false, 'one voter and two learners');
  assert.equal(hasQuorum(c, ['a', 'b']), true);
  assert.equal(hasQuorum(conf(['a', 'b']), ['a']), false, 'two voters need both');
  assert.equal(hasQuorum(conf(['a']), ['a']), true, 'a lone voter is its own quorum');
  assert.equal(hasQuorum(conf([]), []), false, 'an empty configuration has no quorum');
  assert.equal(quorumOf(c).committedIndex((id) => ({ a: 4, l1: 9, l2: 9, b: 2, c: 1 })[id]), 2, 'learners\' indexes are ignored');
});
