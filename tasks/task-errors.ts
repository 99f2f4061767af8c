import type { ScriptError } from '../scripts-sandbox';

/**
 * A script that failed in the sandbox: the admin's error, final, with its
 * line and column in the admin's code and the logs it wrote.
 */
export class ScriptFailure extends Error {
  readonly code: string;
  constructor(
    readonly error: ScriptError,
    readonly logs: string[],
  ) {
    super(error.message);
    this.name = 'ScriptFailure';
    this.code = error.code;
  }
}
