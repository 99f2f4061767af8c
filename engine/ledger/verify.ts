import type { LedgerContext } from './context';
import { signedAmount } from './mapping';
import type { AccountDoc, EntryDoc } from './models';
import { catchUp } from './repair';
import type { VerifyProblem, VerifyReport } from './types';

/** Problems listed per account before the rest are summarised, so one corrupt account cannot flood the report. */
const MAX_PROBLEMS_PER_ACCOUNT = 20;

/** Checks one entry against the state the entries before it left. */
function checkEntry(account: AccountDoc, entry: EntryDoc, expectedSeq: number, balanceBefore: number): string[] {
  const problems: string[] = [];
  if (entry.seq !== expectedSeq) problems.push(`seq ${expectedSeq} missing: found seq ${entry.seq} next`);
  if (!Number.isSafeInteger(entry.amount) || entry.amount <= 0) problems.push(`seq ${entry.seq}: amount ${entry.amount} is not a positive integer`);
  if (entry.direction !== 'credit' && entry.direction !== 'debit') problems.push(`seq ${entry.seq}: direction "${String(entry.direction)}" is unknown`);
  const expected = balanceBefore + signedAmount(entry);
  if (entry.balanceAfter !== expected) problems.push(`seq ${entry.seq}: balanceAfter ${entry.balanceAfter}, but ${balanceBefore} ${entry.direction} ${entry.amount} gives ${expected}`);
  if ((entry.balanceAfter < 0) !== (entry.negativeSince !== null && entry.negativeSince !== undefined)) problems.push(`seq ${entry.seq}: negativeSince does not match balanceAfter ${entry.balanceAfter}`);
  if (entry.ownerId !== account.ownerId || entry.unit !== account.unit) problems.push(`seq ${entry.seq}: belongs to ${entry.ownerId}/${entry.unit}`);
  return problems;
}

/** Verifies one account: contiguous seqs from 1, a consistent balanceAfter chain, and a cache equal to the sum. */
export async function verifyAccount(context: LedgerContext, stored: AccountDoc): Promise<{ problems: string[]; entries: number; repaired: boolean }> {
  const account = await catchUp(context, stored);
  const problems: string[] = [];
  let seq = 0;
  let sumOfEntries = 0;
  let previousBalance = 0;
  let entries = 0;
  const cursor = context.models.Entry.find({ accountId: account._id }).sort({ seq: 1 }).lean<EntryDoc[]>().cursor();
  for await (const entry of cursor as AsyncIterable<EntryDoc>) {
    entries += 1;
    problems.push(...checkEntry(account, entry, seq + 1, previousBalance));
    seq = entry.seq;
    sumOfEntries += signedAmount(entry);
    // The chain continues from the stored balanceAfter, so one bad entry is reported once, not on every later one.
    previousBalance = entry.balanceAfter;
  }
  if (account.balance !== sumOfEntries) problems.push(`balance ${account.balance} differs from the sum of its entries ${sumOfEntries}`);
  if (account.seq !== seq) problems.push(`account seq ${account.seq} differs from its latest entry's seq ${seq}`);
  if (problems.length > MAX_PROBLEMS_PER_ACCOUNT) problems.splice(MAX_PROBLEMS_PER_ACCOUNT, Infinity, `... and ${problems.length - MAX_PROBLEMS_PER_ACCOUNT} more`);
  return { problems, entries, repaired: account.seq !== stored.seq };
}

/**
 * Verifies every account, one at a time (memory stays flat however large the
 * ledger). Lag of one entry, left by a posting that stopped mid-way, is
 * repaired first and counted, not reported: it is the designed crash state.
 */
export async function verifyLedger(context: LedgerContext, onBroken?: (problem: VerifyProblem) => void): Promise<VerifyReport> {
  const report: VerifyReport = { accountsChecked: 0, entriesChecked: 0, accountsRepaired: 0, broken: [] };
  const cursor = context.models.Account.find({}).sort({ _id: 1 }).lean<AccountDoc[]>().cursor();
  for await (const account of cursor as AsyncIterable<AccountDoc>) {
    const result = await verifyAccount(context, account);
    report.accountsChecked += 1;
    report.entriesChecked += result.entries;
    if (result.repaired) report.accountsRepaired += 1;
    if (result.problems.length > 0) {
      const broken = { accountId: account._id.toHexString(), ownerId: account.ownerId, unit: account.unit, problems: result.problems };
      report.broken.push(broken);
      onBroken?.(broken);
    }
  }
  return report;
}
