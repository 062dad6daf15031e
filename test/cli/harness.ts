// Test harness for the CLI: a node:http stand-in for an agent's /v1/kv, agent
// services, catalog, health, members and /cluster endpoints (Consul's semantics
// and JSON, in memory, every request recorded), and run() to call main()
// in-process with captured stdout and stderr.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import type { ClusterStatus } from '../../src/agent/api.js';
import type { RunAgent } from '../../src/cli/agent-flags.js';
import type { CatalogNode, HealthServiceEntry } from '../../src/cli/commands/catalog/common.js';
import type { AgentMember } from '../../src/cli/commands/members.js';
import type { AgentCheck, AgentService } from '../../src/cli/commands/services/common.js';
import { main } from '../../src/cli/main.js';

export interface Run { code: number; out: string; err: string }

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  stdin?: string | Buffer;
  runAgent?: RunAgent;
  httpTimeoutMs?: number;
  binaryName?: string;
}

/** `konsul <argv>` in this process; env is empty unless given, so the caller's KONSUL_HTTP_ADDR never leaks in. */
export async function run(argv: string[], options: RunOptions = {}): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(argv, {
    stdout,
    stderr,
    stdin: Readable.from([Buffer.from(options.stdin ?? '')]),
    env: options.env ?? {},
    binaryName: options.binaryName ?? 'konsul',
    runAgent: options.runAgent,
    httpTimeoutMs: options.httpTimeoutMs,
  });
  process.exitCode = 0;
  return { code, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8') };
}

/** An address where nothing listens: a stand-in agent's, after it closed. */
export async function deadAddress(): Promise<string> {
  const gone = await FakeAgent.start();
  const address = gone.address;
  await gone.close();
  return address;
}

/**
 * A table as the CLI prints it (columns two spaces apart) as one record per
 * row, keyed by header; fails unless every cell starts under its header.
 */
export function parseTable(text: string): Array<Record<string, string>> {
  const [header = '', ...rows] = text.trimEnd().split('\n');
  const columns = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], at: m.index ?? 0 }));
  return rows.map((row) => Object.fromEntries(columns.map(({ name, at }, i) => {
    assert.ok(at === 0 || (row[at - 1] === ' ' && row[at] !== ' ' && row[at] !== undefined), `${name} aligned in ${JSON.stringify(row)}`);
    return [name, row.slice(at, columns[i + 1]?.at ?? row.length).trimEnd()];
  })));
}

interface StoredEntry { value: Buffer; flags: string; createIndex: number; modifyIndex: number }

export interface RecordedRequest { method: string; url: string; body: string; token?: string }

/** A single-node cluster led by n1, as GET /cluster/status answers it. */
export function healthyStatus(): ClusterStatus {
  const n1 = { id: 'n1', raftAddress: '127.0.0.1:7001', httpAddress: '127.0.0.1:8501' };
  return {
    nodeId: 'n1', role: 'leader', term: 3, leader: n1,
    commitIndex: 12, appliedIndex: 12, lastLogIndex: 12, snapshotIndex: 0, quorum: true,
    members: [{ ...n1, voter: true, leader: true, healthy: true, matchIndex: 12, lastContactMs: 0 }],
  };
}

/** An in-memory stand-in for an agent's HTTP API, on 127.0.0.1 with an ephemeral port. */
export class FakeAgent {
  readonly requests: RecordedRequest[] = [];
  /** `services register`'s reads of the catalog while it waits for the service to appear (kept apart from `requests`). */
  readonly catalogWaits: RecordedRequest[] = [];
  readonly kv = new Map<string, StoredEntry>();
  status: ClusterStatus = healthyStatus();
  stats: unknown = { nodeId: 'n1', term: 3, proposals: { committed: 7, failed: 0 }, storage: { logBytes: 4096 } };
  /** This agent's services by ID (PUT /v1/agent/service/register adds one) and its checks by CheckID. */
  readonly services = new Map<string, AgentService>();
  readonly checks = new Map<string, AgentCheck>();
  /** The catalog: its nodes, and every service instance with its node and checks (GET /v1/health/service/<name>). */
  nodes: CatalogNode[] = [];
  instances: HealthServiceEntry[] = [];
  members: AgentMember[] = [];
  /** The next request is answered with this status and text instead. */
  failNext: { status: number; body: string } | undefined;
  /** Answers, instead of the stand-in, every request it returns an answer for (to refuse one request of several). */
  refuse: ((request: RecordedRequest) => { status: number; body: string } | undefined) | undefined;
  /** Requests are read but never answered (to see the CLI's time limit). */
  hang = false;
  private index = 1;
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => void this.serve(req, res));
  }

  static async start(): Promise<FakeAgent> {
    const agent = new FakeAgent();
    await new Promise<void>((resolve) => agent.server.listen(0, '127.0.0.1', resolve));
    return agent;
  }

  /** host:port, the form --http-addr takes. */
  get address(): string {
    const { port } = this.server.address() as AddressInfo;
    return `127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  put(key: string, value: string | Buffer, flags = '0'): void {
    const old = this.kv.get(key);
    const index = ++this.index;
    this.kv.set(key, { value: Buffer.from(value), flags, createIndex: old?.createIndex ?? index, modifyIndex: index });
  }

  lastRequest(): RecordedRequest {
    const last = this.requests.at(-1);
    if (!last) throw new Error('no request reached the fake agent');
    return last;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const header = req.headers['x-consul-token'];
    const request: RecordedRequest = { method, url: rawUrl, body: body.toString('utf8'), ...(typeof header === 'string' ? { token: header } : {}) };
    if (method === 'GET' && rawUrl.startsWith('/v1/catalog/service/')) this.catalogWaits.push(request);
    else this.requests.push(request);
    if (this.hang) return;
    const refusal = this.failNext ?? this.refuse?.(request);
    if (refusal) {
      this.failNext = undefined;
      return this.send(res, refusal.status, refusal.body);
    }
    const url = new URL(rawUrl, 'http://fake');
    if (url.pathname.startsWith('/v1/kv/')) {
      const key = url.pathname.slice('/v1/kv/'.length).split('/').map(decodeURIComponent).join('/');
      return this.serveKv(method, key, url.searchParams, body, res);
    }
    if (url.pathname.startsWith('/v1/')) return this.serveDiscovery(method, url, body, res);
    return this.serveCluster(method, url, body, res);
  }

  private serveKv(method: string, key: string, q: URLSearchParams, body: Buffer, res: ServerResponse): void {
    const cas = q.get('cas');
    if (method === 'PUT') {
      const old = this.kv.get(key);
      if (cas !== null && (cas === '0' ? old !== undefined : old?.modifyIndex !== Number(cas))) return this.send(res, 200, 'false');
      this.put(key, body, q.get('flags') ?? old?.flags ?? '0');
      return this.send(res, 200, 'true');
    }
    if (method === 'DELETE') {
      if (cas !== null && this.kv.get(key)?.modifyIndex !== Number(cas)) return this.send(res, 200, 'false');
      for (const k of [...this.kv.keys()]) if (q.has('recurse') ? k.startsWith(key) : k === key) this.kv.delete(k);
      return this.send(res, 200, 'true');
    }
    const matching = [...this.kv.keys()].filter((k) => (q.has('recurse') || q.has('keys') ? k.startsWith(key) : k === key)).sort();
    if (matching.length === 0) return this.send(res, 404, '');
    if (q.has('keys')) {
      const sep = q.get('separator') ?? '';
      const keys = new Set(matching.map((k) => {
        const at = sep === '' ? -1 : k.indexOf(sep, key.length);
        return at === -1 ? k : k.slice(0, at + sep.length);
      }));
      return this.sendJson(res, 200, [...keys]);
    }
    return this.sendJson(res, 200, matching.map((k) => {
      const e = this.kv.get(k) as StoredEntry;
      return {
        Key: k, Value: e.value.length === 0 ? null : e.value.toString('base64'), Flags: Number(e.flags),
        CreateIndex: e.createIndex, ModifyIndex: e.modifyIndex, LockIndex: 0,
      };
    }));
  }

  private serveDiscovery(method: string, url: URL, body: Buffer, res: ServerResponse): void {
    const route = `${method} ${url.pathname}`;
    const rest = (prefix: string): string | undefined =>
      url.pathname.startsWith(prefix) ? decodeURIComponent(url.pathname.slice(prefix.length)) : undefined;
    if (route === 'PUT /v1/agent/service/register') return this.register(body, res);
    const deregister = method === 'PUT' ? rest('/v1/agent/service/deregister/') : undefined;
    if (deregister !== undefined) {
      if (!this.services.delete(deregister)) {
        return this.send(res, 404, `Unknown service ID "${deregister}". Ensure that the service ID is passed, not the service name.`);
      }
      for (const [id, check] of this.checks) if (check.ServiceID === deregister) this.checks.delete(id);
      return this.send(res, 200, '');
    }
    if (route === 'GET /v1/agent/services') return this.sendJson(res, 200, Object.fromEntries(this.services));
    if (route === 'GET /v1/agent/checks') return this.sendJson(res, 200, Object.fromEntries(this.checks));
    if (route === 'GET /v1/agent/members') return this.sendJson(res, 200, this.members);
    if (route === 'GET /v1/catalog/nodes') return this.sendJson(res, 200, this.nodes);
    if (route === 'GET /v1/catalog/services') {
      const names: Record<string, string[]> = {};
      for (const { Service: s } of this.instances) names[s.Service] = [...new Set([...(names[s.Service] ?? []), ...(s.Tags ?? [])])];
      return this.sendJson(res, 200, names);
    }
    const inCatalog = method === 'GET' ? rest('/v1/catalog/service/') : undefined;
    if (inCatalog !== undefined) {
      return this.sendJson(res, 200, [...this.services.values()].filter((s) => s.Service === inCatalog).map((s) => ({ ServiceID: s.ID, ServiceName: s.Service })));
    }
    const service = method === 'GET' ? rest('/v1/health/service/') : undefined;
    if (service !== undefined) {
      const tags = url.searchParams.getAll('tag');
      const passing = url.searchParams.has('passing');
      return this.sendJson(res, 200, this.instances.filter(({ Service: s, Checks }) =>
        s.Service.toLowerCase() === service.toLowerCase()
        && tags.every((t) => s.Tags?.includes(t))
        && (!passing || Checks.every((c) => c.Status === 'passing'))));
    }
    return this.send(res, 404, `no route for ${route}`);
  }

  /** Consul's register: fields in either spelling, ID defaulting to Name; the service's check starts critical, as in Consul. */
  private register(body: Buffer, res: ServerResponse): void {
    let registration: Record<string, unknown>;
    try {
      registration = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return this.send(res, 400, 'Request decode failed: not JSON');
    }
    const field = <T>(name: string, fallback: T): T =>
      (Object.entries(registration).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1] as T | undefined) ?? fallback;
    const name = field('Name', '');
    if (name === '') return this.send(res, 400, 'Missing service name');
    const id = field('ID', '') || name;
    const tags = field<string[]>('Tags', []);
    this.services.set(id, { ID: id, Service: name, Tags: tags, Address: field('Address', ''), Port: field('Port', 0), Meta: field('Meta', {}) });
    if (field<unknown>('Check', undefined) !== undefined) {
      this.checks.set(`service:${id}`, {
        Node: 'n1', CheckID: `service:${id}`, Name: `Service '${name}' check`, Status: 'critical', Notes: '', Output: '',
        ServiceID: id, ServiceName: name, ServiceTags: tags, Type: '',
      });
    }
    return this.send(res, 200, '');
  }

  private serveCluster(method: string, url: URL, body: Buffer, res: ServerResponse): void {
    const route = `${method} ${url.pathname}`;
    if (route === 'GET /cluster/status') return this.sendJson(res, 200, this.status);
    if (route === 'GET /cluster/peers') return this.sendJson(res, 200, this.status.members);
    if (route === 'GET /cluster/stats') return this.sendJson(res, 200, this.stats);
    if (route === 'GET /cluster/leader') {
      return this.status.leader ? this.sendJson(res, 200, this.status.leader) : this.send(res, 503, 'no known leader');
    }
    if (route === 'POST /cluster/join') {
      const request = JSON.parse(body.toString('utf8')) as { id?: string; raftAddress: string; server: boolean };
      const id = request.id ?? `node-at-${request.raftAddress}`;
      this.status.members.push({ id, raftAddress: request.raftAddress, httpAddress: '', voter: false, leader: false });
      return this.sendJson(res, 200, this.status);
    }
    if (method === 'DELETE' && url.pathname.startsWith('/cluster/leave/')) {
      const id = decodeURIComponent(url.pathname.slice('/cluster/leave/'.length));
      this.status.members = this.status.members.filter((m) => m.id !== id);
      return this.sendJson(res, 200, { removed: id });
    }
    if (route === 'POST /cluster/transfer-leader') return this.sendJson(res, 200, { leader: url.searchParams.get('id') ?? 'n2' });
    if (route === 'POST /cluster/snapshot') return this.sendJson(res, 200, { index: this.status.appliedIndex, term: this.status.term });
    return this.send(res, 404, `no route for ${route}`);
  }

  private send(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(text);
  }

  private sendJson(res: ServerResponse, status: number, value: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(value));
  }
}
