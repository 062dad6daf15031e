// `konsul operator autopilot state` (ops): the servers' health as the leader
// sees it, from GET /v1/operator/autopilot/state (Consul's shape); and (ops2)
// `get-config` / `set-config`: the replicated autopilot configuration
// (GET|PUT /v1/operator/autopilot/configuration).

import { Command, Option, UsageError } from '../clipanion.js';
import type { AgentClient } from '../client.js';
import { HttpCommand, QuietHttpCommand } from '../command.js';
import { parseDuration } from '../../duration.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';

interface AutopilotState {
  Healthy: boolean;
  FailureTolerance: number;
  Leader: string;
  Voters: string[];
  Servers: Record<string, {
    ID: string; Address: string; Status: string; Healthy: boolean; LastContact: string; LastIndex: number; ProtocolVersion: number | null;
    StableSince?: string; RedundancyZone?: string;
  }>;
  RedundancyZones?: Record<string, { Servers: string[]; Voters: string[]; FailureTolerance: number }>;
}

/** How long ago a StableSince time was, for people ('-' when the server is not stable). */
function stableFor(since: string | undefined): string {
  if (since === undefined || since.startsWith('0001-')) return '-';
  const ms = Date.now() - Date.parse(since);
  if (!Number.isFinite(ms)) return '-';
  return ms < 1000 ? `${Math.max(0, ms)}ms` : ms < 120_000 ? `${Math.round(ms / 1000)}s` : `${Math.round(ms / 60_000)}m`;
}

export class AutopilotStateCommand extends HttpCommand {
  static override paths = [['operator', 'autopilot', 'state']];
  static override usage = Command.Usage({
    category: 'Autopilot',
    description: 'The servers\' health, as the leader sees it',
    details: `
      Asks GET /v1/operator/autopilot/state (any agent; a follower asks the leader). The first line says
      whether every server is healthy and how many more voters the cluster can lose and still have a
      quorum; then one line per server: its status (leader, voter, non-voter), whether it is healthy
      (heard by the leader within the last-contact threshold and at most max-trailing-logs entries
      behind; see get-config), how long it has been healthy (the autopilot promotes a non-voter once
      this reaches the server stabilization time), when the leader last heard from it, the last log
      index it holds, the protocol version it speaks and its redundancy zone. With a redundancy zone
      tag set, one line per zone follows: its servers and its voter. With --json it prints the answer
      as it is.
    `,
    examples: [['The servers\' health', '$0 operator autopilot state'], ['As JSON', '$0 operator autopilot state --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const st = (await client.call('GET', '/v1/operator/autopilot/state')).json<AutopilotState>();
    if (this.json) {
      // Consul's answer as it is: Servers and RedundancyZones are keyed by server ids and zone names (data).
      this.printJson(st, 'as-is');
      return EXIT.ok;
    }
    this.out(`healthy: ${st.Healthy ? 'yes' : 'no'}, failure tolerance: ${st.FailureTolerance}, leader: ${st.Leader || '(none)'}`);
    const servers = Object.values(st.Servers).sort((a, b) => a.ID.localeCompare(b.ID));
    if (servers.length > 0) {
      this.out(table(
        ['SERVER', 'ADDRESS', 'STATUS', 'HEALTHY', 'STABLE FOR', 'LAST CONTACT', 'LAST INDEX', 'PROTOCOL', 'ZONE'],
        servers.map((s) => [
          s.ID, s.Address, s.Status, s.Healthy ? 'yes' : 'no', stableFor(s.StableSince), s.LastContact, String(s.LastIndex),
          s.ProtocolVersion === null ? '-' : String(s.ProtocolVersion), s.RedundancyZone || '-',
        ]),
      ));
    }
    if (st.RedundancyZones) {
      const zones = Object.entries(st.RedundancyZones).sort(([a], [b]) => a.localeCompare(b));
      this.out(table(['ZONE', 'SERVERS', 'VOTERS', 'FAILURE TOLERANCE'], zones.map(([name, z]) => [
        name, z.Servers.slice().sort().join(','), z.Voters.slice().sort().join(',') || '-', String(z.FailureTolerance),
      ])));
    }
    return EXIT.ok;
  }
}

// ------------------------------------------------------------ ops2: configuration

interface AutopilotConfiguration {
  CleanupDeadServers: boolean;
  LastContactThreshold: string;
  MaxTrailingLogs: number;
  MinQuorum: number;
  ServerStabilizationTime: string;
  RedundancyZoneTag: string;
  DisableUpgradeMigration: boolean;
  UpgradeVersionTag: string;
  CreateIndex: number;
  ModifyIndex: number;
}

export class AutopilotGetConfigCommand extends HttpCommand {
  static override paths = [['operator', 'autopilot', 'get-config']];
  static override usage = Command.Usage({
    category: 'Autopilot',
    description: 'Print the autopilot configuration in force',
    details: `
      Asks GET /v1/operator/autopilot/configuration and prints it as Consul does, one setting a line.
      The configuration is replicated state: every server follows the same one, and it survives
      restarts and snapshots. Until set-config wrote one, the leader's settings give the defaults
      (server stabilization time from --stabilization-time, the last-contact threshold twice
      --election-timeout); ModifyIndex is then 0. --stale answers from this agent's replica without
      asking the leader. With --json it prints the API's answer as it is.
    `,
    examples: [['The configuration', '$0 operator autopilot get-config'], ['As JSON', '$0 operator autopilot get-config --json']],
  });

  stale = Option.Boolean('--stale', false, { description: 'Answer from this agent\'s replica, even without a leader' });

  protected async run(client: AgentClient): Promise<number> {
    const c = (await client.call('GET', `/v1/operator/autopilot/configuration${this.stale ? '?stale' : ''}`)).json<AutopilotConfiguration>();
    if (this.json) {
      this.printJson(c);
      return EXIT.ok;
    }
    this.out([
      `CleanupDeadServers = ${c.CleanupDeadServers}`,
      `LastContactThreshold = ${c.LastContactThreshold}`,
      `MaxTrailingLogs = ${c.MaxTrailingLogs}`,
      `MinQuorum = ${c.MinQuorum}`,
      `ServerStabilizationTime = ${c.ServerStabilizationTime}`,
      `RedundancyZoneTag = ${JSON.stringify(c.RedundancyZoneTag)}`,
      `DisableUpgradeMigration = ${c.DisableUpgradeMigration}`,
      `UpgradeVersionTag = ${JSON.stringify(c.UpgradeVersionTag)}`,
    ].join('\n'));
    return EXIT.ok;
  }
}

function boolFlag(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (/^(true|1|t)$/i.test(value)) return true;
  if (/^(false|0|f)$/i.test(value)) return false;
  throw new UsageError(`${name}: "${value}" is not true or false`);
}

function durationFlag(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0) throw new UsageError(`${name}: "${value}" is not a duration (e.g. 200ms, 10s)`);
  return value;
}

function uintFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,10}$/.test(value) || Number(value) > 0xffff_ffff) throw new UsageError(`${name}: "${value}" is not a non-negative integer`);
  return Number(value);
}

export class AutopilotSetConfigCommand extends QuietHttpCommand {
  static override paths = [['operator', 'autopilot', 'set-config']];
  static override usage = Command.Usage({
    category: 'Autopilot',
    description: 'Change the autopilot configuration (replicated)',
    details: `
      Reads the configuration in force, changes the settings given, and writes it back with a
      check-and-set on its ModifyIndex (PUT /v1/operator/autopilot/configuration?cas=N), as Consul
      does: if someone changed it in between, nothing is written and the command fails (exit 1);
      run it again. Settings not given keep their values.

      --cleanup-dead-servers: remove servers (and client agents) silent past the dead-server timeout.
      --last-contact-threshold: a server the leader has not heard from this long is unhealthy.
      --max-trailing-logs: a server this many entries behind the leader is unhealthy.
      --min-quorum: never remove or demote a voter when fewer voters would remain.
      --server-stabilization-time: a new server is promoted to voter after staying healthy this long.
      --redundancy-zone-tag: the node meta key (agent --node-meta zone:a) naming each server's zone;
      the autopilot then keeps one voter per zone and the zone's other servers as standbys
      (non-voters), and promotes a standby when its zone's voter fails. An empty tag turns zones off.
      --disable-upgrade-migration and --upgrade-version-tag are kept for Consul's scripts: konsul
      upgrades in place (rolling restarts; see README), so they change nothing.
    `,
    examples: [
      ['Promote new servers after 30s of health', '$0 operator autopilot set-config --server-stabilization-time 30s'],
      ['One voter per zone, zones from node meta "zone"', '$0 operator autopilot set-config --redundancy-zone-tag zone'],
      ['Keep dead servers, and never fewer than 3 voters', '$0 operator autopilot set-config --cleanup-dead-servers=false --min-quorum 3'],
    ],
  });

  cleanupDeadServers = Option.String('--cleanup-dead-servers', { description: 'true or false: remove servers silent past the dead-server timeout' });
  lastContactThreshold = Option.String('--last-contact-threshold', { description: 'A server not heard from this long is unhealthy (e.g. 200ms)' });
  maxTrailingLogs = Option.String('--max-trailing-logs', { description: 'A server this many log entries behind the leader is unhealthy' });
  minQuorum = Option.String('--min-quorum', { description: 'Never remove or demote a voter below this many voters' });
  serverStabilizationTime = Option.String('--server-stabilization-time', { description: 'A new server becomes a voter after staying healthy this long' });
  redundancyZoneTag = Option.String('--redundancy-zone-tag', { description: 'The node meta key naming each server\'s redundancy zone ("" for none)' });
  disableUpgradeMigration = Option.String('--disable-upgrade-migration', { description: 'true or false; accepted for Consul\'s scripts, no effect' });
  upgradeVersionTag = Option.String('--upgrade-version-tag', { description: 'Accepted for Consul\'s scripts, no effect' });

  protected async run(client: AgentClient): Promise<number> {
    const changes: Record<string, unknown> = {};
    const set = (key: string, value: unknown): void => {
      if (value !== undefined) changes[key] = value;
    };
    set('CleanupDeadServers', boolFlag('--cleanup-dead-servers', this.cleanupDeadServers));
    set('LastContactThreshold', durationFlag('--last-contact-threshold', this.lastContactThreshold));
    set('MaxTrailingLogs', uintFlag('--max-trailing-logs', this.maxTrailingLogs));
    set('MinQuorum', uintFlag('--min-quorum', this.minQuorum));
    set('ServerStabilizationTime', durationFlag('--server-stabilization-time', this.serverStabilizationTime));
    set('RedundancyZoneTag', this.redundancyZoneTag);
    set('DisableUpgradeMigration', boolFlag('--disable-upgrade-migration', this.disableUpgradeMigration));
    set('UpgradeVersionTag', this.upgradeVersionTag);
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give at least one setting (see --help)');
    const current = (await client.call('GET', '/v1/operator/autopilot/configuration')).json<AutopilotConfiguration>();
    const { CreateIndex: _c, ModifyIndex, ...fields } = current;
    const ok = (await client.call('PUT', `/v1/operator/autopilot/configuration?cas=${ModifyIndex}`, {
      body: JSON.stringify({ ...fields, ...changes }),
    })).json<boolean>();
    if (this.json) {
      this.printJson({ Updated: ok });
      return ok ? EXIT.ok : EXIT.failed;
    }
    if (!ok) {
      this.context.stderr.write('Error: configuration could not be atomically updated (it changed meanwhile), please try again\n');
      return EXIT.failed;
    }
    this.say('Configuration updated!');
    return EXIT.ok;
  }
}
