/**
 * Customer groups: their opening balances and policy layers, and the one
 * rule that ties them to customers: a group in use cannot be deleted. That
 * rule is kept without transactions by a write-then-read handshake with
 * customer PUTs (customers.ts): DELETE inserts the group's deletion mark,
 * then looks for members; a customer PUT writes the customer, then reads
 * the group (and its mark) again. Whichever writes second sees the other's
 * write, so a customer can never be left in a deleted group (at worst both
 * refuse, and a retry wins). The group document itself is only ever
 * replaced by PUT: no write here reads it first.
 */
import { DomainError } from '../errors';
import { setTimeout as sleep } from 'node:timers/promises';
import { POLICY_CHANGE_WAIT_MS } from '../ledger';
import { MAX_ABS_BALANCE, MAX_AMOUNT, MAX_NEGATIVE_DAYS, UNIT_PATTERN } from '../ledger/limits';
import { isDuplicateKeyError } from '../store';
import { upsertById, type CustomerModels, type GroupDoc, type GroupUnitPolicy } from './models';

/** Group ids are slugs: they appear in URLs, entry comments and source records. */
export const GROUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** At most this many units per group (opening balances and policies each). */
export const MAX_GROUP_UNITS = 20;

export interface GroupInput {
  name: string;
  openingBalance?: Record<string, number>;
  policy?: Record<string, GroupUnitPolicy>;
}

/** A group as readers see it. */
export interface Group {
  id: string;
  name: string;
  openingBalance: Record<string, number>;
  policy: Record<string, GroupUnitPolicy>;
  createdAt: Date;
  updatedAt: Date;
}

export function toGroup(doc: GroupDoc): Group {
  return { id: doc._id, name: doc.name, openingBalance: doc.openingBalance ?? {}, policy: doc.policy ?? {}, createdAt: doc.createdAt, updatedAt: doc.updatedAt };
}

function invalid(code: string, path: string, message: string): DomainError {
  return new DomainError(code, 'invalid', `${path} ${message}.`, [{ path, message }]);
}

export function groupNotFound(groupId: string, path?: string): DomainError {
  return new DomainError('group_not_found', path ? 'invalid' : 'not_found', `No group with id "${groupId}".`, path ? [{ path, message: `names no group ("${groupId}")` }] : []);
}

function assertUnitKey(unit: string, path: string): void {
  if (!UNIT_PATTERN.test(unit)) throw invalid('unit_invalid', path, 'must be keyed by an ISO 4217 code (e.g. USD) or CREDIT');
}

function isLimitedInteger(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

/**
 * The rules a group's numbers follow, each named by its code: an opening
 * balance is one credit (1 to MAX_AMOUNT) and must fit under the group's own
 * maxBalance; minCredit is at least 1; a maxBalance must leave room above
 * the group's minBalance.
 */
export function assertGroupInput(groupId: string, input: GroupInput): void {
  if (!GROUP_ID_PATTERN.test(groupId)) throw invalid('group_id_invalid', 'groupId', 'must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit');
  const opening = input.openingBalance ?? {};
  const policy = input.policy ?? {};
  if (Object.keys(opening).length > MAX_GROUP_UNITS) throw invalid('too_many_units', 'openingBalance', `must hold at most ${MAX_GROUP_UNITS} units`);
  if (Object.keys(policy).length > MAX_GROUP_UNITS) throw invalid('too_many_units', 'policy', `must hold at most ${MAX_GROUP_UNITS} units`);
  for (const [unit, amount] of Object.entries(opening)) {
    assertUnitKey(unit, `openingBalance.${unit}`);
    if (!isLimitedInteger(amount, 1, MAX_AMOUNT)) throw invalid('opening_balance_invalid', `openingBalance.${unit}`, `must be an integer from 1 to ${MAX_AMOUNT} (minor units; one credit within the ledger's limits)`);
    const maxBalance = policy[unit]?.maxBalance;
    if (maxBalance !== undefined && amount > maxBalance) throw invalid('opening_balance_over_limit', `openingBalance.${unit}`, `must not exceed the group's maxBalance of ${maxBalance}`);
  }
  for (const [unit, values] of Object.entries(policy)) assertUnitPolicy(unit, values);
}

function assertUnitPolicy(unit: string, values: GroupUnitPolicy): void {
  const at = `policy.${unit}`;
  assertUnitKey(unit, at);
  if (values.minBalance !== undefined && !isLimitedInteger(values.minBalance, -MAX_ABS_BALANCE, MAX_ABS_BALANCE)) throw invalid('min_balance_invalid', `${at}.minBalance`, `must be an integer within +-${MAX_ABS_BALANCE}`);
  if (values.maxNegativeDays !== undefined && !isLimitedInteger(values.maxNegativeDays, 0, MAX_NEGATIVE_DAYS)) throw invalid('max_negative_days_invalid', `${at}.maxNegativeDays`, `must be an integer from 0 to ${MAX_NEGATIVE_DAYS}`);
  if (values.minCredit !== undefined && !isLimitedInteger(values.minCredit, 1, MAX_AMOUNT)) throw invalid('min_credit_invalid', `${at}.minCredit`, `must be an integer from 1 to ${MAX_AMOUNT} (the smallest credit accepted, minor units)`);
  if (values.maxBalance !== undefined) {
    if (!isLimitedInteger(values.maxBalance, -MAX_ABS_BALANCE, MAX_ABS_BALANCE)) throw invalid('max_balance_invalid', `${at}.maxBalance`, `must be an integer within +-${MAX_ABS_BALANCE}`);
    if (values.minBalance !== undefined && values.maxBalance < values.minBalance) throw invalid('max_balance_invalid', `${at}.maxBalance`, `must be at least the group's minBalance of ${values.minBalance}`);
  }
}

/** Group reads and writes over the store; customers.ts does the customer side of the handshake. */
export function createGroups(models: CustomerModels, clock: () => Date) {
  const { Group, GroupDeletion, Customer } = models;

  async function live(groupId: string): Promise<GroupDoc | null> {
    const [doc, deletion] = await Promise.all([Group.findById(groupId).lean<GroupDoc>(), GroupDeletion.findById(groupId).lean()]);
    return doc && !deletion ? doc : null;
  }

  return {
    live,

    /** Creates or replaces a group (a deleted one comes back). */
    async put(groupId: string, input: GroupInput): Promise<{ group: Group; created: boolean }> {
      assertGroupInput(groupId, input);
      const existing = await live(groupId);
      const now = clock();
      const doc: GroupDoc = {
        _id: groupId, name: input.name, openingBalance: input.openingBalance ?? {}, policy: input.policy ?? {},
        createdAt: existing?.createdAt ?? now, updatedAt: now,
      };
      await upsertById(Group, doc);
      await GroupDeletion.deleteOne({ _id: groupId });
      // Postings read the group layer under the ledger's policy lease: once this answers, every process applies the new values.
      if (JSON.stringify(existing?.policy ?? {}) !== JSON.stringify(doc.policy)) await sleep(POLICY_CHANGE_WAIT_MS);
      return { group: toGroup(doc), created: !existing };
    },

    async get(groupId: string): Promise<Group> {
      const doc = await live(groupId);
      if (!doc) throw groupNotFound(groupId);
      return toGroup(doc);
    },

    /** Groups by id; `limit` 1-200, cursor = the last id returned. */
    async list(page: { limit: number; cursor?: string }): Promise<{ items: Group[]; nextCursor: string | null }> {
      const docs = await Group.find(page.cursor ? { _id: { $gt: page.cursor } } : {}).sort({ _id: 1 }).limit(page.limit + 1).lean<GroupDoc[]>();
      const pageDocs = docs.slice(0, page.limit);
      // Deleted groups keep their document beside their mark: left out here (a page may then be shorter than the limit).
      const deleted = new Set((await Promise.all(pageDocs.map((doc) => GroupDeletion.findById(doc._id).lean()))).filter((mark) => mark !== null).map((mark) => mark._id));
      const items = pageDocs.filter((doc) => !deleted.has(doc._id)).map(toGroup);
      return { items, nextCursor: docs.length > page.limit ? (pageDocs.at(-1)?._id ?? null) : null };
    },

    /**
     * Deletes a group no customer is in. Inserts its deletion mark first,
     * then looks for a member: one found removes this mark again and
     * answers `group_in_use` (409). See the opening comment for why this
     * order is the safe one. Two DELETEs at once: the second insert of the
     * mark fails, and that one answers 404.
     */
    async delete(groupId: string): Promise<void> {
      if (!(await live(groupId))) throw groupNotFound(groupId);
      const deletedAt = clock();
      try {
        await GroupDeletion.collection.insertOne({ _id: groupId, deletedAt } as never);
      } catch (error) {
        if (isDuplicateKeyError(error)) throw groupNotFound(groupId);
        throw error;
      }
      const members = await Customer.countDocuments({ groupId }, { limit: 1_000 });
      if (members === 0) return;
      // Only this DELETE's own mark: a PUT and another DELETE may have replaced it meanwhile.
      await GroupDeletion.deleteOne({ _id: groupId, deletedAt });
      throw new DomainError('group_in_use', 'conflict', `Group "${groupId}" has ${members >= 1_000 ? '1,000 or more' : members} customer(s); move them to another group first.`, [{ path: 'groupId', message: 'is used by customers' }]);
    },
  };
}

export type Groups = ReturnType<typeof createGroups>;
