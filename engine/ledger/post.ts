import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError, isDomainError } from '../errors';
import { POLICY_LEASE_MS, cachedLayer, knownAccount, noteHint, readAccount, readAccountAndLayer, rememberOpened, withFreshPolicy } from './account-cache';
import type { Head, LedgerContext } from './context';
import { advanceHint, headOfEntry, probeForward, rememberHead, startingHead } from './head';
import { dropMark, dropMarkAhead, markFor, placeMarkAhead } from './balance-marks';
import { claimKey, mayHoldKey } from './key-claims';
import { assertPostable } from './limits';
import { accountKey, entryKey, isDuplicateKeyError, type AccountDoc, type EntryDoc } from './models';
import { toEntry } from './mapping';
import { storedForm } from '../store';
import { applyPosting, effectivePolicy } from './policy';
import type { Counterparty, PolicyLayer, PostRequest, PostResult, TransferLeg } from './types';

/**
 * How many times one posting retries after another process took the seq it
 * wanted. Each retry starts from a newer balance; the bound turns endless
 * contention into a retryable `ledger_contended` instead of a hang.
 */
const MAX_POST_ATTEMPTS = 200;

/** Retry waits grow to this cap; full jitter spreads contending processes apart. */
const MAX_BACKOFF_MS = 50;

/** Postings one process may hold queued for one account before refusing more. */
const MAX_QUEUED_PER_ACCOUNT = 10_000;

/** What marks an entry as one half of a transfer (transfer.ts); plain postings carry none. */
export interface TransferMark {
  transferId: string;
  transferLeg: TransferLeg;
  counterparty: Counterparty;
}

async function backoff(attempt: number): Promise<void> {
  await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt));
}

function sameMark(existing: EntryDoc, mark: TransferMark | undefined): boolean {
  return (existing.transferId ?? null) === (mark?.transferId ?? null)
    && (existing.transferLeg ?? null) === (mark?.transferLeg ?? null)
    && (existing.counterparty?.ownerId ?? null) === (mark?.counterparty.ownerId ?? null)
    && (existing.counterparty?.unit ?? null) === (mark?.counterparty.unit ?? null);
}

function sameRequest(existing: EntryDoc, request: PostRequest, mark: TransferMark | undefined): boolean {
  return existing.ownerId === request.ownerId
    && existing.unit === request.unit
    && existing.direction === request.direction
    && existing.amount === request.amount
    && (existing.comment ?? null) === (request.comment ?? null)
    && sameMark(existing, mark);
}

function replayOf(existing: EntryDoc, request: PostRequest, mark: TransferMark | undefined): PostResult {
  if (!sameRequest(existing, request, mark)) {
    throw new DomainError('idempotency_conflict', 'conflict', `Idempotency key "${request.idempotencyKey}" was already used for a different posting (entry ${existing._id}).`, [{ path: 'idempotencyKey', message: 'already used for a different posting' }]);
  }
  return { entry: toEntry(existing), replayed: true };
}

/** The stored entry for this key, if any; throws `idempotency_conflict` when it records another request. */
async function findReplay(context: LedgerContext, request: PostRequest, mark: TransferMark | undefined): Promise<PostResult | null> {
  const existing = await context.models.Entry.findOne({ idempotencyKey: request.idempotencyKey }).lean<EntryDoc>();
  return existing ? replayOf(existing, request, mark) : null;
}

/** An account document with the unit defaults, empty or with `first` as its hint. */
function newAccountDoc(ownerId: string, unit: string, createdAt: Date, first?: Head): AccountDoc {
  return {
    _id: accountKey(unit, ownerId),
    ownerId,
    unit,
    balance: first?.balance ?? 0,
    seq: first?.seq ?? 0,
    negativeSince: first?.negativeSince ?? null,
    minBalance: null,
    maxNegativeDays: null,
    maxBalance: null,
    minCredit: null,
    createdAt,
    updatedAt: createdAt,
  };
}

/** A group layer read by a posting before it opened the account, and when that read was sent: it keeps its own lease. */
export interface KnownLayer {
  layer: PolicyLayer | null;
  readStartedMs: number;
}

/**
 * Stores the account document; a concurrent opener's document is used as-is.
 * `first` is the account's first entry when it has one: the document's
 * createdAt, and its first hint. Without it (a policy set before any
 * posting) the account opens empty, now.
 */
export async function openAccount(context: LedgerContext, ownerId: string, unit: string, first?: Head, known?: KnownLayer): Promise<AccountDoc> {
  const doc = newAccountDoc(ownerId, unit, first?.at ?? context.clock(), first);
  // A policy can only be set on an account that exists, so no PATCH completed before this insert was sent.
  const insertStartedMs = performance.now();
  try {
    await context.accountWriter.insert({ ...doc });
    rememberOpened(context, doc, insertStartedMs, known);
    return doc;
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
  }
  const existing = await readAccount(context, ownerId, unit);
  if (!existing) throw new Error(`ledger account ${doc._id} could not be opened`);
  return existing;
}

/**
 * Reads the account by `_id` (and caches it for this process's postings).
 * An account's first entry is stored before its document, so a process
 * stopped between the two leaves an entry 1 without a document: that
 * account exists, and its document is written here.
 */
export async function findAccountDoc(context: LedgerContext, ownerId: string, unit: string): Promise<AccountDoc | null> {
  const stored = await readAccount(context, ownerId, unit);
  if (stored) return stored;
  return openedFromFirstEntry(context, ownerId, unit);
}

/** An account without a document: opened from its entry 1 when a posting stopped between the two, else null. */
export async function openedFromFirstEntry(context: LedgerContext, ownerId: string, unit: string): Promise<AccountDoc | null> {
  const first = await context.models.entries.findOne({ _id: entryKey(accountKey(unit, ownerId), 1) }, { projection: { seq: 1, balanceAfter: 1, negativeSince: 1, createdAt: 1 } });
  return first ? openAccount(context, ownerId, unit, headOfEntry(first)) : null;
}

/**
 * The account a posting goes to. A stored account's policy freshness is
 * kept by the account cache. An account that does not exist yet is posted to
 * as an empty one: its document is written only after its first entry, so a
 * refused or conflicting first posting leaves nothing behind, and opening
 * costs no lookup of the idempotency key. `missingSinceMs` is when the store
 * last said it was missing: the unit defaults are at least that fresh, since
 * no policy can be set on an account that does not exist.
 */
type Target = { stored: true; account: AccountDoc } | { stored: false; account: AccountDoc; missingSinceMs: number; layer: PolicyLayer | null };

/**
 * The account to post to. An account this process has seen is not read
 * again here: it cannot have been removed, and its hint only helps to start.
 * The policy is made fresh separately, and only for debits.
 */
async function targetOf(context: LedgerContext, request: PostRequest): Promise<Target> {
  const known = knownAccount(context, accountKey(request.unit, request.ownerId));
  if (known) return { account: known, stored: true };
  if (!request.createIfMissing) {
    const existing = await findAccountDoc(context, request.ownerId, request.unit);
    if (existing) return { account: existing, stored: true };
    throw new DomainError('account_not_found', 'not_found', `No ${request.unit} account for owner "${request.ownerId}"; post with createIfMissing to open it.`);
  }
  // A posting that may open the account skips findAccountDoc's look for an
  // entry 1 without its document: if there is one, the insert of seq 1
  // collides with it, and the retry opens the document from it. The group
  // layer read beside the missing document is the one the new account gets.
  const read = await readAccountAndLayer(context, request.ownerId, request.unit);
  if (read.doc) return { account: read.doc, stored: true };
  return { account: newAccountDoc(request.ownerId, request.unit, context.clock()), stored: false, missingSinceMs: read.readStartedMs, layer: read.layer };
}

/** The target with a policy read within the lease (a debit's check); an unopened account is looked up again once its lease ran out. */
async function withPolicy(context: LedgerContext, target: Target): Promise<Target> {
  if (target.stored) return { stored: true, account: await withFreshPolicy(context, target.account) };
  if (performance.now() - target.missingSinceMs < POLICY_LEASE_MS) return target;
  const missingSinceMs = performance.now();
  const [existing, layer] = await Promise.all([findAccountDoc(context, target.account.ownerId, target.account.unit), context.policyLayer(target.account.ownerId, target.account.unit)]);
  return existing ? { account: existing, stored: true } : { ...target, missingSinceMs, layer };
}

/** The group layer the target's policy was read with. */
function layerOf(context: LedgerContext, target: Target): PolicyLayer | null {
  return target.stored ? cachedLayer(context, target.account._id) : target.layer;
}

/** The target once the account has entries (another process's, or a replayed one): its document, written if need be. */
async function opened(context: LedgerContext, target: Target): Promise<Target> {
  if (target.stored) return target;
  const account = await findAccountDoc(context, target.account.ownerId, target.account.unit);
  if (!account) throw new Error(`ledger account ${target.account._id} has entries but no entry 1`);
  return { account, stored: true };
}

/**
 * The posting is refused on this head. Refuse only on the newest balance,
 * and never refuse a replay: a retried debit that went through must return
 * its entry even if the balance has since dropped.
 */
async function onRefusal(context: LedgerContext, request: PostRequest, mark: TransferMark | undefined, accountId: string, head: Head, refusal: DomainError): Promise<{ head: Head } | PostResult> {
  const newest = await probeForward(context, accountId, head);
  if (newest.seq > head.seq) return { head: newest };
  // A debit's key is claimed before its entry: no claim, no entry with this key, and the refusal stands without a lookup by key (a scan of every entry on FerretDB).
  if (request.direction === 'debit' && !(await mayHoldKey(context, request.idempotencyKey))) throw refusal;
  const replay = await findReplay(context, request, mark);
  if (replay) return replay;
  throw refusal;
}

/**
 * The insert of seq + 1 hit a unique index. Either the seq is taken (another
 * process posted, or our head was behind): move to the newest head and try
 * again; or the idempotency key is taken: this is a replay or a conflict.
 * This attempt's balance mark stays while an entry holds the slot (it
 * resolves to that entry); when none does, it is dropped.
 */
async function onDuplicate(context: LedgerContext, request: PostRequest, mark: TransferMark | undefined, accountId: string, head: Head, balanceMarkId: string): Promise<{ head: Head } | PostResult> {
  const atSeq = await context.models.entries.findOne({ _id: entryKey(accountId, head.seq + 1) });
  if (atSeq?.idempotencyKey === request.idempotencyKey) return replayOf(atSeq, request, mark);
  if (atSeq) return { head: await probeForward(context, accountId, headOfEntry(atSeq)) };
  await dropMark(context, balanceMarkId);
  const replay = await findReplay(context, request, mark);
  if (replay) return replay;
  // Neither index holds a match any more: an impossible state for an append-only ledger.
  throw new Error(`ledger insert of ${entryKey(accountId, head.seq + 1)} failed on a duplicate key that no longer exists`);
}

function entryDoc(accountId: string, account: AccountDoc, next: Head, request: PostRequest, mark: TransferMark | undefined): EntryDoc {
  return {
    _id: entryKey(accountId, next.seq),
    accountId,
    ownerId: account.ownerId,
    unit: account.unit,
    seq: next.seq,
    direction: request.direction,
    amount: request.amount,
    balanceAfter: next.balance,
    negativeSince: next.negativeSince,
    idempotencyKey: request.idempotencyKey,
    ...(request.comment !== undefined ? { comment: request.comment } : {}),
    source: request.source,
    ...(mark ? { transferId: mark.transferId, transferLeg: mark.transferLeg, counterparty: { ...mark.counterparty } } : {}),
    createdAt: next.at,
  };
}

/**
 * Posts one entry. The entry insert is the commit point: its `_id` is
 * (account, seq + 1), so of two postings computed from the same balance only
 * one can land, and the loser recomputes from the winner's entry. Nothing
 * else must succeed for the posting to count; the account's hint is only a
 * starting point for finding the newest entry.
 */
async function postInQueue(context: LedgerContext, request: PostRequest, mark: TransferMark | undefined): Promise<PostResult> {
  let target = await targetOf(context, request);
  const accountId = target.account._id;
  // The credit rules (minCredit, maxBalance) do not hold back an admin's override, nor a transfer's reversal, which must land.
  const exempt = request.adminOverride === true || mark?.transferLeg === 'reversal';
  let head = startingHead(context, target.account);
  let claimed = false;
  for (let attempt = 0; attempt < MAX_POST_ATTEMPTS; attempt += 1) {
    // A debit, and a credit the credit rules apply to, is checked on a policy read within the lease, on every attempt.
    if (request.direction === 'debit' || !exempt) target = await withPolicy(context, target);
    const { account } = target;
    const now = context.clock();
    const policy = effectivePolicy(account.unit, account, context.policyDefaults, layerOf(context, target));
    let next: Head;
    try {
      next = { seq: head.seq + 1, ...applyPosting(head, request.direction, request.amount, policy, now, { exempt }), at: now };
    } catch (error) {
      if (!isDomainError(error)) throw error;
      const outcome = await onRefusal(context, request, mark, accountId, head, error);
      if ('entry' in outcome) return (await opened(context, target), outcome);
      if (outcome.head.seq > 0) target = await opened(context, target);
      head = outcome.head;
      continue;
    }
    const doc = entryDoc(accountId, account, next, request, mark);
    // The balance mark, and a debit's key claim, go first, so no entry can exist without them (balance-marks.ts, key-claims.ts).
    const claim = claimed || request.direction !== 'debit' ? undefined : claimKey(context, request.idempotencyKey, accountId);
    const [balanceMarkId] = await Promise.all([markFor(context, accountId, next.seq), claim]);
    claimed = true;
    if ((context.queues.get(accountId)?.depth ?? 0) > 1) placeMarkAhead(context, accountId, next.seq + 1);
    try {
      await context.entryWriter.insert(doc);
    } catch (error) {
      // Any other failure may have stored the entry after all (a lost connection): the mark stays, and resolves once the slot is taken.
      if (!isDuplicateKeyError(error)) throw error;
      const outcome = await onDuplicate(context, request, mark, accountId, head, balanceMarkId);
      if ('entry' in outcome) return (await opened(context, target), outcome);
      target = await opened(context, target);
      head = outcome.head;
      await backoff(attempt);
      continue;
    }
    rememberHead(context, accountId, next);
    const entry = toEntry(doc);
    await context.faultPoints.afterEntryInserted?.(entry);
    context.onEntryInserted(toEntry(storedForm(context.models.entries, doc)), balanceMarkId);
    // The first entry of a new account is followed by its document, carrying it as the hint.
    if (!target.stored) target = { account: await openAccount(context, account.ownerId, account.unit, next, { layer: target.layer, readStartedMs: target.missingSinceMs }), stored: true };
    if (next.seq - target.account.seq >= context.hintInterval) {
      await advanceHint(context, target.account, next);
      noteHint(context, target.account, { seq: next.seq, balance: next.balance, negativeSince: next.negativeSince, updatedAt: next.at });
    }
    return { entry, replayed: false };
  }
  throw new DomainError('ledger_contended', 'unavailable', `Posting to ${request.ownerId}/${request.unit} lost ${MAX_POST_ATTEMPTS} races in a row; retry.`);
}

/**
 * Runs this process's postings to one account one at a time, so they never
 * race each other for the same seq (only other processes can make a posting
 * retry). Postings to different accounts run in parallel. `mark` makes the
 * entry one half of a transfer (transfer.ts only; the public `post` passes
 * none), and is part of what a replay must match.
 */
export async function post(context: LedgerContext, request: PostRequest, mark?: TransferMark): Promise<PostResult> {
  assertPostable(request);
  const accountId = accountKey(request.unit, request.ownerId);
  const queue = context.queues.get(accountId) ?? { tail: Promise.resolve(), depth: 0 };
  if (queue.depth >= MAX_QUEUED_PER_ACCOUNT) {
    throw new DomainError('ledger_busy', 'unavailable', `${MAX_QUEUED_PER_ACCOUNT} postings are already waiting for ${request.ownerId}/${request.unit}; retry.`);
  }
  const run = queue.tail.then(() => postInQueue(context, request, mark));
  queue.tail = run.catch(() => undefined);
  queue.depth += 1;
  context.queues.set(accountId, queue);
  try {
    return await run;
  } finally {
    queue.depth -= 1;
    if (queue.depth === 0) {
      context.queues.delete(accountId);
      dropMarkAhead(context, accountId);
    }
  }
}
