// Submitting a payment request through an outage: retried after the
// gateway's schedule's wait until the last attempt, which expires the
// request and fails the task for good.
import { ApplicationFailure } from '@temporalio/common';
import { DEFAULT_SUBMIT_SCHEDULE, paymentGatewaysSchema, submitRetryDelayMs, submitScheduleOf } from '../../engine/payments/gateway';
import { SUBMIT_RETRY, submitOrExpire } from '../../tasks/payment-request';

const outage = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'webhook_unavailable', retryable: true }));
const quick = submitScheduleOf({ maximumAttempts: 3, initialIntervalMs: 500, maximumIntervalMs: 1_000, timeoutMs: 1_000 });

describe('submitOrExpire', () => {
  it('rethrows an outage for the retry, after the schedule\'s wait, and leaves the request open before the last attempt', async () => {
    const expire = jest.fn(async () => undefined);
    const failure = await submitOrExpire(outage, expire, SUBMIT_RETRY.maximumAttempts - 1).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'webhook_unavailable', nonRetryable: false, nextRetryDelay: 128_000 });
    expect(expire).not.toHaveBeenCalled();
  });

  it('expires the request and fails for good with gateway_timeout on the last attempt', async () => {
    const expire = jest.fn(async () => undefined);
    const failure = await submitOrExpire(outage, expire, SUBMIT_RETRY.maximumAttempts).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'gateway_timeout', nonRetryable: true });
    expect(expire).toHaveBeenCalledTimes(1);
  });

  it('ends at the gateway\'s attempts when fewer than the retry policy\'s, and at the policy\'s when fewer than the gateway\'s', async () => {
    const expire = jest.fn(async () => undefined);
    await expect(submitOrExpire(outage, expire, 2, quick, 8)).rejects.toMatchObject({ type: 'webhook_unavailable', nextRetryDelay: 1_000 });
    await expect(submitOrExpire(outage, expire, 3, quick, 8)).rejects.toMatchObject({ type: 'gateway_timeout', nonRetryable: true });
    await expect(submitOrExpire(outage, expire, 2, DEFAULT_SUBMIT_SCHEDULE, 2)).rejects.toMatchObject({ type: 'gateway_timeout' });
    expect(expire).toHaveBeenCalledTimes(2);
  });

  it('throws a final failure as it is before the last attempt', async () => {
    const refused = Object.assign(new Error('address refused'), { code: 'webhook_address_refused', retryable: false });
    const expire = jest.fn(async () => undefined);
    await expect(submitOrExpire(() => Promise.reject(refused), expire, 1)).rejects.toBe(refused);
    expect(expire).not.toHaveBeenCalled();
  });

  it('returns the gateway\'s answer when it answers, on any attempt', async () => {
    const expire = jest.fn(async () => undefined);
    await expect(submitOrExpire(async () => ({ accepted: true }), expire, SUBMIT_RETRY.maximumAttempts)).resolves.toEqual({ accepted: true });
    expect(expire).not.toHaveBeenCalled();
  });
});

describe('a gateway\'s submit schedule', () => {
  it('defaults to the task\'s retry policy: 15 s per call, 8 attempts, 2 s doubling up to 5 minutes', () => {
    expect(submitScheduleOf(undefined)).toEqual({ timeoutMs: 15_000, maximumAttempts: SUBMIT_RETRY.maximumAttempts, initialIntervalMs: 2_000, backoffCoefficient: SUBMIT_RETRY.backoffCoefficient, maximumIntervalMs: 300_000 });
    expect(SUBMIT_RETRY).toMatchObject({ initialInterval: '2 seconds', maximumInterval: '5 minutes' });
    expect(Array.from({ length: 7 }, (_, i) => submitRetryDelayMs(DEFAULT_SUBMIT_SCHEDULE, i + 1))).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000]);
    expect(submitRetryDelayMs(DEFAULT_SUBMIT_SCHEDULE, 9)).toBe(300_000);
  });

  it('is read per gateway from PAYMENT_GATEWAYS, refusing more attempts than the policy allows and unknown fields', () => {
    const config = paymentGatewaysSchema.parse(JSON.stringify({ card: { url: 'https://gw.example/pay', secret: 'gwsec_0123456789abcdef', submit: { maximumAttempts: 3, initialIntervalMs: 500 } } }));
    expect(submitScheduleOf(config.card!.submit)).toEqual({ ...DEFAULT_SUBMIT_SCHEDULE, maximumAttempts: 3, initialIntervalMs: 500 });
    expect(paymentGatewaysSchema.safeParse(JSON.stringify({ card: { url: 'https://gw.example/pay', secret: 'gwsec_0123456789abcdef', submit: { maximumAttempts: 9 } } })).success).toBe(false);
    expect(paymentGatewaysSchema.safeParse(JSON.stringify({ card: { url: 'https://gw.example/pay', secret: 'gwsec_0123456789abcdef', submit: { retries: 3 } } })).success).toBe(false);
  });
});
