import { DomainError } from '../errors';
import type { LedgerContext } from './context';
import type { AccountDoc, EntryDoc } from './models';

/**
 * How many entries one catch-up may apply. A stopped posting leaves the cache
 * one entry behind; more steps only happen while others keep posting, and a
 * reader that cannot keep up gives up rather than spin.
 */
const MAX_CATCH_UP_STEPS = 64;

type CacheFields = Pick<EntryDoc, 'seq' | 'balanceAfter' | 'negativeSince' | 'createdAt'>;

/**
 * Moves the account cache from `account.seq` to the entry that follows it,
 * with a conditional update so two repairers (or a repairer and the original
 * poster) cannot both apply it, and the cache never moves backwards. Returns
 * the advanced account, or null when someone else moved the cache first.
 */
export async function advanceTo(context: LedgerContext, account: AccountDoc, entry: CacheFields): Promise<AccountDoc | null> {
  const update = { seq: entry.seq, balance: entry.balanceAfter, negativeSince: entry.negativeSince ?? null, updatedAt: entry.createdAt };
  const result = await context.models.Account.updateOne({ _id: account._id, seq: account.seq }, { $set: update });
  return result.matchedCount === 1 ? { ...account, ...update } : null;
}

async function reload(context: LedgerContext, account: AccountDoc): Promise<AccountDoc> {
  const fresh = await context.models.Account.findById(account._id).lean<AccountDoc>();
  if (!fresh) throw new Error(`ledger account ${account._id.toHexString()} vanished`);
  return fresh;
}

/**
 * Brings the account cache up to its latest entry: while an entry with
 * seq + 1 exists, advance to it. Afterwards `balance` and `seq` equal the
 * newest entry's (as of the last probe).
 */
export async function catchUp(context: LedgerContext, account: AccountDoc): Promise<AccountDoc> {
  let current = account;
  for (let step = 0; step < MAX_CATCH_UP_STEPS; step += 1) {
    const next = await context.models.Entry.findOne({ accountId: current._id, seq: current.seq + 1 }, { seq: 1, balanceAfter: 1, negativeSince: 1, createdAt: 1 }).lean<EntryDoc>();
    if (!next) return current;
    // When someone else moved the cache first, their value is at least as new as ours.
    current = (await advanceTo(context, current, next)) ?? (await reload(context, current));
  }
  throw new DomainError('ledger_contended', 'unavailable', 'The account is changing faster than it can be read; retry.');
}

/**
 * After losing the race for seq + 1: re-read the account, and when its cache
 * has not moved (the winner has not advanced it yet, or stopped before it
 * could), apply the winner's entry ourselves.
 */
export async function refresh(context: LedgerContext, account: AccountDoc): Promise<AccountDoc> {
  const fresh = await reload(context, account);
  return fresh.seq > account.seq ? fresh : catchUp(context, fresh);
}
