/**
 * Account policy overrides as insert-only versions. See README ("Policy
 * changes").
 *
 * The account document also carries the balance hint, which postings
 * advance with an update. FerretDB 1.x runs an update as a read and a
 * whole-document write, so a hint advance that read the document before a
 * PATCH wrote its policy could write the old policy back; and two PATCHes of
 * one account could lose one's field. So a policy change is never an update:
 * it inserts version n + 1 of the account's policy (`_id`
 * `<accountId>\u001f<n>`), computed from version n, the newest it read. The
 * store's primary key lets one insert of n + 1 land; the other writer reads
 * the winner and applies its own change on top. The policy in the account
 * document is version 0: what the account was opened with, or what a
 * release before versions wrote there.
 */
import { DomainError } from '../errors';
import type { LedgerContext } from './context';
import { isDuplicateKeyError, type AccountDoc, type PolicyVersionDoc } from './models';

/** The fields a version holds: an account's policy overrides (null: the group's value or the unit default). */
export type PolicyFields = Pick<PolicyVersionDoc, 'minBalance' | 'maxNegativeDays' | 'maxBalance' | 'minCredit'>;

/** The fields a change sets; those left out keep their value. */
export type PolicyChange = Partial<PolicyFields>;

/** Concurrent changes of one account's policy one change re-applies itself on top of before giving up. */
const MAX_VERSION_ATTEMPTS = 50;

/** Accounts whose newest known version this process keeps; beyond it the oldest is forgotten. */
const MAX_KNOWN_HEADS = 10_000;

export interface PolicyHead {
  /** The newest version (0: none written, the document's own policy). */
  n: number;
  fields: PolicyFields | null;
}

function versionId(accountId: string, n: number): string {
  return `${accountId}\u001f${n}`;
}

function fieldsOf(doc: Pick<PolicyVersionDoc, keyof PolicyFields> | AccountDoc): PolicyFields {
  return { minBalance: doc.minBalance ?? null, maxNegativeDays: doc.maxNegativeDays ?? null, maxBalance: doc.maxBalance ?? null, minCredit: doc.minCredit ?? null };
}

function rememberHead(context: LedgerContext, accountId: string, head: PolicyHead): void {
  const known = context.policyHeads.get(accountId);
  if (known && known.n >= head.n) return;
  context.policyHeads.delete(accountId);
  context.policyHeads.set(accountId, head);
  if (context.policyHeads.size > MAX_KNOWN_HEADS) {
    const oldest = context.policyHeads.keys().next().value;
    if (oldest !== undefined) context.policyHeads.delete(oldest);
  }
}

/**
 * The account's newest policy version, read forward by `_id` from the newest
 * this process has seen: one read (of the next, missing version) unless the
 * policy changed since.
 */
export async function policyHead(context: LedgerContext, accountId: string): Promise<PolicyHead> {
  let head = context.policyHeads.get(accountId) ?? { n: 0, fields: null };
  for (;;) {
    const next = await context.models.policyVersions.findOne({ _id: versionId(accountId, head.n + 1) });
    if (!next) break;
    head = { n: next.n, fields: fieldsOf(next) };
  }
  rememberHead(context, accountId, head);
  return head;
}

/** The account document with the policy of `head` in place of its own (version 0). */
export function withPolicyOf(doc: AccountDoc, head: PolicyHead): AccountDoc {
  return head.fields ? { ...doc, ...head.fields } : doc;
}

/** The account document with its newest policy. */
export async function withNewestPolicy(context: LedgerContext, doc: AccountDoc): Promise<AccountDoc> {
  return withPolicyOf(doc, await policyHead(context, doc._id));
}

/**
 * Writes `change` as the account's next policy version, on top of the
 * newest one: of concurrent changes each lands once, in some order, each
 * keeping the fields the others set. Answers the version written.
 */
export async function changePolicy(context: LedgerContext, account: AccountDoc, change: PolicyChange): Promise<PolicyHead> {
  for (let attempt = 0; attempt < MAX_VERSION_ATTEMPTS; attempt += 1) {
    const head = await policyHead(context, account._id);
    const fields = { ...(head.fields ?? fieldsOf(account)) };
    for (const [field, value] of Object.entries(change) as Array<[keyof PolicyFields, number | null | undefined]>) if (value !== undefined) fields[field] = value;
    const written: PolicyHead = { n: head.n + 1, fields };
    try {
      await context.models.policyVersions.insertOne({ _id: versionId(account._id, written.n), accountId: account._id, n: written.n, ...fields, at: context.clock() });
      rememberHead(context, account._id, written);
      return written;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
  throw new DomainError('ledger_contended', 'unavailable', `The policy of ${account.ownerId}/${account.unit} was changed ${MAX_VERSION_ATTEMPTS} times while this change was applied; retry.`);
}
