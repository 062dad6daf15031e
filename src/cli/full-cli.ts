// The CLI with every command registered: what --help, the docs, the
// completions and "did you mean" need. A command line that names a command
// does not load this (main.ts loads only that command's module).

import { Builtins, type Cli } from './clipanion.js';
import { newCli } from './cli-instance.js';
import type { CliContext } from './command.js';
import { COMMANDS } from './commands/index.js';

export function buildCli(binaryName = 'konsul'): Cli<CliContext> {
  const cli = newCli(binaryName);
  for (const command of COMMANDS) cli.register(command);
  cli.register(Builtins.HelpCommand);
  return cli;
}
