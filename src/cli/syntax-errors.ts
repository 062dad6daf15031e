// clipanion's parse errors (several lines, with every candidate usage) as the
// one line konsul prints: what is wrong, what was probably meant, and which
// --help to read.

import type { CommandModel } from './docs/model.js';
import { closest } from './suggest.js';

interface Candidate { usage: string; reason: string | null }

/** The command path at the start of a usage line: `konsul kv get [--json] <key>` → `konsul kv get`. */
function usagePath(usage: string): string[] {
  const words: string[] = [];
  for (const word of usage.split(' ')) {
    if (word === '' || /^[[<(-]/.test(word)) break;
    words.push(word);
  }
  return words;
}

function commonPrefix(paths: string[][]): string[] {
  if (paths.length === 0) return [];
  const prefix: string[] = [];
  for (let i = 0; i < paths[0].length; i++) {
    if (!paths.every((p) => p[i] === paths[0][i])) break;
    prefix.push(paths[0][i]);
  }
  return prefix;
}

/** clipanion's reasons, in konsul's words; `command` (when known) names the missing argument and the nearest option. */
function humanReason(reason: string, command: CommandModel | undefined, argv: readonly string[]): string {
  const text = reason.replace(/\.$/, '');
  const quoted = /\("(.*)"\)$/.exec(text)?.[1];
  if (text.startsWith('Unsupported option name')) {
    const typed = quoted ?? '';
    const names = command?.options.flatMap((o) => o.names) ?? [];
    const meant = closest(typed.replace(/^-+/, '--').replace(/=.*$/, ''), [...names, '--help'].filter((n) => n.startsWith('--')));
    return `unknown option "${typed}"${meant ? ` (did you mean "${meant}"?)` : ''}`;
  }
  if (text.startsWith('Invalid option name')) return `invalid option "${quoted ?? ''}"`;
  if (text.startsWith('Extraneous positional argument')) return `unexpected argument "${quoted ?? ''}"`;
  if (text.startsWith('Not enough positional arguments')) {
    const missing = command ? missingArgument(command, argv) : undefined;
    return missing ? `missing argument <${missing}>` : 'missing argument';
  }
  const option = /^Not enough arguments to option (\S+)$/.exec(text)?.[1];
  if (option) return `${option} needs a value`;
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** The first required positional argument of `command` that `argv` does not give. */
function missingArgument(command: CommandModel, argv: readonly string[]): string | undefined {
  const required = [...command.usage.matchAll(/<([^>]+)>/g)].map((m) => m[1] ?? '');
  const valued = new Set(command.options.filter((o) => o.takesValue).flatMap((o) => o.names));
  let given = 0;
  for (let i = command.words.length; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a.startsWith('-')) {
      if (valued.has(a)) i++;
      continue;
    }
    given++;
  }
  const optional = command.positionals.length - required.length;
  return required[Math.max(0, given - Math.max(0, optional))] ?? required[0];
}

/** The command path or group nearest to what was typed. */
function nearestCommand(typed: readonly string[], model: readonly CommandModel[]): string | undefined {
  const paths = new Set<string>();
  for (const c of model) {
    if (c.description === '') continue;
    for (let n = 1; n <= c.words.length; n++) paths.add(c.words.slice(0, n).join(' '));
  }
  // Compare like with like: as many words as were typed (or fewer, when the path is shorter).
  const candidates = [...paths].filter((p) => p.split(' ').length <= Math.max(1, typed.length));
  for (let n = Math.min(typed.length, 3); n >= 1; n--) {
    const meant = closest(typed.slice(0, n).join(' '), candidates.filter((p) => p.split(' ').length === n));
    if (meant) return meant;
  }
  return undefined;
}

/**
 * One line for an UnknownSyntaxError or AmbiguousSyntaxError (no `Error: ` prefix).
 * `argv` is what the user typed after the binary name.
 */
export function syntaxErrorLine(error: Error, binaryName: string, argv: readonly string[], model: readonly CommandModel[] = []): string {
  const candidates = ((error as { candidates?: Candidate[] }).candidates ?? []).filter((c) => typeof c.usage === 'string');
  const firstOption = argv.findIndex((a) => a.startsWith('-'));
  const typedWords = firstOption === -1 ? [...argv] : argv.slice(0, firstOption);
  const typed = typedWords.join(' ');
  const help = (path: string): string => `see \`${path} --help\``;

  if (error.name === 'AmbiguousSyntaxError') return `"${argv.join(' ')}" could mean several commands; ${help(binaryName)}`;
  const paths = candidates.map((c) => usagePath(c.usage));

  // The command was found but an option or argument is wrong: clipanion says which.
  const reason = candidates[0]?.reason;
  if (reason && candidates.every((c) => c.reason !== null)) {
    const path = commonPrefix(paths).join(' ') || binaryName;
    const words = path.split(' ').slice(1).join(' ');
    const command = model.find((c) => c.words.join(' ') === words);
    return `${humanReason(reason, command, argv)}; ${help(path)}`;
  }
  if (candidates.length === 1) {
    const path = paths[0].join(' ');
    return `the arguments do not fit \`${path}\`; ${help(path)}`;
  }
  // A group typed without (or with an unknown) subcommand: name the subcommands.
  const group = commonPrefix(paths).slice(1);
  if (group.length > 0 && group.every((w, i) => typedWords[i] === w)) {
    const subcommands = [...new Set(paths.map((p) => p[group.length + 1]).filter((w) => w !== undefined))];
    const groupName = group.join(' ');
    if (typedWords.length === group.length) {
      return `"${groupName}" needs a subcommand: ${subcommands.join(', ')}; ${help(binaryName)}`;
    }
    const meant = nearestCommand(typedWords, model);
    const hint = meant && meant !== groupName ? ` (did you mean "${binaryName} ${meant}"?)` : '';
    return `unknown command "${typed}"${hint}; "${groupName}" has: ${subcommands.join(', ')}`;
  }
  if (typed === '') return `unknown option "${argv[0] ?? ''}"; ${help(binaryName)}`;
  const meant = nearestCommand(typedWords, model);
  const hint = meant ? ` (did you mean "${binaryName} ${meant}"?)` : '';
  return `unknown command "${typed}"${hint}; ${help(binaryName)} for the list of commands`;
}
