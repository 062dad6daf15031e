// What the server and client start paths (agent.ts, client.ts) share: the
// start-up summary, the catalog DNS answers from with ACLs on, the HTTP and
// DNS components, the stop, the dev data dir and the TLS reload.

import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AclResolver } from '../acl/resolver.js';
import { FilteredCatalog } from '../acl/catalog-filter.js';
import type { AgentApi } from '../agent/api.js';
import { ConfigError, formatHostPort, type AgentConfig, type LoadedConfig } from '../agent/config.js';
import { startDnsServer, type DnsLogger, type DnsServer, type DnsServerOptions } from '../dns/index.js';
import { createHttpServer, type HttpServerOptions } from '../http/index.js';
import type { StateMachine } from '../state/index.js';
import type { LogOutput } from '../agent/logging.js';
import type { ConfigReloader } from '../agent/reload.js';
import type { Component, Components } from './components.js';

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

/** The running HTTP, HTTPS and DNS servers of an agent, filled in as their components start. */
export interface FrontDoors {
  http?: HttpApiServer;
  https?: HttpApiServer;
  dns?: DnsServer;
}

type HttpApiServer = ReturnType<typeof createHttpServer>;

/** What the HTTP and DNS components need of the agent they front (a server's Agent or a ClientAgent). */
export interface FrontedAgent extends AgentApi {
  setHttpAddress(address: string): void;
  setDnsAddress(address: string): void;
}

/**
 * The components both start paths end with: the HTTP API (and HTTPS beside it, with the agent's
 * certificate) and DNS, answering from the replica. `agent` and `state` are asked for when HTTP and
 * DNS start (they exist by then); the addresses bound go to the agent, and the DNS server to `onDns`.
 */
export function frontDoorComponents(r: {
  config: AgentConfig;
  log: Logger;
  doors: FrontDoors;
  agent: () => FrontedAgent;
  state: () => StateMachine;
  control: HttpServerOptions['control'];
  onResponse?: HttpServerOptions['onResponse'];
  onDns?: (server: DnsServer) => void;
}): Component[] {
  const { config, log, doors } = r;
  return [
    {
      name: 'http',
      start: async () => {
        const options: HttpServerOptions = {
          agent: r.agent(), control: r.control, maxValueBytes: config.maxValueBytes, logger: log, acl: config.acl,
          ...(r.onResponse ? { onResponse: r.onResponse } : {}),
        };
        const server = createHttpServer(options);
        if (config.https && config.tls) {
          const secure = createHttpServer({ ...options, tls: { cert: config.tls.cert, key: config.tls.key, ca: config.tls.ca, verifyIncoming: config.https.verifyIncoming } });
          await listenOn(secure, config.https.addr, '--https-addr');
          doors.https = secure;
          const b = secure.address() as AddressInfo;
          log.info({ https: formatHostPort({ host: b.address, port: b.port }) }, 'HTTPS API listening');
        }
        try {
          await listenOn(server, config.httpAddr, '--http-addr');
        } catch (error) {
          // A component that fails to start is not stopped: close what it did open.
          doors.https?.close();
          throw error;
        }
        doors.http = server;
        const b = server.address() as AddressInfo;
        r.agent().setHttpAddress(formatHostPort({ host: b.address, port: b.port }));
      },
      stop: () => {
        for (const s of [doors.http, doors.https]) {
          s?.close();
          s?.closeAllConnections();
        }
      },
    },
    {
      name: 'dns',
      start: async () => {
        try {
          doors.dns = await startDnsServer(dnsOptions(config, r.state(), log));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          throw new ConfigError(`--dns-addr: cannot listen on ${formatHostPort(config.dnsAddr)} (${code})`);
        }
        r.agent().setDnsAddress(formatHostPort(doors.dns.address));
        r.onDns?.(doors.dns);
      },
      stop: () => doors.dns?.close(),
    },
  ];
}

/** Listen, or fail with the one-line error that names the flag. */
async function listenOn(server: HttpApiServer, addr: { host: string; port: number }, flag: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`${flag}: cannot listen on ${formatHostPort(addr)} (${code})`);
  }
}

/** An agent's stop: every component in reverse, once, however many ask; `done` resolves with the exit code. */
export function stopper(log: Logger, components: Components): {
  done: Promise<number>; stop(reason?: string, code?: number): Promise<number>; stopping(): boolean;
} {
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => { finish = resolve; });
  let stopping: Promise<number> | undefined;
  const stop = (reason = 'shutting down', code = 0): Promise<number> => {
    stopping ??= (async () => {
      log.info({ reason }, 'agent stopping');
      await components.stopAll();
      finish(code);
      return code;
    })();
    return stopping;
  };
  return { done, stop, stopping: () => stopping !== undefined };
}

/** The HTTP API's hold on the agent's process: reload (SIGHUP's work), the log stream, the log level. */
export function agentControl(reloader: () => ConfigReloader | undefined, output: LogOutput | undefined, log: Logger): HttpServerOptions['control'] {
  return {
    reload: () => reloader()?.reload() ?? { ok: false, error: 'the agent is still starting', applied: [], restartNeeded: [] },
    subscribeLogs: (listener) => output?.subscribe(listener) ?? (() => undefined),
    logLevel: () => log.level,
  };
}

/** Starts the peer transport's side of an agent; a listen failure becomes the one-line error naming --raft-addr. */
export async function startOnRaftAddr(config: AgentConfig, start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ConfigError(`--raft-addr: cannot listen on ${formatHostPort(config.raftAddr)} (${code})`);
    }
    throw error;
  }
}

/** --dev without --data-dir: the temporary data dir, removed when the agent stops (first to start, last to stop). */
export function devDirComponent(devDir: string | undefined): Component {
  return {
    name: 'dev data dir',
    start: () => {},
    stop: () => {
      if (devDir) rmSync(devDir, { recursive: true, force: true });
    },
  };
}

/** Rotated certificates take effect on SIGHUP, for peers (`peers`) and for HTTPS. */
export function reloadTlsTo(doors: FrontDoors, log: Logger, peers: (tls: NonNullable<AgentConfig['tls']>) => void): (tls: NonNullable<AgentConfig['tls']>) => void {
  return (tls) => {
    peers(tls);
    (doors.https as unknown as import('node:https').Server | undefined)?.setSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca });
    log.info('TLS certificate, key and CA reloaded');
  };
}
