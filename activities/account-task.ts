import { ApplicationFailure } from '@temporalio/activity';
import { isDomainError } from '../engine/errors';
import type { Ledger } from '../engine/ledger';

export type PostAccountRequest = Parameters<Ledger['post']>[0];

export interface PostAccountResult {
  entryId: string;
  seq: number;
  ownerId: string;
  unit: string;
  direction: 'credit' | 'debit';
  amount: number;
  balanceAfter: number;
  /** When the ledger committed the entry (ISO 8601); the same on a replay. */
  postedAt: string;
  replayed: boolean;
}

/**
 * Posts one credit or debit through the ledger. The idempotency key (workflow
 * id + task id) makes a retried activity return the first entry instead of
 * posting again. Refusals (insufficient_funds, account_not_found, a key
 * conflict) are final; contention and a busy store (kind `unavailable`) are
 * retried by Temporal with backoff.
 */
export function createPostAccountTask(ledger: Pick<Ledger, 'post'>) {
  return async function postAccountTask(request: PostAccountRequest): Promise<PostAccountResult> {
    try {
      const { entry, replayed } = await ledger.post(request);
      return {
        entryId: entry.id,
        seq: entry.seq,
        ownerId: request.ownerId,
        unit: request.unit,
        direction: request.direction,
        amount: request.amount,
        balanceAfter: entry.balanceAfter,
        postedAt: new Date(entry.createdAt).toISOString(),
        replayed,
      };
    } catch (error) {
      if (isDomainError(error)) {
        throw error.kind === 'unavailable'
          ? ApplicationFailure.retryable(error.message, error.code)
          : ApplicationFailure.nonRetryable(error.message, error.code);
      }
      throw error;
    }
  };
}
