import { Schema, type Connection, type Model, type Types } from 'mongoose';
import type { Direction, EntrySource } from './types';

/**
 * The account document: identity, the admin's policy overrides, and a cache
 * of its latest entry (`seq`, `balance`, `negativeSince`). The cache lags the
 * entries by at most one when a posting stopped between its two writes.
 */
export interface AccountDoc {
  _id: Types.ObjectId;
  ownerId: string;
  unit: string;
  balance: number;
  seq: number;
  negativeSince: Date | null;
  minBalance: number | null;
  maxNegativeDays: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The entry document, immutable once inserted except `deliveredAt`. Every
 * indexed field is top level (FerretDB on SQLite indexes no nested fields).
 * `negativeSince` is the state after this entry, so the next posting can be
 * computed from the entry alone when the account cache lags.
 */
export interface EntryDoc {
  _id: Types.ObjectId;
  accountId: Types.ObjectId;
  ownerId: string;
  unit: string;
  seq: number;
  direction: Direction;
  amount: number;
  balanceAfter: number;
  negativeSince: Date | null;
  idempotencyKey: string;
  comment?: string;
  source: EntrySource;
  createdAt: Date;
  /** When `account.balance_changed` for this entry was handed over; null until then. */
  deliveredAt: Date | null;
}

const accountSchema = new Schema<AccountDoc>(
  {
    ownerId: { type: String, required: true },
    unit: { type: String, required: true },
    balance: { type: Number, required: true },
    seq: { type: Number, required: true },
    negativeSince: { type: Date, default: null },
    minBalance: { type: Number, default: null },
    maxNegativeDays: { type: Number, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'ledger_accounts', autoIndex: false, autoCreate: false, versionKey: false },
);
accountSchema.index({ ownerId: 1, unit: 1 }, { unique: true });

const entrySchema = new Schema<EntryDoc>(
  {
    accountId: { type: Schema.Types.ObjectId, required: true },
    ownerId: { type: String, required: true },
    unit: { type: String, required: true },
    seq: { type: Number, required: true },
    direction: { type: String, enum: ['credit', 'debit'], required: true },
    amount: { type: Number, required: true },
    balanceAfter: { type: Number, required: true },
    negativeSince: { type: Date, default: null },
    idempotencyKey: { type: String, required: true },
    comment: { type: String },
    source: { type: Schema.Types.Mixed, required: true },
    createdAt: { type: Date, required: true },
    deliveredAt: { type: Date, default: null },
  },
  { collection: 'ledger_entries', autoIndex: false, autoCreate: false, versionKey: false },
);
// The two invariants the store enforces for us: one entry per (account, seq),
// so concurrent postings cannot both extend the same balance; and one entry
// per idempotency key across the ledger, so a key names exactly one posting.
entrySchema.index({ accountId: 1, seq: 1 }, { unique: true });
entrySchema.index({ idempotencyKey: 1 }, { unique: true });
// Finds balance changes not yet handed to the trigger engine.
entrySchema.index({ deliveredAt: 1 });

export interface LedgerModels {
  Account: Model<AccountDoc>;
  Entry: Model<EntryDoc>;
}

/** Registers the models on the given connection (never on the global mongoose). */
export function ledgerModels(connection: Connection): LedgerModels {
  return {
    Account: (connection.models.LedgerAccount as Model<AccountDoc> | undefined) ?? connection.model<AccountDoc>('LedgerAccount', accountSchema),
    Entry: (connection.models.LedgerEntry as Model<EntryDoc> | undefined) ?? connection.model<EntryDoc>('LedgerEntry', entrySchema),
  };
}

/** True for a unique-index violation (MongoDB and FerretDB both use code 11000). */
export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}
