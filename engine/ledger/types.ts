/**
 * Who caused an entry: a trigger run's task, or an API key (admin
 * adjustment). A run's entries carry the run's chain depth (0 for a run a
 * client's event started; see RunCause in workflows/types.ts), so the
 * balance change they cause starts runs one deeper. Entries posted before
 * depths were recorded have none: their runs had depth 0.
 */
export type EntrySource =
  | { kind: 'trigger'; triggerId: string; workflowId: string; taskId: string; eventId: string; depth?: number }
  | { kind: 'api'; keyId: string; adminOverride?: true }
  /** A customer's opening balance (engine/customers/opening-balance.ts): the group whose amount was granted. */
  | { kind: 'opening'; groupId: string }
  /** A subscription's renewal (engine/subscriptions): the subscription and the period end it paid for (ISO). */
  | { kind: 'subscription'; subscriptionId: string; periodEnd: string };

export type Direction = 'credit' | 'debit';

/** The account on the other side of a transfer entry. */
export interface Counterparty {
  ownerId: string;
  unit: string;
}

/**
 * Which half of a transfer an entry is: the `debit` of `from`, the `credit`
 * of `to`, or the `reversal` that credits `from` back when the credit was
 * refused for good.
 */
export type TransferLeg = 'debit' | 'credit' | 'reversal';

/**
 * An account's limits. `minBalance` is the lowest balance a debit may leave
 * (0: no overdraft; negative: debt allowed down to it), in the unit's minor
 * units. `maxNegativeDays`, when set, refuses debits once the balance has been
 * negative for longer than that many days, until it is back to >= 0.
 */
export interface Policy {
  minBalance: number;
  maxNegativeDays: number | null;
  /** The highest balance a credit may leave (`balance_limit`); null: none. */
  maxBalance: number | null;
  /** The smallest credit accepted (`credit_too_small`), in minor units; null: none. */
  minCredit: number | null;
}

/** The values an admin set on one account; null falls back to the group, then the unit default. */
export interface PolicyOverrides {
  minBalance: number | null;
  maxNegativeDays: number | null;
  maxBalance?: number | null;
  minCredit?: number | null;
}

/**
 * The middle layer of an account's policy: the values of the owner's
 * customer group for the account's unit (engine/customers). The ledger
 * reads it through LedgerDependencies.policyLayer with the same lease as
 * the account's own values.
 */
export interface PolicyLayer {
  groupId: string;
  values: Partial<Policy>;
}

/** Which layer set each value of the policy in force. */
export type PolicySources = Record<keyof Policy, 'account' | 'group' | 'default'>;

/** Policy defaults per unit; the `*` entry applies to units not listed. */
export type PolicyDefaults = Readonly<Record<string, Partial<Policy>>>;

/** An account as readers see it: the balance of its latest entry and its effective policy. */
export interface Account {
  id: string;
  ownerId: string;
  unit: string;
  /** Integer, minor units of `unit` (cents, or whole credits). */
  balance: number;
  /** The seq of the latest entry; 0 before the first posting. */
  seq: number;
  /** The policy in force: the account's own values, else the unit defaults. */
  policy: Policy;
  /** The values an admin set on this account; null fields fall back to the group, then the defaults. */
  policyOverrides: Required<PolicyOverrides>;
  /** Where each value of `policy` came from. */
  policySources: PolicySources;
  /** The customer group whose layer applies, when the owner is in one with values for this unit. */
  policyGroupId: string | null;
  /** When the balance last went from >= 0 to < 0; null while it is >= 0. */
  negativeSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One immutable ledger entry. */
export interface LedgerEntry {
  id: string;
  accountId: string;
  ownerId: string;
  unit: string;
  /** 1, 2, 3... per account, no gaps. */
  seq: number;
  direction: Direction;
  /** > 0, minor units. */
  amount: number;
  balanceBefore: number;
  balanceAfter: number;
  idempotencyKey: string;
  comment?: string;
  source: EntrySource;
  /** Set on the entries of a transfer only: the transfer, this entry's leg, and the account on the other side. */
  transferId?: string;
  transferLeg?: TransferLeg;
  counterparty?: Counterparty;
  createdAt: Date;
}

export interface PostRequest {
  ownerId: string;
  unit: string;
  direction: Direction;
  /** Minor units; a positive safe integer up to MAX_AMOUNT. */
  amount: number;
  /** Unique across the ledger: the same key always means the same posting. */
  idempotencyKey: string;
  /** Opens the account on first posting; default false. */
  createIfMissing?: boolean;
  comment?: string;
  source: EntrySource;
  /**
   * Exempts a credit from `minCredit` and `maxBalance` (an admin's
   * deliberate posting, or an opening balance). Debits keep every rule.
   */
  adminOverride?: boolean;
}

export interface PostResult {
  entry: LedgerEntry;
  /** True when the key had already been posted and nothing new was written. */
  replayed: boolean;
}

/** A move of value between two accounts of one unit; see README ("Transfers"). */
export interface TransferRequest {
  /**
   * Unique per transfer, 1-191 characters; the same id always means the same
   * transfer (e.g. `<workflowId>:<taskId>`). Its entries' idempotency keys are
   * `<transferId>:debit`, `<transferId>:credit` and `<transferId>:reversal`.
   */
  transferId: string;
  fromOwnerId: string;
  toOwnerId: string;
  unit: string;
  /** Minor units; a positive safe integer up to MAX_AMOUNT. */
  amount: number;
  /** Opens `to` (and `from`, whose policy then applies to the empty account) when missing; default false. */
  createIfMissing?: boolean;
  comment?: string;
  source: EntrySource;
}

export interface TransferResult {
  transferId: string;
  debitEntryId: string;
  creditEntryId: string;
  fromBalanceAfter: number;
  toBalanceAfter: number;
  /** True when the transfer had already completed and this call wrote nothing. */
  replayed: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AccountFilter {
  ownerId?: string;
  unit?: string;
  balanceGte?: number;
  balanceLte?: number;
}

export interface PolicyPatch {
  /** null resets to the group's value or the unit default; undefined leaves it unchanged. */
  minBalance?: number | null;
  maxNegativeDays?: number | null;
  maxBalance?: number | null;
  minCredit?: number | null;
  createIfMissing?: boolean;
}

/** One account that fails verification, and why. */
export interface VerifyProblem {
  accountId: string;
  ownerId: string;
  unit: string;
  problems: string[];
}

/** One transfer whose entries do not pair up, and why. */
export interface TransferProblem {
  transferId: string;
  problems: string[];
}

export interface VerifyReport {
  accountsChecked: number;
  entriesChecked: number;
  /** Transfers whose entries were checked against each other. */
  transfersChecked: number;
  /** Accounts a posting stopped mid-way left behind and that were repaired: a trailing hint advanced, or the document of an account with entries written. */
  accountsRepaired: number;
  /** Debits whose idempotency key had no claim (key-claims.ts), and got one: a refusal would have missed their replay. */
  keyClaimsRepaired: number;
  broken: VerifyProblem[];
  /** Transfers whose entries do not pair up: a debit with neither credit nor reversal, or legs that disagree. */
  brokenTransfers: TransferProblem[];
}
