import { performance } from 'node:perf_hooks';
import type { LedgerContext } from './context';
import { accountKey, type AccountDoc } from './models';
import { policyHead, withPolicyOf } from './policy-versions';
import type { PolicyLayer } from './types';

/**
 * How long this process may apply a policy it read without reading it again,
 * in ms. `setPolicy` waits out this lease (plus POLICY_LEASE_MARGIN_MS)
 * after its write before it answers, so once a PATCH has returned no process
 * can still apply the policy it replaced. Bounds: PATCH latency grows with it.
 */
export const POLICY_LEASE_MS = 1_000;

/** Slack for timer resolution between the lease and the PATCH's wait. */
export const POLICY_LEASE_MARGIN_MS = 50;

/** Accounts this process keeps; beyond it the least recently used is forgotten. */
const MAX_CACHED_ACCOUNTS = 10_000;

/** An account document as this process last read it, and when that read was sent. */
export interface CachedAccount {
  doc: AccountDoc;
  /** performance.now() just before the read was sent: the policy is at least this fresh. */
  readStartedMs: number;
  /**
   * The group layer, read beside the document after `readStartedMs`, so it
   * shares its lease; undefined when this entry came from a write (opening
   * the account), not a read, and the layer must still be read.
   */
  layer?: PolicyLayer | null;
}

function remember(context: LedgerContext, cached: CachedAccount): void {
  context.accounts.delete(cached.doc._id);
  context.accounts.set(cached.doc._id, cached);
  if (context.accounts.size > MAX_CACHED_ACCOUNTS) {
    const oldest = context.accounts.keys().next().value;
    if (oldest !== undefined) context.accounts.delete(oldest);
  }
}

/**
 * Reads the account through the driver (on the hot path mongoose's query
 * building costs a fifth of the throughput), with its newest policy version
 * (policy-versions.ts) read beside it.
 */
export async function readAccount(context: LedgerContext, ownerId: string, unit: string): Promise<AccountDoc | null> {
  return (await readAccountAndLayer(context, ownerId, unit)).doc;
}

/** One read of an account: its document (null when missing) and the group layer read beside it, both at least as fresh as `readStartedMs`. */
export interface AccountRead {
  doc: AccountDoc | null;
  layer: PolicyLayer | null;
  readStartedMs: number;
}

/** readAccount, also answering the group layer it read, which a posting that opens a missing account applies without reading it again. */
export async function readAccountAndLayer(context: LedgerContext, ownerId: string, unit: string): Promise<AccountRead> {
  const readStartedMs = performance.now();
  const accountId = accountKey(unit, ownerId);
  // An account this process knows exists has its policy versions read beside it; for one not seen yet (often one about to be opened) they are read only once it is found.
  const known = context.accounts.has(accountId);
  const [stored, layer, knownHead] = await Promise.all([context.models.accounts.findOne({ _id: accountId }), context.policyLayer(ownerId, unit), known ? policyHead(context, accountId) : undefined]);
  if (!stored) return { doc: null, layer, readStartedMs };
  const doc = withPolicyOf(stored, knownHead ?? (await policyHead(context, accountId)));
  remember(context, { doc, readStartedMs, layer });
  return { doc, layer, readStartedMs };
}

/** The group layer this process read with the account's policy (null: none; see withFreshPolicy for its freshness). */
export function cachedLayer(context: LedgerContext, accountId: string): PolicyLayer | null {
  return context.accounts.get(accountId)?.layer ?? null;
}

/**
 * The account as last seen by this process, for what never goes stale:
 * that it exists (accounts are never removed), its identity, and a hint that
 * only ever trails the entries. Its policy may be old: see `withFreshPolicy`.
 */
export function knownAccount(context: LedgerContext, accountId: string): AccountDoc | undefined {
  const cached = context.accounts.get(accountId);
  if (cached) remember(context, cached);
  return cached?.doc;
}

/**
 * The account with a policy read within the lease, reading it again if the
 * lease ran out. The account document's own policy (version 0) never
 * changes once written (policy-versions.ts), so an account this process has
 * read is not read again: only what can change is, its newest policy
 * version and its group layer.
 */
export async function withFreshPolicy(context: LedgerContext, account: AccountDoc): Promise<AccountDoc> {
  const cached = context.accounts.get(account._id);
  if (cached && cached.layer !== undefined && performance.now() - cached.readStartedMs < POLICY_LEASE_MS) return cached.doc;
  if (cached) {
    const readStartedMs = performance.now();
    const [layer, head] = await Promise.all([context.policyLayer(account.ownerId, account.unit), policyHead(context, account._id)]);
    const doc = withPolicyOf(cached.doc, head);
    remember(context, { doc, readStartedMs, layer });
    return doc;
  }
  const fresh = await readAccount(context, account.ownerId, account.unit);
  if (!fresh) throw new Error(`ledger account ${account._id} disappeared`);
  return fresh;
}

/** Records a hint this process just wrote, keeping the policy's read time. */
export function noteHint(context: LedgerContext, account: AccountDoc, hint: Pick<AccountDoc, 'seq' | 'balance' | 'negativeSince' | 'updatedAt'>): void {
  const cached = context.accounts.get(account._id);
  if (cached && cached.doc.seq < hint.seq) cached.doc = { ...cached.doc, ...hint };
}

/** Drops the account, so the next posting reads its policy again (this process's own PATCH). */
export function forgetAccount(context: LedgerContext, accountId: string): void {
  context.accounts.delete(accountId);
}

/**
 * Caches an account this process just opened; `insertStartedMs` is when its
 * insert was sent. With the group layer the opening posting read (`known`),
 * the entry's lease starts at the older of the two reads; without it the
 * layer is read on the next check.
 */
export function rememberOpened(context: LedgerContext, doc: AccountDoc, insertStartedMs: number, known?: { layer: PolicyLayer | null; readStartedMs: number }): void {
  remember(context, known ? { doc, readStartedMs: Math.min(insertStartedMs, known.readStartedMs), layer: known.layer } : { doc, readStartedMs: insertStartedMs });
}
