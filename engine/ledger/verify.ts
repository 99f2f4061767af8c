import type { LedgerContext } from './context';
import { advanceHint, headOfEntry } from './head';
import { backfillKeyClaims } from './key-claims';
import { signedAmount } from './mapping';
import { accountKey, entryKey, type AccountDoc, type EntryDoc } from './models';
import { findAccountDoc } from './post';
import type { TransferProblem, VerifyProblem, VerifyReport } from './types';
import { verifyTransfers } from './verify-transfers';

/** Problems listed per account before the rest are summarised, so one corrupt account cannot flood the report. */
const MAX_PROBLEMS_PER_ACCOUNT = 20;

/** Entries read at once (each by `_id`) while walking an account. */
const WALK_BATCH = 100;

/** Checks one entry against the state the entries before it left. */
function checkEntry(account: AccountDoc, entry: EntryDoc, seq: number, balanceBefore: number): string[] {
  const problems: string[] = [];
  if (entry.seq !== seq || entry.accountId !== account._id) problems.push(`seq ${seq}: stored as seq ${entry.seq} of ${entry.accountId}`);
  if (!Number.isSafeInteger(entry.amount) || entry.amount <= 0) problems.push(`seq ${seq}: amount ${entry.amount} is not a positive integer`);
  if (entry.direction !== 'credit' && entry.direction !== 'debit') problems.push(`seq ${seq}: direction "${String(entry.direction)}" is unknown`);
  const expected = balanceBefore + signedAmount(entry);
  if (entry.balanceAfter !== expected) problems.push(`seq ${seq}: balanceAfter ${entry.balanceAfter}, but ${balanceBefore} ${entry.direction} ${entry.amount} gives ${expected}`);
  if ((entry.balanceAfter < 0) !== (entry.negativeSince !== null && entry.negativeSince !== undefined)) problems.push(`seq ${seq}: negativeSince does not match balanceAfter ${entry.balanceAfter}`);
  if (entry.ownerId !== account.ownerId || entry.unit !== account.unit) problems.push(`seq ${seq}: belongs to ${entry.ownerId}/${entry.unit}`);
  return problems;
}

interface AccountWalk { problems: string[]; entries: number; repaired: boolean }

/**
 * Walks one account's entries from seq 1 until the first missing seq: the
 * balanceAfter chain must hold, the balance must equal the sum of the
 * entries, and the stored hint must match the entry it names. A hint that
 * trails (postings since, or one stopped mid-way) is advanced, not reported.
 */
export async function verifyAccount(context: LedgerContext, account: AccountDoc): Promise<AccountWalk> {
  const problems: string[] = [];
  let sumOfEntries = 0;
  let previousBalance = 0;
  let last: EntryDoc | undefined;
  let hintEntry: EntryDoc | undefined;
  for (let from = 1, size = 0; ; from += size) {
    // Size the read to what the hint promises (it trails by a few), plus room to find the end.
    size = Math.min(WALK_BATCH, Math.max(8, account.seq - from + 9));
    const seqs = Array.from({ length: size }, (_, i) => from + i);
    const docs = await Promise.all(seqs.map((seq) => context.models.entries.findOne({ _id: entryKey(account._id, seq) })));
    const missing = docs.findIndex((doc) => doc === null);
    const present = (missing === -1 ? docs : docs.slice(0, missing)) as EntryDoc[];
    present.forEach((entry, index) => {
      const seq = from + index;
      problems.push(...checkEntry(account, entry, seq, previousBalance));
      sumOfEntries += signedAmount(entry);
      // The chain continues from the stored balanceAfter, so one bad entry is reported once, not on every later one.
      previousBalance = entry.balanceAfter;
      if (seq === account.seq) hintEntry = entry;
    });
    last = present.at(-1) ?? last;
    if (missing !== -1) {
      const after = docs.slice(missing).findIndex((doc) => doc !== null);
      if (after !== -1) problems.push(`seq ${from + missing} is missing but seq ${from + missing + after} exists`);
      break;
    }
  }
  const seq = last?.seq ?? 0;
  const balance = last?.balanceAfter ?? 0;
  if (balance !== sumOfEntries) problems.push(`balance ${balance} differs from the sum of its entries ${sumOfEntries}`);
  if (account.seq > seq) problems.push(`stored hint names seq ${account.seq}, past the newest entry ${seq}`);
  else if (account.seq > 0 && hintEntry && hintEntry.balanceAfter !== account.balance) problems.push(`stored balance ${account.balance} differs from entry ${account.seq}'s balanceAfter ${hintEntry.balanceAfter}`);
  else if (account.seq === 0 && account.balance !== 0) problems.push(`stored balance ${account.balance} before any entry`);
  if (problems.length > MAX_PROBLEMS_PER_ACCOUNT) problems.splice(MAX_PROBLEMS_PER_ACCOUNT, Infinity, `... and ${problems.length - MAX_PROBLEMS_PER_ACCOUNT} more`);
  const repaired = problems.length === 0 && last !== undefined && seq > account.seq;
  if (repaired && last) await advanceHint(context, account, headOfEntry(last));
  // The walk stops at the first missing seq, so it read exactly `seq` entries.
  return { problems, entries: seq, repaired };
}

/** An entry as the stray pass reads it. */
type StrayEntry = Pick<EntryDoc, '_id' | 'accountId' | 'seq' | 'ownerId' | 'unit'>;

/**
 * Entries no account walk reached, per account id. Found with one pass over
 * all entries, run only when the total count says there are some.
 */
async function unreachedEntries(context: LedgerContext, reached: Map<string, number>): Promise<Map<string, StrayEntry[]>> {
  const strays = new Map<string, StrayEntry[]>();
  const cursor = context.models.Entry.find({}, { accountId: 1, seq: 1, ownerId: 1, unit: 1 }).lean<StrayEntry[]>().cursor();
  for await (const entry of cursor as AsyncIterable<StrayEntry>) {
    const newest = reached.get(entry.accountId);
    if (newest !== undefined && entry.seq <= newest) continue;
    strays.set(entry.accountId, [...(strays.get(entry.accountId) ?? []), entry]);
  }
  return strays;
}

function strayProblem(accountId: string, entries: StrayEntry[], newest: number | undefined): VerifyProblem {
  const [unit = '', ...owner] = accountId.split(':');
  const problems = entries.map((entry) => (newest === undefined ? `entry ${entry._id} has no account` : `entry ${entry._id} lies past the gap after seq ${newest}`));
  return { accountId, ownerId: owner.join(':'), unit, problems: problems.slice(0, MAX_PROBLEMS_PER_ACCOUNT) };
}

/**
 * Verifies every account, one at a time, then looks for entries outside
 * every account's walk. An account whose first entry is stored but whose
 * document is not (its first posting stopped between the two writes) is
 * opened from that entry and verified like the others; any other such entry
 * (beyond a gap, or with no entry 1) is reported. Last, every transfer's
 * entries must pair up (verify-transfers.ts), and every debit's key must
 * be claimed (key-claims.ts; a missing claim is put back and counted).
 */
export async function verifyLedger(context: LedgerContext, onBroken?: (problem: VerifyProblem) => void, onBrokenTransfer?: (problem: TransferProblem) => void): Promise<VerifyReport> {
  const report: VerifyReport = { accountsChecked: 0, entriesChecked: 0, transfersChecked: 0, accountsRepaired: 0, keyClaimsRepaired: 0, broken: [], brokenTransfers: [] };
  const reached = new Map<string, number>();
  const check = async (account: AccountDoc, repaired: boolean) => {
    const result = await verifyAccount(context, account);
    reached.set(account._id, result.entries);
    report.accountsChecked += 1;
    report.entriesChecked += result.entries;
    if (result.repaired || repaired) report.accountsRepaired += 1;
    if (result.problems.length > 0) broken({ accountId: account._id, ownerId: account.ownerId, unit: account.unit, problems: result.problems });
  };
  const broken = (problem: VerifyProblem) => {
    report.broken.push(problem);
    onBroken?.(problem);
  };
  const cursor = context.models.Account.find({}).sort({ _id: 1 }).lean<AccountDoc[]>().cursor();
  for await (const account of cursor as AsyncIterable<AccountDoc>) await check(account, false);
  const total = await context.models.Entry.countDocuments({});
  if (total !== report.entriesChecked) {
    for (const [accountId, entries] of await unreachedEntries(context, reached)) {
      const [sample] = entries as [StrayEntry];
      const own = !reached.has(accountId) && accountKey(sample.unit, sample.ownerId) === accountId;
      const opened = own ? await findAccountDoc(context, sample.ownerId, sample.unit) : null;
      if (opened) await check(opened, true);
      const newest = reached.get(accountId);
      const left = entries.filter((entry) => newest === undefined || entry.seq > newest);
      if (left.length > 0) broken(strayProblem(accountId, left, newest));
    }
  }
  report.keyClaimsRepaired = await backfillKeyClaims(context);
  report.transfersChecked = await verifyTransfers(context, (problem) => {
    report.brokenTransfers.push(problem);
    onBrokenTransfer?.(problem);
  });
  return report;
}
