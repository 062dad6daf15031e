// Starting a client agent: only the state store (no Raft log), the client
// replica, HTTP and DNS on it, and the config reloader; stopping it cleanly.

import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { startDnsServer, type DnsServer } from '../dns/index.js';
import { createHttpServer } from '../http/index.js';
import { STATE_TABLES, StateMachine } from '../state/index.js';
import { LmdbStateStore, stateDir } from '../storage/index.js';
import { ConfigError, formatHostPort, type AgentConfig, type AgentFlagValues, type LoadedConfig } from '../agent/config.js';
import { ConfigReloader, type settingValues } from '../agent/reload.js';
import { ClientAgent } from './agent.js';

export interface ClientStart {
  flags: AgentFlagValues;
  env: NodeJS.ProcessEnv;
  loaded: LoadedConfig;
  initialValues: ReturnType<typeof settingValues>;
  config: AgentConfig;
  dataDir: string;
  devDir: string | undefined;
  log: Logger;
  printSummary?: (text: string) => void;
}

export interface RunningClient {
  agent: ClientAgent;
  httpAddress: string;
  dnsAddress: string;
  summary: string;
  done: Promise<number>;
  stop(reason?: string, code?: number): Promise<number>;
  reload: ConfigReloader['reload'];
}

export async function startClientAgent(s: ClientStart): Promise<RunningClient> {
  const { config, dataDir, devDir, log } = s;
  let store: LmdbStateStore;
  try {
    store = LmdbStateStore.open(stateDir(dataDir), { tables: STATE_TABLES });
  } catch (error) {
    throw new ConfigError(`--data-dir: cannot open ${dataDir}: ${(error as Error).message}`);
  }
  const state = new StateMachine(store);
  const hadState = store.appliedIndex() > 0;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => { finish = resolve; });
  let stopping: Promise<number> | undefined;
  let server: ReturnType<typeof createHttpServer> | undefined;
  let dns: DnsServer | undefined;
  // eslint-disable-next-line prefer-const
  let agent: ClientAgent;
  const stop = (reason = 'shutting down', code = 0): Promise<number> => {
    if (stopping) return stopping;
    stopping = (async () => {
      log.info({ reason }, 'agent stopping');
      if (server) {
        server.close();
        server.closeAllConnections();
      }
      if (dns) await dns.close().catch((error: Error) => log.warn({ err: error }, 'dns close failed'));
      await agent.stop().catch((error: Error) => log.warn({ err: error }, 'client stop failed'));
      await store.close();
      if (devDir) rmSync(devDir, { recursive: true, force: true });
      finish(code);
      return code;
    })();
    return stopping;
  };
  agent = new ClientAgent({
    config, store, state, logger: log, relay: process.env.KONSUL_RELAY === '1' || s.env.KONSUL_RELAY === '1',
    onExit: (reason, code) => void stop(reason, code),
  });
  try {
    await agent.start();
  } catch (error) {
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ConfigError(`--raft-addr: cannot listen on ${formatHostPort(config.raftAddr)} (${code})`);
    }
    throw error;
  }
  server = createHttpServer({ agent, maxValueBytes: config.maxValueBytes, logger: log });
  try {
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.httpAddr.port, config.httpAddr.host, () => {
        server!.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    server = undefined;
    await stop('http failed');
    throw new ConfigError(`--http-addr: cannot listen on ${formatHostPort(config.httpAddr)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const bound = server.address() as AddressInfo;
  const httpAddress = formatHostPort({ host: bound.address, port: bound.port });
  agent.setHttpAddress(httpAddress);
  try {
    dns = await startDnsServer({
      catalog: state.catalog,
      host: config.dnsAddr.host,
      port: config.dnsAddr.port,
      domain: config.dns.domain,
      datacenter: config.datacenter,
      nodeTtlSeconds: config.dns.nodeTtlSeconds,
      serviceTtlSeconds: config.dns.serviceTtlSeconds,
      onlyPassing: config.dns.onlyPassing,
      recursors: config.dns.recursors,
      logger: log,
    });
  } catch (error) {
    await stop('dns failed');
    throw new ConfigError(`--dns-addr: cannot listen on ${formatHostPort(config.dnsAddr)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const dnsAddress = formatHostPort(dns.address);
  agent.setDnsAddress(dnsAddress);
  const reloader = new ConfigReloader({
    flags: s.flags, env: s.env, config, initial: s.loaded, initialValues: s.initialValues, local: agent.local, logger: log, dataDir,
  });
  reloader.start();
  const how = hadState ? 'restarted from the replica in its data dir' : config.join.length > 0 ? `joining via ${config.join.join(', ')}` : 'no --join given: it cannot reach a cluster';
  const summary = [
    `konsul agent ${config.nodeId} (client, datacenter ${config.datacenter}): ${how}`,
    `  raft      ${agent.raftAddress} (relay feed, no Raft membership)`,
    `  http      ${httpAddress}`,
    `  dns       ${dnsAddress} (udp, tcp)`,
    `  data dir  ${dataDir}`,
    `  logs      ${config.logLevel} and up, on stdout`,
    '',
  ].join('\n');
  s.printSummary?.(summary);
  if (config.join.length === 0 && !hadState) log.warn('a client agent needs --join with the address of a server');
  log.info({ server: false, raft: agent.raftAddress, http: httpAddress, dns: dnsAddress, dataDir }, 'konsul agent running');
  return { agent, httpAddress, dnsAddress, summary, done, stop, reload: () => reloader.reload() };
}
