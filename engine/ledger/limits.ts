import { DomainError } from '../errors';
import type { PostRequest, TransferRequest } from './types';

/**
 * The largest single posting, in minor units (10 billion dollars in cents).
 * Far below 2^53, so balances stay exact integers for billions of postings.
 */
export const MAX_AMOUNT = 1_000_000_000_000;

/** Balances and policy limits stay within +-10^15 minor units, exact as doubles. */
export const MAX_ABS_BALANCE = 1_000_000_000_000_000;

/** The longest negative-balance grace period an account may have (ten years). */
export const MAX_NEGATIVE_DAYS = 3_650;

export const MAX_OWNER_ID_LENGTH = 200;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
export const MAX_COMMENT_LENGTH = 1_000;

/** A transfer id leaves room for its longest entry key suffix (`:reversal`) within MAX_IDEMPOTENCY_KEY_LENGTH. */
export const MAX_TRANSFER_ID_LENGTH = MAX_IDEMPOTENCY_KEY_LENGTH - ':reversal'.length;

/** ISO 4217 (three capital letters) or CREDIT (whole credits). */
export const UNIT_PATTERN = /^([A-Z]{3}|CREDIT)$/;

export function assertUnit(unit: string): void {
  if (!UNIT_PATTERN.test(unit)) {
    throw new DomainError('unit_invalid', 'invalid', `Unit "${unit}" is not an ISO 4217 code or CREDIT.`, [{ path: 'unit', message: 'must be an ISO 4217 code (e.g. USD) or CREDIT' }]);
  }
}

/** `path` names the field in the error (a transfer has two owners). */
export function assertOwnerId(ownerId: string, path = 'ownerId'): void {
  if (typeof ownerId !== 'string' || ownerId.length === 0 || ownerId.length > MAX_OWNER_ID_LENGTH) {
    throw new DomainError('owner_id_invalid', 'invalid', `${path} must be 1-${MAX_OWNER_ID_LENGTH} characters.`, [{ path, message: `must be 1-${MAX_OWNER_ID_LENGTH} characters` }]);
  }
}

/** Rejects a request that could never be posted, before anything is read or written. */
export function assertPostable(request: PostRequest): void {
  assertOwnerId(request.ownerId);
  assertUnit(request.unit);
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0 || request.amount > MAX_AMOUNT) {
    throw new DomainError('amount_must_be_positive_integer', 'invalid', `amount must be an integer from 1 to ${MAX_AMOUNT} (minor units).`, [{ path: 'amount', message: `must be an integer from 1 to ${MAX_AMOUNT}` }]);
  }
  if (request.direction !== 'credit' && request.direction !== 'debit') {
    throw new DomainError('direction_invalid', 'invalid', 'direction must be credit or debit.', [{ path: 'direction', message: 'must be credit or debit' }]);
  }
  const key = request.idempotencyKey;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new DomainError('idempotency_key_invalid', 'invalid', `idempotencyKey must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`, [{ path: 'idempotencyKey', message: `must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters` }]);
  }
  if (request.comment !== undefined && request.comment.length > MAX_COMMENT_LENGTH) {
    throw new DomainError('comment_too_long', 'invalid', `comment must be at most ${MAX_COMMENT_LENGTH} characters.`, [{ path: 'comment', message: `must be at most ${MAX_COMMENT_LENGTH} characters` }]);
  }
}

/**
 * Rejects a transfer that could never be made, before anything is read or
 * written. The amount, unit, owners and comment follow the posting rules
 * (checked again on each leg); `from` and `to` must be two accounts.
 */
export function assertTransferable(request: TransferRequest): void {
  const id = request.transferId;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_TRANSFER_ID_LENGTH) {
    throw new DomainError('transfer_id_invalid', 'invalid', `transferId must be 1-${MAX_TRANSFER_ID_LENGTH} characters.`, [{ path: 'transferId', message: `must be 1-${MAX_TRANSFER_ID_LENGTH} characters` }]);
  }
  assertOwnerId(request.fromOwnerId, 'fromOwnerId');
  assertOwnerId(request.toOwnerId, 'toOwnerId');
  if (request.fromOwnerId === request.toOwnerId) {
    throw new DomainError('transfer_same_account', 'invalid', `A transfer needs two accounts; "${request.fromOwnerId}" is both from and to.`, [{ path: 'toOwnerId', message: 'must differ from fromOwnerId' }]);
  }
  // Amount, unit and comment as for any posting: the debit leg is checked here so a bad one fails before any read.
  assertPostable({ ownerId: request.fromOwnerId, unit: request.unit, direction: 'debit', amount: request.amount, idempotencyKey: `${id}:debit`, source: request.source, ...(request.comment !== undefined ? { comment: request.comment } : {}) });
}
