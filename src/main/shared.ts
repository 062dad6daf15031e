// What the server and client start paths (agent.ts, client.ts) share: the
// start-up summary and the catalog DNS answers from with ACLs on.

import { AclResolver } from '../acl/resolver.js';
import { FilteredCatalog } from '../acl/catalog-filter.js';
import type { AgentConfig, LoadedConfig } from '../agent/config.js';
import type { DnsLogger, DnsServerOptions } from '../dns/index.js';
import type { StateMachine } from '../state/index.js';

/** How the agent entered its cluster this time, for the summary. */
export type Entry = 'restarted' | 'bootstrapped' | 'joining' | 'waiting';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function summaryText(r: {
  config: AgentConfig; loaded: LoadedConfig; entry: Entry; raft: string; http: string; dns: string; dataDir: string;
  /** --dev without --data-dir: a temporary dir, removed at exit (config.dataDir holds it by now, so it cannot tell). */
  temporary: boolean;
  definitions: { services: number; checks: number };
}): string {
  const c = r.config;
  const how: Record<Entry, string> = {
    restarted: 'restarted from the state in its data dir',
    bootstrapped: 'bootstrapped a new cluster',
    joining: `joining via ${c.join.join(', ')}`,
    waiting: 'not in a cluster yet: waiting for `konsul cluster join`',
  };
  const role = c.dev ? 'server, dev mode' : c.server ? 'server' : 'client';
  const files = r.loaded.files.length === 0 ? 'none'
    : `${r.loaded.files.join(', ')} (${plural(r.definitions.services, 'service')}, ${plural(r.definitions.checks, 'check')})`;
  return [
    `konsul agent ${c.nodeId} (${role}, datacenter ${c.datacenter}): ${how[r.entry]}`,
    `  raft      ${r.raft}`,
    `  http      ${r.http}`,
    `  dns       ${r.dns} (udp, tcp)`,
    `  data dir  ${r.dataDir}${r.temporary ? ' (temporary, removed at exit)' : c.dev ? ' (yours: kept at exit)' : ''}`,
    `  config    ${files}`,
    `  logs      ${c.logLevel} and up, on stdout`,
    '',
  ].join('\n');
}

/** sec: the catalog as the anonymous token sees it (for DNS). */
export function anonymousCatalog(state: StateMachine, acl: AgentConfig['acl']): FilteredCatalog {
  const resolver = new AclResolver(state.acl, acl);
  return new FilteredCatalog(state.catalog, () => resolver.resolve(undefined)!.authorizer, () => state.acl.version);
}

/** The DNS server's options for an agent (server or client): the same on both, from the one config. */
export function dnsOptions(config: AgentConfig, state: StateMachine, logger: DnsLogger): DnsServerOptions {
  return {
    // sec: with ACLs on, DNS answers what the anonymous token may read.
    catalog: config.acl.enabled ? anonymousCatalog(state, config.acl) : state.catalog,
    // api: NAME.query.<domain>, executed on this replica like every other lookup.
    queries: state.queries,
    agentNode: config.nodeId,
    host: config.dnsAddr.host,
    port: config.dnsAddr.port,
    domain: config.dns.domain,
    datacenter: config.datacenter,
    nodeTtlSeconds: config.dns.nodeTtlSeconds,
    serviceTtlSeconds: config.dns.serviceTtlSeconds,
    onlyPassing: config.dns.onlyPassing,
    udpAnswerLimit: config.dns.udpAnswerLimit,
    aRecordLimit: config.dns.aRecordLimit,
    recursors: config.dns.recursors,
    logger,
  };
}
