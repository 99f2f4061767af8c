import { WebhookError } from '../../../engine/webhooks';
import { RECEIVER_FAILING_FOR_MS, RECEIVER_SLOW_CALL_MS, receiverHealth } from '../../../engine/webhooks/receiver-health';

const ORIGIN = 'https://billing.example.com';

function clockAt(start: number) {
  const clock = { now: start, tick: (ms: number) => { clock.now += ms; } };
  return clock;
}

describe("a webhook receiver's health", () => {
  it('is failing for a while after a call failed in a way that may pass, then not', async () => {
    const clock = clockAt(1_000);
    const health = receiverHealth(() => clock.now);
    expect(health.isFailing(ORIGIN)).toBe(false);
    await expect(health.watch(ORIGIN, async () => { throw new WebhookError('webhook_unavailable', 'timed out', { reason: 'timeout' }); })).rejects.toThrow('timed out');
    expect(health.isFailing(ORIGIN)).toBe(true);
    expect(health.isFailing('https://other.example.com')).toBe(false);
    clock.tick(RECEIVER_FAILING_FOR_MS - 1);
    expect(health.isFailing(ORIGIN)).toBe(true);
    clock.tick(1);
    expect(health.isFailing(ORIGIN)).toBe(false);
  });

  it('is working again once a call is answered, or refused for good (the receiver answered)', async () => {
    const health = receiverHealth();
    const fail = () => health.watch(ORIGIN, async () => { throw new Error('ECONNRESET'); }).catch(() => undefined);
    await fail();
    expect(health.isFailing(ORIGIN)).toBe(true);
    await expect(health.watch(ORIGIN, async () => 'answered')).resolves.toBe('answered');
    expect(health.isFailing(ORIGIN)).toBe(false);
    await fail();
    await expect(health.watch(ORIGIN, async () => { throw new WebhookError('webhook_rejected', 'bad request', { status: 400 }); })).rejects.toThrow('bad request');
    expect(health.isFailing(ORIGIN)).toBe(false);
  });

  it('is failing while a call to it has run longer than the slow-call bound', async () => {
    const clock = clockAt(0);
    const health = receiverHealth(() => clock.now);
    let answer!: () => void;
    const call = health.watch(ORIGIN, () => new Promise<void>((resolve) => { answer = resolve; }));
    clock.tick(RECEIVER_SLOW_CALL_MS);
    expect(health.isFailing(ORIGIN)).toBe(false);
    clock.tick(1);
    expect(health.isFailing(ORIGIN)).toBe(true);
    answer();
    await call;
    expect(health.isFailing(ORIGIN)).toBe(false);
  });
});
