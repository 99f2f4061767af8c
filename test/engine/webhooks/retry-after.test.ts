import { parseRetryAfter, WEBHOOK_MAX_RETRY_AFTER_SECONDS } from '../../../engine/webhooks/retry-after';

const nowMs = Date.parse('2026-11-21T10:00:00Z');

describe('reading Retry-After', () => {
  it('reads delay-seconds, and an HTTP date as seconds from now', () => {
    expect(parseRetryAfter('0', nowMs)).toBe(0);
    expect(parseRetryAfter(' 30 ', nowMs)).toBe(30);
    expect(parseRetryAfter('Sat, 21 Nov 2026 10:01:30 GMT', nowMs)).toBe(90);
    expect(parseRetryAfter('Sat, 21 Nov 2026 09:00:00 GMT', nowMs)).toBe(0);
  });

  it(`keeps ${WEBHOOK_MAX_RETRY_AFTER_SECONDS} s and reads anything longer as that`, () => {
    expect(parseRetryAfter(String(WEBHOOK_MAX_RETRY_AFTER_SECONDS), nowMs)).toBe(WEBHOOK_MAX_RETRY_AFTER_SECONDS);
    expect(parseRetryAfter(String(WEBHOOK_MAX_RETRY_AFTER_SECONDS + 1), nowMs)).toBe(WEBHOOK_MAX_RETRY_AFTER_SECONDS);
    expect(parseRetryAfter('Sat, 21 Nov 2099 10:00:00 GMT', nowMs)).toBe(WEBHOOK_MAX_RETRY_AFTER_SECONDS);
  });

  it('ignores an absent or unreadable header', () => {
    expect(parseRetryAfter(undefined, nowMs)).toBeUndefined();
    expect(parseRetryAfter('soon', nowMs)).toBeUndefined();
    expect(parseRetryAfter('-5', nowMs)).toBeUndefined();
    expect(parseRetryAfter('1.5', nowMs)).toBeUndefined();
  });
});
