import type { LedgerContext } from './context';
import { probeForward, startingHead } from './head';
import { assertUnit } from './limits';
import { toAccount } from './mapping';
import type { AccountDoc } from './models';
import { policyHead, withPolicyOf } from './policy-versions';
import type { Account } from './types';

/** Accounts per batch handed to the sweep (and probed for their exact balance at once): 1-1,000. */
export const DEFAULT_SWEEP_BATCH = 200;
const MAX_SWEEP_BATCH = 1_000;

export interface SweepOptions {
  /** Resume after this account id (`<unit>:<ownerId>`), e.g. from a retried sweep's checkpoint. */
  afterId?: string;
  /** Accounts per yielded batch; default DEFAULT_SWEEP_BATCH. */
  batchSize?: number;
}

/**
 * Every account of one unit in `_id` order, in batches, each account with
 * its exact balance (hint plus probe forward; the hint is not rewritten:
 * on FerretDB that conditional update scans the collection). The accounts
 * come from ONE cursor sorted by `_id` and read `batchSize` at a time, so
 * memory holds one batch whatever the ledger's size, and FerretDB, which
 * scans for anything but `_id` equality, scans once per sweep rather than
 * once per page. An account opened while the sweep runs is included if its
 * key sorts after the cursor's position; one whose first posting stopped
 * before its document was written is not (ledger:verify writes it).
 */
export async function* sweepAccounts(context: LedgerContext, unit: string, options: SweepOptions = {}): AsyncGenerator<Account[]> {
  assertUnit(unit);
  const batchSize = Math.min(Math.max(1, Math.trunc(options.batchSize ?? DEFAULT_SWEEP_BATCH)), MAX_SWEEP_BATCH);
  // Account ids are `<unit>:<ownerId>` and no unit holds ':', so the unit's accounts lie strictly between "<unit>:" and "<unit>;".
  const lowest = `${unit}:`;
  const after = options.afterId !== undefined && options.afterId > lowest ? options.afterId : lowest;
  const cursor = context.models.accounts.find({ _id: { $gt: after, $lt: `${unit};` } }).sort({ _id: 1 }).batchSize(batchSize);
  try {
    let batch: AccountDoc[] = [];
    for await (const doc of cursor) {
      batch.push(doc);
      if (batch.length < batchSize) continue;
      yield await exactBalances(context, batch);
      batch = [];
    }
    if (batch.length > 0) yield await exactBalances(context, batch);
  } finally {
    await cursor.close();
  }
}

async function exactBalances(context: LedgerContext, docs: readonly AccountDoc[]): Promise<Account[]> {
  return Promise.all(docs.map(async (doc) => {
    const [head, policy] = await Promise.all([probeForward(context, doc._id, startingHead(context, doc)), policyHead(context, doc._id)]);
    return toAccount({ ...withPolicyOf(doc, policy), seq: head.seq, balance: head.balance, negativeSince: head.negativeSince }, context);
  }));
}
