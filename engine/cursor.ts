import { DomainError } from './errors';

/** Position after the last item of a page: its sort time and id (ties broken by id). */
export interface CursorPosition {
  at: Date;
  id: string;
}

/** Opaque to clients: base64url of JSON, so the format can change without breaking them. */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify({ t: position.at.toISOString(), i: position.id })).toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const { t, i } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { t?: unknown; i?: unknown };
    const at = new Date(String(t));
    if (typeof i !== 'string' || Number.isNaN(at.getTime())) throw new Error('bad cursor');
    return { at, id: i };
  } catch {
    throw new DomainError('cursor_invalid', 'invalid', 'The cursor is not one this API returned.', [{ path: 'cursor', message: 'not a cursor from a previous page' }]);
  }
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
