// sec: a cluster is closed from its first second. A server that bootstraps on an address beyond
// loopback without a join secret or mutual TLS creates a secret (data dir, mode 0600) and prints
// the line that joins others with it; every other agent beyond loopback needs the secret, mutual
// TLS, or an explicit --insecure-peers (warned about at every start). --dev and loopback stay open.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseHostPort, type AgentConfig } from './config.js';

export const SECRET_FILE = 'cluster.secret';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface ClusterSecretOutcome {
  /** Set when this start created the secret: the command line that joins another server. */
  joinLine?: string;
  /** Set when the peer port is open beyond loopback with nothing protecting it. */
  insecure?: string;
}

/**
 * Decides the join secret before the agent starts (mutating config.token when it comes from the
 * data dir or is created). Throws ConfigError for an agent beyond loopback with no protection.
 */
export function closeCluster(config: AgentConfig, dataDir: string, insecurePeers: boolean): ClusterSecretOutcome {
  const advertiseHost = parseHostPort(config.advertise, 0)?.host ?? config.advertise;
  if (config.dev || (isLoopback(config.raftAddr.host) && isLoopback(advertiseHost))) return {};
  if (config.token !== undefined || config.tls !== undefined) return {};
  if (insecurePeers) {
    return { insecure: `the peer port ${config.raftAddr.host}:${config.raftAddr.port} is open beyond loopback with no join secret and no mutual TLS (--insecure-peers): anyone who reaches it can join and write` };
  }
  const file = join(dataDir, SECRET_FILE);
  if (existsSync(file)) {
    config.token = readFileSync(file, 'utf8').trim();
    return {};
  }
  if (config.server && config.bootstrap) {
    const secret = randomBytes(24).toString('base64url');
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    config.token = secret;
    return { joinLine: `konsul agent --server --join ${config.advertise} --token ${secret} --data-dir DIR` };
  }
  throw new ConfigError(
    `--raft-addr: ${config.raftAddr.host}:${config.raftAddr.port} is beyond loopback: give the cluster's join secret (--token, printed by the first server and kept in its data dir as ${SECRET_FILE}), mutual TLS (--tls-cert, --tls-key, --tls-ca), or --insecure-peers`,
  );
}
