// The driver obeys the core's durability policy on a real node: real LMDB
// storage whose persist the test releases by hand, a real peer transport, and
// the test playing the leader over TCP. No append response and no vote grant
// leaves before the persist it rests on has finished.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/agent/config.js';
import { RaftDriver } from '../../src/agent/driver.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { EntryType, MessageType, TRANSFER_CONTEXT, bootstrapSnapshot, emptyMessage, type Message } from '../../src/raft/index.js';
import { STATE_TABLES, StateMachine } from '../../src/state/index.js';
import { openStorage } from '../../src/storage/index.js';
import { Transport } from '../../src/transport/index.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Several event-loop turns and a little time: room for a wrongly early message to leave. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * Plays a vote and an append against a real driver whose persist the test
 * releases by hand. Returns what left too early (empty when the driver obeys
 * the contract). `sendEverythingEarly` breaks the driver on purpose: its core's
 * Ready is rewritten so every message leaves before the persist.
 */
async function playVoteAndAppend(t: TestContext, sendEverythingEarly: boolean): Promise<string[]> {
  const problems: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'konsul-durability-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // The leader's side: a real transport the test speaks through.
  const received: Message[] = [];
  let followerAddress = '';
  const leader = new Transport({
    nodeId: 'L', clusterId: 'konsul', listen: { host: '127.0.0.1', port: 0 },
    resolve: (id) => (id === 'f' ? followerAddress : undefined),
    onMessage: (m) => received.push(m),
    logger: silent,
  });
  await leader.start();
  t.after(() => leader.close());
  const leaderAddress = `127.0.0.1:${leader.address.port}`;

  // The follower: real storage, its persist gated by the test.
  const config = resolveConfig({
    nodeId: 'f', dataDir: dir, raftAddr: '127.0.0.1:0', advertise: '127.0.0.1:0', electionTimeout: '10s',
  }, {});
  const storage = openStorage(dir, { state: { tables: STATE_TABLES } });
  t.after(() => storage.close());
  await storage.log.persist({
    snapshot: { meta: bootstrapSnapshot([{ id: 'L', address: leaderAddress, voter: true }, { id: 'f', address: '127.0.0.1:1', voter: true }]) },
    hardState: { term: 1, vote: '', commit: 1 },
  });
  storage.state.applyBatch(1, () => undefined);

  const events: string[] = [];
  let release: (() => void) | undefined;
  const realPersist = storage.log.persist.bind(storage.log);
  storage.log.persist = async (batch, options) => {
    if (options?.sync === false) return realPersist(batch, options);
    events.push('persist held');
    await new Promise<void>((resolve) => { release = resolve; });
    await realPersist(batch, options);
    events.push('persist done');
  };

  const driver = new RaftDriver({
    config, storage, state: new StateMachine(storage.state), metrics: new AgentMetrics({ nodeId: 'f' }), logger: silent, events: {},
  });
  await driver.start();
  t.after(() => driver.stop());
  if (sendEverythingEarly) {
    const ready = driver.raft.ready.bind(driver.raft);
    driver.raft.ready = () => {
      const rd = ready();
      rd.messagesBeforePersist = [...rd.messagesBeforePersist, ...rd.messages];
      rd.messages = [];
      return rd;
    };
  }
  followerAddress = `127.0.0.1:${driver.raftAddress.port}`;
  const send = driver.transport.send.bind(driver.transport);
  driver.transport.send = (m: Message) => {
    events.push(`sent ${MessageType[m.type]}${m.reject ? ' (reject)' : ''}`);
    return send(m);
  };

  // 1. A vote request for term 5: granting it changes the vote, which must be durable first.
  const vote = emptyMessage(MessageType.Vote, 'L', 'f', 5);
  vote.index = 1;
  vote.logTerm = 1;
  // As in a leadership transfer: a node inside its leader's lease (or just started) ignores other vote requests.
  vote.context = TRANSFER_CONTEXT;
  leader.send(vote);
  await until('the vote to be persisted', () => events.includes('persist held'));
  await settle();
  if (events.some((e) => e.startsWith('sent VoteResp'))) problems.push('a vote response left before its persist');
  release!();
  await until('the vote grant', () => received.some((m) => m.type === MessageType.VoteResp));
  const grant = received.find((m) => m.type === MessageType.VoteResp)!;
  assert.equal(grant.reject, false, 'the vote was granted');

  // 2. As leader of term 5, an append of one entry: the response must wait for the entry's fsync.
  events.length = 0;
  const app = emptyMessage(MessageType.App, 'L', 'f', 5);
  app.index = 1;
  app.logTerm = 1;
  app.commit = 1;
  app.entries = [{ index: 2, term: 5, type: EntryType.Normal, data: new Uint8Array(0) }];
  leader.send(app);
  await until('the entry to be persisted', () => events.includes('persist held'));
  await settle();
  if (events.some((e) => e.startsWith('sent AppResp'))) problems.push('an append response left before its persist');
  release!();
  await until('the append response', () => received.some((m) => m.type === MessageType.AppResp));
  const ack = received.find((m) => m.type === MessageType.AppResp)!;
  assert.deepEqual([ack.reject, ack.index], [false, 2]);
  return problems;
}

test('no vote grant and no append response leaves before its persist', { timeout: 60_000 }, async (t) => {
  assert.deepEqual(await playVoteAndAppend(t, false), []);
});

test('the check catches a driver that sends every message before the persist', { timeout: 60_000 }, async (t) => {
  assert.deepEqual(await playVoteAndAppend(t, true), [
    'a vote response left before its persist', 'an append response left before its persist',
  ]);
});
