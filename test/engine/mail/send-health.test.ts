import { sendHealth } from '../../../engine/mail/mailer';

/** A send that settles when told to. */
function pendingSend() {
  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const promise = new Promise<void>((resolve, reject) => { settle = { resolve, reject }; });
  return { promise, ...settle };
}

const refusal = () => Object.assign(new Error('550 no such mailbox'), { responseCode: 550 });
const busy = () => Object.assign(new Error('421 try later'), { responseCode: 421 });

describe('the mail server health the email task reads before its first attempt', () => {
  let now: number;
  let health: ReturnType<typeof sendHealth>;
  beforeEach(() => {
    now = 1_000_000;
    health = sendHealth(() => now);
  });

  it('is healthy until a send fails for a reason other than the message', async () => {
    expect(health.isFailing()).toBe(false);
    await expect(health.watch(() => Promise.reject(refusal()))).rejects.toThrow('550');
    expect(health.isFailing()).toBe(false);
    await expect(health.watch(() => Promise.reject(busy()))).rejects.toThrow('421');
    expect(health.isFailing()).toBe(true);
  });

  it('counts a connection failure as failing for 30 s, or until a send succeeds', async () => {
    await expect(health.watch(() => Promise.reject(new Error('connect ECONNREFUSED')))).rejects.toThrow('ECONNREFUSED');
    now += 29_999;
    expect(health.isFailing()).toBe(true);
    now += 1;
    expect(health.isFailing()).toBe(false);

    await expect(health.watch(() => Promise.reject(new Error('connect ECONNREFUSED')))).rejects.toThrow();
    await health.watch(() => Promise.resolve());
    expect(health.isFailing()).toBe(false);
  });

  it('counts a send running longer than 3 s as failing while it runs', async () => {
    const slow = pendingSend();
    const watched = health.watch(() => slow.promise);
    now += 3_000;
    expect(health.isFailing()).toBe(false);
    now += 1;
    expect(health.isFailing()).toBe(true);
    slow.resolve();
    await watched;
    expect(health.isFailing()).toBe(false);
  });

  it('keeps two sends that started in the same millisecond apart', async () => {
    const first = pendingSend();
    const second = pendingSend();
    const watchedFirst = health.watch(() => first.promise);
    const watchedSecond = health.watch(() => second.promise);
    first.resolve();
    await watchedFirst;
    now += 3_001;
    expect(health.isFailing()).toBe(true);
    second.resolve();
    await watchedSecond;
    expect(health.isFailing()).toBe(false);
  });
});
