// The CLI's commands as plain data, read from clipanion's `cli.definitions()`:
// what completions, man pages and the consistency test are generated from.

import type { Cli } from 'clipanion';

/** Values a shell can ask the local agent for (`konsul __complete <kind> [prefix]`). */
export type DynamicKind = 'keys' | 'services' | 'service-ids' | 'nodes';
export const DYNAMIC_KINDS: readonly DynamicKind[] = ['keys', 'services', 'service-ids', 'nodes'];

/** What a positional argument or an option value completes to: agent data, file names, or nothing known. */
export type ValueKind = DynamicKind | 'files' | 'none';

export interface OptionModel {
  /** Every spelling: ['--json'], ['--tag'], ['-v', '--verbose']. */
  names: string[];
  takesValue: boolean;
  description: string;
  /** For options that take a value: what it completes to. */
  valueKind: ValueKind;
}

export interface CommandModel {
  /** The words after the binary name: ['kv', 'get'], ['members']. */
  words: string[];
  /** The usage line without the binary name: `kv get [key]`. */
  usage: string;
  category: string;
  description: string;
  details: string;
  examples: Array<[what: string, command: string]>;
  options: OptionModel[];
  /** The positional arguments' names as the usage line shows them: ['key', 'value']. */
  positionals: string[];
  /** What the first positional argument completes to. */
  argumentKind: ValueKind;
  /** The other paths the command answers to (Consul's `operator raft list-peers`, `check warn` beside `check pass`); flag-like ones (`--version`) left out. */
  aliases: string[][];
  /** In withAliases' list: the primary path of the command this alias entry stands for. */
  aliasOf?: string[];
}

/** Option values that name a Raft member; every other option value completes to nothing (or files). */
const NODE_OPTIONS = new Set(['--node']);
const FILE_OPTIONS = new Set(['--config', '--tls-cert', '--tls-key', '--tls-ca']);

function argumentKind(words: string[], positional: string | undefined): ValueKind {
  const path = words.join(' ');
  if (positional === undefined) return 'none';
  if (path === 'catalog service') return 'services';
  if (path === 'services deregister') return 'service-ids';
  if (positional === 'key' || positional === 'prefix') return 'keys';
  if (positional === 'file' || positional === 'FILE') return 'files';
  return 'none';
}

/** One clipanion text (trailing spaces, a final newline) as clean lines. */
function clean(text: string | undefined): string {
  return (text ?? '').split('\n').map((l) => l.trimEnd()).join('\n').trim();
}

/**
 * Every documented command's static paths, in the order of cli.definitions()
 * (which walks the same registrations and skips the classes without usage);
 * undefined for a stand-in that has only definitions().
 */
function documentedPaths(cli: object): string[][][] | undefined {
  const registrations = (cli as { registrations?: unknown }).registrations;
  if (!(registrations instanceof Map)) return undefined;
  return [...(registrations as Map<{ paths?: string[][]; usage?: unknown }, unknown>).keys()]
    .filter((c) => c.usage !== undefined)
    .map((c) => c.paths ?? []);
}

export function commandModel(cli: Cli<never> | { definitions(): ReturnType<Cli['definitions']>; binaryName: string }): CommandModel[] {
  const bin = cli.binaryName;
  const paths = documentedPaths(cli);
  return cli.definitions().map((d, i) => {
    const words = d.path.split(' ').slice(1);
    const aliases = (paths?.[i] ?? [])
      .filter((p) => p.join(' ') !== words.join(' ') && p.length > 0 && !(p[0] ?? '').startsWith('-'));
    const usage = d.usage.replace(/\s+/g, ' ').trim().slice(bin.length + 1);
    const positionals = [...usage.slice(words.join(' ').length).matchAll(/[[<]([^\]>.]+)(?:\.\.\.)?[\]>]/g)]
      .map((m) => m[1] ?? '')
      .filter((name) => !name.startsWith('-'));
    return {
      words,
      usage,
      category: clean(d.category),
      description: clean(d.description),
      details: clean(d.details),
      examples: (d.examples ?? []).map(([what, command]) => [clean(what), command.trim()] as [string, string]),
      options: d.options.map((o) => {
        const names = o.definition.split(/[ ,]+/).filter((w) => w.startsWith('-'));
        const takesValue = /#0/.test(o.definition);
        const valueKind: ValueKind = !takesValue ? 'none'
          : names.some((n) => NODE_OPTIONS.has(n)) ? 'nodes'
            : names.some((n) => FILE_OPTIONS.has(n)) ? 'files' : 'none';
        return { names, takesValue, description: clean(o.description), valueKind };
      }),
      positionals,
      argumentKind: argumentKind(words, positionals[0]),
      aliases,
    };
  });
}

/**
 * The model with one more entry per alias, right after its command: what the
 * completions complete and the man pages list. An alias entry has the
 * command's options and description under its own words, and aliasOf set.
 */
export function withAliases(model: readonly CommandModel[]): CommandModel[] {
  return model.flatMap((c) => [c, ...c.aliases.map((words): CommandModel => ({
    ...c,
    words,
    usage: `${words.join(' ')}${c.usage.slice(c.words.join(' ').length)}`,
    argumentKind: argumentKind(words, c.positionals[0]),
    aliases: [],
    aliasOf: c.words,
  }))]);
}

/** The first words in order (`kv`, `cluster`, `members`), and each group's second words. */
export function commandTree(model: readonly CommandModel[]): { top: string[]; subs: (word: string) => string[] } {
  const top = [...new Set(model.map((c) => c.words[0] ?? ''))];
  const subs = (word: string): string[] =>
    model.filter((c) => c.words[0] === word && c.words.length > 1).map((c) => c.words.slice(1).join(' '));
  return { top, subs };
}

/** Every option spelling that takes a value, in any command: the completions skip the word after it. */
export function valuedOptions(model: readonly CommandModel[]): string[] {
  return [...new Set(model.flatMap((c) => c.options.filter((o) => o.takesValue).flatMap((o) => o.names)))].sort();
}
