// The exit codes every konsul command uses, so a script can tell a missing key
// from a typo from an agent that is not running.

export const EXIT = {
  /** It worked. */
  ok: 0,
  /** The operation failed, or what was asked for does not exist (a missing key, a failed cas, no leader). */
  failed: 1,
  /** The command line is wrong: unknown command or flag, missing argument, bad value. */
  usage: 2,
  /** The agent could not be reached at the HTTP address (--http-addr, KONSUL_HTTP_ADDR, 127.0.0.1:8500). */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
