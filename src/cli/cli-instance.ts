// One clipanion Cli as konsul configures it (no colours, no capture); main.ts
// fills it with the commands a command line needs, full-cli.ts with all.

import { Cli } from './clipanion.js';
import type { CliContext } from './command.js';
import { packageVersion } from './version.js';

export const BINARY_LABEL = 'konsul — service discovery and a KV store with its own Raft';

export function newCli(binaryName: string): Cli<CliContext> {
  return new Cli<CliContext>({
    binaryLabel: BINARY_LABEL,
    binaryName,
    binaryVersion: packageVersion(),
    enableColors: false,
    enableCapture: false,
  });
}
