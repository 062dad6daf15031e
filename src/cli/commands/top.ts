// `konsul top`: a live view of the cluster, refreshed every second from the
// agents' own endpoints: leader and term, each member (role, last contact,
// match index, lag), apply rate, write and read rates, DNS queries per second
// and health check counts. Keys: s sorts (by node, role, lag, last contact),
// q or Ctrl-C quits. When stdout is not a terminal it prints one plain
// snapshot (two samples a second apart, for the rates) and exits.

import { Command, Option, UsageError } from '../clipanion.js';
import { AgentClient, agentOrigin } from '../client.js';
import { HttpCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';

interface Member { id: string; raftAddress: string; httpAddress: string; voter: boolean; leader: boolean; healthy?: boolean; matchIndex?: number; lastContactMs?: number }
interface Status { nodeId: string; role: string; term: number; leader: { id: string; httpAddress: string } | null; commitIndex: number; members: Member[]; quorum: boolean }
interface Stats { appliedIndex: number; commitIndex: number; proposals?: { committed: number } }

/** One sample of everything the view shows; rates come from two samples. */
export interface Sample {
  at: number;
  status: Status;
  applied: number;
  writes: number;
  reads: number;
  dnsQueries: number;
  checks: Record<string, number>;
}

export const SORTS = ['node', 'role', 'lag', 'contact'] as const;
export type Sort = (typeof SORTS)[number];

/** Sum of a counter's samples in a Prometheus text, over lines whose labels match `labels`. */
export function counterSum(text: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\S+?)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name || !labels.test(m[2] ?? '')) continue;
    sum += Number(m[3]) || 0;
  }
  return sum;
}

async function sample(local: AgentClient, timeoutMs: number | undefined): Promise<Sample> {
  const status = (await local.call('GET', '/cluster/status')).json<Status>();
  // Member details (health, match index, last contact) are known on the leader: ask it when this agent is not.
  let leaderClient: AgentClient | undefined;
  let view = status;
  if (status.leader && status.leader.id !== status.nodeId && status.leader.httpAddress) {
    leaderClient = new AgentClient(agentOrigin(status.leader.httpAddress, {}), { timeoutMs });
    try {
      view = (await leaderClient.call('GET', '/cluster/status')).json<Status>();
    } catch {
      view = status;
    }
  }
  try {
    const [stats, metrics, checks] = await Promise.all([
      local.call('GET', '/cluster/stats').then((a) => a.json<Stats>()),
      local.call('GET', '/metrics').then((a) => a.text()),
      local.call('GET', '/v1/health/state/any?stale').then((a) => a.json<Array<{ Status: string }>>()),
    ]);
    const counts: Record<string, number> = { passing: 0, warning: 0, critical: 0 };
    for (const c of checks) counts[c.Status] = (counts[c.Status] ?? 0) + 1;
    return {
      at: performance.now(),
      status: view,
      applied: stats.appliedIndex,
      writes: counterSum(metrics, 'konsul_http_requests_total', /method="(PUT|POST|DELETE)"/),
      reads: counterSum(metrics, 'konsul_http_requests_total', /method="GET"/),
      dnsQueries: counterSum(metrics, 'konsul_dns_queries_total'),
      checks: counts,
    };
  } finally {
    await leaderClient?.close();
  }
}

const rate = (a: number, b: number, seconds: number): string => (seconds > 0 ? (Math.max(0, b - a) / seconds).toFixed(1) : '-');

/** The view as lines: a header of cluster facts, then the members table sorted by `sort`. */
export function render(prev: Sample | undefined, cur: Sample, sort: Sort, origin: string): string[] {
  const s = cur.status;
  const seconds = prev ? (cur.at - prev.at) / 1000 : 0;
  const commit = s.commitIndex;
  const rows = s.members.map((m) => ({
    node: m.id,
    role: m.leader ? 'leader' : m.voter ? 'voter' : 'non-voter',
    contact: m.leader ? 0 : m.lastContactMs,
    match: m.matchIndex,
    lag: m.matchIndex === undefined ? undefined : Math.max(0, commit - m.matchIndex),
    health: m.healthy === undefined ? '-' : m.healthy ? 'healthy' : 'unreachable',
  }));
  const num = (v: number | undefined): number => (v === undefined ? Number.POSITIVE_INFINITY : v);
  rows.sort((a, b) => {
    switch (sort) {
      case 'role': return a.role.localeCompare(b.role) || a.node.localeCompare(b.node);
      case 'lag': return num(b.lag) - num(a.lag) || a.node.localeCompare(b.node);
      case 'contact': return num(b.contact) - num(a.contact) || a.node.localeCompare(b.node);
      default: return a.node.localeCompare(b.node);
    }
  });
  const p = prev;
  return [
    `konsul top — ${origin.replace(/^https?:\/\//, '')}   leader ${s.leader?.id ?? '(none)'}   term ${s.term}   quorum ${s.quorum ? 'yes' : 'NO'}`,
    `apply ${p ? rate(p.applied, cur.applied, seconds) : '-'}/s   writes ${p ? rate(p.writes, cur.writes, seconds) : '-'}/s   reads ${p ? rate(p.reads, cur.reads, seconds) : '-'}/s   dns ${p ? rate(p.dnsQueries, cur.dnsQueries, seconds) : '-'} q/s`,
    `checks: ${cur.checks.passing ?? 0} passing, ${cur.checks.warning ?? 0} warning, ${cur.checks.critical ?? 0} critical   commit index ${commit}`,
    '',
    table(['NODE', 'ROLE', 'HEALTH', 'LAST CONTACT', 'MATCH INDEX', 'LAG'], rows.map((r) => [
      r.node, r.role, r.health, r.contact === undefined ? '-' : `${r.contact}ms`, r.match === undefined ? '-' : String(r.match), r.lag === undefined ? '-' : String(r.lag),
    ])),
  ];
}

export class TopCommand extends HttpCommand {
  static override paths = [['top']];
  static override usage = Command.Usage({
    category: 'Cluster',
    description: 'A live view of the cluster: leader, members and their lag, rates and checks',
    details: `
      Refreshed every --interval (1s) from the agent's endpoints (and the leader's, for member
      details): leader and term; each member's role, health, last contact, match index and lag behind
      the commit index; the apply rate, write and read rates (HTTP requests to this agent), DNS queries
      per second, and how many health checks pass, warn and fail. Keys: s changes the sort (node, role,
      lag, last contact), q or Ctrl-C quits. When stdout is not a terminal it prints one snapshot as
      plain text and exits.
    `,
    examples: [['Watch the local agent\'s cluster', '$0 top'], ['Sorted by lag, from another agent', '$0 top --sort lag --http-addr 10.0.0.5:8500'], ['One snapshot for a log', '$0 top | cat']],
  });

  sort = Option.String('--sort', 'node', { description: `Initial sort: ${SORTS.join(', ')}` });
  interval = Option.String('--interval', '1s', { description: 'How often to refresh (500ms to 60s)' });

  protected async run(client: AgentClient): Promise<number> {
    if (!(SORTS as readonly string[]).includes(this.sort)) throw new UsageError(`--sort: "${this.sort}" is not one of ${SORTS.join(', ')}`);
    const { parseDuration } = await import('../../duration.js');
    const intervalMs = parseDuration(this.interval);
    if (intervalMs === undefined || intervalMs < 500 || intervalMs > 60_000) throw new UsageError(`--interval: "${this.interval}" is not a duration from 500ms to 60s`);
    let sort = this.sort as Sort;
    const stdout = this.context.stdout as NodeJS.WriteStream;
    const stdin = this.context.stdin as NodeJS.ReadStream;
    const timeoutMs = Math.max(2000, intervalMs * 2);

    if (stdout.isTTY !== true) {
      const first = await sample(client, timeoutMs);
      await new Promise((r) => setTimeout(r, intervalMs));
      if (this.json) {
        this.printJson((await sample(client, timeoutMs)).status);
        return EXIT.ok;
      }
      this.out(render(first, await sample(client, timeoutMs), sort, client.origin).join('\n'));
      return EXIT.ok;
    }

    let quit!: () => void;
    const done = new Promise<void>((resolve) => { quit = resolve; });
    const onKey = (key: Buffer): void => {
      const k = key.toString();
      if (k === 'q' || k === '\x03' || k === '\x1b') quit();
      else if (k === 's') {
        sort = SORTS[(SORTS.indexOf(sort) + 1) % SORTS.length] ?? 'node';
        void draw();
      }
    };
    let prev: Sample | undefined;
    let last: Sample | undefined;
    let error = '';
    const paint = (): void => {
      const lines = last ? render(prev, last, sort, client.origin) : ['konsul top: waiting for the agent...'];
      const footer = `sort: ${sort}   s: change sort   q: quit${error ? `   (${error})` : ''}`;
      stdout.write(`\x1b[H\x1b[2J${[...lines, '', footer].join('\n')}\n`);
    };
    const draw = async (): Promise<void> => paint();
    const tick = async (): Promise<void> => {
      try {
        const next = await sample(client, timeoutMs);
        prev = last;
        last = next;
        error = '';
      } catch (e) {
        error = (e as Error).message.split(';')[0] ?? 'no answer';
      }
      paint();
    };
    stdout.write('\x1b[?1049h\x1b[?25l');
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', onKey);
    stdin.resume();
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
    let timer: NodeJS.Timeout | undefined;
    try {
      paint();
      await tick();
      const loop = (): void => {
        timer = setTimeout(() => void tick().then(loop), intervalMs);
      };
      loop();
      await done;
    } finally {
      clearTimeout(timer);
      stdin.off('data', onKey);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      process.off('SIGINT', quit);
      process.off('SIGTERM', quit);
      stdout.write('\x1b[?25h\x1b[?1049l');
    }
    return EXIT.ok;
  }
}
