// `konsul version` (also `--version` and `-v`): the version of this build, the
// peer protocol it speaks (agents of another protocol refuse each other) and Node's.

import { Command, Option } from '../clipanion.js';
import { PROTOCOL_VERSION } from '../../transport/protocol-version.js';
import { KonsulCommand } from '../base-command.js';
import { EXIT } from '../exit-codes.js';
import { packageVersion } from '../version.js';

export class VersionCommand extends KonsulCommand {
  static override paths = [['version'], ['--version'], ['-v']];
  static override usage = Command.Usage({
    category: 'Other',
    description: 'Print the version of konsul, its peer protocol and Node.js',
    details: `
      Prints three lines: konsul's version (from its package.json), the version of the peer protocol
      its agents speak (agents speaking another protocol version refuse each other's connections),
      and the version of Node.js running it. With --json: {"version", "protocol", "node"}.
    `,
    examples: [['The versions', '$0 version'], ['As JSON, for scripts', '$0 version --json']],
  });

  json = Option.Boolean('--json', false, { description: 'Print JSON, for scripts' });

  async execute(): Promise<number> {
    const info = { version: packageVersion(), protocol: PROTOCOL_VERSION, node: process.version };
    if (this.json) this.printJson(info);
    else this.out(`${this.cli.binaryName} ${info.version}\nprotocol ${info.protocol}\nnode ${info.node}`);
    return EXIT.ok;
  }
}
