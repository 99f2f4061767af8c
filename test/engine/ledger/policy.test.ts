import { isDomainError } from '../../../engine/errors';
import { applyPosting, effectivePolicy, resolvePolicy } from '../../../engine/ledger/policy';

const DAY_MS = 86_400_000;
const t0 = new Date('2026-01-01T00:00:00Z');
const noLimit = { minBalance: 0, maxNegativeDays: null };

function refusal(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
}

describe('applyPosting', () => {
  it('lets a debit take the balance exactly to minBalance and refuses one unit more', () => {
    expect(applyPosting({ balance: 100, negativeSince: null }, 'debit', 100, noLimit, t0).balance).toBe(0);
    expect(refusal(() => applyPosting({ balance: 100, negativeSince: null }, 'debit', 101, noLimit, t0))).toBe('insufficient_funds');
  });

  it('allows debt down to a negative minBalance and starts the negative clock', () => {
    const policy = { minBalance: -50, maxNegativeDays: null };
    expect(applyPosting({ balance: 0, negativeSince: null }, 'debit', 50, policy, t0)).toEqual({ balance: -50, negativeSince: t0 });
    expect(refusal(() => applyPosting({ balance: 0, negativeSince: null }, 'debit', 51, policy, t0))).toBe('insufficient_funds');
  });

  it('always accepts credits, even below minBalance, and resets the clock at >= 0', () => {
    expect(applyPosting({ balance: -80, negativeSince: t0 }, 'credit', 30, noLimit, t0)).toEqual({ balance: -50, negativeSince: t0 });
    expect(applyPosting({ balance: -80, negativeSince: t0 }, 'credit', 80, noLimit, t0)).toEqual({ balance: 0, negativeSince: null });
  });

  it('refuses debits once negative for longer than maxNegativeDays, not at the limit itself', () => {
    const policy = { minBalance: -1000, maxNegativeDays: 3 };
    const state = { balance: -10, negativeSince: t0 };
    expect(applyPosting(state, 'debit', 1, policy, new Date(t0.getTime() + 3 * DAY_MS)).balance).toBe(-11);
    expect(refusal(() => applyPosting(state, 'debit', 1, policy, new Date(t0.getTime() + 3 * DAY_MS + 1)))).toBe('negative_balance_expired');
    expect(applyPosting(state, 'credit', 5, policy, new Date(t0.getTime() + 30 * DAY_MS)).balance).toBe(-5);
  });

  it('refuses a balance beyond +-10^15 minor units', () => {
    expect(refusal(() => applyPosting({ balance: 1e15, negativeSince: null }, 'credit', 1, noLimit, t0))).toBe('balance_out_of_range');
  });
});

describe('effectivePolicy', () => {
  const none = { maxBalance: null, minCredit: null };
  it('takes the account value, else the unit default, else the * default, else no overdraft', () => {
    const defaults = { '*': { minBalance: -5 }, CREDIT: { minBalance: -100, maxNegativeDays: 30 } };
    expect(effectivePolicy('CREDIT', { minBalance: null, maxNegativeDays: null }, defaults)).toEqual({ minBalance: -100, maxNegativeDays: 30, ...none });
    expect(effectivePolicy('USD', { minBalance: null, maxNegativeDays: null }, defaults)).toEqual({ minBalance: -5, maxNegativeDays: null, ...none });
    expect(effectivePolicy('USD', { minBalance: 10, maxNegativeDays: 2 }, defaults)).toEqual({ minBalance: 10, maxNegativeDays: 2, ...none });
    expect(effectivePolicy('USD', { minBalance: null, maxNegativeDays: null }, {})).toEqual({ minBalance: 0, maxNegativeDays: null, ...none });
  });

  it('puts the group layer between the account override and the unit default, and says where each value came from', () => {
    const defaults = { USD: { minBalance: -10, maxNegativeDays: 5 } };
    const layer = { groupId: 'dealers', values: { minBalance: -50_000, maxNegativeDays: 30, minCredit: 2000 } };
    expect(resolvePolicy('USD', { minBalance: null, maxNegativeDays: null, maxBalance: 900_000, minCredit: null }, defaults, layer)).toEqual({
      policy: { minBalance: -50_000, maxNegativeDays: 30, maxBalance: 900_000, minCredit: 2000 },
      sources: { minBalance: 'group', maxNegativeDays: 'group', maxBalance: 'account', minCredit: 'group' },
    });
    expect(resolvePolicy('USD', { minBalance: 0, maxNegativeDays: null }, defaults, null).sources).toEqual({ minBalance: 'account', maxNegativeDays: 'default', maxBalance: 'default', minCredit: 'default' });
  });
});

describe('the credit rules', () => {
  const rules = { minBalance: 0, maxNegativeDays: null, maxBalance: 1000, minCredit: 20 };
  const at = (balance: number) => ({ balance, negativeSince: null });

  it('refuse a credit below minCredit (credit_too_small) and accept one exactly at it', () => {
    expect(refusal(() => applyPosting(at(0), 'credit', 19, rules, t0))).toBe('credit_too_small');
    expect(applyPosting(at(0), 'credit', 20, rules, t0).balance).toBe(20);
  });

  it('refuse a credit above maxBalance (balance_limit) and accept one landing exactly on it', () => {
    expect(applyPosting(at(900), 'credit', 100, rules, t0).balance).toBe(1000);
    expect(refusal(() => applyPosting(at(900), 'credit', 101, rules, t0))).toBe('balance_limit');
  });

  it('exempt an override from both, but never a debit from its rules', () => {
    expect(applyPosting(at(990), 'credit', 5, rules, t0, { exempt: true }).balance).toBe(995);
    expect(applyPosting(at(990), 'credit', 500, rules, t0, { exempt: true }).balance).toBe(1490);
    expect(refusal(() => applyPosting(at(10), 'debit', 11, rules, t0, { exempt: true }))).toBe('insufficient_funds');
  });
});
