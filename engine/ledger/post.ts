import { setTimeout as sleep } from 'node:timers/promises';
import { Types } from 'mongoose';
import { DomainError, isDomainError } from '../errors';
import type { LedgerContext } from './context';
import { assertPostable } from './limits';
import { isDuplicateKeyError, type AccountDoc, type EntryDoc } from './models';
import { toEntry } from './mapping';
import { applyPosting, effectivePolicy } from './policy';
import { catchUp, advanceTo, refresh } from './repair';
import type { PostRequest, PostResult } from './types';

/**
 * How many times one posting retries after another posting took the seq it
 * wanted. Each retry starts from a fresher balance; the bound turns endless
 * contention into a retryable `ledger_contended` instead of a hang.
 */
const MAX_POST_ATTEMPTS = 200;

/** Retry waits grow to this cap; full jitter spreads contending posters apart. */
const MAX_BACKOFF_MS = 50;

async function backoff(attempt: number): Promise<void> {
  const capMs = Math.min(MAX_BACKOFF_MS, 2 ** attempt);
  await sleep(Math.random() * capMs);
}

/** The stored entry for this key, if any; throws `idempotency_conflict` when it records another request. */
async function findReplay(context: LedgerContext, request: PostRequest): Promise<PostResult | null> {
  const existing = await context.models.Entry.findOne({ idempotencyKey: request.idempotencyKey }).lean<EntryDoc>();
  if (!existing) return null;
  const same = existing.ownerId === request.ownerId
    && existing.unit === request.unit
    && existing.direction === request.direction
    && existing.amount === request.amount
    && (existing.comment ?? null) === (request.comment ?? null);
  if (!same) {
    throw new DomainError('idempotency_conflict', 'conflict', `Idempotency key "${request.idempotencyKey}" was already used for a different posting (entry ${existing._id.toHexString()}).`, [{ path: 'idempotencyKey', message: 'already used for a different posting' }]);
  }
  return { entry: toEntry(existing), replayed: true };
}

/** Opens the account with no entries; a concurrent opener's account is used as-is. */
export async function openAccount(context: LedgerContext, ownerId: string, unit: string): Promise<AccountDoc> {
  const now = context.clock();
  const filter = { ownerId, unit };
  const insert = { ownerId, unit, balance: 0, seq: 0, negativeSince: null, minBalance: null, maxNegativeDays: null, createdAt: now, updatedAt: now };
  try {
    const doc = await context.models.Account.findOneAndUpdate(filter, { $setOnInsert: insert }, { upsert: true, returnDocument: 'after' }).lean<AccountDoc>();
    if (doc) return doc;
  } catch (error) {
    // Two upserts racing on the unique (ownerId, unit) index: one inserts, the other reads.
    if (!isDuplicateKeyError(error)) throw error;
  }
  const doc = await context.models.Account.findOne(filter).lean<AccountDoc>();
  if (!doc) throw new Error(`ledger account ${ownerId}/${unit} could not be opened`);
  return doc;
}

export async function findAccountDoc(context: LedgerContext, ownerId: string, unit: string): Promise<AccountDoc | null> {
  return context.models.Account.findOne({ ownerId, unit }).lean<AccountDoc>();
}

async function accountForPosting(context: LedgerContext, request: PostRequest): Promise<AccountDoc> {
  const existing = await findAccountDoc(context, request.ownerId, request.unit);
  if (existing) return existing;
  if (!request.createIfMissing) {
    throw new DomainError('account_not_found', 'not_found', `No ${request.unit} account for owner "${request.ownerId}"; post with createIfMissing to open it.`);
  }
  // A key already used elsewhere must not leave an empty account behind.
  await findReplay(context, request);
  return openAccount(context, request.ownerId, request.unit);
}

/**
 * Posts one entry. The entry insert is the commit point: it claims
 * (account, seq + 1) under a unique index, so of two postings computed from
 * the same balance only one can land, and the loser recomputes from the
 * winner's balance. The account document is a cache advanced afterwards with
 * a conditional update; if this process stops in between, the next posting
 * (its insert collides with the stored entry) or read applies it.
 */
export async function post(context: LedgerContext, request: PostRequest): Promise<PostResult> {
  assertPostable(request);
  let account = await accountForPosting(context, request);
  for (let attempt = 0; attempt < MAX_POST_ATTEMPTS; attempt += 1) {
    const now = context.clock();
    const policy = effectivePolicy(account.unit, account, context.policyDefaults);
    let next;
    try {
      next = applyPosting({ balance: account.balance, negativeSince: account.negativeSince ?? null }, request.direction, request.amount, policy, now);
    } catch (error) {
      if (!isDomainError(error)) throw error;
      // Refuse only on the true latest balance, and never refuse a replay.
      const replay = await findReplay(context, request);
      if (replay) return replay;
      const latest = await catchUp(context, account);
      if (latest.seq === account.seq) throw error;
      account = latest;
      continue;
    }
    const doc: EntryDoc = {
      _id: new Types.ObjectId(),
      accountId: account._id,
      ownerId: account.ownerId,
      unit: account.unit,
      seq: account.seq + 1,
      direction: request.direction,
      amount: request.amount,
      balanceAfter: next.balance,
      negativeSince: next.negativeSince,
      idempotencyKey: request.idempotencyKey,
      ...(request.comment !== undefined ? { comment: request.comment } : {}),
      source: request.source,
      createdAt: now,
      deliveredAt: null,
    };
    try {
      // The native insert skips mongoose document hydration on the hot path; `doc` is already complete.
      await context.models.Entry.collection.insertOne(doc);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const replay = await findReplay(context, request);
      if (replay) return replay;
      account = await refresh(context, account);
      // Contending posters spread out instead of colliding again at once.
      await backoff(attempt);
      continue;
    }
    const entry = toEntry(doc);
    await context.faultPoints.afterEntryInserted?.(entry);
    // A null result means a reader already applied this entry to the cache.
    await advanceTo(context, account, doc);
    return { entry, replayed: false };
  }
  throw new DomainError('ledger_contended', 'unavailable', `Posting to ${request.ownerId}/${request.unit} lost ${MAX_POST_ATTEMPTS} races in a row; retry.`);
}
