// The agent's Prometheus metrics (prom-client), with the names of the design
// record. One registry per agent, so several agents in one process (tests) do
// not share counters.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const ROLES = ['leader', 'follower', 'candidate', 'pre-candidate'] as const;

export class AgentMetrics {
  readonly registry = new Registry();
  readonly state: Gauge<'state'>;
  readonly leaderChanges: Counter;
  readonly commitTime: Histogram;
  readonly applyTime: Histogram;
  readonly persistTime: Histogram;
  readonly logEntries: Counter;
  readonly logBytes: Counter;
  readonly logSize: Gauge;
  readonly snapshotDuration: Histogram<'kind'>;
  readonly peers: Gauge;
  readonly lastContact: Gauge;
  readonly httpRequests: Counter<'method' | 'code'>;

  constructor(options: { nodeId: string; defaultMetrics?: boolean; logSizeBytes?: () => number }) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: options.nodeId });
    this.state = new Gauge({
      name: 'konsul_raft_state', help: 'This node\'s Raft role: 1 for the current one, 0 for the others.',
      labelNames: ['state'], registers,
    });
    this.leaderChanges = new Counter({ name: 'konsul_raft_leader_changes_total', help: 'Leaders this node has seen elected.', registers });
    const latency = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
    this.commitTime = new Histogram({
      name: 'konsul_raft_commit_time_seconds', help: 'From proposal on the leader to applied there.', buckets: latency, registers,
    });
    this.applyTime = new Histogram({
      name: 'konsul_raft_apply_time_seconds', help: 'Applying one batch of committed entries to the state machine.', buckets: latency, registers,
    });
    this.persistTime = new Histogram({
      name: 'konsul_raft_persist_time_seconds', help: 'Writing one Ready to the log and waiting for fsync.', buckets: latency, registers,
    });
    this.logEntries = new Counter({ name: 'konsul_raft_log_entries_total', help: 'Entries appended to this node\'s log.', registers });
    this.logBytes = new Counter({ name: 'konsul_raft_log_bytes_total', help: 'Bytes of entry data appended to this node\'s log.', registers });
    const sizeFn = options.logSizeBytes;
    this.logSize = new Gauge({
      name: 'konsul_raft_log_size_bytes', help: 'Size of the Raft log\'s data file on disk.', registers,
      collect() {
        if (sizeFn) this.set(sizeFn());
      },
    });
    this.snapshotDuration = new Histogram({
      name: 'konsul_raft_snapshot_duration_seconds', help: 'Snapshots: compact (take), send (to a follower), install (from the leader).',
      labelNames: ['kind'], buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30, 120], registers,
    });
    this.peers = new Gauge({ name: 'konsul_raft_peers', help: 'Voters in the current configuration.', registers });
    this.lastContact = new Gauge({
      name: 'konsul_raft_last_contact_seconds', help: 'Seconds since this node last heard from the leader (0 on the leader).', registers,
    });
    this.httpRequests = new Counter({
      name: 'konsul_http_requests_total', help: 'HTTP requests served, by method and status code.', labelNames: ['method', 'code'], registers,
    });
    this.setRole('follower');
    if (options.defaultMetrics) {
      collectDefaultMetrics({ register: this.registry, prefix: 'konsul_' });
      dropTotalGauges(this.registry);
    }
  }

  /** konsul_dns_queries_total, read from the DNS server's own count at each scrape (konsul top shows its rate). */
  countDnsQueries(queries: () => number): void {
    let seen = 0;
    new Counter({
      name: 'konsul_dns_queries_total', help: 'DNS queries received (UDP and TCP).', registers: [this.registry],
      collect() {
        const now = queries();
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  }

  setRole(role: string): void {
    for (const r of ROLES) this.state.set({ state: r }, r === role ? 1 : 0);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * prom-client's default metrics include three gauges whose names end in `_total`
 * (nodejs_active_handles_total, ..._requests_total, ..._resources_total), which
 * `promtool check metrics` refuses: `_total` is for counters. They are dropped:
 * the same counts are there, by type, as konsul_nodejs_active_handles{type},
 * ..._requests{type} and ..._resources{type} (issue 15).
 */
function dropTotalGauges(registry: Registry): void {
  for (const name of ['konsul_nodejs_active_handles_total', 'konsul_nodejs_active_requests_total', 'konsul_nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
}
