// ---- ops2: the autopilot configuration in force: the replicated record, or
// (until one was set) Consul's defaults with this agent's settings. No Raft
// here: client agents (src/client) answer GET /v1/operator/autopilot/configuration too.

import type { AutopilotConfig, AutopilotConfigRecord, StateMachine } from '../state/index.js';
import type { AgentConfig } from './config.js';

/** The configuration the autopilot follows before one was set: Consul's defaults, with this agent's settings. */
export function defaultAutopilotConfig(cfg: AgentConfig): AutopilotConfig {
  return {
    cleanupDeadServers: true,
    // Twice the election timeout (600ms by default): a follower silent that long would have started an election.
    lastContactThresholdMs: 2 * cfg.electionTimeoutMs,
    maxTrailingLogs: 250,
    minQuorum: 0,
    serverStabilizationTimeMs: cfg.stabilizationMs,
    redundancyZoneTag: '',
    disableUpgradeMigration: false,
    upgradeVersionTag: '',
  };
}

/** The replicated configuration, or this agent's defaults (indexes 0) while none was set. */
export function effectiveAutopilotConfig(ctx: { cfg: AgentConfig; state: Pick<StateMachine, 'autopilotConfig'> }): AutopilotConfigRecord {
  return ctx.state.autopilotConfig() ?? { ...defaultAutopilotConfig(ctx.cfg), createIndex: 0, modifyIndex: 0 };
}

