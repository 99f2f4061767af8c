import { Types } from 'mongoose';
import { DomainError } from '../errors';
import type { LedgerContext } from './context';
import { decodeCursor, encodeCursor } from './cursor';
import { MAX_ABS_BALANCE, MAX_NEGATIVE_DAYS, assertOwnerId, assertUnit } from './limits';
import { toAccount, toEntry } from './mapping';
import type { AccountDoc, EntryDoc } from './models';
import { findAccountDoc, openAccount } from './post';
import { catchUp } from './repair';
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
  const doc = await findAccountDoc(context, ownerId, unit);
  return doc ? toAccount(await catchUp(context, doc), context) : null;
}

const isSeqCursor = (value: Record<string, unknown>): value is { seq: number } => Number.isSafeInteger(value.seq) && (value.seq as number) > 0;

/**
 * Entries newest first. The cursor is the last seq returned; entries posted
 * meanwhile get higher seqs, so later pages neither repeat nor skip any.
 */
export async function listEntries(context: LedgerContext, ownerId: string, unit: string, page: { limit: number; cursor?: string }): Promise<Page<LedgerEntry>> {
  assertOwnerId(ownerId);
  assertUnit(unit);
  const limit = pageSize(page.limit);
  const account = await findAccountDoc(context, ownerId, unit);
  if (!account) throw accountNotFound(ownerId, unit);
  const before = page.cursor ? decodeCursor(page.cursor, isSeqCursor).seq : undefined;
  const filter = before === undefined ? { accountId: account._id } : { accountId: account._id, seq: { $lt: before } };
  const docs = await context.models.Entry.find(filter).sort({ seq: -1 }).limit(limit + 1).lean<EntryDoc[]>();
  const items = docs.slice(0, limit).map(toEntry);
  const last = items.at(-1);
  return { items, nextCursor: docs.length > limit && last ? encodeCursor({ seq: last.seq }) : null };
}

const isIdCursor = (value: Record<string, unknown>): value is { id: string } => typeof value.id === 'string' && Types.ObjectId.isValid(value.id);

/**
 * Accounts newest first, filtered by owner, unit and balance range. The
 * balance filter reads the account cache, which a posting that stopped
 * mid-way can leave one entry behind until the next read repairs it; the
 * returned accounts themselves are repaired.
 */
export async function listAccounts(context: LedgerContext, filter: AccountFilter, page: { limit: number; cursor?: string }): Promise<Page<Account>> {
  const limit = pageSize(page.limit);
  const query: Record<string, unknown> = {};
  if (filter.ownerId !== undefined) query.ownerId = filter.ownerId;
  if (filter.unit !== undefined) query.unit = filter.unit;
  if (filter.balanceGte !== undefined || filter.balanceLte !== undefined) {
    query.balance = { ...(filter.balanceGte !== undefined ? { $gte: filter.balanceGte } : {}), ...(filter.balanceLte !== undefined ? { $lte: filter.balanceLte } : {}) };
  }
  if (page.cursor) query._id = { $lt: new Types.ObjectId(decodeCursor(page.cursor, isIdCursor).id) };
  const docs = await context.models.Account.find(query).sort({ _id: -1 }).limit(limit + 1).lean<AccountDoc[]>();
  const pageDocs = docs.slice(0, limit);
  const items = await Promise.all(pageDocs.map(async (doc) => toAccount(await catchUp(context, doc), context)));
  const last = pageDocs.at(-1);
  return { items, nextCursor: docs.length > limit && last ? encodeCursor({ id: last._id.toHexString() }) : null };
}

function assertPolicyPatch(patch: PolicyPatch): void {
  const { minBalance, maxNegativeDays } = patch;
  if (minBalance !== undefined && minBalance !== null && (!Number.isSafeInteger(minBalance) || Math.abs(minBalance) > MAX_ABS_BALANCE)) {
    throw new DomainError('min_balance_invalid', 'invalid', `minBalance must be an integer within +-${MAX_ABS_BALANCE}, or null for the unit default.`, [{ path: 'minBalance', message: `must be an integer within +-${MAX_ABS_BALANCE} or null` }]);
  }
  if (maxNegativeDays !== undefined && maxNegativeDays !== null && (!Number.isInteger(maxNegativeDays) || maxNegativeDays < 0 || maxNegativeDays > MAX_NEGATIVE_DAYS)) {
    throw new DomainError('max_negative_days_invalid', 'invalid', `maxNegativeDays must be an integer from 0 to ${MAX_NEGATIVE_DAYS}, or null for the unit default.`, [{ path: 'maxNegativeDays', message: `must be 0-${MAX_NEGATIVE_DAYS} or null` }]);
  }
}

/**
 * Sets an account's policy overrides (null: back to the unit default). Only
 * policy fields are written, so it cannot undo a concurrent posting; postings
 * already past their policy check complete under the old policy.
 */
export async function setPolicy(context: LedgerContext, ownerId: string, unit: string, patch: PolicyPatch): Promise<Account> {
  assertOwnerId(ownerId);
  assertUnit(unit);
  assertPolicyPatch(patch);
  const existing = await findAccountDoc(context, ownerId, unit);
  if (!existing && !patch.createIfMissing) throw accountNotFound(ownerId, unit);
  const account = existing ?? (await openAccount(context, ownerId, unit));
  const set: Record<string, unknown> = { updatedAt: context.clock() };
  if (patch.minBalance !== undefined) set.minBalance = patch.minBalance;
  if (patch.maxNegativeDays !== undefined) set.maxNegativeDays = patch.maxNegativeDays;
  await context.models.Account.updateOne({ _id: account._id }, { $set: set });
  const updated = await findAccountDoc(context, ownerId, unit);
  if (!updated) throw accountNotFound(ownerId, unit);
  return toAccount(await catchUp(context, updated), context);
}
