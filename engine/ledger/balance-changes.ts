import { DomainError } from '../errors';
import type { LedgerContext } from './context';
import { toBalanceChange } from './mapping';
import type { EntryDoc } from './models';
import type { BalanceChange } from './types';

/** The most balance changes one read hands over. */
export const MAX_BALANCE_CHANGES_PER_READ = 500;

/**
 * `account.balance_changed` records not yet marked delivered, oldest first;
 * within one read, one account's changes come in `seq` order. Each entry is its own record (it is written in the same insert that
 * commits the posting), so no posting can commit without its change being
 * stored, and storing it costs no extra write. Consumers process each change
 * (per account, in `seq` order) and then call markBalanceChangesDelivered; a
 * crash in between hands the same changes over again (at-least-once), so
 * consumers dedupe on `entryId`.
 */
export async function listUndeliveredBalanceChanges(context: LedgerContext, limit: number): Promise<BalanceChange[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BALANCE_CHANGES_PER_READ) {
    throw new DomainError('limit_invalid', 'invalid', `limit must be an integer from 1 to ${MAX_BALANCE_CHANGES_PER_READ}.`);
  }
  const docs = await context.models.Entry.find({ deliveredAt: null }).sort({ createdAt: 1 }).limit(limit).lean<EntryDoc[]>();
  // Clocks of several processes may disagree by a little; group by account
  // (in order of first appearance) and order each account's changes by seq.
  const firstSeen = new Map<string, number>();
  docs.forEach((doc, index) => {
    if (!firstSeen.has(doc.accountId)) firstSeen.set(doc.accountId, index);
  });
  const rank = (doc: EntryDoc) => firstSeen.get(doc.accountId) ?? 0;
  return docs.sort((a, b) => rank(a) - rank(b) || a.seq - b.seq).map(toBalanceChange);
}

/** Marks the changes handed over; ids already marked are left as they are. Returns how many were newly marked. */
export async function markBalanceChangesDelivered(context: LedgerContext, entryIds: readonly string[]): Promise<number> {
  if (entryIds.length === 0) return 0;
  if (entryIds.length > MAX_BALANCE_CHANGES_PER_READ) {
    throw new DomainError('limit_invalid', 'invalid', `At most ${MAX_BALANCE_CHANGES_PER_READ} entries per call.`);
  }
  const ids = [...entryIds];
  const result = await context.models.Entry.updateMany({ _id: { $in: ids }, deliveredAt: null }, { $set: { deliveredAt: context.clock() } });
  return result.modifiedCount;
}
