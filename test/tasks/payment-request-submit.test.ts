// Submitting a payment request through an outage: retried until the last
// attempt, which expires the request and fails the task for good.
import { ApplicationFailure } from '@temporalio/common';
import { SUBMIT_RETRY, submitOrExpire } from '../../tasks/payment-request';

const outage = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'webhook_unavailable', retryable: true }));

describe('submitOrExpire', () => {
  it('rethrows an outage for the retry and leaves the request open before the last attempt', async () => {
    const expire = jest.fn(async () => undefined);
    await expect(submitOrExpire(outage, expire, SUBMIT_RETRY.maximumAttempts - 1)).rejects.toMatchObject({ code: 'webhook_unavailable' });
    expect(expire).not.toHaveBeenCalled();
  });

  it('expires the request and fails for good with gateway_timeout on the last attempt', async () => {
    const expire = jest.fn(async () => undefined);
    const failure = await submitOrExpire(outage, expire, SUBMIT_RETRY.maximumAttempts).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'gateway_timeout', nonRetryable: true });
    expect(expire).toHaveBeenCalledTimes(1);
  });

  it('returns the gateway\'s answer when it answers, on any attempt', async () => {
    const expire = jest.fn(async () => undefined);
    await expect(submitOrExpire(async () => ({ accepted: true }), expire, SUBMIT_RETRY.maximumAttempts)).resolves.toEqual({ accepted: true });
    expect(expire).not.toHaveBeenCalled();
  });
});
