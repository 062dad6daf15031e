// `konsul agent`: resolve the settings, open the data dir, start Raft, the
// peer transport and HTTP, join the cluster if asked, and stop cleanly on
// SIGINT/SIGTERM (a client agent leaves the cluster first).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startDnsServer, type DnsServer } from '../dns/index.js';
import { createHttpServer } from '../http/index.js';
import { STATE_TABLES, StateMachine } from '../state/index.js';
import { openStorage, type NodeStorage } from '../storage/index.js';
import { Agent } from './agent.js';
import { ConfigError, formatHostPort, resolveConfig, type AgentConfig, type AgentFlagValues } from './config.js';

export type { AgentFlagValues };

/** Exit codes of `konsul agent`. */
export const AGENT_EXIT = { ok: 0, failed: 1, badConfig: 2 } as const;

function nodeIdFile(dataDir: string): string {
  return join(dataDir, 'node-id');
}

/** A data dir belongs to one node: keep its id there, and refuse to start it as another. */
function claimDataDir(config: AgentConfig, dataDir: string, explicitId: boolean): string {
  mkdirSync(dataDir, { recursive: true });
  let stored: string | undefined;
  try {
    stored = readFileSync(nodeIdFile(dataDir), 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (stored !== undefined && stored !== '' && stored !== config.nodeId) {
    if (explicitId) {
      throw new ConfigError(`--node-id: the data dir ${dataDir} belongs to node "${stored}", not "${config.nodeId}"`);
    }
    return stored;
  }
  if (stored === undefined || stored === '') writeFileSync(nodeIdFile(dataDir), `${config.nodeId}\n`);
  return config.nodeId;
}

export interface RunningAgent {
  agent: Agent;
  config: AgentConfig;
  httpAddress: string;
  dnsAddress: string;
  /** Resolves with the exit code once the agent has stopped. */
  done: Promise<number>;
  stop(reason?: string, code?: number): Promise<number>;
}

/** Start an agent and return once it serves HTTP; `done` resolves when it stops. */
export async function startAgent(flags: AgentFlagValues, env: NodeJS.ProcessEnv, logger?: Logger): Promise<RunningAgent> {
  const config = resolveConfig(flags, env);
  const explicitId = flags.nodeId !== undefined || (env.KONSUL_NODE_ID ?? '') !== '';
  let devDir: string | undefined;
  const dataDir = config.dataDir ?? (devDir = mkdtempSync(join(tmpdir(), 'konsul-dev-')));
  config.dataDir = dataDir;
  config.nodeId = claimDataDir(config, dataDir, explicitId);
  const log = logger ?? pino({ level: config.logLevel, base: { node: config.nodeId } });

  let storage: NodeStorage;
  try {
    storage = openStorage(dataDir, { state: { tables: STATE_TABLES } });
  } catch (error) {
    throw new ConfigError(`--data-dir: cannot open ${dataDir}: ${(error as Error).message}`);
  }
  const state = new StateMachine(storage.state);

  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => { finish = resolve; });
  let stopping: Promise<number> | undefined;
  // eslint-disable-next-line prefer-const
  let agent: Agent;
  let server: ReturnType<typeof createHttpServer> | undefined;
  let dns: DnsServer | undefined;

  const stop = (reason = 'shutting down', code = 0): Promise<number> => {
    if (stopping) return stopping;
    stopping = (async () => {
      log.info({ reason }, 'agent stopping');
      if (server) {
        server.close();
        server.closeAllConnections();
      }
      if (dns) await dns.close().catch((error: Error) => log.warn({ err: error }, 'dns close failed'));
      try {
        await agent.stop();
      } catch (error) {
        log.warn({ err: error }, 'raft stop failed');
      }
      await storage.close();
      if (devDir) rmSync(devDir, { recursive: true, force: true });
      finish(code);
      return code;
    })();
    return stopping;
  };

  agent = new Agent({ config, storage, state, logger: log, onExit: (reason, code) => void stop(reason, code) });
  try {
    await agent.start();
  } catch (error) {
    await storage.close();
    if (devDir) rmSync(devDir, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ConfigError(`--raft-addr: cannot listen on ${formatHostPort(config.raftAddr)} (${code})`);
    }
    throw error;
  }

  server = createHttpServer({
    agent,
    maxValueBytes: config.maxValueBytes,
    logger: log,
    onResponse: (method, code) => agent.metricsRegistry.httpRequests.inc({ method, code: String(code) }),
  });
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
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`--http-addr: cannot listen on ${formatHostPort(config.httpAddr)} (${code})`);
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
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`--dns-addr: cannot listen on ${formatHostPort(config.dnsAddr)} (${code})`);
  }
  const dnsAddress = formatHostPort(dns.address);
  agent.setDnsAddress(dnsAddress);
  log.info({
    server: config.server, raft: agent.raftAddress, http: httpAddress, dns: dnsAddress, dataDir, dev: config.dev,
  }, 'konsul agent running');

  if (config.join.length > 0) void joinLoop(agent, config, log, () => stopping !== undefined);
  else if (!config.bootstrap && agent.driver.conf().members.length === 0) {
    log.warn('not a member of any cluster yet: start with --join host:port, or run `konsul cluster join` on a member');
  }
  return { agent, config, httpAddress, dnsAddress, done, stop };
}

/** Keep asking the join addresses until one lets us in (idempotent for a node already in). */
async function joinLoop(agent: Agent, config: AgentConfig, log: Logger, stopped: () => boolean): Promise<void> {
  let delay = 250;
  for (let attempt = 1; !stopped(); attempt++) {
    try {
      const status = await agent.joinVia(config.join);
      log.info({ leader: status.leader?.id, members: status.members.length }, 'joined the cluster');
      return;
    } catch (error) {
      log.warn({ attempt, err: (error as Error).message, retryInMs: delay }, 'could not join yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(5000, delay * 2);
    }
  }
}

/** The `konsul agent` command: runs until a signal or a leave; returns the process exit code. */
export async function runAgent(flags: AgentFlagValues, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let running: RunningAgent;
  try {
    running = await startAgent(flags, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Error: ${error.message}\n`);
      return AGENT_EXIT.badConfig;
    }
    process.stderr.write(`Error: ${(error as Error).message}\n`);
    return AGENT_EXIT.failed;
  }
  const { agent, config } = running;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write('second signal: exiting now\n');
      process.exit(1);
    }
    if (signal === 'SIGTERM' && !config.server && !config.dev) {
      // A client leaves gracefully: out of the configuration before the process ends.
      const timeout = setTimeout(() => void running.stop('leave timed out', 1), config.proposalTimeoutMs + 1000);
      agent.removeMember(agent.nodeId).then(
        () => {
          clearTimeout(timeout);
          void running.stop('left the cluster', 0);
        },
        (error: Error) => {
          clearTimeout(timeout);
          process.stderr.write(`leave failed: ${error.message}\n`);
          void running.stop('leave failed', 1);
        },
      );
      return;
    }
    void running.stop(`received ${signal}`, 0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await running.done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return code;
}
