/**
 * Opening balances: the credit a customer gets, per unit, the first time it
 * is in a group with an `openingBalance`. This module owns the mechanism end
 * to end. Exactly once per owner, also when PUTs race in several processes:
 *
 * 1. The claim (`opening_grants`, `_id` = `claim:<ownerId>`) is inserted
 *    before anything is credited. The first insert wins; a duplicate key
 *    means another PUT claimed first, and its claim (its group's amounts) is
 *    the one granted. A later move to another group finds the claim and
 *    grants nothing.
 * 2. Each unit is credited through the ledger's `post` under the key
 *    `opening:<unit>:<ownerId>` (source kind `opening`). Every PUT that finds
 *    the claim unfinished posts the same requests, so racing PUTs replay
 *    each other's credits instead of adding to them.
 * 3. `done:<ownerId>` is inserted after the last credit, so later PUTs of
 *    the customer read two `_id`s and post nothing. A crash before it leaves
 *    the claim unfinished, and the next PUT of the customer completes it.
 *
 * API clients cannot post under `opening:` keys: the API stores theirs as
 * `api:<key>` (admin-api/accounts/idempotency-keys.ts).
 */
import { createHash } from 'node:crypto';
import { isDuplicateKeyError } from '../store';
import type { Ledger } from '../ledger';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../ledger/limits';
import type { CustomerModels, GroupDoc, OpeningGrantDoc } from './models';

/** What a customer's opening balance came to: the group whose amounts were granted, and the credits' entry ids. */
export interface OpeningOutcome {
  groupId: string;
  amounts: Record<string, number>;
  entryIds: Record<string, string>;
  /** True when this call posted at least one of the credits (false: they were there already). */
  grantedNow: boolean;
}

/**
 * The idempotency key of an owner's opening credit in a unit:
 * `opening:<unit>:<ownerId>`, or, for owner ids too long for the ledger's
 * key limit, `opening-sha256:<unit>:<hex of the owner id>`.
 */
export function openingKey(unit: string, ownerId: string): string {
  const key = `opening:${unit}:${ownerId}`;
  if (key.length <= MAX_IDEMPOTENCY_KEY_LENGTH) return key;
  return `opening-sha256:${unit}:${createHash('sha256').update(ownerId, 'utf8').digest('hex')}`;
}

const claimId = (ownerId: string) => `claim:${ownerId}`;
const doneId = (ownerId: string) => `done:${ownerId}`;

export function createOpeningBalances(models: CustomerModels, ledger: Ledger, clock: () => Date) {
  const { OpeningGrant } = models;

  /** Inserts this group's claim, or returns the claim that won. */
  async function claim(ownerId: string, group: GroupDoc): Promise<OpeningGrantDoc> {
    const doc: OpeningGrantDoc = { _id: claimId(ownerId), ownerId, groupId: group._id, amounts: { ...group.openingBalance }, createdAt: clock() };
    try {
      await OpeningGrant.collection.insertOne(doc as never);
      return doc;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    const winner = await OpeningGrant.findById(claimId(ownerId)).lean<OpeningGrantDoc>();
    if (!winner) throw new Error(`opening claim of ${ownerId} vanished after a duplicate-key error`);
    return winner;
  }

  async function post(grant: OpeningGrantDoc): Promise<{ entryIds: Record<string, string>; grantedNow: boolean }> {
    const entryIds: Record<string, string> = {};
    let grantedNow = false;
    for (const [unit, amount] of Object.entries(grant.amounts).sort(([a], [b]) => a.localeCompare(b))) {
      const result = await ledger.post({
        ownerId: grant.ownerId, unit, direction: 'credit', amount, idempotencyKey: openingKey(unit, grant.ownerId), createIfMissing: true,
        comment: `Opening balance of group "${grant.groupId}"`, source: { kind: 'opening', groupId: grant.groupId },
        // The group's own grant: its minCredit and maxBalance do not hold it back (a group's maxBalance is checked against its opening balance when the group is saved).
        adminOverride: true,
      });
      entryIds[unit] = result.entry.id;
      grantedNow ||= !result.replayed;
    }
    try {
      await OpeningGrant.collection.insertOne({ _id: doneId(grant.ownerId), ownerId: grant.ownerId, groupId: grant.groupId, amounts: {}, createdAt: clock() } as never);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    return { entryIds, grantedNow };
  }

  return {
    /**
     * Grants the owner's opening balance if it has none yet and `group` has
     * one, or completes a grant a crash interrupted; returns the grant (null:
     * none, ever). Call after the customer is stored in `group`.
     */
    async ensure(ownerId: string, group: GroupDoc | null): Promise<OpeningOutcome | null> {
      const [existing, done] = await Promise.all([
        OpeningGrant.findById(claimId(ownerId)).lean<OpeningGrantDoc>(),
        OpeningGrant.findById(doneId(ownerId)).lean<OpeningGrantDoc>(),
      ]);
      if (existing && done) return { groupId: existing.groupId, amounts: existing.amounts, entryIds: {}, grantedNow: false };
      if (!existing && (!group || Object.keys(group.openingBalance ?? {}).length === 0)) return null;
      const grant = existing ?? (await claim(ownerId, group!));
      const { entryIds, grantedNow } = await post(grant);
      return { groupId: grant.groupId, amounts: grant.amounts, entryIds, grantedNow };
    },

    /** The owner's granted opening balance, if any (for the customer view). */
    async of(ownerId: string): Promise<{ groupId: string; amounts: Record<string, number> } | null> {
      const grant = await OpeningGrant.findById(claimId(ownerId)).lean<OpeningGrantDoc>();
      return grant ? { groupId: grant.groupId, amounts: grant.amounts } : null;
    },
  };
}

export type OpeningBalances = ReturnType<typeof createOpeningBalances>;
