import { DomainError } from './errors';

/** Position after the last item of a page: its sort time and id (ties broken by id). */
export interface CursorPosition {
  at: Date;
  id: string;
}

type CursorKey = Record<string, string | number>;

/**
 * Opaque to clients: base64url of the JSON sort key of the last item, so
 * the format can change without breaking them. Every list endpoint's cursor
 * goes through this pair.
 */
export function encodeCursorKey(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Decodes a cursor and checks its shape; anything else is `cursor_invalid` (400) naming `cursor`. */
export function decodeCursorKey<T extends CursorKey>(cursor: string, isValid: (value: Record<string, unknown>) => value is T): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || !isValid(value as Record<string, unknown>)) {
    throw new DomainError('cursor_invalid', 'invalid', 'The cursor is not one this endpoint returned.', [{ path: 'cursor', message: 'is not a cursor from a previous page of this endpoint' }]);
  }
  return value as T;
}

function isTimeIdKey(value: Record<string, unknown>): value is { t: string; i: string } {
  return typeof value.t === 'string' && typeof value.i === 'string' && !Number.isNaN(new Date(value.t).getTime());
}

export function encodeCursor(position: CursorPosition): string {
  return encodeCursorKey({ t: position.at.toISOString(), i: position.id });
}

export function decodeCursor(cursor: string): CursorPosition {
  const { t, i } = decodeCursorKey(cursor, isTimeIdKey);
  return { at: new Date(t), id: i };
}

/**
 * The filter for "older than the cursor" under a newest-first sort on
 * (timeField desc, _id desc): stable while new items arrive at the top.
 */
export function olderThan(cursor: string | undefined, timeField: string): Record<string, unknown> {
  if (!cursor) return {};
  const { at, id } = decodeCursor(cursor);
  return { $or: [{ [timeField]: { $lt: at } }, { [timeField]: at, _id: { $lt: id } }] };
}

/** Cuts one extra item off a fetched page and turns the last kept item into the next cursor. */
export function pageOf<T>(docs: T[], limit: number, position: (doc: T) => CursorPosition): { items: T[]; nextCursor: string | null } {
  const items = docs.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: docs.length > limit && last ? encodeCursor(position(last)) : null };
}
