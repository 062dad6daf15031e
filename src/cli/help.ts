// konsul's help texts: the short overview (`konsul --help`, `konsul help`), a
// command's own help (clipanion's, with `<value>` for what clipanion prints as
// `#0`, and a long usage line folded to `[options]`).

import type { Cli } from 'clipanion';
import type { CliContext } from './command.js';
import type { CommandModel } from './docs/model.js';

/** One line per command under its category: what `konsul --help` prints. */
export function overview(model: readonly CommandModel[], bin: string, version: string): string {
  const shown = model.filter((c) => c.description !== '');
  const categories = [...new Set(shown.map((c) => c.category || 'Other'))];
  const lines = [`${bin} ${version} — service discovery and a KV store with its own Raft`, '', `Usage: ${bin} <command> [options]`, ''];
  for (const category of categories) {
    const members = shown.filter((x) => (x.category || 'Other') === category);
    const width = Math.max(...members.map((c) => c.words.join(' ').length)) + bin.length + 1;
    lines.push(`${category}:`);
    for (const c of members) lines.push(...wrap(`  ${`${bin} ${c.words.join(' ')}`.padEnd(width)}  `, c.description));
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
