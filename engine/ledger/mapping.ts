import type { LedgerContext } from './context';
import type { AccountDoc, EntryDoc } from './models';
import { resolvePolicy } from './policy';
import type { Account, LedgerEntry, PolicyLayer } from './types';

/** The account as readers see it; `layer` is its group's policy values (null or absent: none). */
export function toAccount(doc: AccountDoc, context: Pick<LedgerContext, 'policyDefaults'>, layer?: PolicyLayer | null): Account {
  const overrides = { minBalance: doc.minBalance ?? null, maxNegativeDays: doc.maxNegativeDays ?? null, maxBalance: doc.maxBalance ?? null, minCredit: doc.minCredit ?? null };
  const { policy, sources } = resolvePolicy(doc.unit, overrides, context.policyDefaults, layer);
  return {
    id: doc._id,
    ownerId: doc.ownerId,
    unit: doc.unit,
    balance: doc.balance,
    seq: doc.seq,
    policy,
    policyOverrides: overrides,
    policySources: sources,
    policyGroupId: layer && Object.values(sources).includes('group') ? layer.groupId : null,
    negativeSince: doc.negativeSince ?? null,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

/** The signed effect of an entry on the balance. */
export function signedAmount(doc: Pick<EntryDoc, 'direction' | 'amount'>): number {
  return doc.direction === 'credit' ? doc.amount : -doc.amount;
}

export function toEntry(doc: EntryDoc): LedgerEntry {
  return {
    id: doc._id,
    accountId: doc.accountId,
    ownerId: doc.ownerId,
    unit: doc.unit,
    seq: doc.seq,
    direction: doc.direction,
    amount: doc.amount,
    balanceBefore: doc.balanceAfter - signedAmount(doc),
    balanceAfter: doc.balanceAfter,
    idempotencyKey: doc.idempotencyKey,
    ...(doc.comment !== undefined && doc.comment !== null ? { comment: doc.comment } : {}),
    source: doc.source,
    ...(doc.transferId !== undefined && doc.transferId !== null ? { transferId: doc.transferId } : {}),
    ...(doc.transferLeg !== undefined && doc.transferLeg !== null ? { transferLeg: doc.transferLeg } : {}),
    ...(doc.counterparty !== undefined && doc.counterparty !== null ? { counterparty: { ownerId: doc.counterparty.ownerId, unit: doc.counterparty.unit } } : {}),
    createdAt: doc.createdAt,
  };
}
