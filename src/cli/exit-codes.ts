// Exit codes every konsul command uses, so scripts can tell failures apart.

export const EXIT = {
  /** It worked. */
  ok: 0,
  /** The operation failed, or what was asked for does not exist (a missing key, a failed cas). */
  failed: 1,
  /** The command line is wrong: unknown flag, missing argument, bad value. */
  usage: 2,
  /** The agent could not be reached. */
  unreachable: 3,
} as const;
