/**
 * Balance marks: the outbox of `account.balance_changed`. This module owns
 * the ledger's half of the mechanism (the pump in engine/events owns the
 * other); see README ("Balance changes") for why it is safe.
 *
 * A mark names one slot (account, seq) that may hold an entry whose change
 * has not been handed over yet. A poster inserts its own mark (`_id` with an
 * attempt id of its own) before it inserts the entry at that slot, so every
 * entry has had a mark first; the consumer reads the marks (a small
 * collection: only slots not yet handed over), reads each slot's entry by
 * `_id`, hands it over, and deletes the marks. Nothing is ever updated.
 */
import { randomBytes } from 'node:crypto';
import type { LedgerContext } from './context';
import { toEntry } from './mapping';
import { entryKey, markKey } from './models';
import type { LedgerEntry } from './types';

/** The most marks one read hands over; the consumer pages through the rest. */
export const MAX_BALANCE_MARKS_PER_READ = 500;

/** A mark as the consumer sees it: the slot, and the entry id that resolves it. */
export interface BalanceMark {
  id: string;
  accountId: string;
  seq: number;
  entryId: string;
}

/**
 * Inserts this attempt's mark for the slot the posting is about to take.
 * Must complete before the entry insert is sent: that order is what makes
 * every entry visible to the consumer, even when the process dies right
 * after the entry. Grouped with concurrent postings' marks.
 */
export async function placeMark(context: LedgerContext, accountId: string, seq: number): Promise<string> {
  const _id = markKey(accountId, seq, randomBytes(6).toString('hex'));
  await context.markWriter.insert({ _id, accountId, seq, createdAt: context.clock() });
  return _id;
}

/**
 * The mark for the slot this posting is about to take: the one placed
 * ahead for it, if it was stored, else a new one. A mark placed ahead for
 * an earlier slot is forgotten: that slot has an entry now, which resolves it.
 */
export async function markFor(context: LedgerContext, accountId: string, seq: number): Promise<string> {
  const ahead = context.marksAhead.get(accountId);
  if (ahead && ahead.seq <= seq) {
    context.marksAhead.delete(accountId);
    const id = ahead.seq === seq ? await ahead.placed : null;
    if (id) return id;
  }
  return placeMark(context, accountId, seq);
}

/**
 * Places the mark for the slot after this posting's, beside its entry
 * insert rather than after it: called while another posting of this
 * process waits for the account, which will almost surely take that slot.
 * A hot account's postings then cost one round trip each, not two.
 */
export function placeMarkAhead(context: LedgerContext, accountId: string, seq: number): void {
  if (context.marksAhead.has(accountId)) return;
  context.marksAhead.set(accountId, { seq, placed: placeMark(context, accountId, seq).catch(() => null) });
}

/**
 * Drops the mark placed ahead that no posting took (the last queued one
 * was refused or replayed), once this process has no posting left for the
 * account: its slot may never be taken, and a mark left there would cost a
 * read per poll.
 */
export function dropMarkAhead(context: LedgerContext, accountId: string): void {
  const ahead = context.marksAhead.get(accountId);
  if (!ahead) return;
  context.marksAhead.delete(accountId);
  void ahead.placed.then((id) => (id ? dropMark(context, id) : undefined));
}

/**
 * Deletes this attempt's mark once the store has said its entry was not
 * inserted and no other entry holds the slot (the idempotency key was
 * taken). Best effort: a mark left behind costs the consumer one `_id` read
 * per poll until a later posting takes the slot. Another poster racing for
 * the same slot has a mark of its own, so this never uncovers an entry.
 */
export async function dropMark(context: LedgerContext, markId: string): Promise<void> {
  await context.models.marks.deleteOne({ _id: markId }).catch(() => undefined);
}

/**
 * Marks in `_id` order after `after` (null: from the start), at most `limit`
 * (1-500). Within one account they come in seq order. The collection holds
 * only slots not yet handed over, so this stays small unless the consumer is
 * down; paging by `_id` lets a consumer reach every mark however many there are.
 */
export async function readMarks(context: LedgerContext, after: string | null, limit: number): Promise<BalanceMark[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BALANCE_MARKS_PER_READ) throw new Error(`limit must be 1-${MAX_BALANCE_MARKS_PER_READ}, got ${limit}`);
  const docs = await context.models.marks.find(after === null ? {} : { _id: { $gt: after } }).sort({ _id: 1 }).limit(limit).toArray();
  return docs.map((doc) => ({ id: doc._id, accountId: doc.accountId, seq: doc.seq, entryId: entryKey(doc.accountId, doc.seq) }));
}

/** The entry at a slot, read by `_id` (the one read FerretDB answers from an index), or null while the slot is empty. */
export async function entryAtSlot(context: LedgerContext, entryId: string): Promise<LedgerEntry | null> {
  const doc = await context.models.entries.findOne({ _id: entryId });
  return doc ? toEntry(doc) : null;
}

/** Deletes marks whose slots have been handed over; ids already gone are ignored. */
export async function clearMarks(context: LedgerContext, markIds: readonly string[]): Promise<void> {
  if (markIds.length === 0) return;
  if (markIds.length > MAX_BALANCE_MARKS_PER_READ) throw new Error(`at most ${MAX_BALANCE_MARKS_PER_READ} marks per call, got ${markIds.length}`);
  // A filter on the marks alone: a scan of that small collection on FerretDB, never of the entries.
  await context.models.marks.deleteMany({ _id: { $in: [...markIds] } });
}
