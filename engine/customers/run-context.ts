/**
 * What a run learns about the owner its event names: the customer profile
 * (`customer` in the run context) and the owner's account (`account`). This
 * module decides which events name an owner, for ingestion and the dry run
 * alike, so `{{customer.autoTopUp.threshold}}` and `when` on
 * `customer.attributes.*` mean the same in both.
 *
 * An event names an owner through, in this order, the first that is a
 * non-empty string:
 * 1. the account an internal event is about (`account.balance_changed`, a
 *    sweep's run): its `ownerId`;
 * 2. `data.ownerId`;
 * 3. `data.account.ownerId`;
 * 4. `data.customer.id`;
 * 5. `data.reservation.user.id` (the booking system's reservations, the
 *    account task's default owner).
 * Its account is the one the internal event names, else the owner's account
 * in `data.unit` when that is a unit, else in the default unit; absent when
 * the owner has no such account.
 */
import type { Ledger } from '../ledger';
import { UNIT_PATTERN } from '../ledger/limits';
import type { AccountContext, CustomerContext, EventEnvelope } from '../../workflows/types';
import type { Customer } from './customers';

/** The owner context of one event: what the run input carries beside the event. */
export interface OwnerContext {
  account?: AccountContext;
  customer?: CustomerContext;
}

export type OwnerContextLoader = (event: Pick<EventEnvelope, 'data'>, account?: AccountContext) => Promise<OwnerContext>;

const OWNER_PATHS: ReadonlyArray<readonly string[]> = [['ownerId'], ['account', 'ownerId'], ['customer', 'id'], ['reservation', 'user', 'id']];

function at(data: unknown, path: readonly string[]): unknown {
  let value = data;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The owner id an event's data names (paths 2-5 above), or undefined. */
export function ownerNamedBy(data: unknown): string | undefined {
  for (const path of OWNER_PATHS) {
    const value = at(data, path);
    if (typeof value === 'string' && value.length > 0 && value.length <= 200) return value;
  }
  return undefined;
}

/** The profile as plain JSON, as runs (and their Temporal history) carry it. */
export function customerContextOf(customer: Customer): CustomerContext {
  return {
    ownerId: customer.ownerId, email: customer.email, name: customer.name, groupId: customer.groupId,
    attributes: customer.attributes, autoTopUp: customer.autoTopUp,
  };
}

export function createOwnerContextLoader(deps: { profileOf: (ownerId: string) => Promise<Customer | null>; ledger: Pick<Ledger, 'balanceOf'>; defaultUnit: string }): OwnerContextLoader {
  return async (event, account) => {
    const ownerId = account?.ownerId ?? ownerNamedBy(event.data);
    if (ownerId === undefined) return {};
    const unit = typeof event.data.unit === 'string' && UNIT_PATTERN.test(event.data.unit) ? event.data.unit : deps.defaultUnit;
    const [customer, balance] = await Promise.all([
      deps.profileOf(ownerId),
      account ? Promise.resolve(null) : deps.ledger.balanceOf(ownerId, unit),
    ]);
    const accountContext = account ?? (balance !== null ? { ownerId, unit, balance } : undefined);
    return { ...(accountContext ? { account: accountContext } : {}), ...(customer ? { customer: customerContextOf(customer) } : {}) };
  };
}
