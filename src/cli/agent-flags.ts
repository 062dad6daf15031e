// The flags `konsul agent` hands to the agent (src/main/agent.ts runAgent):
// only those given on the command line, values as typed; the agent checks them.
// The agent owns their definition; the CLI only collects them.

export { AGENT_FLAG_NAMES, settingHelp, type AgentFlagValues as AgentFlags } from '../agent/config.js';

/** What `konsul agent` does instead of running: print the effective configuration. */
export interface AgentRunMode { printConfig: boolean; json: boolean }

/** What runs the agent: src/main/agent.ts runAgent, or a stand-in in tests. */
export type RunAgent = (
  flags: import('../agent/config.js').AgentFlagValues, env?: NodeJS.ProcessEnv, mode?: AgentRunMode,
) => Promise<number>;
