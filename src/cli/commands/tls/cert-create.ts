// `konsul tls cert create --server|--client --node-id ID`: an agent's certificate,
// signed by the CA and naming its node and role, as `consul tls cert create` makes one.

import { Command, Option, UsageError } from '../../clipanion.js';
import { isIP } from 'node:net';
import { KonsulCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { createCert, nodeDnsName } from './openssl.js';

export class TlsCertCreateCommand extends KonsulCommand {
  static override paths = [['tls', 'cert', 'create']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Create an agent\'s certificate and key, signed by the CA and naming its node',
    details: `
      The certificate names the node and its role: <node-id>.<server|client>.<datacenter>.<domain>,
      plus <server|client>.<datacenter>.<domain>, localhost and 127.0.0.1 (add more with
      --additional-dnsname and --additional-ipaddress). Server certificates may answer and dial TLS;
      client certificates may only dial. Files: <dc>-<role>-<domain>-<node-id>.pem and -key.pem (0600).
      Start the agent with --tls-cert, --tls-key and --tls-ca pointing at them and the CA.
    `,
    examples: [
      ['A server\'s certificate', '$0 tls cert create --server --node-id s1'],
      ['A client\'s, reachable at 10.0.0.7', '$0 tls cert create --client --node-id web-1 --additional-ipaddress 10.0.0.7'],
    ],
  });

  server = Option.Boolean('--server', false, { description: 'A server agent\'s certificate' });
  client = Option.Boolean('--client', false, { description: 'A client agent\'s certificate' });
  nodeId = Option.String('--node-id', { description: 'The agent\'s --node-id, named in the certificate' });
  ca = Option.String('--ca', { description: 'The CA certificate (default: <domain>-agent-ca.pem in --dir)' });
  key = Option.String('--key', { description: 'The CA key (default: <domain>-agent-ca-key.pem in --dir)' });
  datacenter = Option.String('--dc', 'dc1', { description: 'The agent\'s datacenter (default: dc1)' });
  domain = Option.String('--domain', 'konsul', { description: 'The domain in the names (default: konsul)' });
  days = Option.String('--days', '365', { description: 'How many days the certificate is valid (default: 365)' });
  dnsNames = Option.Array('--additional-dnsname', [], { description: 'Another DNS name the agent answers to (repeatable)' });
  ipAddresses = Option.Array('--additional-ipaddress', [], { description: 'Another IP address the agent answers on (repeatable)' });
  dir = Option.String('--dir', '.', { description: 'Where the CA is and the files go (default: the current directory)' });
  json = Option.Boolean('--json', false, { description: 'Print JSON, for scripts' });

  async execute(): Promise<number> {
    if (this.server === this.client) throw new UsageError('give exactly one of --server or --client');
    if (this.nodeId === undefined || !/^[A-Za-z0-9_.-]{1,128}$/.test(this.nodeId) || this.nodeId.includes('..')) {
      throw new UsageError('--node-id: required; letters, digits, \'.\', \'_\' or \'-\' (the agent\'s --node-id)');
    }
    const days = Number(this.days);
    if (!Number.isInteger(days) || days < 1 || days > 36500) throw new UsageError(`--days: "${this.days}" is not a whole number of days from 1 to 36500`);
    if (!/^[a-z0-9-]+$/i.test(this.domain)) throw new UsageError(`--domain: "${this.domain}" must be letters, digits and '-'`);
    if (!/^[a-z0-9-]+$/i.test(this.datacenter)) throw new UsageError(`--dc: "${this.datacenter}" must be letters, digits and '-'`);
    for (const d of this.dnsNames) if (!/^[A-Za-z0-9*.-]+$/.test(d)) throw new UsageError(`--additional-dnsname: "${d}" is not a DNS name`);
    for (const ip of this.ipAddresses) if (isIP(ip) === 0) throw new UsageError(`--additional-ipaddress: "${ip}" is not an IP address`);
    const role = this.server ? 'server' : 'client';
    const files = createCert({
      dir: this.dir,
      ca: { cert: this.ca ?? `${this.dir}/${this.domain}-agent-ca.pem`, key: this.key ?? `${this.dir}/${this.domain}-agent-ca-key.pem` },
      role, nodeId: this.nodeId, datacenter: this.datacenter, domain: this.domain, days,
      dnsNames: this.dnsNames, ipAddresses: this.ipAddresses,
    });
    const name = nodeDnsName(this.nodeId, role, this.datacenter, this.domain);
    if (this.json) this.printJson({ ...files, name });
    else this.out(`==> Using ${this.ca ?? `${this.dir}/${this.domain}-agent-ca.pem`} and its key\n==> Saved ${files.cert} (${name})\n==> Saved ${files.key}`);
    return EXIT.ok;
  }
}
