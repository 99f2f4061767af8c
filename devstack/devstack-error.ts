/**
 * A failure the user can act on (a missing tool, a busy port, a bad env
 * value). The CLI prints its message as one line and exits 1, without a
 * stack trace; any other error is a bug in the dev stack and keeps its stack.
 */
export class DevstackError extends Error {
  override readonly name = 'DevstackError';

  constructor(
    readonly code: DevstackErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type DevstackErrorCode =
  | 'invalid_env'
  | 'port_in_use'
  | 'tool_missing'
  | 'tool_install_failed'
  | 'service_not_ready'
  | 'service_exited'
  | 'usage';
