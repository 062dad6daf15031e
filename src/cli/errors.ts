// Errors the CLI turns into one `Error: ...` line and an exit code: a failed
// operation, an agent's non-2xx answer, an agent that cannot be reached.

import { KonsulError } from '../errors.js';
import { EXIT } from './exit-codes.js';

/** A failure to report as one line on stderr with `exitCode`. Not an HTTP error: httpStatus is 0. */
export class CliError extends KonsulError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed, code = 'KONSUL_ERR_CLI') {
    super(code, message, 'internal');
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The agent answered with a status outside 2xx; `body` is its text (konsul and Consul answer errors as text/plain). */
export class AgentHttpError extends CliError {
  readonly status: number;
  readonly body: string;
  constructor(status: number, body: string) {
    const firstLine = body.trim().split('\n')[0]?.trim() ?? '';
    super(`${firstLine || 'the agent gave no reason'} (HTTP ${status})`, EXIT.failed, 'KONSUL_ERR_CLI_HTTP');
    this.name = 'AgentHttpError';
    this.status = status;
    this.body = body;
  }
}

/** No connection to the agent: nothing listens there, the host is unknown, or it went away mid-request. */
export class AgentUnreachableError extends CliError {
  readonly origin: string;
  constructor(origin: string, reason: string) {
    super(
      `no konsul agent at ${origin.replace(/^http:\/\//, '')}: is \`konsul agent\` running? (${reason}; set --http-addr or KONSUL_HTTP_ADDR)`,
      EXIT.unreachable,
      'KONSUL_ERR_CLI_UNREACHABLE',
    );
    this.name = 'AgentUnreachableError';
    this.origin = origin;
  }
}
