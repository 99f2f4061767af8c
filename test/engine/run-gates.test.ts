import { endOfLocalDay, gateKey, windowEnd } from '../../engine/events/run-gates';
import type { TriggerRunInput } from '../../workflows/types';

describe('endOfLocalDay', () => {
  it('is the next midnight in the zone', () => {
    // Nicosia is UTC+2 in winter: noon on 2 December ends at 22:00 UTC.
    expect(endOfLocalDay(new Date('2026-12-02T10:00:00Z'), 'Europe/Nicosia').toISOString()).toBe('2026-12-02T22:00:00.000Z');
    expect(endOfLocalDay(new Date('2026-12-02T10:00:00Z'), 'UTC').toISOString()).toBe('2026-12-03T00:00:00.000Z');
    // 23:30 UTC on 2 December is already 3 December in Nicosia.
    expect(endOfLocalDay(new Date('2026-12-02T23:30:00Z'), 'Europe/Nicosia').toISOString()).toBe('2026-12-03T22:00:00.000Z');
    // New York (UTC-5 in winter): 03:00 UTC on 2 December is still 1 December there.
    expect(endOfLocalDay(new Date('2026-12-02T03:00:00Z'), 'America/New_York').toISOString()).toBe('2026-12-02T05:00:00.000Z');
  });

  it('takes the offset at midnight on a day when the clocks change', () => {
    // Nicosia moves to UTC+3 at 01:00 UTC on 29 March 2026: that day's midnight is 21:00 UTC.
    expect(endOfLocalDay(new Date('2026-03-28T23:30:00Z'), 'Europe/Nicosia').toISOString()).toBe('2026-03-29T21:00:00.000Z');
    expect(endOfLocalDay(new Date('2026-03-29T12:00:00Z'), 'Europe/Nicosia').toISOString()).toBe('2026-03-29T21:00:00.000Z');
    // And back to UTC+2 on 25 October 2026: midnight is 22:00 UTC.
    expect(endOfLocalDay(new Date('2026-10-25T12:00:00Z'), 'Europe/Nicosia').toISOString()).toBe('2026-10-25T22:00:00.000Z');
  });
});

describe('windowEnd', () => {
  it('is the local midnight for a daily throttle and the interval later for a rolling one', () => {
    const at = new Date('2026-12-02T10:00:00Z');
    expect(windowEnd({ key: 'k', per: 'day', timezone: 'Europe/Nicosia' }, at).toISOString()).toBe('2026-12-02T22:00:00.000Z');
    expect(windowEnd({ key: 'k', minIntervalSeconds: 90 }, at).toISOString()).toBe('2026-12-02T10:01:30.000Z');
  });
});

describe('gateKey', () => {
  const input = {
    trigger: { id: 'trg_1', name: 'Top-up', version: 3, wait: { seconds: 0 }, tasks: [] },
    event: { id: 'evt_1', type: 'account.balance_changed', occurredAt: '2026-12-02T10:00:00.000Z', data: { region: 'eu', nested: { n: 7 } } },
    account: { ownerId: 'user_42', unit: 'USD', balance: 900 },
  } satisfies TriggerRunInput;

  it('fills references from the account, the data and the trigger', () => {
    expect(gateKey('{{account.ownerId}}', input)).toBe('user_42');
    expect(gateKey('{{account.ownerId}}:{{account.unit}}', input)).toBe('user_42:USD');
    expect(gateKey('{{data.region}}-{{data.nested.n}}-{{trigger.id}}', input)).toBe('eu-7-trg_1');
    expect(gateKey('everyone', input)).toBe('everyone');
  });

  it('fills a missing value as empty, so such matches share one key', () => {
    expect(gateKey('{{customer.id}}|{{data.missing}}', input)).toBe('|');
  });
});
