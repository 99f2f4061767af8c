import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKeyError, modelOn } from '../store';

/**
 * One unit's policy values set by a group (minor units of that unit). Absent
 * fields fall through to the unit default; an account's own override wins
 * over all of them (see engine/customers/README.md, "Policy layering").
 */
export interface GroupUnitPolicy {
  minBalance?: number;
  maxNegativeDays?: number;
  maxBalance?: number;
  minCredit?: number;
}

/**
 * A customer group: a name, the opening balance its new members get per
 * unit, and its policy layer per unit. Deleting it inserts a GroupDeletionDoc
 * beside it (never an update of this document), so a customer PUT racing
 * with the DELETE can see it (see groups.ts); a PUT of the same id removes
 * that mark and brings the group back.
 */
export interface GroupDoc {
  _id: string;
  name: string;
  openingBalance: Record<string, number>;
  policy: Record<string, GroupUnitPolicy>;
  createdAt: Date;
  updatedAt: Date;
}

/** The mark of a deleted group (`_id` = the group id): inserted by DELETE, removed by a DELETE that finds members, or by a PUT of the group. */
export interface GroupDeletionDoc {
  _id: string;
  deletedAt: Date;
}

/** Self-service top-up settings of a customer, as a trigger reads them (`{{customer.autoTopUp.threshold}}`). */
export interface AutoTopUp {
  enabled: boolean;
  /** Minor units of `unit`: top up when the balance is at or below this. */
  threshold: number;
  /** Minor units of `unit`: how much one top-up credits. */
  amount: number;
  unit: string;
}

/**
 * A customer profile, keyed by the owner id its accounts carry. Profile data
 * only: balances live in the ledger, and whether the opening balance was
 * granted lives in `opening_grants` (never here, so a profile edit can never
 * undo or repeat a grant).
 */
export interface CustomerDoc {
  _id: string;
  email: string | null;
  name: string | null;
  groupId: string | null;
  /**
   * The free-form attributes as JSON text: their keys are the client's, and
   * a key such as `$where` or `a.b` is no field name a store accepts (as
   * event data, stored as `dataJson`, for the same reason).
   */
  attributesJson: string;
  autoTopUp: AutoTopUp | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The claim of an owner's opening balance: inserted once per owner (`_id` =
 * ownerId), before its credits are posted, by the first PUT that puts the
 * customer in a group with an opening balance. The insert decides which
 * group's amounts are granted when two PUTs race; a claim whose credits a
 * crash interrupted is completed by the next PUT of the customer. `doneAt`
 * lives in a second insert (`_id` = `<ownerId>:done`) so nothing is updated.
 */
export interface OpeningGrantDoc {
  _id: string;
  ownerId: string;
  groupId: string;
  amounts: Record<string, number>;
  createdAt: Date;
}

const groupSchema = new Schema<GroupDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    openingBalance: { type: Schema.Types.Mixed, default: {} },
    policy: { type: Schema.Types.Mixed, default: {} },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'customer_groups', versionKey: false, minimize: false, autoIndex: false },
);

const customerSchema = new Schema<CustomerDoc>(
  {
    _id: { type: String, required: true },
    email: { type: String, default: null },
    name: { type: String, default: null },
    groupId: { type: String, default: null },
    attributesJson: { type: String, default: '{}' },
    autoTopUp: { type: Schema.Types.Mixed, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'customers', versionKey: false, minimize: false, autoIndex: false },
);
// `?groupId=` lists and the group's in-use check (on MongoDB; FerretDB 1.x scans).
customerSchema.index({ groupId: 1, _id: 1 });

const groupDeletionSchema = new Schema<GroupDeletionDoc>(
  { _id: { type: String, required: true }, deletedAt: { type: Date, required: true } },
  { collection: 'customer_group_deletions', versionKey: false, autoIndex: false },
);

const openingGrantSchema = new Schema<OpeningGrantDoc>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true },
    groupId: { type: String, required: true },
    amounts: { type: Schema.Types.Mixed, default: {} },
    createdAt: { type: Date, required: true },
  },
  { collection: 'opening_grants', versionKey: false, minimize: false, autoIndex: false },
);

export interface CustomerModels {
  Group: Model<GroupDoc>;
  GroupDeletion: Model<GroupDeletionDoc>;
  Customer: Model<CustomerDoc>;
  OpeningGrant: Model<OpeningGrantDoc>;
}

export function customerModels(connection: Connection): CustomerModels {
  return {
    Group: modelOn(connection, 'CustomerGroup', groupSchema),
    GroupDeletion: modelOn(connection, 'CustomerGroupDeletion', groupDeletionSchema),
    Customer: modelOn(connection, 'Customer', customerSchema),
    OpeningGrant: modelOn(connection, 'OpeningGrant', openingGrantSchema),
  };
}

/**
 * Replaces the document or inserts it. Two upserts of one new `_id` can race
 * into a duplicate-key error (both found nothing, both inserted); the loser's
 * second try finds the winner's document and replaces it, as a later PUT would.
 */
export async function upsertById<T extends { _id: string }>(model: Model<T>, doc: T): Promise<void> {
  try {
    await model.replaceOne({ _id: doc._id }, doc, { upsert: true });
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    await model.replaceOne({ _id: doc._id }, doc, { upsert: true });
  }
}
