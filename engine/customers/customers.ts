/**
 * Customer profiles: PUT (create or replace), reads and lists, and the
 * customer's side of the group handshake (see groups.ts): the customer is
 * written, then its group is read again; a group deleted in between puts the
 * customer back as it was and answers `group_deleted` (409).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from '../errors';
import { POLICY_CHANGE_WAIT_MS } from '../ledger';
import { assertOwnerId, assertUnit, MAX_AMOUNT } from '../ledger/limits';
import { groupNotFound, type Groups } from './groups';
import { upsertById, type AutoTopUp, type CustomerDoc, type CustomerModels, type GroupDoc } from './models';
import type { OpeningBalances, OpeningOutcome } from './opening-balance';

export interface CustomerInput {
  email?: string | undefined;
  name?: string | undefined;
  groupId?: string | undefined;
  attributes?: Record<string, unknown> | undefined;
  autoTopUp?: AutoTopUp | undefined;
}

/** A customer as readers (and runs, as `customer`) see it. */
export interface Customer {
  ownerId: string;
  email: string | null;
  name: string | null;
  groupId: string | null;
  attributes: Record<string, unknown>;
  autoTopUp: AutoTopUp | null;
  createdAt: Date;
  updatedAt: Date;
}

export function toCustomer(doc: CustomerDoc): Customer {
  return {
    ownerId: doc._id, email: doc.email ?? null, name: doc.name ?? null, groupId: doc.groupId ?? null,
    attributes: JSON.parse(doc.attributesJson ?? '{}') as Record<string, unknown>, autoTopUp: doc.autoTopUp ?? null, createdAt: doc.createdAt, updatedAt: doc.updatedAt,
  };
}

function hasPolicy(group: GroupDoc | null): boolean {
  return Object.values(group?.policy ?? {}).some((values) => Object.keys(values).length > 0);
}

function customerNotFound(ownerId: string): DomainError {
  return new DomainError('customer_not_found', 'not_found', `No customer with owner id "${ownerId}".`);
}

function assertAutoTopUp(autoTopUp: AutoTopUp | undefined): void {
  if (!autoTopUp) return;
  assertUnit(autoTopUp.unit);
  if (!Number.isSafeInteger(autoTopUp.amount) || autoTopUp.amount < 1 || autoTopUp.amount > MAX_AMOUNT) {
    throw new DomainError('amount_must_be_positive_integer', 'invalid', `autoTopUp.amount must be an integer from 1 to ${MAX_AMOUNT}.`, [{ path: 'autoTopUp.amount', message: `must be an integer from 1 to ${MAX_AMOUNT} (minor units)` }]);
  }
}

export function createCustomers(models: CustomerModels, groups: Groups, opening: OpeningBalances, clock: () => Date) {
  const { Customer } = models;

  /** Puts the customer back as it was before a refused PUT: the previous document, or none. */
  async function restore(ownerId: string, previous: CustomerDoc | null): Promise<void> {
    if (previous) await Customer.replaceOne({ _id: ownerId }, previous);
    else await Customer.deleteOne({ _id: ownerId });
  }

  return {
    /**
     * Creates or replaces a profile. An unknown `groupId` is 422 with nothing
     * written. The first time the customer is in a group with an opening
     * balance, it is credited (opening-balance.ts); `opening` tells which.
     */
    async put(ownerId: string, input: CustomerInput): Promise<{ customer: Customer; created: boolean; opening: OpeningOutcome | null }> {
      assertOwnerId(ownerId);
      assertAutoTopUp(input.autoTopUp);
      const group: GroupDoc | null = input.groupId ? await groups.live(input.groupId) : null;
      if (input.groupId && !group) throw groupNotFound(input.groupId, 'groupId');
      const previous = await Customer.findById(ownerId).lean<CustomerDoc>();
      const now = clock();
      const doc: CustomerDoc = {
        _id: ownerId, email: input.email ?? null, name: input.name ?? null, groupId: input.groupId ?? null,
        attributesJson: JSON.stringify(input.attributes ?? {}), autoTopUp: input.autoTopUp ?? null, createdAt: previous?.createdAt ?? now, updatedAt: now,
      };
      await upsertById(Customer, doc);
      if (input.groupId && !(await groups.live(input.groupId))) {
        await restore(ownerId, previous);
        throw new DomainError('group_deleted', 'conflict', `Group "${input.groupId}" was deleted while this customer was being saved; nothing was changed.`, [{ path: 'groupId', message: 'was deleted meanwhile' }]);
      }
      const granted = await opening.ensure(ownerId, group);
      // A move between groups changes the policy layer of the customer's accounts: wait out the ledger's lease, as a group change does.
      if ((previous?.groupId ?? null) !== doc.groupId && (hasPolicy(group) || hasPolicy(previous?.groupId ? await groups.live(previous.groupId) : null))) await sleep(POLICY_CHANGE_WAIT_MS);
      return { customer: toCustomer(doc), created: !previous, opening: granted };
    },

    async get(ownerId: string): Promise<Customer> {
      const doc = await Customer.findById(ownerId).lean<CustomerDoc>();
      if (!doc) throw customerNotFound(ownerId);
      return toCustomer(doc);
    },

    /** The profile, or null: what a run's context carries as `customer`. */
    async find(ownerId: string): Promise<Customer | null> {
      const doc = await Customer.findById(ownerId).lean<CustomerDoc>();
      return doc ? toCustomer(doc) : null;
    },

    /** Customers by owner id, optionally of one group; `limit` 1-200, cursor = the last owner id returned. */
    async list(filter: { groupId?: string | undefined }, page: { limit: number; cursor?: string | undefined }): Promise<{ items: Customer[]; nextCursor: string | null }> {
      const query: Record<string, unknown> = {};
      if (filter.groupId !== undefined) query.groupId = filter.groupId;
      if (page.cursor) query._id = { $gt: page.cursor };
      const docs = await Customer.find(query).sort({ _id: 1 }).limit(page.limit + 1).lean<CustomerDoc[]>();
      const items = docs.slice(0, page.limit).map(toCustomer);
      return { items, nextCursor: docs.length > page.limit ? (items.at(-1)?.ownerId ?? null) : null };
    },
  };
}

export type Customers = ReturnType<typeof createCustomers>;
