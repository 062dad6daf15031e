// Forwarding of names outside our domain to the configured recursors: over
// UDP to each in turn, each given its timeout, relaying the first answer.

import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { HEADER_BYTES, Rcode, dnsPacket, responseRcode } from './message.js';

/** The question of a message as one comparable string, or undefined when the message does not decode whole. */
function questionOf(message: Buffer): string | undefined {
  try {
    const decoded = dnsPacket.decode(message);
    if (dnsPacket.decode.bytes !== message.length || decoded.questions?.length !== 1) return undefined;
    const q = decoded.questions[0]!;
    return `${q.name.toLowerCase()} ${q.type} ${q.class}`;
  } catch {
    return undefined;
  }
}

export interface Recursor {
  host: string;
  port: number;
}

/** Parse 'host', 'host:port', '[v6]:port' or a bare IPv6 address (port 53 unless given). */
export function parseRecursor(text: string): Recursor | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  let host: string;
  let portText: string | undefined;
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
    if (isIP(host) !== 6) return undefined;
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const at = text.lastIndexOf(':');
    host = at < 0 ? text : text.slice(0, at);
    portText = at < 0 ? undefined : text.slice(at + 1);
  }
  if (host === '' || (/[\s/[\]:]/.test(host) && isIP(host) !== 6)) return undefined;
  const port = portText === undefined ? 53 : /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65_535)) return undefined;
  return { host, port };
}

export class Forwarder {
  private readonly recursors: readonly Recursor[];
  private readonly timeoutMs: number;
  /** Ends every exchange under way (on close). */
  private readonly aborts = new Set<() => void>();
  private closed = false;

  constructor(recursors: readonly Recursor[], timeoutMs: number) {
    this.recursors = recursors;
    this.timeoutMs = timeoutMs;
  }

  /**
   * The upstream answer to `query`, with the query's id; undefined when no
   * recursor answered in time. A recursor's SERVFAIL or REFUSED sends the
   * query on to the next one, and is relayed only when no other answers better.
   */
  async forward(query: Buffer): Promise<Buffer | undefined> {
    let fallback: Buffer | undefined;
    for (const recursor of this.recursors) {
      if (this.closed) break;
      const answer = await this.exchange(recursor, query);
      if (!answer) continue;
      const rcode = responseRcode(answer);
      if (rcode === Rcode.NOERROR || rcode === Rcode.NXDOMAIN) return answer;
      fallback = answer;
    }
    return fallback;
  }

  close(): void {
    this.closed = true;
    for (const abort of [...this.aborts]) abort();
  }

  /** One query to one recursor, on its own socket under a fresh random id. */
  private exchange(recursor: Recursor, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const clientId = query.readUInt16BE(0);
      const question = questionOf(query);
      const upstreamId = randomInt(0, 0x10000);
      const outgoing = Buffer.from(query);
      outgoing.writeUInt16BE(upstreamId, 0);
      // A connected socket hears only from the recursor, and an ICMP refusal ends the wait early.
      const socket = createSocket(isIP(recursor.host) === 6 ? 'udp6' : 'udp4');
      let done = false;
      const finish = (answer: Buffer | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.aborts.delete(abort);
        socket.close();
        resolve(answer);
      };
      const abort = (): void => finish(undefined);
      const timer = setTimeout(abort, this.timeoutMs);
      this.aborts.add(abort);
      socket.on('error', abort);
      socket.on('message', (msg) => {
        // Only the response to our question: QR set, our id.
        if (msg.length < HEADER_BYTES || (msg[2] & 0x80) === 0 || msg.readUInt16BE(0) !== upstreamId) return;
        // And only a well-formed one to that question: garbage or another name is not relayed (it may be spoofed).
        if (question === undefined || questionOf(msg) !== question) return;
        const answer = Buffer.from(msg);
        answer.writeUInt16BE(clientId, 0);
        finish(answer);
      });
      socket.connect(recursor.port, recursor.host, () => {
        if (!done) socket.send(outgoing, (error) => error && abort());
      });
    });
  }
}
