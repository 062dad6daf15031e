// scale (issue 13): starting a client agent. It opens only the state store (no
// Raft log: its replica is fed committed entries by a relay), the client
// replica and its peer transport, then HTTP and DNS on the replica, as one
// ordered component list (components.ts) like a server's start in agent.ts.

import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { startDnsServer, type DnsServer } from '../dns/index.js';
import { createHttpServer, type HttpServerOptions } from '../http/index.js';
import { STATE_TABLES, StateMachine } from '../state/index.js';
import { LmdbStateStore, stateDir } from '../storage/index.js';
import { ConfigError, formatHostPort } from '../agent/config.js';
import { ConfigReloader } from '../agent/reload.js';
import { ClientAgent } from '../client/agent.js';
import type { RunningAgent, StartInput } from './agent.js';
import { Components } from './components.js';
import { dnsOptions, summaryText, type Entry } from './shared.js';

export async function startClient(s: StartInput): Promise<RunningAgent> {
  const { config, dataDir, devDir, log } = s;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => { finish = resolve; });
  let stopping: Promise<number> | undefined;
  let store!: LmdbStateStore;
  let state!: StateMachine;
  let hadState = false;
  let agent!: ClientAgent;
  let server!: ReturnType<typeof createHttpServer>;
  let httpsServer: ReturnType<typeof createHttpServer> | undefined;
  let dns!: DnsServer;
  const components = new Components(log);
  const stop = (reason = 'shutting down', code = 0): Promise<number> => {
    if (stopping) return stopping;
    stopping = (async () => {
      log.info({ reason }, 'agent stopping');
      await components.stopAll();
      finish(code);
      return code;
    })();
    return stopping;
  };
  let reloaderRef: ConfigReloader | undefined;
  const output = s.output;
  await components.startAll([
    {
      name: 'dev data dir',
      start: () => {},
      stop: () => {
        if (devDir) rmSync(devDir, { recursive: true, force: true });
      },
    },
    {
      name: 'state store',
      start: () => {
        try {
          store = LmdbStateStore.open(stateDir(dataDir), { tables: STATE_TABLES });
        } catch (error) {
          throw new ConfigError(`--data-dir: cannot open ${dataDir}: ${(error as Error).message}`);
        }
        state = new StateMachine(store);
        hadState = store.appliedIndex() > 0;
      },
      stop: () => store.close(),
    },
    {
      name: 'client replica',
      start: async () => {
        agent = new ClientAgent({ config, store, state, logger: log, relay: config.relay, onExit: (reason, code) => void stop(reason, code) });
        try {
          await agent.start();
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
            throw new ConfigError(`--raft-addr: cannot listen on ${formatHostPort(config.raftAddr)} (${code})`);
          }
          throw error;
        }
      },
      stop: () => agent.stop(),
    },
    {
      name: 'http',
      start: async () => {
        const httpOptions: HttpServerOptions = {
          agent,
          control: {
            reload: () => reloaderRef?.reload() ?? { ok: false, error: 'the agent is still starting', applied: [], restartNeeded: [] },
            subscribeLogs: (listener) => output?.subscribe(listener) ?? (() => undefined),
            logLevel: () => log.level,
          },
          maxValueBytes: config.maxValueBytes,
          logger: log,
          acl: config.acl,
        };
        server = createHttpServer(httpOptions);
        if (config.https && config.tls) {
          const secure = createHttpServer({ ...httpOptions, tls: { cert: config.tls.cert, key: config.tls.key, ca: config.tls.ca, verifyIncoming: config.https.verifyIncoming } });
          try {
            await listen(secure, config.https.addr);
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
            throw new ConfigError(`--https-addr: cannot listen on ${formatHostPort(config.https.addr)} (${code})`);
          }
          httpsServer = secure;
        }
        try {
          await listen(server, config.httpAddr);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          throw new ConfigError(`--http-addr: cannot listen on ${formatHostPort(config.httpAddr)} (${code})`);
        }
        const bound = server.address() as AddressInfo;
        agent.setHttpAddress(formatHostPort({ host: bound.address, port: bound.port }));
      },
      stop: () => {
        server.close();
        server.closeAllConnections();
        httpsServer?.close();
        httpsServer?.closeAllConnections();
      },
    },
    {
      name: 'dns',
      start: async () => {
        try {
          dns = await startDnsServer(dnsOptions(config, state, log));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          throw new ConfigError(`--dns-addr: cannot listen on ${formatHostPort(config.dnsAddr)} (${code})`);
        }
        agent.setDnsAddress(formatHostPort(dns.address));
      },
      stop: () => dns.close(),
    },
  ]);
  const httpAddress = agent.info().httpAddress;
  const dnsAddress = formatHostPort(dns.address);
  const reloader = new ConfigReloader({
    flags: s.flags, env: s.env, config, initial: s.loaded, initialValues: s.initialValues, local: agent.local, logger: log, dataDir,
    onTls: (tls) => {
      agent.reloadTls(tls);
      (httpsServer as unknown as import('node:https').Server | undefined)?.setSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca });
      log.info('TLS certificate, key and CA reloaded');
    },
  });
  reloaderRef = reloader;
  reloader.start();
  const entry: Entry = hadState ? 'restarted' : config.join.length > 0 ? 'joining' : 'waiting';
  const summary = summaryText({
    config, loaded: s.loaded, entry, raft: `${agent.raftAddress} (fed by a relay; no Raft membership)`, http: httpAddress, dns: dnsAddress, dataDir, temporary: devDir !== undefined,
    definitions: { services: s.loaded.services.length, checks: s.loaded.checks.length },
  });
  s.options.printSummary?.(summary);
  s.output?.release();
  if (config.join.length === 0 && !hadState) log.warn('a client agent needs --join with the address of a server');
  log.info({ server: false, relay: config.relay, raft: agent.raftAddress, http: httpAddress, dns: dnsAddress, dataDir, configFiles: s.loaded.files },
    'konsul agent running');
  return { agent, config, httpAddress, dnsAddress, loaded: s.loaded, summary, done, stop, reload: () => reloader.reload() };
}

function listen(server: ReturnType<typeof createHttpServer>, addr: { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
