// `konsul version` (also `--version` and `-v`): the version of this build.

import { Command } from 'clipanion';
import { KonsulCommand } from '../command.js';
import { packageVersion } from '../version.js';

export class VersionCommand extends KonsulCommand {
  static override paths = [['version'], ['--version'], ['-v']];
  static override usage = Command.Usage({
    description: 'Print the version of konsul',
    examples: [['The version', '$0 version']],
  });

  async execute(): Promise<number> {
    this.out(`${this.cli.binaryName} ${packageVersion()} (node ${process.version})`);
    return 0;
  }
}
