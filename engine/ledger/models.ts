import { Schema, type Connection, type Model, type mongo } from 'mongoose';
import { driverCollection, modelOn } from '../store';
import type { Counterparty, Direction, EntrySource, TransferLeg } from './types';

/**
 * The account document: identity, the admin's policy overrides, and a hint
 * of its latest entry (`seq`, `balance`, `negativeSince`). The hint may trail
 * the entries (see README); readers and posters probe forward from it.
 * `_id` is `accountKey(unit, ownerId)`, so finding an account is an `_id` read.
 */
export interface AccountDoc {
  _id: string;
  ownerId: string;
  unit: string;
  balance: number;
  seq: number;
  negativeSince: Date | null;
  minBalance: number | null;
  maxNegativeDays: number | null;
  /** Absent on accounts opened before these rules existed: read as null. */
  maxBalance?: number | null;
  minCredit?: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The entry document, immutable once inserted. Every
 * indexed field is top level (FerretDB on SQLite indexes no nested fields).
 * `negativeSince` is the state after this entry, so the next posting can be
 * computed from the entry alone when the account cache lags.
 */
export interface EntryDoc {
  /** `entryKey(accountId, seq)`: the store's primary key enforces one entry per (account, seq). */
  _id: string;
  accountId: string;
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
  /** Only on a transfer's entries (see transfer.ts): its id, this entry's leg, and the other side's account. */
  transferId?: string;
  transferLeg?: TransferLeg;
  counterparty?: Counterparty;
  createdAt: Date;
}

const accountSchema = new Schema<AccountDoc>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true },
    unit: { type: String, required: true },
    balance: { type: Number, required: true },
    seq: { type: Number, required: true },
    negativeSince: { type: Date, default: null },
    minBalance: { type: Number, default: null },
    maxNegativeDays: { type: Number, default: null },
    maxBalance: { type: Number, default: null },
    minCredit: { type: Number, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'ledger_accounts', autoIndex: false, autoCreate: false, versionKey: false },
);
// Filters of the account list; (ownerId, unit) uniqueness is the _id itself.
accountSchema.index({ ownerId: 1 });

const entrySchema = new Schema<EntryDoc>(
  {
    _id: { type: String, required: true },
    accountId: { type: String, required: true },
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
    transferId: { type: String },
    transferLeg: { type: String, enum: ['debit', 'credit', 'reversal'] },
    counterparty: { type: new Schema<Counterparty>({ ownerId: { type: String, required: true }, unit: { type: String, required: true } }, { _id: false }) },
    createdAt: { type: Date, required: true },
  },
  { collection: 'ledger_entries', autoIndex: false, autoCreate: false, versionKey: false },
);
// The two invariants the store enforces for us: one entry per (account, seq)
// (the _id), so concurrent postings cannot both extend the same balance; and
// one entry per idempotency key across the ledger, so a key names exactly one
// posting.
entrySchema.index({ idempotencyKey: 1 }, { unique: true });

/**
 * One posting attempt's claim that an entry may land at (accountId, seq),
 * inserted before the entry and deleted once the slot's
 * `account.balance_changed` is handed over (balance-marks.ts). Insert and
 * delete only; only `_id` is indexed.
 */
export interface BalanceMarkDoc {
  /** `markKey(accountId, seq, attemptId)`: one per attempt, so each poster deletes only its own. */
  _id: string;
  accountId: string;
  seq: number;
  createdAt: Date;
}

const markSchema = new Schema<BalanceMarkDoc>(
  {
    _id: { type: String, required: true },
    accountId: { type: String, required: true },
    seq: { type: Number, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'ledger_balance_marks', autoIndex: false, autoCreate: false, versionKey: false },
);

/**
 * A key claim (key-claims.ts): the idempotency key of a debit that may
 * exist, inserted before that entry's first insert and never removed, so a
 * refused debit learns from one `_id` read that no entry holds its key.
 */
export interface KeyClaimDoc {
  /** The idempotency key. */
  _id: string;
  /** The account the claiming posting was for (a replay on another is a conflict). */
  accountId: string;
  createdAt: Date;
}

/** One version of an account's policy overrides (policy-versions.ts); insert-only, the newest n counts. */
export interface PolicyVersionDoc {
  /** `<accountId>\u001f<n>`. */
  _id: string;
  accountId: string;
  n: number;
  minBalance: number | null;
  maxNegativeDays: number | null;
  maxBalance: number | null;
  minCredit: number | null;
  at: Date;
}

/** A one-time migration the ledger has finished, by name (key-claims.ts). */
export interface MigrationDoc {
  _id: string;
  at: Date;
}

/**
 * What a transfer settled on, keyed by the transfer id and never changed
 * once inserted (the first insert wins; see transfer.ts). `completed` is
 * written after the credit entry, so a retry of a finished transfer is one
 * `_id` read; `reversing` is written before the reversal entry, so no later
 * attempt credits a transfer that is being reversed. The entries stay the
 * truth: `ledger:verify` checks them, not these records.
 */
export interface TransferDoc {
  _id: string;
  outcome: 'completed' | 'reversing';
  fromOwnerId: string;
  toOwnerId: string;
  unit: string;
  amount: number;
  comment?: string;
  source: EntrySource;
  debitEntryId: string;
  fromBalanceAfter: number;
  /** Set when completed. */
  creditEntryId: string | null;
  toBalanceAfter: number | null;
  /** Set when reversing: the final refusal of the credit. */
  refusal: { code: string; message: string } | null;
  createdAt: Date;
}

const transferSchema = new Schema<TransferDoc>(
  {
    _id: { type: String, required: true },
    outcome: { type: String, enum: ['completed', 'reversing'], required: true },
    fromOwnerId: { type: String, required: true },
    toOwnerId: { type: String, required: true },
    unit: { type: String, required: true },
    amount: { type: Number, required: true },
    comment: { type: String },
    source: { type: Schema.Types.Mixed, required: true },
    debitEntryId: { type: String, required: true },
    fromBalanceAfter: { type: Number, required: true },
    creditEntryId: { type: String, default: null },
    toBalanceAfter: { type: Number, default: null },
    refusal: { type: Schema.Types.Mixed, default: null },
    createdAt: { type: Date, required: true },
  },
  { collection: 'ledger_transfers', autoIndex: false, autoCreate: false, versionKey: false },
);

export interface LedgerModels {
  Account: Model<AccountDoc>;
  Entry: Model<EntryDoc>;
  Transfer: Model<TransferDoc>;
  Mark: Model<BalanceMarkDoc>;
  /** The driver's collections, for the inserts on the hot path (no document hydration). */
  accounts: mongo.Collection<AccountDoc>;
  entries: mongo.Collection<EntryDoc>;
  transfers: mongo.Collection<TransferDoc>;
  marks: mongo.Collection<BalanceMarkDoc>;
  keyClaims: mongo.Collection<KeyClaimDoc>;
  migrations: mongo.Collection<MigrationDoc>;
  policyVersions: mongo.Collection<PolicyVersionDoc>;
}

/** Registers the models on the given connection (never on the global mongoose). */
export function ledgerModels(connection: Connection): LedgerModels {
  const Account = modelOn<AccountDoc>(connection, 'LedgerAccount', accountSchema);
  const Entry = modelOn<EntryDoc>(connection, 'LedgerEntry', entrySchema);
  const Transfer = modelOn<TransferDoc>(connection, 'LedgerTransfer', transferSchema);
  const Mark = modelOn<BalanceMarkDoc>(connection, 'LedgerBalanceMark', markSchema);
  return {
    Account,
    Entry,
    Transfer,
    Mark,
    accounts: driverCollection(Account),
    entries: driverCollection(Entry),
    transfers: driverCollection(Transfer),
    marks: driverCollection(Mark),
    // Insert and `_id` reads only: no schema or model, the driver's collections as they are.
    keyClaims: connection.collection<KeyClaimDoc>('ledger_key_claims') as unknown as mongo.Collection<KeyClaimDoc>,
    migrations: connection.collection<MigrationDoc>('ledger_migrations') as unknown as mongo.Collection<MigrationDoc>,
    policyVersions: connection.collection<PolicyVersionDoc>('ledger_policy_versions') as unknown as mongo.Collection<PolicyVersionDoc>,
  };
}

/**
 * The account's `_id`. The unit never contains ':', so the key is unambiguous
 * for any ownerId, and reading an account is an `_id` lookup: the one read
 * FerretDB 1.24 on SQLite answers from an index.
 */
export function accountKey(unit: string, ownerId: string): string {
  return `${unit}:${ownerId}`;
}

/** The entry's `_id`: the account key and the seq, so "is seq taken?" is an `_id` lookup too. */
export function entryKey(accountId: string, seq: number): string {
  return `${accountId}:${seq}`;
}

/** Seqs are zero-padded to this many digits in mark ids (safe integers have at most 16). */
const MARK_SEQ_DIGITS = 16;

/**
 * A balance mark's `_id`: the slot, then the attempt. The padded seq makes
 * `_id` order seq order within an account, so a consumer paging by `_id`
 * meets one account's slots in order.
 */
export function markKey(accountId: string, seq: number, attemptId: string): string {
  return `${accountId}:${String(seq).padStart(MARK_SEQ_DIGITS, '0')}:${attemptId}`;
}

export { isDuplicateKeyError } from '../store';
