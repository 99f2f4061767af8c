import { createHash } from 'node:crypto';

/**
 * The ledger id of a run's effect (an account posting's idempotency key, a
 * transfer's id): the effect key itself while it fits the ledger's limit,
 * else a digest of it, since a run's key grows with the event id (up to 200
 * characters). The same effect always maps to the same id.
 */
export function ledgerKeyOf(effectKey: string, maxLength: number): string {
  return effectKey.length <= maxLength ? effectKey : `run-sha256:${createHash('sha256').update(effectKey).digest('hex')}`;
}
