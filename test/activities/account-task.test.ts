import { ApplicationFailure } from '@temporalio/common';
import { createPostAccountTask } from '../../activities/account-task';
import { DomainError } from '../../engine/errors';

const request = { ownerId: 'user_42', unit: 'USD', direction: 'debit' as const, amount: 100, idempotencyKey: 'wf:credit', source: { kind: 'api' as const, keyId: 'k' } };

function failingWith(error: Error) {
  return createPostAccountTask({ post: () => Promise.reject(error) });
}

describe('the account activity', () => {
  it('makes a policy refusal final, so Temporal does not retry it', async () => {
    const failure = await failingWith(new DomainError('insufficient_funds', 'invalid', 'no'))(request).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'insufficient_funds', nonRetryable: true });
  });

  it('leaves contention retryable', async () => {
    const failure = await failingWith(new DomainError('ledger_contended', 'unavailable', 'busy'))(request).catch((e: unknown) => e);
    expect(failure).toMatchObject({ type: 'ledger_contended', nonRetryable: false });
  });
});
