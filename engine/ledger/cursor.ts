import { DomainError } from '../errors';

/**
 * Opaque page cursors: base64url JSON of the last item's sort key. Callers
 * must treat them as strings; a cursor that does not decode is a 422.
 */
export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

export function decodeCursor<T extends Record<string, string | number>>(cursor: string, isValid: (value: Record<string, unknown>) => value is T): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || !isValid(value as Record<string, unknown>)) {
    throw new DomainError('cursor_invalid', 'invalid', 'The cursor is not one this endpoint returned.', [{ path: 'cursor', message: 'is not a cursor from this endpoint' }]);
  }
  return value as T;
}
