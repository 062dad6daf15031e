// The konsul command line: one clipanion Cli with every command registered,
// every error printed as one `Error: ...` line, and exit codes scripts can rely
// on (exit-codes.ts). bin/konsul.js calls main().

import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Builtins, Cli, type Command } from 'clipanion';
import type { RunAgent } from './agent-flags.js';
import type { CliContext } from './command.js';
import { COMMANDS } from './commands/index.js';
import { CliError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { groupHelp } from './group-help.js';
import { syntaxErrorLine } from './syntax-errors.js';
import { packageVersion } from './version.js';

/** Everything optional: defaults are the process's streams, env and invoked name. Tests pass their own. */
export interface MainContext {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  env?: NodeJS.ProcessEnv;
  /** konsul or konsulctl; default: the name this process was started as. */
  binaryName?: string;
  runAgent?: RunAgent;
  httpTimeoutMs?: number;
}

/** konsulctl when started as konsulctl (the npm bin link), otherwise konsul. */
export function invokedName(scriptPath: string | undefined = process.argv[1]): string {
  return basename(scriptPath ?? '').replace(/\.[cm]?js$/, '') === 'konsulctl' ? 'konsulctl' : 'konsul';
}

export function buildCli(binaryName = 'konsul'): Cli<CliContext> {
  const cli = new Cli<CliContext>({
    binaryLabel: 'konsul — service discovery and a KV store with its own Raft',
    binaryName,
    binaryVersion: packageVersion(),
    enableColors: false,
    enableCapture: false,
  });
  for (const command of COMMANDS) cli.register(command);
  cli.register(Builtins.HelpCommand);
  return cli;
}

function isUsageError(error: unknown): error is Error {
  return error instanceof Error && (error as { clipanion?: { type?: string } }).clipanion?.type === 'usage';
}

function isSyntaxError(error: unknown): error is Error {
  return error instanceof Error && (error.name === 'UnknownSyntaxError' || error.name === 'AmbiguousSyntaxError');
}

/** The first line of a message, so nothing (a stack, a multi-line body) spills past one line. */
function oneLine(message: string): string {
  return message.trim().split('\n')[0]?.trim() || 'unknown error';
}

/** Run one command line; returns the exit code and sets process.exitCode to it. */
export async function main(argv: string[], context: MainContext = {}): Promise<number> {
  const binaryName = context.binaryName ?? invokedName();
  const ctx: CliContext = {
    stdin: context.stdin ?? process.stdin,
    stdout: context.stdout ?? process.stdout,
    stderr: context.stderr ?? process.stderr,
    env: context.env ?? process.env,
    colorDepth: 1,
    ...(context.runAgent ? { runAgent: context.runAgent } : {}),
    ...(context.httpTimeoutMs !== undefined ? { httpTimeoutMs: context.httpTimeoutMs } : {}),
  };
  const code = await runCommandLine(buildCli(binaryName), argv, ctx);
  process.exitCode = code;
  return code;
}

async function runCommandLine(cli: Cli<CliContext>, argv: string[], ctx: CliContext): Promise<number> {
  const fail = (message: string, code: number): number => {
    ctx.stderr.write(`Error: ${oneLine(message)}\n`);
    return code;
  };

  const ofGroup = groupHelp(cli, argv);
  if (ofGroup !== null) {
    ctx.stdout.write(ofGroup);
    return EXIT.ok;
  }

  let command: Command<CliContext>;
  try {
    command = cli.process(argv, ctx);
  } catch (error) {
    if (isSyntaxError(error)) return fail(syntaxErrorLine(error, cli.binaryName, argv), EXIT.usage);
    // Option validators and transformers report the user's mistakes as UsageError.
    if (isUsageError(error)) return fail(error.message, EXIT.usage);
    return fail((error as Error).message ?? String(error), EXIT.failed);
  }
  if (command.help) {
    ctx.stdout.write(cli.usage(command, { colored: false, detailed: true }));
    return EXIT.ok;
  }

  command.context = ctx;
  command.cli = {
    binaryLabel: cli.binaryLabel,
    binaryName: cli.binaryName,
    binaryVersion: cli.binaryVersion,
    enableCapture: false,
    enableColors: false,
    definitions: () => cli.definitions(),
    error: (error, opts) => cli.error(error, opts),
    format: (colored) => cli.format(colored),
    process: (input, sub) => cli.process(input, { ...ctx, ...sub }),
    run: (input, sub) => cli.run(input, { ...ctx, ...sub }),
    usage: (c, opts) => cli.usage(c, opts),
  };
  try {
    return (await command.validateAndExecute()) ?? EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) return fail(error.message, error.exitCode);
    if (isUsageError(error)) return fail(error.message, EXIT.usage);
    return fail(error instanceof Error ? error.message : String(error), EXIT.failed);
  }
}
