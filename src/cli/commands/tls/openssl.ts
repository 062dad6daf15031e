// X.509 for konsul through the `openssl` binary: node:crypto makes keys but cannot
// sign certificates, and openssl is on every system konsul targets (no new dependency).
//
// Keys are EC P-256 (as Consul's). A node's certificate names it in its SANs:
// <node>.<role>.<datacenter>.<domain>, plus <role>.<datacenter>.<domain>, localhost and 127.0.0.1.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../../errors.js';

export type CertRole = 'server' | 'client';

function openssl(args: string[]): string {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new CliError('the openssl command is needed to make certificates and was not found on PATH');
    const why = (e.stderr ?? e.message).trim().split('\n').find((l) => l.trim() !== '') ?? 'failed';
    throw new CliError(`openssl ${args[0]} failed: ${why}`);
  }
}

function refuseExisting(files: string[]): void {
  for (const f of files) if (existsSync(f)) throw new CliError(`${f} already exists; remove it or choose another --dir`);
}

function serial(): string {
  // A positive 128-bit serial.
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  return `0x${b.toString('hex')}`;
}

export interface CaFiles { cert: string; key: string }

export function createCa(options: { dir: string; days: number; domain: string; name?: string }): CaFiles {
  const cert = join(options.dir, `${options.domain}-agent-ca.pem`);
  const key = join(options.dir, `${options.domain}-agent-ca-key.pem`);
  refuseExisting([cert, key]);
  const cn = options.name ?? `Konsul Agent CA ${randomBytes(4).toString('hex')}`;
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', String(options.days), '-subj', `/CN=${cn}`, '-set_serial', serial(),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  chmodSync(key, 0o600);
  return { cert, key };
}

export interface CertRequest {
  dir: string;
  ca: CaFiles;
  role: CertRole;
  nodeId: string;
  datacenter: string;
  domain: string;
  days: number;
  dnsNames: string[];
  ipAddresses: string[];
}

/** The SAN that binds a certificate to a node and its role. */
export function nodeDnsName(nodeId: string, role: CertRole, datacenter: string, domain: string): string {
  return `${nodeId}.${role}.${datacenter}.${domain}`;
}

export function createCert(r: CertRequest): CaFiles {
  const base = join(r.dir, `${r.datacenter}-${r.role}-${r.domain}-${r.nodeId}`);
  const cert = `${base}.pem`;
  const key = `${base}-key.pem`;
  refuseExisting([cert, key]);
  const dns = [nodeDnsName(r.nodeId, r.role, r.datacenter, r.domain), `${r.role}.${r.datacenter}.${r.domain}`, 'localhost', ...r.dnsNames];
  const ips = ['127.0.0.1', ...r.ipAddresses];
  const work = mkdtempSync(join(tmpdir(), 'konsul-tls-'));
  try {
    const csr = join(work, 'req.csr');
    const ext = join(work, 'ext.cnf');
    writeFileSync(ext, [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      // Servers answer TLS and dial peers; clients only dial.
      `extendedKeyUsage=${r.role === 'server' ? 'serverAuth,clientAuth' : 'clientAuth'}`,
      `subjectAltName=${[...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP:${i}`)].join(',')}`,
      '',
    ].join('\n'));
    openssl([
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr,
      '-subj', `/CN=${dns[0]}`,
    ]);
    openssl([
      'x509', '-req', '-in', csr, '-CA', r.ca.cert, '-CAkey', r.ca.key, '-set_serial', serial(), '-days', String(r.days),
      '-extfile', ext, '-out', cert,
    ]);
    chmodSync(key, 0o600);
  } catch (error) {
    rmSync(key, { force: true });
    rmSync(cert, { force: true });
    throw error;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { cert, key };
}
