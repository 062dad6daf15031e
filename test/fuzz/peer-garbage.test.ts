// Hostile peers against real agent processes: a cluster of three servers with a
// join token takes garbage, an oversized frame, a wrong token, a bad frame
// after a good handshake, and garbage proposals on a request connection. Each
// connection is closed (or answered with an error), the agent logs it, no
// replica changes, and the cluster keeps serving writes and reads.

import { DialerProof } from '../../src/transport/join-proof.js';
import { decodeResponse } from '../../src/agent/peer-requests.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { describe } from 'node:test';
import { encodeFrame, FrameType, PROTOCOL_VERSION, type Frame } from '../../src/transport/codec.js';
import { FrameParser } from '../../src/transport/parser.js';
import { formCluster, http, scenario, TestCluster, waitFor } from '../cluster/harness.js';
import { rawFrame } from './transport-targets.js';

const TOKEN = 'fuzz-join-token';
/**
 * How long a hostile connection is given to be closed. Well under the agents'
 * 5 s handshake timeout, so a close within it is the refusal's doing, not the
 * timeout's; and far over the milliseconds a refusal takes.
 */
const REFUSAL_WAIT_MS = 3000;

interface Exchange {
  /** Frames the agent sent back before it closed. */
  frames: Frame[];
  /** The agent closed the connection (rather than our timeout ending it). */
  closedByAgent: boolean;
}

/** Connects, sends `bytes`, and reads frames until the agent closes (or `waitMs` passes). */
function exchange(port: number, bytes: Buffer, waitMs = REFUSAL_WAIT_MS, onFrame?: (f: Frame, socket: import('node:net').Socket) => void): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const frames: Frame[] = [];
    const parser = new FrameParser(1 << 20);
    const socket = connect(port, '127.0.0.1');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, waitMs);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      try {
        parser.parse(chunk, (f) => {
          frames.push(f);
          onFrame?.(f, socket);
        });
      } catch (error) {
        reject(error);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ frames, closedByAgent: !timedOut });
    });
    socket.once('connect', () => socket.write(bytes));
  });
}

function hello(token: string | undefined, to: string): Buffer {
  return encodeFrame({ type: FrameType.Hello, hello: { version: PROTOCOL_VERSION, clusterId: 'konsul', from: 'intruder', to, token } });
}

/**
 * A peer holding `secret` (the cluster's, or a wrong one): its hello asks for the challenge, and
 * `onFrame` answers it, then sends `then` (what the test wants the agent to read once it is in).
 */
function proven(secret: string, to: string, then: Buffer[] = []): { bytes: Buffer; onFrame: (f: Frame, socket: import('node:net').Socket) => void } {
  const dialer = new DialerProof(secret, PROTOCOL_VERSION, { clusterId: 'konsul', from: 'intruder', to });
  return {
    bytes: hello(dialer.helloToken, to),
    onFrame: (f, socket) => {
      if (f.type === FrameType.Challenge) socket.write(Buffer.concat([dialer.answer(f, 'the agent'), ...then]));
    },
  };
}

/** The agent's log lines (pino JSON) whose msg is `msg`. */
function logLines(log: string, msg: string): Array<Record<string, unknown>> {
  return log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

describe('hostile peers against a real three-server cluster with a join token', () => {
  const c = new TestCluster({ flags: ['--token', TOKEN] });
  const step = scenario(c);
  let leader = '';
  let target = { id: '', port: 0 };

  step('the cluster forms and holds a key', async () => {
    await formCluster(c, ['s1', 's2', 's3'], []);
    leader = await c.leader();
    assert.equal((await c.put(leader, 'fuzz/before', 'v1')).status, 200);
    const follower = ['s1', 's2', 's3'].find((id) => id !== leader)!;
    // The hostile connections go to a follower's raft port and to the leader's (proposals).
    target = { id: follower, port: c.node(follower).raftPort };
  });

  step('garbage from the first byte: the agent closes the connection and logs a bad frame', async () => {
    // A plausible length (so the parser reads on), then noise: the checksum cannot match.
    const garbage = randomBytes(2048);
    garbage.writeUInt32BE(100, 0);
    const r = await exchange(target.port, garbage);
    assert.ok(r.closedByAgent, 'the agent kept a garbage connection open');
    assert.deepEqual(r.frames, []);
  });

  step('an oversized length prefix before the handshake is refused before anything is buffered', async () => {
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32BE(0x7fff_ffff, 0);
    const r = await exchange(target.port, prefix);
    assert.ok(r.closedByAgent, 'the agent waited for a 2 GiB frame');
  });

  step('a connection that never says hello is closed after the handshake timeout', async () => {
    const r = await exchange(target.port, Buffer.alloc(0), 15_000);
    assert.ok(r.closedByAgent, 'a silent connection was kept open');
  });

  step('a wrong token is answered HelloReject and closed; no token at all likewise', async () => {
    for (const token of ['wrong-token', undefined]) {
      const r = await exchange(target.port, hello(token, target.id));
      assert.ok(r.closedByAgent);
      assert.equal(r.frames.length, 1);
      assert.equal(r.frames[0]!.type, FrameType.HelloReject);
    }
    // A wrong secret through the challenge: the proof does not match.
    const wrong = proven('wrong-token', target.id);
    const r = await exchange(target.port, wrong.bytes, REFUSAL_WAIT_MS, wrong.onFrame);
    assert.ok(r.closedByAgent);
    assert.deepEqual(r.frames.map((f) => f.type), [FrameType.Challenge, FrameType.HelloReject]);
  });

  step('a good handshake followed by a frame that does not decode is closed', async () => {
    const bad = rawFrame(FrameType.Message, Buffer.from([0xee, 0xff, 1, 2, 3]));
    const peer = proven(TOKEN, target.id, [bad]);
    const r = await exchange(target.port, peer.bytes, REFUSAL_WAIT_MS, peer.onFrame);
    assert.ok(r.closedByAgent);
    assert.deepEqual(r.frames.map((f) => f.type), [FrameType.Challenge, FrameType.HelloOk]);
  });

  step('garbage proposals on a request connection to the leader change no replica', async () => {
    const port = c.node(leader).raftPort;
    const requests: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const body = randomBytes(1 + (i * 7) % 64);
      body[0] = i % 3 === 0 ? 1 : body[0]!; // some claim to be a kv-set, to get past the type byte
      requests.push(encodeFrame({ type: FrameType.Request, id: i + 1, method: 'propose', body }));
    }
    requests.push(encodeFrame({ type: FrameType.Request, id: 100, method: 'join', body: randomBytes(16) }));
    requests.push(encodeFrame({ type: FrameType.Request, id: 101, method: 'no-such-method', body: Buffer.alloc(0) }));
    const answered = new Set<number>();
    const peer = proven(TOKEN, '', requests);
    const r = await exchange(port, peer.bytes, 15_000, (f, socket) => {
      peer.onFrame(f, socket);
      if (f.type === FrameType.Response) {
        answered.add(f.id);
        if (f.id <= 20 && f.ok) assert.equal(decodeResponse('propose', f.body).result, false, `garbage proposal ${f.id} was applied as a command`);
        if (answered.size === requests.length) socket.end();
      }
    });
    assert.equal(answered.size, requests.length, `answered ${[...answered].join(',')}`);
    assert.ok(r.frames.some((f) => f.type === FrameType.Response && f.id === 100 && !f.ok), 'garbage join was not refused');
    // Every replica holds exactly the one key under fuzz/.
    for (const id of ['s1', 's2', 's3']) {
      await waitFor(`${id} to apply up to the leader`, async () => {
        const dump = await c.dump(id, 'fuzz/', 'stale');
        return dump.size === 1 && dump.get('fuzz/before') === 'v1' ? true : undefined;
      });
    }
  });

  step('the cluster still serves: a write through a follower and consistent reads everywhere', async () => {
    assert.equal((await c.put(target.id, 'fuzz/after', 'v2')).status, 200);
    for (const id of ['s1', 's2', 's3']) assert.equal(await c.value(id, 'fuzz/after', 'consistent'), 'v2');
    const st = await http('GET', `${c.node(target.id).url}/cluster/status`);
    assert.equal(st.status, 200);
  });

  step('the agents logged each refusal', async () => {
    const log = c.node(target.id).log();
    const bad = logLines(log, 'bad frame from peer; closing the connection');
    assert.ok(bad.length >= 3, `bad frames logged: ${bad.length}`);
    assert.ok(bad.some((l) => JSON.stringify(l).includes('KONSUL_ERR_FRAME_TOO_LARGE')), 'the oversized frame was not logged as such');
    assert.ok(log.includes('no hello within'), 'the silent connection was not logged');
    const refused = logLines(log, 'refused peer handshake');
    assert.ok(refused.some((l) => String(l.reason).startsWith('wrong join token')), 'the wrong token was not logged');
    assert.ok(refused.some((l) => /may not travel in the clear/.test(String(l.reason))), 'the secret in the clear was not logged');
    assert.ok(refused.some((l) => l.reason === 'a join token is required'), 'the missing token was not logged');
    for (const id of ['s1', 's2', 's3']) {
      const fatal = c.node(id).log().split('\n').filter((l) => /"level":(50|60)/.test(l) && !/unknown peer request/.test(l));
      assert.deepEqual(fatal, [], `${id} logged errors`);
      assert.ok(c.node(id).running, `${id} is not running`);
    }
  });
});
