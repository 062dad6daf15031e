// `konsul version`: the version of this build.

import { readFileSync } from 'node:fs';
import { Command } from 'clipanion';
import type { CliContext } from '../base.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export class VersionCommand extends Command<CliContext & { colorDepth: number }> {
  static override paths = [['version']];
  static override usage = Command.Usage({ description: 'Print the version of konsul' });

  async execute(): Promise<number> {
    this.context.stdout.write(`konsul ${packageVersion()} (node ${process.version})\n`);
    return 0;
  }
}
