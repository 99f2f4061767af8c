import { DomainError } from '../../engine/errors';
import type { LedgerEntry } from '../../engine/ledger';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../../engine/ledger/limits';

/**
 * The namespace of idempotency keys posted through the API. Trigger runs and
 * transfers post under keys derived from their ids (`trg_...:<eventId>:<taskId>`,
 * `run-sha256:...`, `<transferId>:debit`), which clients could predict; a
 * client's key is stored as `api:<key>`, and no run-derived key starts with
 * `api:`, so a client can neither take a run's key first nor replay a run's
 * entry. The ledger stays generic: only this module knows the prefix.
 */
export const API_KEY_PREFIX = 'api:';

/** The ledger's key limit less the namespace prefix: 196 characters. */
export const MAX_API_IDEMPOTENCY_KEY_LENGTH = MAX_IDEMPOTENCY_KEY_LENGTH - API_KEY_PREFIX.length;

/** The key the ledger stores for a client's key. */
export function storedApiKey(clientKey: string): string {
  return `${API_KEY_PREFIX}${clientKey}`;
}

/**
 * The key as its poster knows it: the client's own key for entries posted
 * through the API, the stored key for every other entry. API entries from
 * before the namespace carry no prefix and are shown as stored.
 */
export function shownKey(entry: Pick<LedgerEntry, 'idempotencyKey' | 'source'>): string {
  return entry.source.kind === 'api' && entry.idempotencyKey.startsWith(API_KEY_PREFIX) ? entry.idempotencyKey.slice(API_KEY_PREFIX.length) : entry.idempotencyKey;
}

/** An `idempotency_conflict` from the ledger, retold with the client's key instead of the stored one. */
export function inClientTerms(error: unknown, clientKey: string): unknown {
  if (!(error instanceof DomainError) || error.code !== 'idempotency_conflict') return error;
  return new DomainError(error.code, error.kind, error.message.replace(`"${storedApiKey(clientKey)}"`, `"${clientKey}"`), error.errors);
}
