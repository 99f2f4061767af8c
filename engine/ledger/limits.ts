import { DomainError } from '../errors';
import type { PostRequest } from './types';

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

/** ISO 4217 (three capital letters) or CREDIT (whole credits). */
export const UNIT_PATTERN = /^([A-Z]{3}|CREDIT)$/;

export function assertUnit(unit: string): void {
  if (!UNIT_PATTERN.test(unit)) {
    throw new DomainError('unit_invalid', 'invalid', `Unit "${unit}" is not an ISO 4217 code or CREDIT.`, [{ path: 'unit', message: 'must be an ISO 4217 code (e.g. USD) or CREDIT' }]);
  }
}

export function assertOwnerId(ownerId: string): void {
  if (ownerId.length === 0 || ownerId.length > MAX_OWNER_ID_LENGTH) {
    throw new DomainError('owner_id_invalid', 'invalid', `ownerId must be 1-${MAX_OWNER_ID_LENGTH} characters.`, [{ path: 'ownerId', message: `must be 1-${MAX_OWNER_ID_LENGTH} characters` }]);
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
