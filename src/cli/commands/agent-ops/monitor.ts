// `konsul monitor`: stream the agent's log lines at a chosen level
// (GET /v1/agent/monitor), as `consul monitor`, until Ctrl-C.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { AgentHttpError, AgentUnreachableError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'err', 'error'];

export class MonitorCommand extends HttpCommand {
  static override paths = [['monitor']];
  static override usage = Command.Usage({
    category: 'Agent',
    description: 'Stream the agent\'s log lines at a chosen level, until Ctrl-C',
    details: `
      Prints each line the agent logs at --log-level or above (default info), readable, or as JSON
      lines with --json. Lines below the agent's own log_level are not produced; the first line says
      so when --log-level asks for them.
    `,
    examples: [['Follow the local agent', '$0 monitor'], ['Debug lines too', '$0 monitor --log-level debug'], ['As JSON lines', '$0 monitor --json']],
  });

  logLevel = Option.String('--log-level', 'info', { description: 'trace, debug, info, warn or err' });

  protected async run(client: AgentClient): Promise<number> {
    const level = this.logLevel.toLowerCase();
    if (!LEVELS.includes(level)) throw new UsageError(`--log-level: "${this.logLevel}" is not one of trace, debug, info, warn, err`);
    let res;
    try {
      res = await client.stream('GET', `/v1/agent/monitor?loglevel=${level}${this.json ? '&logjson' : ''}`, { timeoutMs: 0 });
    } catch (error) {
      throw new AgentUnreachableError(client.origin, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
    }
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw new AgentHttpError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
    }
    const stop = (): void => {
      res.destroy();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    this.context.stderr.write(`Monitoring the agent at ${client.origin.replace(/^http:\/\//, '')} (log level ${level}); Ctrl-C to stop\n`);
    try {
      for await (const chunk of res) this.context.stdout.write(chunk as Buffer);
    } catch {
      // closed by Ctrl-C, or the agent went away
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return EXIT.ok;
  }
}
