// What every part of one agent shares: its id, settings, Raft driver, state
// machine, logger and the forwarder to the leader. Built once by Agent.

import type { StateMachine } from '../state/index.js';
import type { TransportLogger } from '../transport/index.js';
import type { AgentConfig } from './config.js';
import type { RaftDriver } from './driver.js';
import type { Forwarder } from './forwarder.js';

export interface AgentContext {
  readonly nodeId: string;
  readonly cfg: AgentConfig;
  readonly driver: RaftDriver;
  readonly state: StateMachine;
  readonly logger: TransportLogger;
  readonly forwarder: Forwarder;
  /** The leader this node believes in, or '' (see Agent.knownLeader). */
  knownLeader(): string;
}
