// `konsul agent`: resolve the settings, open the data dir, start Raft, the
// peer transport and HTTP, join the cluster if asked, and stop cleanly on
// SIGINT/SIGTERM (a client agent leaves the cluster first).

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { closeCluster, SECRET_FILE } from '../agent/cluster-secret.js';
import { STATE_TABLES, StateMachine } from '../state/index.js';
import { openStorage, type NodeStorage } from '../storage/index.js';
// The server's Agent (Raft driver, metrics registry...) is loaded only when a server starts: a client agent never needs it.
import type { Agent } from '../agent/agent.js';
import type { ClientAgent } from '../client/agent.js';
import { startClient } from './client.js';
import { Components } from './components.js';
import { agentControl, devDirComponent, frontDoorComponents, reloadTlsTo, startOnRaftAddr, stopper, summaryText, type Entry, type FrontDoors } from './shared.js';
import {
  ConfigError, formatHostPort, loadConfig, printableConfig, type AgentConfig, type AgentFlagValues, type LoadedConfig,
} from '../agent/config.js';
import { createAgentLogger, type LogOutput } from '../agent/logging.js';
import { ConfigReloader, settingValues, type ReloadReport } from '../agent/reload.js';

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
  /** A server (a Raft voter once promoted), or a client agent (a replica fed by a relay; src/client). */
  agent: Agent | ClientAgent;
  config: AgentConfig;
  httpAddress: string;
  dnsAddress: string;
  /** Everything the configuration sources said at start. */
  loaded: LoadedConfig;
  /** The human summary of this start (node, role, addresses, data dir, how it entered the cluster, config files). */
  summary: string;
  /** Resolves with the exit code once the agent has stopped. */
  done: Promise<number>;
  stop(reason?: string, code?: number): Promise<number>;
  /** Re-read the configuration and apply what can change at run time (SIGHUP). */
  reload(): ReloadReport;
}

export interface StartOptions {
  /** Called with the start-up summary once the agent serves, before any log line is written. */
  printSummary?: (text: string) => void;
}

/** Start an agent and return once it serves HTTP; `done` resolves when it stops. */
export async function startAgent(
  flags: AgentFlagValues, env: NodeJS.ProcessEnv, logger?: Logger, options: StartOptions = {},
): Promise<RunningAgent> {
  const loaded = loadConfig(flags, env);
  const initialValues = settingValues(loaded);
  const config = loaded.config;
  const explicitId = flags.nodeId !== undefined || (env.KONSUL_NODE_ID ?? '') !== '';
  let devDir: string | undefined;
  const dataDir = config.dataDir ?? (devDir = mkdtempSync(join(tmpdir(), 'konsul-dev-')));
  config.dataDir = dataDir;
  config.nodeId = claimDataDir(config, dataDir, explicitId);
  // sec: closed from the first second (may set config.token from the data dir, or create it).
  const closing = closeCluster(config, dataDir, config.insecurePeers);
  let output: LogOutput | undefined;
  let log: Logger;
  if (logger) log = logger;
  else ({ logger: log, output } = createAgentLogger(config, config.nodeId, process.stdout, env));
  try {
    if (closing.insecure) log.warn(closing.insecure);
    const printSummary = options.printSummary;
    const withJoinLine: StartOptions = closing.joinLine && printSummary
      ? { ...options, printSummary: (text) => printSummary(`${text}A join secret was created (${join(dataDir, SECRET_FILE)}, mode 0600); other servers join with:\n  ${closing.joinLine}\n\n`) }
      : options;
    return await startWith({ flags, env, loaded, initialValues, config, dataDir, devDir, log, options: withJoinLine, output });
  } finally {
    // Held log lines come out after the summary, or at once when start-up failed.
    output?.release();
  }
}

/** What a start path gets: the resolved settings, the data dir, the logger. */
export interface StartInput {
  flags: AgentFlagValues; env: NodeJS.ProcessEnv; loaded: LoadedConfig; initialValues: ReturnType<typeof settingValues>;
  config: AgentConfig; dataDir: string; devDir: string | undefined; log: Logger; options: StartOptions;
  output: LogOutput | undefined;
}

async function startWith(s: StartInput): Promise<RunningAgent> {
  const { config, dataDir, devDir, log } = s;
  // scale: a client agent has no Raft log and no Raft instance: its own start path (client.ts).
  if (!config.server) return startClient(s);

  let storage!: NodeStorage;
  let state!: StateMachine;
  let hadState = false;
  let agent!: Agent;
  const doors: FrontDoors = {};
  const components = new Components(log);
  const { done, stop, stopping } = stopper(log, components);

  // Bound once the reloader exists (below); reload before that says so.
  let reloaderRef: ConfigReloader | undefined;
  const output = s.output;
  // In start order; each is stopped in reverse, on shutdown or when a later one fails to start.
  await components.startAll([
    devDirComponent(devDir),
    {
      name: 'storage',
      start: () => {
        try {
          storage = openStorage(dataDir, { state: { tables: STATE_TABLES } });
        } catch (error) {
          throw new ConfigError(`--data-dir: cannot open ${dataDir}: ${(error as Error).message}`);
        }
        if (storage.migrated) {
          const { from, to, backup } = storage.migrated;
          log.info({ dataDir, from, to, backup }, `data dir migrated from format ${from} to ${to}; the format-${from} copy is in ${backup}`);
        }
        state = new StateMachine(storage.state);
        hadState = storage.state.appliedIndex() > 0;
      },
      stop: () => storage.close(),
    },
    {
      name: 'raft',
      start: async () => {
        const { Agent } = await import('../agent/agent.js');
        agent = new Agent({ config, storage, state, logger: log, onExit: (reason, code) => void stop(reason, code) });
        await startOnRaftAddr(config, () => agent.start());
      },
      stop: () => agent.stop(),
    },
    ...frontDoorComponents({
      config, log, doors, agent: () => agent, state: () => state,
      control: agentControl(() => reloaderRef, output, log),
      onResponse: (method: string, code: number) => agent.metricsRegistry.httpRequests.inc({ method, code: String(code) }),
      onDns: (dns) => agent.metricsRegistry.countDnsQueries(() => dns.stats().queries),
    }),
  ]);
  const httpAddress = agent.info().httpAddress;
  const dnsAddress = formatHostPort(doors.dns!.address);

  const reloader = new ConfigReloader({
    flags: s.flags, env: s.env, config, initial: s.loaded, initialValues: s.initialValues, local: agent.local, logger: log, dataDir,
    // sec: rotated certificates take effect on SIGHUP, for peers and for HTTPS.
    onTls: reloadTlsTo(doors, log, (tls) => agent.driver.transport.reloadTls(tls)),
  });
  reloaderRef = reloader;
  const definitions = reloader.start();
  const entry: Entry = hadState ? 'restarted' : config.bootstrap ? 'bootstrapped' : config.join.length > 0 ? 'joining' : 'waiting';
  const summary = summaryText({
    config, loaded: s.loaded, entry, raft: agent.raftAddress, http: httpAddress, dns: dnsAddress, dataDir, temporary: devDir !== undefined,
    definitions: { services: s.loaded.services.length, checks: s.loaded.checks.length },
  });
  s.options.printSummary?.(summary);
  s.output?.release();
  const changed = [definitions.services, definitions.checks].flatMap((d) => [...d.added, ...d.updated, ...d.removed]);
  if (changed.length > 0) log.info({ services: definitions.services, checks: definitions.checks }, 'services from the config files applied');
  log.info({
    server: config.server, raft: agent.raftAddress, http: httpAddress, dns: dnsAddress, dataDir, dev: config.dev,
    configFiles: s.loaded.files,
  }, 'konsul agent running');

  if (config.join.length > 0) void joinLoop(agent, config, log, stopping);
  else if (!config.bootstrap && agent.driver.conf().members.length === 0) {
    log.warn('not a member of any cluster yet: start with --join host:port, or run `konsul cluster join` on a member');
  }
  return { agent, config, httpAddress, dnsAddress, loaded: s.loaded, summary, done, stop, reload: () => reloader.reload() };
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
export async function runAgent(
  flags: AgentFlagValues, env: NodeJS.ProcessEnv = process.env, mode?: { printConfig: boolean; json: boolean },
): Promise<number> {
  if (mode?.printConfig) return printConfig(flags, env, mode.json, process.stdout);
  // Signals during start-up: SIGHUP is ignored (nothing to reload yet); SIGINT or SIGTERM is acted on once the
  // agent runs, so it still stops cleanly (a dev agent's temporary dir is removed); a second one exits at once.
  let early: NodeJS.Signals | undefined;
  const duringStart = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGHUP') return;
    if (early) {
      process.stderr.write('second signal: exiting now\n');
      process.exit(1);
    }
    early = signal;
  };
  const startSignals: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM'];
  for (const s of startSignals) process.on(s, duringStart);
  let running: RunningAgent;
  try {
    running = await startAgent(flags, env, undefined, { printSummary: (text) => process.stderr.write(text) });
  } catch (error) {
    for (const s of startSignals) process.off(s, duringStart);
    if (error instanceof ConfigError) {
      process.stderr.write(`Error: ${error.message}\n`);
      return AGENT_EXIT.badConfig;
    }
    process.stderr.write(`Error: ${(error as Error).message}\n`);
    return AGENT_EXIT.failed;
  }
  // A signal that came in during start-up may still sit in libuv's signal pipe (read in the poll phase):
  // one turn of the event loop reads it, so it is acted on as "while starting", not missed or raced.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const { agent, config } = running;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write('second signal: exiting now\n');
      process.exit(1);
    }
    if ((signal === 'SIGTERM' || signal === 'SIGINT') && !config.server && !config.dev) {
      // A client leaves gracefully, on Ctrl-C as on SIGTERM (Consul's clients do too): out of the
      // configuration before the process ends, so `members` shows it `left`, not `failed`.
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
  const onHup = (): void => {
    running.reload();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onHup);
  for (const s of startSignals) process.off(s, duringStart);
  if (early) {
    signals++;
    void running.stop(`received ${early} while starting`, 0);
  }
  const code = await running.done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onHup);
  return code;
}

/** `konsul agent --print-config`: the effective settings and where each came from; exit 0, or 2 for a bad config. */
export function printConfig(
  flags: AgentFlagValues, env: NodeJS.ProcessEnv, json: boolean, out: { write(text: string): unknown },
  err: { write(text: string): unknown } = process.stderr,
): number {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(flags, env, { requireDataDir: false });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err.write(`Error: ${error.message}\n`);
    return AGENT_EXIT.badConfig;
  }
  const printed = printableConfig(loaded);
  if (json) {
    out.write(`${JSON.stringify(printed, null, 2)}\n`);
    return AGENT_EXIT.ok;
  }
  const shown = (v: unknown): string => (typeof v === 'string' ? v : v === null ? '-' : JSON.stringify(v));
  const rows = Object.entries(printed.settings).map(([key, s]) => [key, shown(s.value), s.source === 'default' ? 'default' : s.from ?? s.source]);
  const header = ['KEY', 'VALUE', 'FROM'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`.trimEnd();
  const lines = [line(header), ...rows.map(line), ''];
  lines.push(`config files: ${printed.files.length === 0 ? 'none' : printed.files.join(', ')}`);
  for (const s of printed.services) lines.push(`service ${s.id} (${s.name}${s.checks.length ? `; checks ${s.checks.join(', ')}` : ''}) from ${s.file}`);
  for (const c of printed.checks) lines.push(`check ${c.id} (${c.name}) from ${c.file}`);
  out.write(`${lines.join('\n')}\n`);
  return AGENT_EXIT.ok;
}

