/** Where a command writes, what it reads from the environment, and what stops it. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Relative file arguments are resolved against it. */
  cwd: string;
  /** Aborted on Ctrl-C: ends `runs --follow` (exit 0) and any request in flight. */
  signal?: AbortSignal;
}

/** Exit codes: 0 ok, 1 failure, 2 usage (a bad command line or missing configuration). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A failure the user can act on: printed as its message, never as a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A bad command line: exit code 2, with a pointer to the command's help. */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

/** Writes `value` as indented JSON, for `--json`. */
export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
