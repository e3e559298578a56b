/** Exit codes (documented in the README). */
export const EXIT = {
  ok: 0,
  /** A known failure: one line on stderr. */
  failure: 1,
  /** Wrong usage (unknown flag, missing argument): the usage on stderr. */
  usage: 2,
  /** `deployment follow` / `deploy --follow`: the deployment was rolled back. */
  rolledBack: 3,
  /**
   * Refused because something changed since it was read: a stale promotion or change set, a
   * version conflict (409 `stale` / `version_conflict`). Look again, then retry.
   */
  conflict: 4,
  /** `import` / `promote` refused keys that do not fit (each named, with its line): nothing written. */
  invalid: 5,
  /** `watch` or `follow` ended by Ctrl-C. */
  interrupted: 130,
} as const;

/** A failure the user can act on: printed as one line (and any detail lines), exit 1 or `exit`. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exit: number = EXIT.failure,
    /** More lines for stderr: each conflicting key, each refused line of a file. */
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

/** Wrong usage: printed with the command's usage, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The service answered with an error: its problem+json detail makes the line. */
export class ApiError extends CliError {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly problem: Record<string, unknown> | undefined,
    exit: number = EXIT.failure,
    details: string[] = [],
  ) {
    super(message, exit, details);
  }
}
