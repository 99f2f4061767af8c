import type { Connection } from 'mongoose';
import type { Ledger } from '../ledger';
import { createCustomers, type Customer } from './customers';
import { createGroups } from './groups';
import { customerModels, type CustomerModels } from './models';
import { createOpeningBalances } from './opening-balance';

export type { Customer, CustomerInput } from './customers';
export type { Group, GroupInput } from './groups';
export type { AutoTopUp, GroupUnitPolicy } from './models';
export type { OpeningOutcome } from './opening-balance';
export { GROUP_ID_PATTERN, MAX_GROUP_UNITS } from './groups';
export { openingKey } from './opening-balance';
export { groupPolicyLayer } from './policy-layer';

/**
 * Customers and groups (contract: api-v1.md, "Customers and groups"):
 * profiles keyed by owner id, groups with opening balances and policy
 * layers, and the opening credit. Profiles and groups never live in ledger
 * documents; the ledger is only posted to, through its public `post`.
 */
export function createCustomerDirectory(deps: { connection: Connection; ledger: Ledger; clock?: () => Date }) {
  const clock = deps.clock ?? (() => new Date());
  const models = customerModels(deps.connection);
  const groups = createGroups(models, clock);
  const opening = createOpeningBalances(models, deps.ledger, clock);
  const customers = createCustomers(models, groups, opening, clock);
  return {
    groups,
    customers,
    opening,
    /** The profile a run's context carries as `customer`, or null. */
    profileOf(ownerId: string): Promise<Customer | null> {
      return customers.find(ownerId);
    },
    async ensureIndexes(): Promise<void> {
      await ensureCollections(models);
    },
  };
}

async function ensureCollections(models: CustomerModels): Promise<void> {
  for (const model of [models.Group, models.GroupDeletion, models.Customer, models.OpeningGrant]) {
    await model.createCollection().catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 48) throw error;
    });
  }
  await models.Customer.createIndexes();
}

export type CustomerDirectory = ReturnType<typeof createCustomerDirectory>;
