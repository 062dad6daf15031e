// Test scaffolding for real transports on 127.0.0.1: a little address book,
// nodes that record what they receive, and polling waits with a deadline.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Message, NodeId } from '../../src/raft/types.js';
import { emptyMessage, MessageType } from '../../src/raft/types.js';
import { formatAddress, Transport } from '../../src/transport/transport.js';
import type { TransportLogger, TransportOptions } from '../../src/transport/options.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: object;
}

/** A logger that keeps what it is told, so tests can check that a refusal was logged. */
export class MemoryLogger implements TransportLogger {
  readonly lines: LogLine[] = [];
  debug(fields: object, msg = ''): void { this.lines.push({ level: 'debug', msg, fields }); }
  info(fields: object, msg = ''): void { this.lines.push({ level: 'info', msg, fields }); }
  warn(fields: object, msg = ''): void { this.lines.push({ level: 'warn', msg, fields }); }
  error(fields: object, msg = ''): void { this.lines.push({ level: 'error', msg, fields }); }
  has(level: LogLine['level'], text: string): boolean {
    return this.lines.some((l) => l.level === level && (l.msg.includes(text) || JSON.stringify(l.fields).includes(text)));
  }
}

export class TestNode {
  readonly inbox: Message[] = [];
  readonly unreachable: NodeId[] = [];
  readonly logger = new MemoryLogger();
  transport!: Transport;
  constructor(readonly id: NodeId) {}

  received(from?: NodeId): Message[] {
    return from === undefined ? this.inbox : this.inbox.filter((m) => m.from === from);
  }
}

/** Where each node listens; `resolve` reads from it, so a restarted node can move. */
export class AddressBook {
  readonly addresses = new Map<NodeId, string>();
  readonly nodes: TestNode[] = [];
  readonly resolve = (nodeId: NodeId): string | undefined => this.addresses.get(nodeId);

  async start(id: NodeId, options: Partial<TransportOptions> = {}): Promise<TestNode> {
    const node = new TestNode(id);
    node.transport = new Transport({
      nodeId: id,
      clusterId: 'test-cluster',
      listen: { host: '127.0.0.1', port: 0 },
      resolve: this.resolve,
      onMessage: (message) => node.inbox.push(message),
      onUnreachable: (peer) => node.unreachable.push(peer),
      logger: node.logger,
      ...options,
    });
    await node.transport.start();
    this.addresses.set(id, formatAddress(node.transport.address));
    this.nodes.push(node);
    return node;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.transport.close()));
  }
}

/** Polls until `check` holds; fails with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(5);
  }
}

export function heartbeat(from: NodeId, to: NodeId, round: number): Message {
  return { ...emptyMessage(MessageType.Heartbeat, from, to, 1), round };
}

/** Sends heartbeats every few ms until `check` holds: how Raft keeps a link busy. */
export async function keepSending(from: Transport, fromId: NodeId, to: NodeId, what: string, check: () => boolean, timeoutMs = 8000): Promise<void> {
  let round = 0;
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    from.send(heartbeat(fromId, to, ++round));
    await sleep(10);
  }
}
