// scale (issue 13): starting a client agent. It opens only the state store (no
// Raft log: its replica is fed committed entries by a relay), the client
// replica and its peer transport, then HTTP and DNS on the replica, as one
// ordered component list (components.ts) like a server's start in agent.ts.

import { STATE_TABLES, StateMachine } from '../state/index.js';
import { LmdbStateStore, stateDir } from '../storage/index.js';
import { ConfigError, formatHostPort } from '../agent/config.js';
import { ConfigReloader } from '../agent/reload.js';
import { ClientAgent } from '../client/agent.js';
import type { RunningAgent, StartInput } from './agent.js';
import { Components } from './components.js';
import { agentControl, devDirComponent, frontDoorComponents, reloadTlsTo, startOnRaftAddr, stopper, summaryText, type Entry, type FrontDoors } from './shared.js';

export async function startClient(s: StartInput): Promise<RunningAgent> {
  const { config, dataDir, devDir, log } = s;
  let store!: LmdbStateStore;
  let state!: StateMachine;
  let hadState = false;
  let agent!: ClientAgent;
  const doors: FrontDoors = {};
  const components = new Components(log);
  const { done, stop } = stopper(log, components);
  let reloaderRef: ConfigReloader | undefined;
  const output = s.output;
  await components.startAll([
    devDirComponent(devDir),
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
        await startOnRaftAddr(config, () => agent.start());
      },
      stop: () => agent.stop(),
    },
    ...frontDoorComponents({
      config, log, doors, agent: () => agent, state: () => state, control: agentControl(() => reloaderRef, output, log),
    }),
  ]);
  const httpAddress = agent.info().httpAddress;
  const dnsAddress = formatHostPort(doors.dns!.address);
  const reloader = new ConfigReloader({
    flags: s.flags, env: s.env, config, initial: s.loaded, initialValues: s.initialValues, local: agent.local, logger: log, dataDir,
    onTls: reloadTlsTo(doors, log, (tls) => agent.reloadTls(tls)),
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
