import type { Connection } from 'mongoose';
import type { PolicyLayer } from '../ledger';
import { customerModels, type CustomerDoc, type GroupDoc } from './models';

/**
 * The group layer of an account's policy, for the ledger's `policyLayer`
 * dependency: the owner's customer, then its group, each read by `_id`
 * (two reads the ledger makes beside its account read, under the same
 * lease). Null when the owner has no customer, no group, or the group sets
 * nothing for the unit. Groups and profiles stay out of ledger documents:
 * the ledger only reads them.
 */
export function groupPolicyLayer(connection: Connection): (ownerId: string, unit: string) => Promise<PolicyLayer | null> {
  const { Customer, Group } = customerModels(connection);
  return async (ownerId, unit) => {
    const customer = await Customer.collection.findOne({ _id: ownerId } as never) as CustomerDoc | null;
    if (!customer?.groupId) return null;
    const group = await Group.collection.findOne({ _id: customer.groupId } as never) as GroupDoc | null;
    // A deleted group has no members (groups.ts), so its mark need not be read here.
    const values = group?.policy?.[unit];
    return group && values && Object.keys(values).length > 0 ? { groupId: group._id, values } : null;
  };
}
