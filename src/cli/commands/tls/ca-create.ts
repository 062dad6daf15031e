// `konsul tls ca create`: a certificate authority for a cluster's agents, as
// `consul tls ca create` makes one (konsul-agent-ca.pem and its key, mode 0600).

import { Command, Option, UsageError } from '../../clipanion.js';
import { KonsulCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { createCa } from './openssl.js';

export class TlsCaCreateCommand extends KonsulCommand {
  static override paths = [['tls', 'ca', 'create']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Create a certificate authority for the cluster\'s agents (EC P-256, via openssl)',
    details: `
      Writes <domain>-agent-ca.pem (the certificate every agent trusts, --tls-ca) and
      <domain>-agent-ca-key.pem (its private key, mode 0600: keep it off the agents) into --dir.
      Existing files are never overwritten. Then make each agent's certificate with
      \`konsul tls cert create --server|--client --node-id ID\`.
    `,
    examples: [
      ['A CA in the current directory', '$0 tls ca create'],
      ['Valid for ten years, in ./tls', '$0 tls ca create --days 3650 --dir tls'],
    ],
  });

  days = Option.String('--days', '1825', { description: 'How many days the CA is valid (default: 1825)' });
  domain = Option.String('--domain', 'konsul', { description: 'The domain in the file names and certificate names (default: konsul)' });
  dir = Option.String('--dir', '.', { description: 'Where to write the files (default: the current directory)' });
  json = Option.Boolean('--json', false, { description: 'Print JSON, for scripts' });

  async execute(): Promise<number> {
    const days = Number(this.days);
    if (!Number.isInteger(days) || days < 1 || days > 36500) throw new UsageError(`--days: "${this.days}" is not a whole number of days from 1 to 36500`);
    if (!/^[a-z0-9-]+$/i.test(this.domain)) throw new UsageError(`--domain: "${this.domain}" must be letters, digits and '-'`);
    const files = createCa({ dir: this.dir, days, domain: this.domain });
    if (this.json) this.printJson(files);
    else this.out(`==> Saved ${files.cert}\n==> Saved ${files.key}`);
    return EXIT.ok;
  }
}
