/**
 * Key claims: the answer to "may an entry hold this idempotency key?" from
 * one `_id` read. See README ("Refusals and key claims").
 *
 * The entries' unique `idempotencyKey` index makes a key land once, but a
 * lookup by key is a filter on a field other than `_id`, which FerretDB
 * answers by scanning every entry. A refused posting must still return the
 * entry of a replayed key, so before claims every refusal scanned the whole
 * ledger. Now a debit inserts a claim (`_id` = the key) before it first
 * inserts its entry, and claims are never removed: no claim means no debit
 * has the key, and a debit's refusal without a claim is final. A claim
 * without an entry (the poster stopped, or lost every race) only sends that
 * key's refusals back to the scan.
 *
 * Only debits claim: they are what balances refuse (insufficient funds,
 * days in debt), so that is where refusals are many, while credits, most
 * postings, pay no extra insert. A refused credit (`maxBalance`,
 * `minCredit`) still looks its key up by scanning. A refused debit whose
 * key an earlier credit holds is reported as the refusal rather than as
 * `idempotency_conflict`: either way nothing is posted.
 *
 * Ledgers written before claims existed have their debits backfilled once, at startup
 * (`ensureKeyClaims`); until a process has seen the backfill finished, it
 * treats every key as claimed and scans as before.
 */
import { perDocumentFailures } from '../group-insert';
import type { LedgerContext } from './context';
import { isDuplicateKeyError, type KeyClaimDoc } from './models';

/** The migration record that says every entry written before claims has one. */
export const KEY_CLAIMS_BACKFILLED = 'key-claims-backfilled';

/** Entries read, and claims inserted, per round trip of a backfill. */
const BACKFILL_BATCH = 500;

/**
 * Claims the key for a debit about to insert its first entry attempt.
 * Must complete before that insert is sent. A key claimed before (a replay,
 * or an earlier attempt) is no error: the entry insert settles what it is.
 */
export async function claimKey(context: LedgerContext, idempotencyKey: string, accountId: string): Promise<void> {
  try {
    await context.keyClaimWriter.insert({ _id: idempotencyKey, accountId, createdAt: context.clock() });
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
  }
}

/**
 * False only when no entry can hold the key: claims are complete in this
 * process's view and none names it. True sends the caller to the lookup by key.
 */
export async function mayHoldKey(context: LedgerContext, idempotencyKey: string): Promise<boolean> {
  if (!context.keyClaimsComplete) return true;
  return (await context.models.keyClaims.findOne({ _id: idempotencyKey }, { projection: { _id: 1 } })) !== null;
}

/**
 * Inserts the missing claim of every debit, in batches of unordered inserts
 * (a key already claimed is a duplicate, skipped by the store), and answers
 * how many were missing. One pass over the entries; `ledger:verify` runs it
 * too, so a claim lost by hand is put back.
 */
export async function backfillKeyClaims(context: LedgerContext): Promise<number> {
  let inserted = 0;
  let batch: KeyClaimDoc[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    inserted += await insertMissing(context, batch);
    batch = [];
  };
  const cursor = context.models.entries.find({}, { projection: { idempotencyKey: 1, accountId: 1, direction: 1, createdAt: 1 } }).batchSize(BACKFILL_BATCH);
  for await (const entry of cursor) {
    if (entry.direction !== 'debit') continue;
    batch.push({ _id: entry.idempotencyKey, accountId: entry.accountId, createdAt: entry.createdAt });
    if (batch.length >= BACKFILL_BATCH) await flush();
  }
  await flush();
  return inserted;
}

async function insertMissing(context: LedgerContext, claims: KeyClaimDoc[]): Promise<number> {
  try {
    return (await context.models.keyClaims.insertMany(claims, { ordered: false })).insertedCount;
  } catch (error) {
    // Claims already there are fine; a failed command (no per-document answer) or any other refusal is not.
    const failures = perDocumentFailures(error, claims.length);
    if (!failures || !failures.every((failure) => isDuplicateKeyError(failure))) throw error;
    return claims.length - failures.length;
  }
}

/**
 * Makes this process's claims complete: reads the migration record, and
 * when it is missing backfills the claims and then writes it. Processes that
 * start together may backfill side by side; their inserts collide harmlessly.
 * Postings of this process claim their keys from the start, so nothing
 * written during the backfill is missed.
 */
export async function ensureKeyClaims(context: LedgerContext): Promise<void> {
  const done = await context.models.migrations.findOne({ _id: KEY_CLAIMS_BACKFILLED });
  if (!done) {
    await backfillKeyClaims(context);
    await context.models.migrations.insertOne({ _id: KEY_CLAIMS_BACKFILLED, at: context.clock() }).catch((error: unknown) => {
      if (!isDuplicateKeyError(error)) throw error;
    });
  }
  context.keyClaimsComplete = true;
}
