// A captured handshake of a token-only cluster (no TLS, so everything is on the wire) replayed on a
// fresh connection: refused, and the replayed request never runs. The same checker, against a
// listener whose challenge nonce never changes (a broken variant), reports the replay accepted.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { FrameType } from '../../src/transport/codec.js';
import { AddressBook, eventually } from './helpers.js';
import { recordingProxy, replay } from './replay.js';

const SECRET = 'replay-test-secret';
const book = new AddressBook();
after(() => book.closeAll());

/** A request from `a` to `b` through a recording proxy, then the recording replayed to `b` directly. */
async function captureAndReplay(listener: string, fixedNonce: boolean): Promise<{ calls: string[]; outcome: Awaited<ReturnType<typeof replay>>; captured: Buffer }> {
  const calls: string[] = [];
  const b = await book.start(listener, {
    token: SECRET,
    onRequest: async (method) => {
      calls.push(method);
      return Buffer.from('ok');
    },
    ...(fixedNonce ? { nonces: () => Buffer.alloc(32, 7) } : {}),
  });
  const a = await book.start(`${listener}-dialer`, { token: SECRET });
  const proxy = await recordingProxy(b.transport.address);
  try {
    const answer = await a.transport.request({ address: proxy.address }, 'grant-me', Buffer.from('x'), 5000);
    assert.equal(answer.toString(), 'ok');
    assert.deepEqual(calls, ['grant-me']);
    const captured = Buffer.concat(proxy.sent[0] ?? []);
    // What went over the wire holds no secret.
    assert.ok(!captured.includes(Buffer.from(SECRET)), 'the join secret travelled in the clear');
    const outcome = await replay(b.transport.address.port, captured);
    return { calls, outcome, captured };
  } finally {
    await proxy.close();
  }
}

test('a captured hello, proof and request, replayed: refused, the request never runs', async () => {
  const { calls, outcome } = await captureAndReplay('b', false);
  assert.equal(outcome.accepted, false, `replay accepted: ${JSON.stringify(outcome.frames.map((f) => f.type))}`);
  const reject = outcome.frames.find((f) => f.type === FrameType.HelloReject);
  assert.ok(reject && 'detail' in reject && /proof does not match/.test(reject.detail), JSON.stringify(outcome.frames));
  assert.deepEqual(calls, ['grant-me'], 'the replayed request ran');
  const node = book.nodes.find((n) => n.id === 'b')!;
  assert.ok(node.logger.has('warn', 'proof does not match'), 'the refusal was not logged');
});

test('the checker catches a broken listener whose challenge never changes', async () => {
  const { calls, outcome } = await captureAndReplay('b-broken', true);
  assert.equal(outcome.accepted, true, 'a fixed nonce should let the replay in, and the checker should see it');
  assert.deepEqual(calls, ['grant-me', 'grant-me']);
});

test('the secret in the clear: only from a first-release dialer while the cluster still runs version 1', async () => {
  const { judgeHello, tokenDigest } = await import('../../src/transport/handshake.js');
  const expected = { nodeId: 'b', clusterId: 'c', tokenDigest: tokenDigest(SECRET) };
  const plain = (version: number) => ({ version, clusterId: 'c', from: 'a', to: 'b', token: SECRET });
  assert.equal(judgeHello(plain(1), { ...expected, clusterVersion: 1 }).accepted, true, 'a rolling upgrade from 0.1.0 needs it');
  assert.equal(judgeHello(plain(1), expected).accepted, true);
  const upgraded = judgeHello(plain(1), { ...expected, clusterVersion: 2 });
  assert.equal(upgraded.accepted, false);
  const newer = judgeHello(plain(2), { ...expected, clusterVersion: 1 });
  assert.ok(!newer.accepted && /may not travel in the clear/.test(newer.detail), JSON.stringify(newer));
  // A wrong guess in the clear is not even compared: the same answer as the right one.
  const guess = judgeHello({ ...plain(2), token: 'guess' }, expected);
  assert.deepEqual(guess, newer);
  // A listener without a secret refuses a dialer that has one (a misconfiguration, said so).
  const { DialerProof } = await import('../../src/transport/join-proof.js');
  const asking = new DialerProof(SECRET, 2, { clusterId: 'c', from: 'a', to: 'b' });
  const open = judgeHello({ version: 2, clusterId: 'c', from: 'a', to: 'b', token: asking.helloToken }, { nodeId: 'b', clusterId: 'c', tokenDigest: undefined });
  assert.ok(!open.accepted && /holds no join secret/.test(open.detail));
  // To a first-release listener (hello version 1) the dialer can only send the plaintext form.
  assert.equal(new DialerProof(SECRET, 1, { clusterId: 'c', from: 'a', to: 'b' }).helloToken, SECRET);
});

test('a dialer that asks for the challenge and never answers is refused within the handshake timeout', async () => {
  const b = await book.start('b-slow', { token: SECRET, handshakeTimeoutMs: 400 });
  const { DialerProof } = await import('../../src/transport/join-proof.js');
  const { encodeFrame, PROTOCOL_VERSION } = await import('../../src/transport/codec.js');
  const dialer = new DialerProof(SECRET, PROTOCOL_VERSION, { clusterId: 'test-cluster', from: 'slow', to: 'b-slow' });
  const hello = encodeFrame({ type: FrameType.Hello, hello: { version: PROTOCOL_VERSION, clusterId: 'test-cluster', from: 'slow', to: 'b-slow', token: dialer.helloToken } });
  const outcome = await replay(b.transport.address.port, hello, 5000);
  assert.equal(outcome.accepted, false);
  assert.deepEqual(outcome.frames.map((f) => f.type), [FrameType.Challenge, FrameType.HelloReject]);
  const reject = outcome.frames[1]!;
  assert.ok('detail' in reject && /no answer to the challenge/.test(reject.detail), JSON.stringify(reject));
  await eventually('its place among the unauthenticated given back', () => b.transport.unauthenticatedConnections === 0);
});
