import { DomainError } from '../errors';
import type { Head, LedgerContext } from './context';
import { entryKey, type AccountDoc, type EntryDoc } from './models';

/** Accounts whose head this process remembers; beyond it the least recently posted is forgotten. */
const MAX_REMEMBERED_HEADS = 10_000;

/**
 * How far one probe may walk. The hint trails by less than the hint interval
 * unless other processes keep posting; a reader that cannot keep up gives up
 * with a retryable error rather than spin.
 */
const MAX_PROBE_STEPS = 1_000;

export function headOfEntry(entry: Pick<EntryDoc, 'seq' | 'balanceAfter' | 'negativeSince' | 'createdAt'>): Head {
  return { seq: entry.seq, balance: entry.balanceAfter, negativeSince: entry.negativeSince ?? null, at: entry.createdAt };
}

function headOfAccount(account: AccountDoc): Head {
  return { seq: account.seq, balance: account.balance, negativeSince: account.negativeSince ?? null, at: account.seq === 0 ? account.createdAt : account.updatedAt };
}

/**
 * Where to start: the account's stored hint or the newest head this process
 * remembers, whichever is further. Both only ever come from stored entries,
 * which are never removed, so neither can be ahead of the ledger.
 */
export function startingHead(context: LedgerContext, account: AccountDoc): Head {
  const stored = headOfAccount(account);
  const remembered = context.heads.get(account._id);
  return remembered && remembered.seq > stored.seq ? remembered : stored;
}

export function rememberHead(context: LedgerContext, accountId: string, head: Head): void {
  const known = context.heads.get(accountId);
  if (known && known.seq >= head.seq) return;
  context.heads.delete(accountId);
  context.heads.set(accountId, head);
  if (context.heads.size > MAX_REMEMBERED_HEADS) {
    const oldest = context.heads.keys().next().value;
    if (oldest !== undefined) context.heads.delete(oldest);
  }
}

/** Walks from `head` to the newest entry, one `_id` read per entry. */
export async function probeForward(context: LedgerContext, accountId: string, head: Head): Promise<Head> {
  let current = head;
  for (let step = 0; step < MAX_PROBE_STEPS; step += 1) {
    const next = await context.models.entries.findOne({ _id: entryKey(accountId, current.seq + 1) }, { projection: { seq: 1, balanceAfter: 1, negativeSince: 1, createdAt: 1 } });
    if (!next) {
      rememberHead(context, accountId, current);
      return current;
    }
    current = headOfEntry(next);
  }
  throw new DomainError('ledger_contended', 'unavailable', 'The account is changing faster than it can be read; retry.');
}

/**
 * Rewrites the account's hint to `head`. Conditional on the stored hint being
 * older, so concurrent writers can only move it forward.
 */
export async function advanceHint(context: LedgerContext, account: AccountDoc, head: Head): Promise<void> {
  if (head.seq <= account.seq) return;
  await context.models.Account.updateOne(
    { _id: account._id, seq: { $lt: head.seq } },
    { $set: { seq: head.seq, balance: head.balance, negativeSince: head.negativeSince, updatedAt: head.at } },
  );
}

/** The newest head of the account, fixing a hint that trails it (what every reader does first). */
export async function catchUp(context: LedgerContext, account: AccountDoc): Promise<{ account: AccountDoc; head: Head }> {
  const head = await probeForward(context, account._id, startingHead(context, account));
  await advanceHint(context, account, head);
  const updatedAt = head.at > account.updatedAt ? head.at : account.updatedAt;
  return { account: { ...account, seq: head.seq, balance: head.balance, negativeSince: head.negativeSince, updatedAt }, head };
}
