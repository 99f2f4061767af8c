import type { LedgerModels } from './models';
import type { LedgerEntry, PolicyDefaults } from './types';

/**
 * Points inside a posting where a crash test can stop the process. Production
 * code passes none; each hook runs at most once per step and may never return.
 */
export interface FaultPoints {
  /** After the entry (the commit point) is stored, before the account cache advances. */
  afterEntryInserted?: (entry: LedgerEntry) => Promise<void>;
}

/** What every ledger operation needs, built once by createLedger. */
export interface LedgerContext {
  models: LedgerModels;
  clock: () => Date;
  policyDefaults: PolicyDefaults;
  faultPoints: FaultPoints;
}
