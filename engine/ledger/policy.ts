import { DomainError } from '../errors';
import { MAX_ABS_BALANCE } from './limits';
import type { Direction, Policy, PolicyDefaults } from './types';

const MS_PER_DAY = 86_400_000;

/** The balance state one entry leaves behind; the next entry is computed from it. */
export interface BalanceState {
  balance: number;
  negativeSince: Date | null;
}

/** Without configuration an account allows no overdraft and has no day limit. */
const BUILT_IN_POLICY: Policy = { minBalance: 0, maxNegativeDays: null };

/** The policy in force: the account's own values, else the unit's defaults, else the built-in one. */
export function effectivePolicy(
  unit: string,
  overrides: { minBalance: number | null; maxNegativeDays: number | null },
  defaults: PolicyDefaults,
): Policy {
  const unitDefaults = { ...BUILT_IN_POLICY, ...defaults['*'], ...defaults[unit] };
  return {
    minBalance: overrides.minBalance ?? unitDefaults.minBalance,
    maxNegativeDays: overrides.maxNegativeDays ?? unitDefaults.maxNegativeDays ?? null,
  };
}

/**
 * Applies one posting to a balance, or refuses it. Credits are always
 * allowed (they may pay off debt). A debit must leave the balance at or above
 * `minBalance`, and is refused while the balance has been negative for longer
 * than `maxNegativeDays` (the clock restarts once the balance is back to >= 0).
 */
export function applyPosting(state: BalanceState, direction: Direction, amount: number, policy: Policy, now: Date): BalanceState {
  const balanceAfter = direction === 'credit' ? state.balance + amount : state.balance - amount;
  if (Math.abs(balanceAfter) > MAX_ABS_BALANCE) {
    throw new DomainError('balance_out_of_range', 'invalid', `The balance would leave the range +-${MAX_ABS_BALANCE}.`, [{ path: 'amount', message: 'would take the balance out of range' }]);
  }
  if (direction === 'debit') {
    if (balanceAfter < policy.minBalance) {
      throw new DomainError('insufficient_funds', 'invalid', `The debit of ${amount} would take the balance from ${state.balance} below its minimum of ${policy.minBalance}.`, [{ path: 'amount', message: `exceeds the available ${Math.max(0, state.balance - policy.minBalance)}` }]);
    }
    if (policy.maxNegativeDays !== null && state.negativeSince !== null) {
      const cutoff = state.negativeSince.getTime() + policy.maxNegativeDays * MS_PER_DAY;
      if (now.getTime() > cutoff) {
        throw new DomainError('negative_balance_expired', 'invalid', `The balance has been negative since ${state.negativeSince.toISOString()}, longer than ${policy.maxNegativeDays} days; debits are refused until it is back to >= 0.`, [{ path: 'amount', message: 'debits are refused until the balance is back to >= 0' }]);
      }
    }
  }
  const negativeSince = balanceAfter >= 0 ? null : (state.negativeSince ?? now);
  return { balance: balanceAfter, negativeSince };
}
