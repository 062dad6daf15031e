// `konsul <group> --help` (kv, cluster, acl policy, operator raft, ...): the
// group's commands with their descriptions, since a group is not a command
// clipanion knows.

import type { Cli } from 'clipanion';
import type { CliContext } from './command.js';
import { groupSummary } from './docs/man.js';
import { commandModel, withAliases } from './docs/model.js';

/** The help of the group argv names when argv is `<group words> --help` (or -h) and they name a group, not a command; else null. */
export function groupHelp(cli: Cli<CliContext>, argv: readonly string[]): string | null {
  const last = argv[argv.length - 1];
  if (argv.length < 2 || (last !== '--help' && last !== '-h')) return null;
  const words = argv.slice(0, -1);
  const model = withAliases(commandModel(cli));
  const inGroup = (c: { words: string[] }): boolean => words.every((w, i) => c.words[i] === w);
  const members = model.filter((c) => inGroup(c) && c.words.length > words.length);
  if (members.length === 0 || model.some((c) => c.words.length === words.length && inGroup(c))) return null;
  const bin = cli.binaryName;
  const group = words.join(' ');
  const summary = words.length === 1 ? groupSummary(model, group) : `${group} commands`;
  return [
    `${bin} ${group}: ${summary}`,
    '',
    ...members.flatMap((c) => [`  ${bin} ${c.usage}`, `    ${c.description}${c.aliasOf ? ` (the same as \`${bin} ${c.aliasOf.join(' ')}\`)` : ''}`, '']),
    `Run \`${bin} ${group} <command> --help\` for a command's options and examples, or see \`man konsul-${words[0]}\`.`,
    '',
  ].join('\n');
}
