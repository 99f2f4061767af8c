import type { Account, LedgerEntry } from '../../engine/ledger';
import { shownKey } from './idempotency-keys';

/** The account as the API shows it (contract: ownerId, unit, balance, createdAt, updatedAt). */
export function accountView(account: Account) {
  return {
    ownerId: account.ownerId,
    unit: account.unit,
    balance: account.balance,
    seq: account.seq,
    policy: account.policy,
    policyOverrides: account.policyOverrides,
    policySources: account.policySources,
    policyGroupId: account.policyGroupId,
    negativeSince: account.negativeSince?.toISOString() ?? null,
    createdAt: account.createdAt.toISOString(),
    updatedAt: account.updatedAt.toISOString(),
  };
}

/** One entry as the API shows it; account identity is in the URL, so it is left out. */
export function entryView(entry: LedgerEntry) {
  return {
    id: entry.id,
    seq: entry.seq,
    direction: entry.direction,
    amount: entry.amount,
    balanceBefore: entry.balanceBefore,
    balanceAfter: entry.balanceAfter,
    idempotencyKey: shownKey(entry),
    ...(entry.comment !== undefined ? { comment: entry.comment } : {}),
    source: entry.source,
    ...(entry.transferId !== undefined ? { transferId: entry.transferId } : {}),
    ...(entry.transferLeg !== undefined ? { transferLeg: entry.transferLeg } : {}),
    ...(entry.counterparty !== undefined ? { counterparty: { ownerId: entry.counterparty.ownerId, unit: entry.counterparty.unit } } : {}),
    createdAt: entry.createdAt.toISOString(),
  };
}
