// konsul's help texts: the short overview (`konsul --help`, `konsul help`), a
// command's own help (clipanion's, with `<value>` for what clipanion prints as
// `#0`, and a long usage line folded to `[options]`).

import type { Cli, Command } from 'clipanion';
import type { CliContext } from './command.js';
import type { CommandModel } from './docs/model.js';

/** One line per command under its category: what `konsul --help` prints. */
export function overview(model: readonly CommandModel[], bin: string, version: string): string {
  const shown = model.filter((c) => c.description !== '');
  const width = Math.max(...shown.map((c) => c.words.join(' ').length)) + bin.length + 1;
  const categories = [...new Set(shown.map((c) => c.category || 'Other'))];
  const lines = [`${bin} ${version} — service discovery and a KV store with its own Raft`, '', `Usage: ${bin} <command> [options]`, ''];
  for (const category of categories) {
    lines.push(`${category}:`);
    for (const c of shown.filter((x) => (x.category || 'Other') === category)) {
      lines.push(`  ${`${bin} ${c.words.join(' ')}`.padEnd(width)}  ${c.description}`);
    }
    lines.push('');
  }
  lines.push(
    `Run \`${bin} <command> --help\` (or \`${bin} help <command>\`) for a command's options and examples.`,
    'Commands that talk to an agent take --http-addr (default: KONSUL_HTTP_ADDR, else 127.0.0.1:8500) and --json.',
    'Exit status: 0 ok, 1 failed or not found, 2 usage error, 3 no agent answered.',
    '',
  );
  return lines.join('\n');
}

/** A usage line longer than this shows its options as `[options]` (they are listed below it). */
const MAX_USAGE = 100;

/** clipanion's detailed help of one command, readable: `<value>` for `#0`, a long usage line folded. */
export function commandHelp(cli: Cli<CliContext>, command: Command<CliContext>): string {
  const text = cli.usage(command, { colored: false, detailed: true });
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
