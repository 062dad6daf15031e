// The attack matrix against real agents: two servers with mutual TLS (certificates from
// `konsul tls`) and a join secret. A stranger without the secret, with a wrong one, replaying a
// member's handshake, with a certificate from another CA, with a valid certificate naming another
// node, with a client certificate joining as a server, with oversized and slow handshakes, and
// with 1,000 unauthenticated connections at once (more than the listener's cap: the rest closed at
// accept, while a new agent joins): each refused, nothing written, the cluster serving throughout,
// and the listener's memory bounded (measured, printed).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, describe } from 'node:test';
import { createCa, createCert } from '../../src/cli/commands/tls/openssl.js';
import { encodeFrame, FrameType, PROTOCOL_VERSION, requestFrame, type Frame } from '../../src/transport/codec.js';
import { FrameParser } from '../../src/transport/parser.js';
import { DialerProof } from '../../src/transport/join-proof.js';
import { http, scenario, sleep, TestCluster, waitFor } from './harness.js';

const SECRET = 'attack-matrix-join-secret';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Outcome { frames: Frame[]; closed: boolean; error?: string }

/**
 * Sends `bytes` on `socket` once connected and collects frames until it closes or `waitMs` passes.
 * With `proof` (an attacker who holds the secret), a Challenge is answered, then `proof.then` is sent.
 */
function exchange(socket: Socket, bytes: Buffer | undefined, waitMs: number, connectEvent = 'connect', proof?: { dialer: DialerProof; then?: Buffer }): Promise<Outcome> {
  return new Promise((resolve) => {
    const frames: Frame[] = [];
    const parser = new FrameParser(1 << 20);
    let error: string | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ frames, closed: false, error });
    }, waitMs);
    socket.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message; });
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.parse(chunk, (f) => {
          frames.push(f);
          if (f.type === FrameType.Challenge && proof) {
            socket.write(proof.dialer.answer(f, 'the listener'));
            if (proof.then) socket.write(proof.then);
          }
        });
      } catch {
        // garbage back is as good as a refusal for our purpose
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ frames, closed: true, error });
    });
    socket.once(connectEvent, () => {
      if (bytes) socket.write(bytes);
    });
  });
}

function hello(from: string, to: string, token?: string): Buffer {
  return encodeFrame({ type: FrameType.Hello, hello: { version: PROTOCOL_VERSION, clusterId: 'konsul', from, to, ...(token === undefined ? {} : { token }) } });
}

/** An attacker who holds the secret: a hello asking for the challenge, and the dialer's side to answer it. */
function provenHello(from: string, to: string): { bytes: Buffer; dialer: DialerProof } {
  const dialer = new DialerProof(SECRET, PROTOCOL_VERSION, { clusterId: 'konsul', from, to });
  return { bytes: hello(from, to, dialer.helloToken), dialer };
}

const refused = (o: Outcome): boolean => o.frames.every((f) => f.type !== FrameType.HelloOk) && (o.closed || o.error !== undefined);

async function metric(url: string, name: string): Promise<number> {
  const r = await http('GET', `${url}/metrics`);
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(r.body);
  if (!m) throw new Error(`no metric ${name}`);
  return Number(m[1]);
}

describe('attack matrix: a closed cluster refuses strangers', { skip: hasOpenssl() ? false : 'openssl is not installed' }, () => {
  const certs = mkdtempSync(join(tmpdir(), 'konsul-attack-certs-'));
  const foreign = mkdtempSync(join(tmpdir(), 'konsul-attack-foreign-'));
  after(() => {
    rmSync(certs, { recursive: true, force: true });
    rmSync(foreign, { recursive: true, force: true });
  });
  const ca = createCa({ dir: certs, days: 30, domain: 'konsul' });
  const otherCa = createCa({ dir: foreign, days: 30, domain: 'konsul' });
  const cert = (dir: string, authority: typeof ca, role: 'server' | 'client', nodeId: string) =>
    createCert({ dir, ca: authority, role, nodeId, datacenter: 'dc1', domain: 'konsul', days: 30, dnsNames: [], ipAddresses: [] });
  const s1 = cert(certs, ca, 'server', 's1');
  const s2 = cert(certs, ca, 'server', 's2');
  const mallory = cert(certs, ca, 'server', 'mallory');
  const client = cert(certs, ca, 'client', 'c9');
  const stranger = cert(foreign, otherCa, 'server', 's3');
  const tlsFlags = (files: { cert: string; key: string }): string[] => ['--token', SECRET, '--tls-cert', files.cert, '--tls-key', files.key, '--tls-ca', ca.cert];

  const c = new TestCluster();
  const step = scenario(c);
  let raftPort = 0;
  let writes = 0;
  let writing = true;
  let writer: Promise<void> = Promise.resolve();

  const tls = (files: { cert: string; key: string }, caFile = ca.cert): Socket => tlsConnect({
    host: '127.0.0.1', port: raftPort, cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(caFile), rejectUnauthorized: false,
  });

  step('two servers with mutual TLS and a join secret, writes going on', async () => {
    await c.add({ id: 's1', server: true, bootstrap: true, extra: tlsFlags(s1) });
    await c.start('s1');
    await c.add({ id: 's2', server: true, join: [c.node('s1').raftAddress], extra: tlsFlags(s2) });
    await c.start('s2');
    await waitFor('s2 a voter', async () => ((await c.status('s1')).members.filter((m) => m.voter).length === 2 ? true : undefined), 30_000);
    raftPort = c.node('s1').raftPort;
    writer = (async () => {
      while (writing) {
        const r = await http('PUT', `${c.node('s2').url}/v1/kv/attack/w${writes}`, 'v').catch(() => undefined);
        if (r?.status === 200) writes++;
        await sleep(20);
      }
    })();
  });

  step('plain TCP, no secret, wrong secret, a replayed member handshake: refused before a frame is read', async () => {
    for (const bytes of [hello('x', 's1'), hello('x', 's1', 'wrong'), hello('s2', 's1', SECRET), hello('s2', '', SECRET)]) {
      const o = await exchange(netConnect(raftPort, '127.0.0.1'), bytes, 4000);
      assert.ok(refused(o), `plain TCP got ${JSON.stringify(o.frames.map((f) => f.type))}`);
    }
  });

  step('a certificate from another CA: the TLS handshake fails', async () => {
    const o = await exchange(tls(stranger, otherCa.cert), hello('s3', 's1', SECRET), 4000, 'secureConnect');
    assert.ok(refused(o), 'a foreign certificate got in');
  });

  step('a valid certificate naming another node: refused', async () => {
    // mallory's certificate is real, and mallory knows the secret, but claims to be s2 (a member).
    const attempt = provenHello('s2', 's1');
    const o = await exchange(tls(mallory), attempt.bytes, 4000, 'secureConnect', { dialer: attempt.dialer });
    assert.ok(refused(o), 'a certificate for mallory passed as s2');
    const reject = o.frames.find((f) => f.type === FrameType.HelloReject);
    assert.ok(reject && 'detail' in reject && /certificate names mallory/.test(reject.detail), JSON.stringify(o.frames));
  });

  step('a client certificate joining as a server: refused, nothing written', async () => {
    const socket = tls(client);
    const join = JSON.stringify({ id: 'c9', raftAddress: '127.0.0.1:1', httpAddress: '', server: true });
    const [head, body, tail] = requestFrame(1, 'join', Buffer.from(join));
    const attempt = provenHello('c9', '');
    const o = await exchange(socket, attempt.bytes, 4000, 'secureConnect', { dialer: attempt.dialer, then: Buffer.concat([head, body, tail]) });
    const response = o.frames.find((f) => f.type === FrameType.Response);
    assert.ok(response && 'ok' in response && response.ok === false, `a client certificate joined as a server: ${JSON.stringify(o.frames.map((f) => f.type))}`);
    const members = (await c.status('s1')).members.map((m) => m.id).sort();
    assert.deepEqual(members, ['s1', 's2']);
  });

  step('oversized and slow handshakes are closed', async () => {
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(200 * 1024 * 1024);
    const big = await exchange(netConnect(raftPort, '127.0.0.1'), huge, 4000);
    assert.ok(big.closed, 'a 200 MiB handshake frame was not refused');
    // Slow: two bytes of a hello, then nothing; the agent's handshake timeout (5 s) closes it.
    const slow = await exchange(netConnect(raftPort, '127.0.0.1'), Buffer.from([0, 0]), 12_000);
    assert.ok(slow.closed, 'a stalled handshake stayed open');
  });

  step('1,000 unauthenticated connections at once, and more: at most the cap held, memory bounded, a new agent joins meanwhile', async () => {
    const url = c.node('s1').url;
    const rssBefore = await metric(url, 'konsul_process_resident_memory_bytes');
    const extBefore = await metric(url, 'konsul_nodejs_external_memory_bytes');
    const writesBefore = writes;
    // The flood comes from four addresses of 127.0.0.0/8 (never 127.0.0.1, where the agents dial from);
    // each connection says nothing, so an admitted one stays until the 5 s handshake timeout.
    const sources = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const sockets: Socket[] = [];
    const open = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const s = netConnect({ host: '127.0.0.1', port: raftPort, localAddress: sources[sockets.length % sources.length] });
        s.on('error', () => {});
        sockets.push(s);
      }
    };
    open(1000);
    await sleep(1500);
    const rssDuring = await metric(url, 'konsul_process_resident_memory_bytes');
    const extDuring = await metric(url, 'konsul_nodejs_external_memory_bytes');
    const stats = JSON.parse((await http('GET', `${url}/cluster/stats`)).body) as { transport: { counters: { connectionsCapped: number } } };
    const capped = stats.transport.counters.connectionsCapped;
    process.stdout.write(`# 1,000 unauthenticated TLS connections from 4 addresses: ${capped} closed at accept (cap: 32 per address), `
      + `RSS ${((rssDuring - rssBefore) / 1048576).toFixed(1)} MiB more, Buffer memory ${((extDuring - extBefore) / 1048576).toFixed(2)} MiB more\n`);
    // 4 x 32 held at most: the rest refused at accept.
    assert.ok(capped >= 1000 - 4 * 32, `only ${capped} of 1,000 connections were refused at accept`);
    assert.ok(rssDuring - rssBefore < 48 * 1048576, `the listener grew by ${rssDuring - rssBefore} bytes`);
    // While the flood goes on (topped up every 250 ms, at most 4,000 connections in all), a client agent
    // with its own certificate joins through s1.
    const c3 = cert(certs, ca, 'client', 'c3');
    await c.add({ id: 'c3', server: false, join: [c.node('s1').raftAddress], extra: tlsFlags(c3) });
    let flooding = true;
    const topUp = (async () => {
      while (flooding && sockets.length < 4000) {
        for (const s of sockets.splice(0, 200)) s.destroy();
        open(200);
        await sleep(250);
      }
    })();
    try {
      await c.start('c3');
      await waitFor('c3 a member', async () => {
        const members = JSON.parse((await http('GET', `${c.node('s1').url}/v1/agent/members`)).body) as Array<{ Name: string }>;
        return members.some((m) => m.Name === 'c3') ? true : undefined;
      }, 30_000);
    } finally {
      flooding = false;
      await topUp;
      for (const s of sockets) s.destroy();
    }
    const lines = c.node('s1').log().split('\n').filter((l) => /unauthenticated connections are open already/.test(l));
    assert.ok(lines.length >= 1 && lines.length <= sources.length * 2, `${lines.length} cap lines for ${sources.length} sources`);
    await waitFor('writes going on', () => (writes > writesBefore + 3 ? true : undefined), 20_000);
    await c.kill('c3', 'SIGTERM');
  });

  step('an authenticated peer cannot make the parser reserve 16 MiB with five bytes', async () => {
    const url = c.node('s1').url;
    const extBefore = await metric(url, 'konsul_nodejs_external_memory_bytes');
    const sockets: Socket[] = [];
    const claim = Buffer.alloc(5);
    claim.writeUInt32BE(16 * 1024 * 1024 - 1);
    for (let i = 0; i < 20; i++) {
      const s = tls(s2);
      s.on('error', () => {});
      // The claim, then one more byte in a later chunk: that is when the parser sizes its carry buffer.
      const attempt = provenHello('s2', '');
      const parser = new FrameParser(1 << 20);
      s.on('data', (chunk: Buffer) => parser.parse(chunk, (f) => {
        if (f.type !== FrameType.Challenge) return;
        s.write(Buffer.concat([attempt.dialer.answer(f, 's1'), claim]));
        setTimeout(() => s.write(Buffer.from([0])), 300);
      }));
      s.once('secureConnect', () => s.write(attempt.bytes));
      sockets.push(s);
    }
    await sleep(1500);
    const extDuring = await metric(url, 'konsul_nodejs_external_memory_bytes');
    for (const s of sockets) s.destroy();
    const grew = extDuring - extBefore;
    process.stdout.write(`# 20 authenticated peers each announcing a 16 MiB frame: Buffer memory ${(grew / 1048576).toFixed(2)} MiB more\n`);
    assert.ok(grew < 20 * 1024 * 1024, `the parser reserved ${grew} bytes for frames that never came`);
  });

  step('a rotated certificate is served after SIGHUP, without a restart', async () => {
    const served = async (): Promise<string> => new Promise((resolve, reject) => {
      const socket = tls(s2);
      socket.once('secureConnect', () => {
        resolve((socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber.toUpperCase());
        socket.destroy();
      });
      socket.once('error', reject);
    });
    const before = await served();
    assert.equal(before, new X509Certificate(readFileSync(s1.cert)).serialNumber.toUpperCase());
    const fresh = mkdtempSync(join(tmpdir(), 'konsul-attack-rotate-'));
    try {
      const next = cert(fresh, ca, 'server', 's1');
      copyFileSync(next.cert, s1.cert);
      copyFileSync(next.key, s1.key);
      const want = new X509Certificate(readFileSync(next.cert)).serialNumber.toUpperCase();
      assert.notEqual(want, before);
      const pid = c.node('s1').proc!.pid;
      c.signal('s1', 'SIGHUP');
      await waitFor('the new certificate served', async () => ((await served()) === want ? true : undefined), 15_000);
      assert.equal(c.node('s1').proc!.pid, pid, 'the agent restarted');
      const writesBefore = writes;
      await waitFor('writes going on', () => (writes > writesBefore + 3 ? true : undefined), 20_000);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  step('nothing was written by any attacker; the agents logged the refusals without flooding', async () => {
    writing = false;
    await writer;
    const keys = JSON.parse((await http('GET', `${c.node('s1').url}/v1/kv/?keys`)).body) as string[];
    assert.ok(keys.every((k) => k.startsWith('attack/w')), JSON.stringify(keys.filter((k) => !k.startsWith('attack/w'))));
    const refusals = c.node('s1').log().split('\n').filter((l) => /refused peer/.test(l)).length;
    assert.ok(refusals < 100, `${refusals} refusal lines for one source`);
  });
});
