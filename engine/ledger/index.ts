import type mongoose from 'mongoose';
import { clearMarks, entryAtSlot, readMarks, type BalanceMark } from './balance-marks';
import type { FaultPoints, LedgerContext } from './context';
import { groupInsert } from '../group-insert';
import { ensureKeyClaims } from './key-claims';
import { ledgerModels, type LedgerModels } from './models';
import { post } from './post';
import { balanceOf, getAccount, listAccounts, listEntries, policyOf, setPolicy } from './queries';
import { sweepAccounts, type SweepOptions } from './sweep';
import { transfer } from './transfer';
import type { Account, AccountFilter, PolicyLayer, LedgerEntry, Page, PolicyDefaults, PolicyPatch, PostRequest, PostResult, TransferProblem, TransferRequest, TransferResult, VerifyProblem, VerifyReport } from './types';
import { verifyLedger } from './verify';

export type * from './types';
export { MAX_AMOUNT, MAX_NEGATIVE_DAYS, MAX_TRANSFER_ID_LENGTH, UNIT_PATTERN } from './limits';
export { TransferReversedError, transferKey } from './transfer';
export { MAX_PAGE_SIZE } from './queries';
export { MAX_BALANCE_MARKS_PER_READ, type BalanceMark } from './balance-marks';
export { DEFAULT_SWEEP_BATCH, type SweepOptions } from './sweep';
export { POLICY_LEASE_MARGIN_MS, POLICY_LEASE_MS } from './account-cache';

/** How long a change to an account's policy layers must wait before it answers, so no process applies the old values afterwards. */
export const POLICY_CHANGE_WAIT_MS = 1_050;

/**
 * Accounts and the append-only ledger. Every credit and debit in Creditflow
 * goes through `post`; it is exactly-once per idempotency key and safe under
 * concurrency and crashes without multi-document transactions (see README).
 */
export interface Ledger {
  /** Posts one credit or debit, or returns the entry already posted under the key. */
  post(request: PostRequest): Promise<PostResult>;
  /**
   * Moves an amount between two accounts of one unit exactly once per
   * transferId: a debit on `from` (under its policy), then a credit on `to`.
   * A retry completes a transfer stopped between the two; a credit refused
   * for good is reversed (`transfer_reversed`). See README ("Transfers").
   */
  transfer(request: TransferRequest): Promise<TransferResult>;
  /** The account with its balance as of its latest entry, or null. */
  getAccount(ownerId: string, unit: string): Promise<Account | null>;
  /** The balance as of the latest entry, or null: what a run's `account` context needs, without reading the policy's group layer. */
  balanceOf(ownerId: string, unit: string): Promise<number | null>;
  /** The policy the account has, or would have once opened (a dry run's projection), and the layer each value came from. */
  policyOf(ownerId: string, unit: string): Promise<Pick<Account, 'policy' | 'policySources' | 'policyGroupId'>>;
  /** Accounts newest first, filtered; `limit` 1-200. */
  listAccounts(filter: AccountFilter, page: { limit: number; cursor?: string }): Promise<Page<Account>>;
  /**
   * Every account of the unit in key order, in batches, each with its exact
   * balance: one streaming cursor, so memory holds one batch (see sweep.ts).
   * `afterId` resumes after an account id.
   */
  sweepAccounts(unit: string, options?: SweepOptions): AsyncGenerator<Account[]>;
  /** One account's entries newest first; `limit` 1-200; throws `account_not_found`. */
  listEntries(ownerId: string, unit: string, page: { limit: number; cursor?: string }): Promise<Page<LedgerEntry>>;
  /** Sets the account's policy overrides; throws `account_not_found` unless `createIfMissing`. */
  setPolicy(ownerId: string, unit: string, patch: PolicyPatch): Promise<Account>;
  /** Checks every account against its entries (advancing hints that trail), then that every transfer's entries pair up. */
  verify(onBroken?: (problem: VerifyProblem) => void, onBrokenTransfer?: (problem: TransferProblem) => void): Promise<VerifyReport>;
  /** The outbox of `account.balance_changed` (see README, "Balance changes"); its consumer is engine/events/balance-pump.ts. */
  balanceChanges: BalanceChangeOutbox;
  /**
   * Creates the collections and indexes (idempotent). Every other method
   * awaits it once first, because exactly-once rests on the unique index; call
   * it at startup to fail fast when the store is unreachable.
   */
  ensureIndexes(): Promise<void>;
}

/**
 * What a consumer of balance changes reads: the marks of slots not yet
 * handed over, each slot's entry by `_id`, and the deletion of marks once
 * their slots are handed over. No read here filters the entries on
 * anything but `_id`.
 */
export interface BalanceChangeOutbox {
  /** Marks in `_id` order after `after` (null: from the start), at most `limit` (1-500); one account's in seq order. */
  readMarks(after: string | null, limit: number): Promise<BalanceMark[]>;
  /** The entry at a mark's slot, or null while the slot is empty (its poster is in flight, or stopped before the entry). */
  entryAt(entryId: string): Promise<LedgerEntry | null>;
  /** Deletes marks whose slots have been handed over (at most 500). */
  clearMarks(markIds: readonly string[]): Promise<void>;
}

export interface LedgerDependencies {
  connection: mongoose.Connection;
  /** Stamps entries and judges maxNegativeDays; tests pass a controllable one. */
  clock?: () => Date;
  /** Policy per unit (`*` for the rest); built in: minBalance 0, no day limit. */
  policyDefaults?: PolicyDefaults;
  /**
   * The middle layer of each account's policy (account override > this >
   * unit default): the owner's customer group values for the unit, e.g.
   * engine/customers' groupPolicyLayer. Read beside the account document
   * and kept for the same lease (POLICY_LEASE_MS), so a change to it that
   * waits out the lease (POLICY_CHANGE_WAIT_MS) holds in every process once
   * it has answered. Without it there is no group layer.
   */
  policyLayer?: (ownerId: string, unit: string) => Promise<PolicyLayer | null>;
  /** Crash-test hooks only; see FaultPoints. */
  faultPoints?: FaultPoints;
  /**
   * Rewrite the account document's balance hint once it trails the newest
   * entry by this many entries (1-1,000; default 8). 1 keeps the stored
   * balance exact for list filters at one more write per posting.
   */
  hintInterval?: number;
  /**
   * Called after each entry this process inserts (not on replays), with the
   * entry as a read of it would return it and the id of the balance mark its
   * posting placed for it, e.g. to hand both to this process's balance pump,
   * which then delivers the change at once, without reading the entry or
   * the marks. Must not throw or block: it runs on the posting path.
   */
  onEntryInserted?: (entry: LedgerEntry, markId: string) => void;
}

/** Default for LedgerDependencies.hintInterval: see README ("Why the hint trails"). */
export const DEFAULT_HINT_INTERVAL = 8;

export function createLedger(deps: LedgerDependencies): Ledger {
  const models = ledgerModels(deps.connection);
  const context: LedgerContext = {
    models,
    entryWriter: groupInsert(models.entries),
    accountWriter: groupInsert(models.accounts),
    transferWriter: groupInsert(models.transfers),
    markWriter: groupInsert(models.marks),
    keyClaimWriter: groupInsert(models.keyClaims),
    keyClaimsComplete: false,
    policyHeads: new Map(),
    onEntryInserted: deps.onEntryInserted ?? (() => undefined),
    clock: deps.clock ?? (() => new Date()),
    policyDefaults: deps.policyDefaults ?? {},
    policyLayer: deps.policyLayer ?? (async () => null),
    faultPoints: deps.faultPoints ?? {},
    hintInterval: hintInterval(deps.hintInterval),
    heads: new Map(),
    accounts: new Map(),
    queues: new Map(),
    marksAhead: new Map(),
  };
  let indexes: Promise<void> | undefined;
  const ensureIndexes = () => {
    indexes ??= createIndexes(models).then(() => ensureKeyClaims(context)).catch((error: unknown) => {
      indexes = undefined;
      throw error;
    });
    return indexes;
  };
  const ready = <A extends unknown[], R>(operation: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    await ensureIndexes();
    return operation(...args);
  };
  return {
    post: ready((request: PostRequest) => post(context, request)),
    transfer: ready((request: TransferRequest) => transfer(context, request)),
    getAccount: ready((ownerId: string, unit: string) => getAccount(context, ownerId, unit)),
    balanceOf: ready((ownerId: string, unit: string) => balanceOf(context, ownerId, unit)),
    policyOf: ready((ownerId: string, unit: string) => policyOf(context, ownerId, unit)),
    listAccounts: ready((filter: AccountFilter, page: { limit: number; cursor?: string }) => listAccounts(context, filter, page)),
    async *sweepAccounts(unit: string, options?: SweepOptions) {
      await ensureIndexes();
      yield* sweepAccounts(context, unit, options);
    },
    listEntries: ready((ownerId: string, unit: string, page: { limit: number; cursor?: string }) => listEntries(context, ownerId, unit, page)),
    setPolicy: ready((ownerId: string, unit: string, patch: PolicyPatch) => setPolicy(context, ownerId, unit, patch)),
    verify: ready((onBroken?: (problem: VerifyProblem) => void, onBrokenTransfer?: (problem: TransferProblem) => void) => verifyLedger(context, onBroken, onBrokenTransfer)),
    balanceChanges: {
      readMarks: ready((after: string | null, limit: number) => readMarks(context, after, limit)),
      entryAt: ready((entryId: string) => entryAtSlot(context, entryId)),
      clearMarks: ready((markIds: readonly string[]) => clearMarks(context, markIds)),
    },
    ensureIndexes,
  };
}

async function createIndexes(models: LedgerModels): Promise<void> {
  await models.Account.createCollection().catch(ignoreExists);
  await models.Entry.createCollection().catch(ignoreExists);
  await models.Transfer.createCollection().catch(ignoreExists);
  await models.Mark.createCollection().catch(ignoreExists);
  await models.Account.createIndexes();
  await models.Entry.createIndexes();
  // Entries no longer carry deliveredAt (balance marks replaced it); its index only slowed inserts.
  await models.entries.dropIndex('deliveredAt_1_createdAt_1').catch(ignoreMissingIndex);
}

function hintInterval(value: number | undefined): number {
  if (value === undefined) return DEFAULT_HINT_INTERVAL;
  if (!Number.isInteger(value) || value < 1 || value > 1_000) throw new Error(`ledger hintInterval must be 1-1000, got ${value}`);
  return value;
}

/** dropIndex fails with IndexNotFound (27) when the index is not there. */
function ignoreMissingIndex(error: unknown): void {
  if ((error as { code?: unknown }).code !== 27) throw error;
}

/** createCollection fails with NamespaceExists (48) when the collection is there already. */
function ignoreExists(error: unknown): void {
  if ((error as { code?: unknown }).code !== 48) throw error;
}
