// konsul's help texts: the short overview (`konsul --help`, `konsul help`), a
// command's own help (clipanion's, with `<value>` for what clipanion prints as
// `#0`, and a long usage line folded to `[options]`).

import type { Cli } from 'clipanion';
import type { CliContext } from './command.js';
import { groupSummary } from './docs/man.js';
import type { CommandModel } from './docs/model.js';

/** Groups shown as one line in the overview (`konsul <group> --help` lists their commands). */
const FOLDED_GROUPS: ReadonlySet<string> = new Set(['acl', 'tls']);

interface OverviewLine { name: string; description: string; category: string }

/** The overview's lines: one per command, and one per folded group (at its first command's place). */
function overviewLines(model: readonly CommandModel[], bin: string): OverviewLine[] {
  const out: OverviewLine[] = [];
  const folded = new Set<string>();
  for (const c of model) {
    if (c.description === '') continue;
    const group = c.words[0] ?? '';
    if (c.words.length > 1 && FOLDED_GROUPS.has(group)) {
      if (folded.has(group)) continue;
      folded.add(group);
      const subcommands = [...new Set(model.filter((m) => m.words[0] === group && m.words.length > 1).map((m) => m.words[1]!))];
      const summary = groupSummary(model, group);
      out.push({ name: `${group} ${subcommands.join('|')}`, description: `${summary[0]!.toUpperCase()}${summary.slice(1)}`, category: c.category || 'Other' });
      continue;
    }
    const deep = foldedGroup(model.filter((m) => m.description !== ''), c);
    if (deep === '') continue;
    if (deep !== null) {
      const prefix = c.words.slice(0, -1).join(' ');
      out.push({ name: `${prefix} ...`, description: `${deep}: see \`${bin} ${prefix} --help\``, category: c.category || 'Other' });
      continue;
    }
    out.push({ name: c.words.join(' '), description: c.description, category: c.category || 'Other' });
  }
  return out;
}

/** One line per command under its category: what `konsul --help` prints. */
export function overview(model: readonly CommandModel[], bin: string, version: string): string {
  const shown = overviewLines(model, bin);
  const categories = [...new Set(shown.map((c) => c.category))];
  const lines = [`${bin} ${version} — service discovery and a KV store with its own Raft`, '', `Usage: ${bin} <command> [options]`, ''];
  for (const category of categories) {
    const members = shown.filter((x) => x.category === category);
    const width = Math.max(...members.map((c) => c.name.length)) + bin.length + 1;
    lines.push(`${category}:`);
    for (const c of members) lines.push(...wrap(`  ${`${bin} ${c.name}`.padEnd(width)}  `, c.description));
    lines.push('');
  }
  lines.push(
    `\`${bin} <command> --help\` (or \`${bin} help <command>\`): a command's options and examples.`,
    'Commands that talk to an agent take --http-addr (default: KONSUL_HTTP_ADDR) and --json.',
    'Exit status: 0 ok, 1 failed or not found, 2 usage error, 3 no agent answered.',
    '',
  );
  return lines.join('\n');
}

/**
 * A group two words deep with several commands (acl policy create|list|...) takes one line of the
 * overview: the group's last words (create, list, ...) for its first command, '' for the others; null for any other command.
 */
function foldedGroup(members: readonly CommandModel[], c: CommandModel): string | null {
  if (c.words.length < 3) return null;
  const prefix = c.words.slice(0, -1).join(' ');
  const group = members.filter((m) => m.words.length === c.words.length && m.words.slice(0, -1).join(' ') === prefix);
  if (group.length < 3) return null;
  return group[0] === c ? group.map((m) => m.words[m.words.length - 1]).join(', ') : '';
}

/** `lead` then `text`, wrapped at 100 columns, continuation lines indented under the text. */
function wrap(lead: string, text: string): string[] {
  const out: string[] = [];
  let line = lead;
  for (const word of text.split(' ')) {
    if (line.length + word.length > 100 && line.trim() !== lead.trim()) {
      out.push(line.trimEnd());
      line = ' '.repeat(lead.length);
    }
    line += `${word} `;
  }
  out.push(line.trimEnd());
  return out;
}

/** A usage line longer than this shows its options as `[options]` (they are listed below it). */
const MAX_USAGE = 100;

/** clipanion's detailed help of one command, readable: `<value>` for `#0`, a long usage line folded. */
export function commandHelp(cli: Cli<CliContext>, command: Parameters<Cli<CliContext>['usage']>[0]): string {
  return readable(cli.usage(command, { colored: false, detailed: true }));
}

/** A help text with `<value>` for clipanion's `#0` and a long usage line folded. */
export function readable(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('$ ') && line.length > MAX_USAGE) {
        const words = line.slice(2).split(' ');
        const path: string[] = [];
        for (const w of words) {
          if (/^[[<(-]/.test(w)) break;
          path.push(w);
        }
        const positionals = line.match(/(?<= )(<[^>]+>|\[[a-z][^\]\s-]*\](\.\.\.)?)(?= |$)/g) ?? [];
        return `$ ${[...path, '[options]', ...positionals].join(' ')}`;
      }
      return line;
    })
    .join('\n')
    .replace(/ #0\b/g, ' <value>');
}
