// The konsul command line: a clipanion Cli with the command(s) the command line
// names (loaded from commands/manifest.ts, so `konsul kv get` loads neither
// the agent nor the other commands), every error printed as one `Error: ...`
// line, and exit codes scripts can rely on (exit-codes.ts). When the words
// name no command (a typo, --help, a group), every command is loaded: for the
// overview, the group's list and "did you mean". bin/konsul.js calls main().

import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Cli, Command, CommandClass } from 'clipanion';
import type { RunAgent } from './agent-flags.js';
import { newCli } from './cli-instance.js';
import type { CliContext } from './command.js';
import { MANIFEST, type CommandEntry } from './commands/manifest.js';
import { CliError } from './errors.js';
import { EXIT } from './exit-codes.js';

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

/** The words before the first option: the command path the user typed (and maybe its arguments). */
function leadingWords(argv: readonly string[]): string[] {
  const first = argv.findIndex((a) => a.startsWith('-'));
  return first === -1 ? [...argv] : argv.slice(0, first);
}

/** The manifest entries whose path the command line starts with. */
export function entriesFor(argv: readonly string[]): CommandEntry[] {
  const words = leadingWords(argv);
  return MANIFEST.filter((e) => e.paths.some((p) => p.length > 0 && p.every((w, i) => (words[i] ?? argv[i]) === w)));
}

async function fullCli(binaryName: string): Promise<Cli<CliContext>> {
  return (await import('./full-cli.js')).buildCli(binaryName);
}

/**
 * Consul's single-dash long flags (`-recurse`, `-http-addr=x`) as konsul's
 * (`--recurse`), where the double-dash name is an option of the command line's
 * command(s); everything else (short flags, values, after `--`) is left alone.
 */
export function consulFlags(argv: readonly string[], longOptions: ReadonlySet<string>): string[] {
  const out: string[] = [];
  let rest = false;
  for (const arg of argv) {
    if (rest || arg === '--') {
      rest = true;
      out.push(arg);
      continue;
    }
    const m = /^-([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
    out.push(m && longOptions.has(`--${m[1]}`) ? `--${m[1]}${m[2] ?? ''}` : arg);
  }
  return out;
}

function longOptionsOf(cli: Cli<CliContext>): Set<string> {
  const names = new Set<string>();
  for (const d of cli.definitions()) {
    for (const o of d.options) for (const n of o.definition.split(/[ ,]+/)) if (n.startsWith('--')) names.add(n);
  }
  return names;
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
  const code = await runCommandLine(binaryName, argv, ctx);
  process.exitCode = code;
  return code;
}

async function runCommandLine(binaryName: string, argv: string[], ctx: CliContext): Promise<number> {
  const fail = (message: string, code: number): number => {
    ctx.stderr.write(`Error: ${oneLine(message)}\n`);
    return code;
  };

  const isHelp = (a: string | undefined): boolean => a === '--help' || a === '-h';
  // The overview: nothing typed, --help, or `help` alone.
  if (argv.length === 0 || (argv.length === 1 && (isHelp(argv[0]) || argv[0] === 'help'))) {
    const cli = await fullCli(binaryName);
    const [{ overview }, { commandModel }] = await Promise.all([import('./help.js'), import('./docs/model.js')]);
    ctx.stdout.write(overview(commandModel(cli), binaryName, cli.binaryVersion ?? ''));
    return EXIT.ok;
  }
  // `konsul help kv get` is `konsul kv get --help`.
  if (argv[0] === 'help') argv = [...argv.slice(1), '--help'];

  const entries = entriesFor(argv);
  let cli: Cli<CliContext>;
  let full = entries.length === 0;
  if (full) {
    cli = await fullCli(binaryName);
    // `konsul kv --help`: the group's commands.
    const { groupHelp } = await import('./group-help.js');
    const ofGroup = groupHelp(cli, argv);
    if (ofGroup !== null) {
      ctx.stdout.write(ofGroup);
      return EXIT.ok;
    }
  } else {
    cli = newCli(binaryName);
    const classes: CommandClass<CliContext>[] = await Promise.all(entries.map((e) => e.load()));
    for (const c of classes) cli.register(c);
  }

  let command: Command<CliContext>;
  for (;;) {
    try {
      command = cli.process(consulFlags(argv, longOptionsOf(cli)), ctx);
      break;
    } catch (error) {
      if (isSyntaxError(error)) {
        // What was typed fits none of the loaded commands: load them all, for the right message and "did you mean".
        if (!full) {
          cli = await fullCli(binaryName);
          full = true;
          continue;
        }
        const [{ commandModel }, { syntaxErrorLine }] = await Promise.all([import('./docs/model.js'), import('./syntax-errors.js')]);
        return fail(syntaxErrorLine(error, cli.binaryName, argv, commandModel(cli)), EXIT.usage);
      }
      // Option validators and transformers report the user's mistakes as UsageError.
      if (isUsageError(error)) return fail(error.message, EXIT.usage);
      return fail((error as Error).message ?? String(error), EXIT.failed);
    }
  }
  if (command.help) {
    ctx.stdout.write((await import('./help.js')).commandHelp(cli, command));
    return EXIT.ok;
  }
  // clipanion's own help (`<command> --help`) asks the cli for a detailed usage: made readable as commandHelp does.
  const { readable } = command.constructor.name === 'HelpCommand' ? await import('./help.js') : { readable: (t: string) => t };

  command.context = ctx;
  const current = cli;
  command.cli = {
    binaryLabel: current.binaryLabel,
    binaryName: current.binaryName,
    binaryVersion: current.binaryVersion,
    enableCapture: false,
    enableColors: false,
    definitions: () => current.definitions(),
    error: (error, opts) => current.error(error, opts),
    format: (colored) => current.format(colored),
    process: (input, sub) => current.process(input, { ...ctx, ...sub }),
    run: (input, sub) => current.run(input, { ...ctx, ...sub }),
    usage: (c, opts) => (opts?.detailed ? readable(current.usage(c, opts)) : current.usage(c, opts)),
  };
  try {
    return (await command.validateAndExecute()) ?? EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) return fail(error.message, error.exitCode);
    if (isUsageError(error)) return fail(error.message, EXIT.usage);
    return fail(error instanceof Error ? error.message : String(error), EXIT.failed);
  }
}
