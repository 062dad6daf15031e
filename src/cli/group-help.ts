// `konsul <group> --help` (kv, cluster, ...): the group's commands with their
// descriptions, since a group is not a command clipanion knows.

import type { Cli } from 'clipanion';
import type { CliContext } from './command.js';
import { groupSummary } from './docs/man.js';
import { commandModel } from './docs/model.js';

/** The help of `argv[0]` when argv is `<group> --help` (or -h) for a group of several commands; else null. */
export function groupHelp(cli: Cli<CliContext>, argv: readonly string[]): string | null {
  if (argv.length !== 2 || (argv[1] !== '--help' && argv[1] !== '-h')) return null;
  const group = argv[0];
  const model = commandModel(cli);
  const members = model.filter((c) => c.words[0] === group && c.words.length > 1);
  if (members.length === 0 || model.some((c) => c.words.length === 1 && c.words[0] === group)) return null;
  const bin = cli.binaryName;
  return [
    `${bin} ${group}: ${groupSummary(model, group)}`,
    '',
    ...members.flatMap((c) => [`  ${bin} ${c.usage}`, `    ${c.description}`, '']),
    `Run \`${bin} ${group} <command> --help\` for a command's options and examples, or see \`man konsul-${group}\`.`,
    '',
  ].join('\n');
}
