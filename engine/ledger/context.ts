import type { CachedAccount } from './account-cache';
import type { PolicyHead } from './policy-versions';
import type { GroupInsert } from '../group-insert';
import type { AccountDoc, BalanceMarkDoc, EntryDoc, KeyClaimDoc, LedgerModels, TransferDoc } from './models';
import type { LedgerEntry, PolicyDefaults, PolicyLayer } from './types';

/**
 * Points inside a posting where a crash test can stop the process. Production
 * code passes none; each hook runs at most once per step and may never return.
 */
export interface FaultPoints {
  /** After the entry (the commit point) is stored, before the account hint may advance. */
  afterEntryInserted?: (entry: LedgerEntry) => Promise<void>;
  /** After a transfer's debit is stored (or replayed), before its credit is posted. */
  afterTransferDebit?: (debit: LedgerEntry) => Promise<void>;
}

/** The state the newest known entry of an account leaves behind. */
export interface Head {
  seq: number;
  balance: number;
  negativeSince: Date | null;
  /** When that entry was posted (the account's createdAt while seq is 0). */
  at: Date;
}

/** What every ledger operation needs, built once by createLedger. */
export interface LedgerContext {
  models: LedgerModels;
  /** Inserts entries, grouping concurrent ones into one round trip. */
  entryWriter: GroupInsert<EntryDoc>;
  /** Inserts account documents, grouping concurrent ones likewise. */
  accountWriter: GroupInsert<AccountDoc>;
  /** Inserts transfer outcome records, grouping concurrent ones likewise. */
  transferWriter: GroupInsert<TransferDoc>;
  /** Inserts balance marks (balance-marks.ts), grouping concurrent ones likewise. */
  markWriter: GroupInsert<BalanceMarkDoc>;
  /** Inserts key claims (key-claims.ts), grouping concurrent ones likewise. */
  keyClaimWriter: GroupInsert<KeyClaimDoc>;
  /** True once this process has seen every entry's key claimed (the backfill finished): only then is a missing claim proof of no entry. */
  keyClaimsComplete: boolean;
  /** The newest policy version this process has seen per account (policy-versions.ts; bounded, oldest evicted). */
  policyHeads: Map<string, PolicyHead>;
  /** Called after each entry this process inserts (not on replays), with the entry as a read of it would return it and its posting's balance mark: hands both to a balance-change consumer in this process. */
  onEntryInserted: (entry: LedgerEntry, markId: string) => void;
  clock: () => Date;
  policyDefaults: PolicyDefaults;
  /** The group layer of an account's policy (LedgerDependencies.policyLayer); answers null without one. */
  policyLayer: (ownerId: string, unit: string) => Promise<PolicyLayer | null>;
  faultPoints: FaultPoints;
  /** The account document's hint is rewritten once it trails the newest entry by this many. */
  hintInterval: number;
  /** The newest head this process has seen per account (a bounded map, oldest evicted). */
  heads: Map<string, Head>;
  /** The account documents this process has read or opened (a bounded map, oldest evicted); see account-cache. */
  accounts: Map<string, CachedAccount>;
  /** Per account, the tail and length of this process's queue of postings. */
  queues: Map<string, { tail: Promise<unknown>; depth: number }>;
  /**
   * Per account, a balance mark placed ahead for the next slot while
   * another posting of this process waits for the account (balance-marks.ts):
   * the slot it is for, and its id once stored (null if it failed).
   */
  marksAhead: Map<string, { seq: number; placed: Promise<string | null> }>;
}
