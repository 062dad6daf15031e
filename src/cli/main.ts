// The konsul command line: one clipanion Cli with every command registered,
// errors printed as one line, and exit codes scripts can rely on (exit-codes.ts).

import { basename } from 'node:path';
import { Builtins, Cli, UsageError } from 'clipanion';
import type { CliContext } from './base.js';
import { CliError } from './client.js';
import { AgentRunCommand } from './commands/agent.js';
import {
  ClusterHealthCommand, ClusterJoinCommand, ClusterLeaderCommand, ClusterLeaveCommand, ClusterPeersCommand,
  ClusterSnapshotCommand, ClusterStatsCommand, ClusterStatusCommand, ClusterTransferLeaderCommand,
} from './commands/cluster.js';
import { KvDeleteCommand, KvGetCommand, KvPutCommand } from './commands/kv.js';
import { VersionCommand, packageVersion } from './commands/version.js';
import { EXIT } from './exit-codes.js';

export const COMMANDS = [
  AgentRunCommand, KvGetCommand, KvPutCommand, KvDeleteCommand,
  ClusterStatusCommand, ClusterLeaderCommand, ClusterPeersCommand, ClusterStatsCommand, ClusterHealthCommand,
  ClusterJoinCommand, ClusterLeaveCommand, ClusterTransferLeaderCommand, ClusterSnapshotCommand,
  VersionCommand,
];

export function buildCli(binaryName = 'konsul', colors = false): Cli<CliContext & { colorDepth: number }> {
  const cli = new Cli<CliContext & { colorDepth: number }>({
    binaryLabel: 'konsul — service discovery and KV with its own Raft',
    binaryName,
    binaryVersion: packageVersion(),
    enableColors: colors,
  });
  for (const c of COMMANDS) cli.register(c);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

/** Run one command line; returns (and sets process.exitCode to) the exit code. */
export async function main(argv: string[], context: Partial<CliContext> = {}, binaryName?: string): Promise<number> {
  const name = binaryName ?? (basename(process.argv[1] ?? 'konsul').startsWith('konsulctl') ? 'konsulctl' : 'konsul');
  const stdout = context.stdout ?? process.stdout;
  const cli = buildCli(name, (stdout as { isTTY?: boolean }).isTTY === true && !process.env.NO_COLOR);
  const ctx = {
    stdin: context.stdin ?? process.stdin,
    stdout: context.stdout ?? process.stdout,
    stderr: context.stderr ?? process.stderr,
    env: context.env ?? process.env,
    colorDepth: 1,
  };
  let code: number;
  let command;
  try {
    command = cli.process(argv, ctx);
  } catch (error) {
    ctx.stderr.write(cli.error(error as Error, { colored: false }));
    process.exitCode = EXIT.usage;
    return EXIT.usage;
  }
  if (command.help) {
    ctx.stdout.write(cli.usage(command, { colored: false, detailed: true }));
    process.exitCode = EXIT.ok;
    return EXIT.ok;
  }
  command.context = ctx;
  command.cli = {
    binaryLabel: cli.binaryLabel,
    binaryName: cli.binaryName,
    binaryVersion: cli.binaryVersion,
    enableCapture: cli.enableCapture,
    enableColors: false,
    definitions: () => cli.definitions(),
    error: (error, opts) => cli.error(error, opts),
    format: (colored) => cli.format(colored),
    process: (input, sub) => cli.process(input, { ...ctx, ...sub }),
    run: (input, sub) => cli.run(input, { ...ctx, ...sub }),
    usage: (c, opts) => cli.usage(c, opts),
  };
  try {
    code = (await command.validateAndExecute()) ?? EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) {
      ctx.stderr.write(`Error: ${error.message}\n`);
      code = error.exitCode;
    } else if (error instanceof UsageError || (error as Error).name === 'UsageError') {
      ctx.stderr.write(cli.error(error as Error, { colored: false }));
      code = EXIT.usage;
    } else {
      ctx.stderr.write(`Error: ${(error as Error).message}\n`);
      code = EXIT.failed;
    }
  }
  process.exitCode = code;
  return code;
}
