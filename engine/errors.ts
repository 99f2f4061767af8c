/**
 * The kinds of expected failure. The API maps each kind to one HTTP status;
 * workflows map some of them to non-retryable failures.
 */
export type ErrorKind = 'invalid' | 'not_found' | 'conflict' | 'unauthorized' | 'forbidden' | 'too_large' | 'rate_limited' | 'unavailable';

/** A problem with one field of the input, named by its dotted path. */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * An expected domain outcome (insufficient funds, unknown id, duplicate key)
 * carried as a typed error with a snake_case code. Bugs stay untyped errors.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly kind: ErrorKind,
    message: string,
    readonly errors: readonly FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
