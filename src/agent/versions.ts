// Protocol versions at the agent: what a proposal is encoded as for the
// version the cluster runs at, and the leader's decision to raise that version
// once every member speaks a newer one (rolling upgrades).
//
// The cluster version lives in the replicated state (a cluster-version
// command), so every replica agrees on it. It starts at 1 (the first release)
// and is only ever raised: from then on a node that does not speak it is
// refused at the hello (see judgeHello), and commands travel in the envelope of
// that version (see src/state/command.ts).

import { KonsulError } from '../errors.js';
import {
  COMMAND_VERSION, CommandDecodeError, commandVersion, decodeCommand, encodeCommand, versionCommand,
} from '../state/index.js';
import { PROTOCOL_VERSION } from '../transport/index.js';
import type { AgentContext } from './context.js';

/** A write needs a protocol version the cluster does not run yet (a rolling upgrade is under way). */
export class ClusterVersionError extends KonsulError {
  constructor(needs: number, runs: number) {
    super('KONSUL_ERR_CLUSTER_VERSION',
      `this write needs protocol version ${needs}, and the cluster still runs ${runs}: finish upgrading every member first`, 'conflict', { retryable: true });
    this.name = 'ClusterVersionError';
  }
}

/**
 * The bytes the leader appends for a proposal (its own or a follower's
 * forwarded one): checked to be a command this konsul understands, refused if
 * it needs a newer protocol than the cluster runs, and wrapped in the envelope
 * of the cluster version (bare at version 1, so first-release replicas read it).
 */
export function prepareProposal(data: Uint8Array, clusterVersion: number): Uint8Array {
  // A command that does not decode would be a no-op everywhere, or stop every replica (an unknown type): refuse it here.
  decodeCommand(data);
  const needs = commandVersion(data);
  if (needs === undefined) throw new CommandDecodeError('empty command');
  if (needs > clusterVersion) throw new ClusterVersionError(needs, clusterVersion);
  const target = Math.min(clusterVersion, COMMAND_VERSION);
  if (isEnveloped(data)) {
    if (data[1] === target) return data;
    // An envelope of another version (a follower that had not applied the raise yet): wrap again at the cluster's.
    return versionCommand(data.subarray(2), target);
  }
  return versionCommand(data, target);
}

/** Tag 41: the versioned envelope (see src/state/command.ts). */
function isEnveloped(data: Uint8Array): boolean {
  return data[0] === 41;
}

/**
 * The version the cluster can run at: the lowest of every member's newest
 * (this node's own and what each handshake said), or undefined while some
 * member's version is unknown (not connected since it started).
 */
export function commonVersion(members: readonly string[], self: string, peerVersion: (id: string) => number | undefined): number | undefined {
  let version = PROTOCOL_VERSION;
  for (const id of members) {
    if (id === self) continue;
    const v = peerVersion(id);
    if (v === undefined) return undefined;
    version = Math.min(version, v);
  }
  return version;
}

/** The cluster-version command's bytes (proposed as they are: every member understands it by then). */
export function clusterVersionCommand(version: number): Uint8Array {
  return encodeCommand({ type: 'cluster-version', version });
}

/** A join from a node whose newest protocol version (its hello's) is below the cluster's: refused with why. */
export function refuseOlderJoiner(id: string, version: number | undefined, clusterVersion: number): void {
  if (version !== undefined && version < clusterVersion) {
    throw new KonsulError('KONSUL_ERR_CLUSTER_VERSION',
      `this cluster runs protocol version ${clusterVersion}; node "${id}" speaks only up to ${version}: upgrade it to join`, 'conflict');
  }
}

/**
 * The leader's autopilot step: once every member of the Raft configuration (and
 * every other agent whose version is known) speaks a newer protocol version than
 * the cluster runs, propose the cluster-version command that moves it there.
 */
export async function raiseClusterVersion(ctx: AgentContext): Promise<void> {
  const conf = new Set(ctx.driver.raft.conf().members.map((m) => m.id));
  const known = (id: string): number | undefined => ctx.driver.transport.peerVersion(id);
  const ids = [...conf, ...ctx.state.members().map((m) => m.id).filter((id) => !conf.has(id) && known(id) !== undefined)];
  const target = commonVersion(ids, ctx.nodeId, known);
  const current = ctx.state.clusterVersion();
  if (target === undefined || target <= current) return;
  ctx.logger.info({ from: current, to: target }, `every member speaks protocol version ${target}: the cluster moves to it`);
  await ctx.driver.proposeBytes(clusterVersionCommand(target));
}
