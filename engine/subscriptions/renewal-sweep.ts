/**
 * The renewal sweep: one pass over every subscription, renewing each whose
 * period ends within the horizon (subscription-store.ts `renew`, which is
 * idempotent per period), emailing an expiry notice to each owner whose
 * balance did not cover the price, and returning the report the admin gets.
 * A retried pass renews nothing twice and mails no notice twice (outbox key
 * `expiry:<subscriptionId>:<periodEnd>`).
 *
 * The pass reads the subscriptions through one cursor and hands a
 * checkpoint (the last subscription id of a finished batch, and the report
 * so far) to `onBatch` after each batch; given back as `resume`, it goes on
 * after that batch with the counts carried over. The renewal task keeps it
 * as its activity's heartbeat, so an attempt on a worker that died is
 * retried from its last batch within the heartbeat timeout.
 */
import type { EmailRequest } from '../../tasks/email';
import type { SubscriptionStore } from './subscription-store';

/** Subscriptions renewed at once; each renewal is a few store round trips. */
const CONCURRENCY = 8;
/** Subscriptions read, and renewed, per batch; the checkpoint follows each batch. */
const BATCH_SIZE = 200;
/** Refusals and failures the report lists by name; the counts cover all. */
export const MAX_LISTED = 100;

/** The counts of one renewal pass, as its report and the firing summary (FiringReport) carry them. */
export type RenewalCounts = Pick<RenewalReport, 'considered' | 'due' | 'renewed' | 'refused' | 'failed' | 'notified' | 'alreadyNotified'>;

export interface RenewalReport {
  /** Subscriptions read. */
  considered: number;
  /** Due ones (autoRenew on, period ending within the horizon). */
  due: number;
  renewed: number;
  /** Not renewed because the ledger refused the debit (the owner was told). */
  refused: number;
  /** Not renewed because of an error that was no refusal; the next pass tries again. */
  failed: number;
  /** Expiry notices this pass emailed. */
  notified: number;
  /** Refused owners whose notice for the period an earlier pass had emailed (outbox key), so not emailed again. */
  alreadyNotified: number;
  refusals: Array<{ subscriptionId: string; ownerId: string; periodEnd: string; code: string }>;
  failures: Array<{ subscriptionId: string; message: string }>;
}

/** Where a pass stands after a batch: resume after `afterId`, with the report so far. */
export interface RenewalCheckpoint {
  afterId: string;
  report: RenewalReport;
}

export interface RenewalPassOptions {
  horizonMs: number;
  /** A checkpoint of an earlier attempt of the same pass. */
  resume?: RenewalCheckpoint;
  /** Called after each batch, e.g. to heartbeat it. */
  onBatch?: (checkpoint: RenewalCheckpoint) => void;
}

export interface RenewalSweepDependencies {
  subscriptions: Pick<SubscriptionStore, 'sweep' | 'renewRead'>;
  /** The owner's email address from the customer profile, or null. */
  emailOf(ownerId: string): Promise<string | null>;
  /** Sends one email at most once per outbox key; `alreadySent: true` when the key had been sent before. */
  sendEmail(request: EmailRequest): Promise<unknown>;
  clock?: () => Date;
}

async function inPool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

export function createRenewalSweep(deps: RenewalSweepDependencies) {
  const clock = deps.clock ?? (() => new Date());
  return async function renewDue(options: RenewalPassOptions): Promise<RenewalReport> {
    const report: RenewalReport = options.resume?.report ?? { considered: 0, due: 0, renewed: 0, refused: 0, failed: 0, notified: 0, alreadyNotified: 0, refusals: [], failures: [] };
    const cutoff = clock().getTime() + options.horizonMs;
    const batches = deps.subscriptions.sweep({ batchSize: BATCH_SIZE, ...(options.resume ? { afterId: options.resume.afterId } : {}) });
    for await (const batch of batches) {
      report.considered += batch.length;
      const due = batch.filter((subscription) => subscription.autoRenew && subscription.currentPeriodEnd.getTime() <= cutoff);
      report.due += due.length;
      await inPool(due, async (subscription) => {
        try {
          const outcome = await deps.subscriptions.renewRead(subscription, options);
          if (outcome.outcome === 'renewed') report.renewed += 1;
          if (outcome.outcome !== 'refused') return;
          report.refused += 1;
          const periodEnd = outcome.periodEnd.toISOString();
          if (report.refusals.length < MAX_LISTED) report.refusals.push({ subscriptionId: subscription.id, ownerId: subscription.ownerId, periodEnd, code: outcome.code });
          const to = await deps.emailOf(subscription.ownerId);
          if (to) {
            const sent = await deps.sendEmail({
              outboxKey: `expiry:${subscription.id}:${periodEnd}`, to,
              subject: 'Your {{plan}} subscription could not be renewed',
              text: 'Your {{plan}} subscription ends on {{periodEnd}}. Renewing it costs {{price}} {{unit}}, which your balance does not cover. Add credits to your account and it will be renewed automatically.',
              variables: { plan: subscription.plan.name, periodEnd, price: subscription.plan.price.amount, unit: subscription.plan.price.unit },
            });
            if ((sent as { alreadySent?: unknown } | null | undefined)?.alreadySent === true) report.alreadyNotified += 1;
            else report.notified += 1;
          }
        } catch (error) {
          report.failed += 1;
          if (report.failures.length < MAX_LISTED) report.failures.push({ subscriptionId: subscription.id, message: error instanceof Error ? error.message : String(error) });
        }
      });
      options.onBatch?.({ afterId: batch.at(-1)!.id, report });
    }
    return report;
  };
}

export type RenewDue = ReturnType<typeof createRenewalSweep>;
