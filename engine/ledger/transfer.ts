import { DomainError, isDomainError } from '../errors';
import { knownAccount } from './account-cache';
import type { LedgerContext } from './context';
import { assertTransferable } from './limits';
import { toEntry } from './mapping';
import { accountKey, isDuplicateKeyError, type EntryDoc, type TransferDoc } from './models';
import { findAccountDoc, post, type TransferMark } from './post';
import type { LedgerEntry, PostRequest, PostResult, TransferLeg, TransferRequest, TransferResult } from './types';

/**
 * Transfers between two accounts of one unit. This module owns the whole
 * mechanism: the two legs, completing a transfer stopped between them,
 * reversing one whose credit can never be posted, and the outcome records.
 *
 * A transfer is two ordinary postings, each exactly-once by its own
 * idempotency key (`transferKey`), so a retry of the same transfer replays
 * whatever half already landed and posts the rest. The entries are the
 * truth; `ledger_transfers` records (one per transfer id, insert-only) only
 * make a retry of a finished transfer one `_id` read, and bar a credit once a
 * reversal has been decided. See README ("Transfers").
 */

/** The idempotency key of one leg: `<transferId>:debit`, `<transferId>:credit` or `<transferId>:reversal`. */
export function transferKey(transferId: string, leg: TransferLeg): string {
  return `${transferId}:${leg}`;
}

/**
 * The transfer's credit was refused for good (`refusalCode`), so its debit
 * was credited back to `from` by a reversal entry. Final: retrying the same
 * transfer throws this again and moves nothing.
 */
export class TransferReversedError extends DomainError {
  constructor(
    readonly transferId: string,
    readonly debitEntryId: string,
    readonly reversalEntryId: string,
    readonly refusalCode: string,
    refusalMessage: string,
  ) {
    super('transfer_reversed', 'invalid', `Transfer "${transferId}" was reversed: its credit was refused (${refusalCode}: ${refusalMessage}), so debit ${debitEntryId} was credited back by ${reversalEntryId}.`);
    this.name = 'TransferReversedError';
  }
}

/** The posting of one leg and what marks it as part of this transfer. */
function legOf(request: TransferRequest, leg: TransferLeg): [PostRequest, TransferMark] {
  const onFrom = leg !== 'credit';
  const posting: PostRequest = {
    ownerId: onFrom ? request.fromOwnerId : request.toOwnerId,
    unit: request.unit,
    direction: leg === 'debit' ? 'debit' : 'credit',
    amount: request.amount,
    idempotencyKey: transferKey(request.transferId, leg),
    // A reversal goes back to the account its debit came from, which exists.
    createIfMissing: leg !== 'reversal' && request.createIfMissing === true,
    ...(request.comment !== undefined ? { comment: request.comment } : {}),
    source: request.source,
  };
  // The debit and the reversal name `to`, where the value was meant to go; the credit names `from`.
  const counterparty = { ownerId: leg === 'credit' ? request.fromOwnerId : request.toOwnerId, unit: request.unit };
  return [posting, { transferId: request.transferId, transferLeg: leg, counterparty }];
}

function postLeg(context: LedgerContext, request: TransferRequest, leg: TransferLeg): Promise<PostResult> {
  const [posting, mark] = legOf(request, leg);
  return post(context, posting, mark);
}

function sameTransfer(record: TransferDoc, request: TransferRequest): boolean {
  return record.fromOwnerId === request.fromOwnerId
    && record.toOwnerId === request.toOwnerId
    && record.unit === request.unit
    && record.amount === request.amount
    && (record.comment ?? null) === (request.comment ?? null);
}

function conflict(request: TransferRequest): DomainError {
  return new DomainError('idempotency_conflict', 'conflict', `Transfer id "${request.transferId}" was already used for a different transfer.`, [{ path: 'transferId', message: 'already used for a different transfer' }]);
}

/** A refusal that retrying cannot change; contention and a busy store (`unavailable`) are retried by the caller instead. */
function isFinalRefusal(error: unknown): error is DomainError {
  return isDomainError(error) && error.kind !== 'unavailable';
}

/** Refuses a transfer to a missing `to` before anything is debited, unless it may be opened. */
async function assertCreditable(context: LedgerContext, request: TransferRequest): Promise<void> {
  if (request.createIfMissing) return;
  if (knownAccount(context, accountKey(request.unit, request.toOwnerId))) return;
  if (await findAccountDoc(context, request.toOwnerId, request.unit)) return;
  throw new DomainError('account_not_found', 'not_found', `No ${request.unit} account for owner "${request.toOwnerId}" to transfer to; transfer with createIfMissing to open it.`, [{ path: 'toOwnerId', message: 'no such account' }]);
}

function completedResult(transferId: string, debit: LedgerEntry, credit: LedgerEntry, replayed: boolean): TransferResult {
  return { transferId, debitEntryId: debit.id, creditEntryId: credit.id, fromBalanceAfter: debit.balanceAfter, toBalanceAfter: credit.balanceAfter, replayed };
}

function recordBase(request: TransferRequest, debit: LedgerEntry): Omit<TransferDoc, 'outcome' | 'creditEntryId' | 'toBalanceAfter' | 'refusal'> {
  return {
    _id: request.transferId,
    fromOwnerId: request.fromOwnerId,
    toOwnerId: request.toOwnerId,
    unit: request.unit,
    amount: request.amount,
    ...(request.comment !== undefined ? { comment: request.comment } : {}),
    source: request.source,
    debitEntryId: debit.id,
    fromBalanceAfter: debit.balanceAfter,
    createdAt: debit.createdAt,
  };
}

/** Inserts the outcome record; if another attempt's is there first, returns that one instead. */
async function insertRecord(context: LedgerContext, record: TransferDoc): Promise<TransferDoc | null> {
  try {
    await context.transferWriter.insert({ ...record });
    return null;
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
  }
  const existing = await context.models.transfers.findOne({ _id: record._id });
  if (!existing) throw new Error(`ledger transfer record ${record._id} failed on a duplicate key that no longer exists`);
  return existing;
}

/**
 * The credit or reversal entries already stored for this transfer. A lookup
 * by idempotency key, which FerretDB answers by scanning the entries: used
 * only on the reversal path, never while a transfer goes through.
 */
async function settlingEntries(context: LedgerContext, transferId: string): Promise<{ credit?: EntryDoc; reversal?: EntryDoc }> {
  const docs = await context.models.entries.find({ idempotencyKey: { $in: [transferKey(transferId, 'credit'), transferKey(transferId, 'reversal')] } }).toArray();
  return { credit: docs.find((doc) => doc.transferLeg === 'credit'), reversal: docs.find((doc) => doc.transferLeg === 'reversal') };
}

/**
 * Carries out a decided reversal: credits the debit back to `from` and
 * throws `transfer_reversed`. A credit another attempt posted before the
 * reversal was decided stands instead, and the transfer is complete.
 */
async function finishReversal(context: LedgerContext, request: TransferRequest, debit: LedgerEntry, refusal: { code: string; message: string }): Promise<TransferResult> {
  const { credit, reversal } = await settlingEntries(context, request.transferId);
  if (credit && reversal) throw new Error(`ledger transfer ${request.transferId} was both credited (${credit._id}) and reversed (${reversal._id}): run ledger:verify`);
  if (credit) return completedResult(request.transferId, debit, toEntry(credit), true);
  const reversed = await postLeg(context, request, 'reversal');
  throw new TransferReversedError(request.transferId, debit.id, reversed.entry.id, refusal.code, refusal.message);
}

/** Continues from a stored outcome: a replay of a completed transfer, or the rest of a reversal. */
async function fromRecord(context: LedgerContext, request: TransferRequest, record: TransferDoc): Promise<TransferResult> {
  if (!sameTransfer(record, request)) throw conflict(request);
  if (record.outcome === 'completed' && record.creditEntryId !== null && record.toBalanceAfter !== null) {
    return { transferId: record._id, debitEntryId: record.debitEntryId, creditEntryId: record.creditEntryId, fromBalanceAfter: record.fromBalanceAfter, toBalanceAfter: record.toBalanceAfter, replayed: true };
  }
  const debit = await context.models.entries.findOne({ _id: record.debitEntryId });
  if (!debit) throw new Error(`ledger transfer ${record._id} names debit ${record.debitEntryId}, which is missing: run ledger:verify`);
  return finishReversal(context, request, toEntry(debit), record.refusal ?? { code: 'unknown', message: 'not recorded' });
}

/**
 * The credit was refused for good: decide the reversal (the record bars any
 * later credit), then carry it out. If another attempt completed the
 * transfer first, its outcome stands.
 */
async function reverse(context: LedgerContext, request: TransferRequest, debit: LedgerEntry, refusal: DomainError): Promise<TransferResult> {
  const reason = { code: refusal.code, message: refusal.message };
  const existing = await insertRecord(context, { ...recordBase(request, debit), outcome: 'reversing', creditEntryId: null, toBalanceAfter: null, refusal: reason });
  return existing ? fromRecord(context, request, existing) : finishReversal(context, request, debit, reason);
}

/**
 * Moves `amount` from `fromOwnerId` to `toOwnerId` exactly once per
 * transferId: a debit on `from` under its policy (a refusal posts nothing),
 * then a credit on `to`. A retry completes a transfer stopped between the
 * two; a credit refused for good reverses the debit and throws
 * `transfer_reversed`.
 */
export async function transfer(context: LedgerContext, request: TransferRequest): Promise<TransferResult> {
  assertTransferable(request);
  const recorded = await context.models.transfers.findOne({ _id: request.transferId });
  if (recorded) return fromRecord(context, request, recorded);
  await assertCreditable(context, request);
  const debit = await postLeg(context, request, 'debit');
  await context.faultPoints.afterTransferDebit?.(debit.entry);
  let credit: PostResult;
  try {
    credit = await postLeg(context, request, 'credit');
  } catch (error) {
    if (!isFinalRefusal(error)) throw error;
    return reverse(context, request, debit.entry, error);
  }
  const completed: TransferDoc = { ...recordBase(request, debit.entry), outcome: 'completed', creditEntryId: credit.entry.id, toBalanceAfter: credit.entry.balanceAfter, refusal: null };
  const existing = await insertRecord(context, completed);
  // A reversal decided by a concurrent attempt while this one credited: settle on what the entries say.
  if (existing?.outcome === 'reversing') return fromRecord(context, request, existing);
  return completedResult(request.transferId, debit.entry, credit.entry, debit.replayed && credit.replayed);
}
