// `konsul completion <shell>`: prints the completion script for bash, zsh or
// fish, generated from this CLI's own definitions (the same text as completions/).

import { Command, Option, UsageError } from '../../clipanion.js';
import { KonsulCommand } from '../../command.js';
import { completionScript, SHELLS, type Shell } from '../../docs/completions.js';
import { commandModel } from '../../docs/model.js';
import { EXIT } from '../../exit-codes.js';

export class CompletionCommand extends KonsulCommand {
  static override paths = [['completion']];
  static override usage = Command.Usage({
    category: 'Other',
    description: 'Print the shell completion script for bash, zsh or fish',
    details: `
      Completes commands, subcommands and flags, and asks the local agent (the --http-addr on the
      line, else KONSUL_HTTP_ADDR, else 127.0.0.1:8500) for KV keys, service names and node ids,
      waiting at most 300 ms; when no agent answers nothing is offered. The same scripts ship in
      completions/ (konsul.bash, _konsul, konsul.fish).
    `,
    examples: [
      ['Load bash completions in this shell', 'source <($0 completion bash)'],
      ['Install them for zsh', '$0 completion zsh > "${fpath[1]}/_konsul"'],
      ['Install them for fish', '$0 completion fish > ~/.config/fish/completions/konsul.fish'],
    ],
  });

  shell = Option.String({ name: 'shell' });

  async execute(): Promise<number> {
    if (!(SHELLS as readonly string[]).includes(this.shell)) {
      throw new UsageError(`shell: "${this.shell}" is not one of ${SHELLS.join(', ')}`);
    }
    // Every command, whichever were loaded to run this one.
    const { buildCli } = await import('../../full-cli.js');
    const model = commandModel(buildCli('konsul'));
    this.context.stdout.write(completionScript(this.shell as Shell, model));
    return EXIT.ok;
  }
}
