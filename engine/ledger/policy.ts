import { DomainError } from '../errors';
import { MAX_ABS_BALANCE } from './limits';
import type { Direction, Policy, PolicyDefaults, PolicyLayer, PolicyOverrides, PolicySources } from './types';

const MS_PER_DAY = 86_400_000;

/** The balance state one entry leaves behind; the next entry is computed from it. */
export interface BalanceState {
  balance: number;
  negativeSince: Date | null;
}

/** Without configuration an account allows no overdraft, has no day limit, no ceiling and no smallest credit. */
const BUILT_IN_POLICY: Policy = { minBalance: 0, maxNegativeDays: null, maxBalance: null, minCredit: null };

const POLICY_FIELDS = ['minBalance', 'maxNegativeDays', 'maxBalance', 'minCredit'] as const;

/**
 * The policy in force and where each value came from, layer by layer: the
 * account's own override, else its group's value (`layer`), else the unit's
 * default (LEDGER_POLICY_DEFAULTS), else the built-in one.
 */
export function resolvePolicy(unit: string, overrides: PolicyOverrides, defaults: PolicyDefaults, layer?: PolicyLayer | null): { policy: Policy; sources: PolicySources } {
  const unitDefaults: Policy = { ...BUILT_IN_POLICY, ...defaults['*'], ...defaults[unit] };
  const policy: Record<keyof Policy, number | null> = { ...BUILT_IN_POLICY };
  const sources = {} as PolicySources;
  for (const field of POLICY_FIELDS) {
    const own = overrides[field] ?? null;
    const group = layer?.values[field];
    if (own !== null) {
      policy[field] = own;
      sources[field] = 'account';
    } else if (group !== undefined && group !== null) {
      policy[field] = group;
      sources[field] = 'group';
    } else {
      policy[field] = unitDefaults[field] ?? BUILT_IN_POLICY[field];
      sources[field] = 'default';
    }
  }
  return { policy: { ...policy, minBalance: policy.minBalance ?? 0 }, sources };
}

/** The policy in force (see resolvePolicy). */
export function effectivePolicy(unit: string, overrides: PolicyOverrides, defaults: PolicyDefaults, layer?: PolicyLayer | null): Policy {
  return resolvePolicy(unit, overrides, defaults, layer).policy;
}

/** The rules one posting is checked against; the credit rules may be left out (none). */
export type PostingPolicy = Pick<Policy, 'minBalance' | 'maxNegativeDays'> & Partial<Pick<Policy, 'maxBalance' | 'minCredit'>>;

/**
 * Applies one posting to a balance, or refuses it. A credit smaller than
 * `minCredit` is `credit_too_small`; one that would take the balance above
 * `maxBalance` is `balance_limit` (both unless `exempt`: an admin's
 * override, or a transfer's reversal, which must always land). A debit must
 * leave the balance at or above `minBalance`, and is refused while the
 * balance has been negative for longer than `maxNegativeDays` (the clock
 * restarts once the balance is back to >= 0).
 */
export function applyPosting(state: BalanceState, direction: Direction, amount: number, policy: PostingPolicy, now: Date, options: { exempt?: boolean } = {}): BalanceState {
  const balanceAfter = direction === 'credit' ? state.balance + amount : state.balance - amount;
  if (Math.abs(balanceAfter) > MAX_ABS_BALANCE) {
    throw new DomainError('balance_out_of_range', 'invalid', `The balance would leave the range +-${MAX_ABS_BALANCE}.`, [{ path: 'amount', message: 'would take the balance out of range' }]);
  }
  if (direction === 'credit' && !options.exempt) {
    const minCredit = policy.minCredit ?? null;
    const maxBalance = policy.maxBalance ?? null;
    if (minCredit !== null && amount < minCredit) {
      throw new DomainError('credit_too_small', 'invalid', `The credit of ${amount} is below the account's minimum credit of ${minCredit}.`, [{ path: 'amount', message: `must be at least ${minCredit}` }]);
    }
    if (maxBalance !== null && balanceAfter > maxBalance) {
      throw new DomainError('balance_limit', 'invalid', `The credit of ${amount} would take the balance from ${state.balance} above its maximum of ${maxBalance}.`, [{ path: 'amount', message: `exceeds the room of ${Math.max(0, maxBalance - state.balance)} below the maximum balance` }]);
    }
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
