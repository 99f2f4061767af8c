import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from '../errors';
import { POLICY_LEASE_MARGIN_MS, POLICY_LEASE_MS, forgetAccount, knownAccount } from './account-cache';
import type { LedgerContext } from './context';
import { decodeCursorKey, encodeCursorKey } from '../cursor';
import { MAX_ABS_BALANCE, MAX_AMOUNT, MAX_NEGATIVE_DAYS, assertOwnerId, assertUnit } from './limits';
import { toAccount, toEntry } from './mapping';
import { catchUp } from './head';
import { accountKey, entryKey, type AccountDoc } from './models';
import { findAccountDoc, openAccount, openedFromFirstEntry } from './post';
import { changePolicy, withNewestPolicy } from './policy-versions';
import type { Account, AccountFilter, LedgerEntry, Page, PolicyPatch } from './types';

/** The most items one page may hold. */
export const MAX_PAGE_SIZE = 200;

function pageSize(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new DomainError('limit_invalid', 'invalid', `limit must be an integer from 1 to ${MAX_PAGE_SIZE}.`, [{ path: 'limit', message: `must be 1-${MAX_PAGE_SIZE}` }]);
  }
  return limit;
}

function accountNotFound(ownerId: string, unit: string): DomainError {
  return new DomainError('account_not_found', 'not_found', `No ${unit} account for owner "${ownerId}".`);
}

/** The account with its cache brought up to the latest entry, or null. */
export async function getAccount(context: LedgerContext, ownerId: string, unit: string): Promise<Account | null> {
  assertOwnerId(ownerId);
  assertUnit(unit);
  const [doc, layer] = await Promise.all([findAccountDoc(context, ownerId, unit), context.policyLayer(ownerId, unit)]);
  return doc ? toAccount((await catchUp(context, doc)).account, context, layer) : null;
}

/** The account's balance as of its latest entry, or null when it does not exist: getAccount without the policy (no group read). */
export async function balanceOf(context: LedgerContext, ownerId: string, unit: string): Promise<number | null> {
  assertOwnerId(ownerId);
  assertUnit(unit);
  // The balance needs no policy: the document this process knows, or one read alone (no group layer or policy version read).
  const accountId = accountKey(unit, ownerId);
  const doc = knownAccount(context, accountId) ?? (await context.models.accounts.findOne({ _id: accountId })) ?? (await openedFromFirstEntry(context, ownerId, unit));
  return doc ? (await catchUp(context, doc)).account.balance : null;
}

/** The policy an account of this owner and unit has, or would have once opened, and the layer of each value. */
export async function policyOf(context: LedgerContext, ownerId: string, unit: string): Promise<Pick<Account, 'policy' | 'policySources' | 'policyGroupId'>> {
  assertOwnerId(ownerId);
  assertUnit(unit);
  const [doc, layer] = await Promise.all([findAccountDoc(context, ownerId, unit), context.policyLayer(ownerId, unit)]);
  const { policy, policySources, policyGroupId } = toAccount(doc ?? { _id: '', ownerId, unit, balance: 0, seq: 0, negativeSince: null, minBalance: null, maxNegativeDays: null, createdAt: new Date(0), updatedAt: new Date(0) }, context, layer);
  return { policy, policySources, policyGroupId };
}

function cursorOutOfRange(): DomainError {
  return new DomainError('cursor_invalid', 'invalid', 'The cursor is not one this endpoint returned for this account.', [{ path: 'cursor', message: 'is not a position in this account\'s entries' }]);
}

const isSeqCursor = (value: Record<string, unknown>): value is { seq: number } => Number.isSafeInteger(value.seq) && (value.seq as number) > 0;

/**
 * Entries newest first. The cursor is the last seq returned; entries posted
 * meanwhile get higher seqs, so later pages neither repeat nor skip any.
 * Seqs are contiguous, so a page is a known list of `_id`s, each read by key
 * (the only indexed read on FerretDB; equally cheap on MongoDB).
 */
export async function listEntries(context: LedgerContext, ownerId: string, unit: string, page: { limit: number; cursor?: string }): Promise<Page<LedgerEntry>> {
  assertOwnerId(ownerId);
  assertUnit(unit);
  const limit = pageSize(page.limit);
  const account = await findAccountDoc(context, ownerId, unit);
  if (!account) throw accountNotFound(ownerId, unit);
  const newest = page.cursor ? decodeCursorKey(page.cursor, isSeqCursor).seq - 1 : (await catchUp(context, account)).head.seq;
  const seqs: number[] = [];
  for (let seq = newest; seq >= 1 && seqs.length < limit; seq -= 1) seqs.push(seq);
  const docs = await Promise.all(seqs.map((seq) => context.models.entries.findOne({ _id: entryKey(account._id, seq) })));
  // A cursor past the account's newest entry names no position of this account: the client's error, not a gap in the ledger.
  if (page.cursor && docs.some((doc) => !doc) && newest > (await catchUp(context, account)).head.seq) throw cursorOutOfRange();
  const items = docs.map((doc, index) => {
    if (!doc) throw new Error(`ledger entry ${entryKey(account._id, seqs[index] ?? 0)} is missing: run ledger:verify`);
    return toEntry(doc);
  });
  const oldest = seqs.at(-1);
  return { items, nextCursor: oldest !== undefined && oldest > 1 ? encodeCursorKey({ seq: oldest }) : null };
}

const isIdCursor = (value: Record<string, unknown>): value is { id: string } => typeof value.id === 'string' && value.id.length > 0;

/**
 * Accounts in key order (unit, then ownerId), filtered by owner, unit and
 * balance range. The store selects by each account's stored hint, which can
 * trail its newest entries by less than the hint interval; the page is then
 * re-checked on the exact balance, so it never holds an account outside the
 * range, but may miss one posted into it within its last few entries (a
 * page can hence be shorter than `limit` while nextCursor is set). A ledger
 * built with hintInterval 1 keeps the filter exact.
 */
export async function listAccounts(context: LedgerContext, filter: AccountFilter, page: { limit: number; cursor?: string }): Promise<Page<Account>> {
  const limit = pageSize(page.limit);
  const query: Record<string, unknown> = {};
  if (filter.ownerId !== undefined) query.ownerId = filter.ownerId;
  if (filter.unit !== undefined) query.unit = filter.unit;
  if (filter.balanceGte !== undefined || filter.balanceLte !== undefined) {
    query.balance = { ...(filter.balanceGte !== undefined ? { $gte: filter.balanceGte } : {}), ...(filter.balanceLte !== undefined ? { $lte: filter.balanceLte } : {}) };
  }
  if (page.cursor) query._id = { $gt: decodeCursorKey(page.cursor, isIdCursor).id };
  const docs = await context.models.Account.find(query).sort({ _id: 1 }).limit(limit + 1).lean<AccountDoc[]>();
  const pageDocs = docs.slice(0, limit);
  const current = await Promise.all(pageDocs.map(async (doc) => toAccount((await catchUp(context, await withNewestPolicy(context, doc))).account, context, await context.policyLayer(doc.ownerId, doc.unit))));
  // Drop accounts whose hint matched but whose exact balance does not.
  const items = current.filter((a) => (filter.balanceGte === undefined || a.balance >= filter.balanceGte) && (filter.balanceLte === undefined || a.balance <= filter.balanceLte));
  const last = pageDocs.at(-1);
  return { items, nextCursor: docs.length > limit && last ? encodeCursorKey({ id: last._id }) : null };
}

function assertPolicyPatch(patch: PolicyPatch): void {
  const { minBalance, maxNegativeDays } = patch;
  if (minBalance !== undefined && minBalance !== null && (!Number.isSafeInteger(minBalance) || Math.abs(minBalance) > MAX_ABS_BALANCE)) {
    throw new DomainError('min_balance_invalid', 'invalid', `minBalance must be an integer within +-${MAX_ABS_BALANCE}, or null for the unit default.`, [{ path: 'minBalance', message: `must be an integer within +-${MAX_ABS_BALANCE} or null` }]);
  }
  if (maxNegativeDays !== undefined && maxNegativeDays !== null && (!Number.isInteger(maxNegativeDays) || maxNegativeDays < 0 || maxNegativeDays > MAX_NEGATIVE_DAYS)) {
    throw new DomainError('max_negative_days_invalid', 'invalid', `maxNegativeDays must be an integer from 0 to ${MAX_NEGATIVE_DAYS}, or null for the unit default.`, [{ path: 'maxNegativeDays', message: `must be 0-${MAX_NEGATIVE_DAYS} or null` }]);
  }
  const { maxBalance, minCredit } = patch;
  if (maxBalance !== undefined && maxBalance !== null && (!Number.isSafeInteger(maxBalance) || Math.abs(maxBalance) > MAX_ABS_BALANCE)) {
    throw new DomainError('max_balance_invalid', 'invalid', `maxBalance must be an integer within +-${MAX_ABS_BALANCE}, or null for the group's value or the unit default.`, [{ path: 'maxBalance', message: `must be an integer within +-${MAX_ABS_BALANCE} or null` }]);
  }
  if (minCredit !== undefined && minCredit !== null && (!Number.isSafeInteger(minCredit) || minCredit < 1 || minCredit > MAX_AMOUNT)) {
    throw new DomainError('min_credit_invalid', 'invalid', `minCredit must be an integer from 1 to ${MAX_AMOUNT}, or null for the group's value or the unit default.`, [{ path: 'minCredit', message: `must be 1-${MAX_AMOUNT} or null` }]);
  }
}

/**
 * Sets an account's policy overrides (null: back to the group's value or the
 * unit default) as its next policy version (policy-versions.ts): an insert,
 * so neither a concurrent posting's hint advance nor a concurrent PATCH of
 * another field can undo it. Postings already past their policy check
 * complete under the old policy. It answers only after every process's
 * lease on the old policy has run out (up to POLICY_LEASE_MS after the
 * write), so any posting that checks its policy after this returns, in any
 * process, applies the new one.
 */
export async function setPolicy(context: LedgerContext, ownerId: string, unit: string, patch: PolicyPatch): Promise<Account> {
  assertOwnerId(ownerId);
  assertUnit(unit);
  assertPolicyPatch(patch);
  const existing = await findAccountDoc(context, ownerId, unit);
  if (!existing && !patch.createIfMissing) throw accountNotFound(ownerId, unit);
  const account = existing ?? (await openAccount(context, ownerId, unit));
  const { createIfMissing: _createIfMissing, ...change } = patch;
  await changePolicy(context, account, change);
  forgetAccount(context, account._id);
  await sleep(POLICY_LEASE_MS + POLICY_LEASE_MARGIN_MS);
  const stored = await findAccountDoc(context, ownerId, unit);
  if (!stored) throw accountNotFound(ownerId, unit);
  return toAccount((await catchUp(context, stored)).account, context, await context.policyLayer(ownerId, unit));
}
