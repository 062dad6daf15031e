// clipanion's parse errors (several lines, with every candidate usage) as the
// one line konsul prints: what is wrong and which --help to read.

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

/** clipanion's reasons, in konsul's words. */
function humanReason(reason: string): string {
  const text = reason.replace(/\.$/, '');
  const quoted = /\("(.*)"\)$/.exec(text)?.[1];
  if (text.startsWith('Unsupported option name')) return `unknown option "${quoted ?? ''}"`;
  if (text.startsWith('Invalid option name')) return `invalid option "${quoted ?? ''}"`;
  if (text.startsWith('Extraneous positional argument')) return `unexpected argument "${quoted ?? ''}"`;
  if (text.startsWith('Not enough positional arguments')) return 'missing argument';
  const option = /^Not enough arguments to option (\S+)$/.exec(text)?.[1];
  if (option) return `${option} needs a value`;
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/**
 * One line for an UnknownSyntaxError or AmbiguousSyntaxError (no `Error: ` prefix).
 * `argv` is what the user typed after the binary name.
 */
export function syntaxErrorLine(error: Error, binaryName: string, argv: readonly string[]): string {
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
    return `${humanReason(reason)}; ${help(path)}`;
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
    return `unknown command "${typed}"; "${groupName}" has: ${subcommands.join(', ')}`;
  }
  if (typed === '') return `unknown option "${argv[0] ?? ''}"; ${help(binaryName)}`;
  return `unknown command "${typed}"; ${help(binaryName)} for the list of commands`;
}
