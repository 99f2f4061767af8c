// Plays the planned purchases against the two APIs as a booking system
// would, and records what each post was answered and when: the facts the
// invariants are judged on (an event the API accepted must exist; a
// cancellation accepted within the window must win).
import { setTimeout as sleep } from 'node:timers/promises';
import { workflowIdFor } from '../engine/events/ingest';
import type { RetryingClient } from './chaos-client';
import type { ChaosEvent, PlannedPurchase } from './chaos-plan';
import { isAccepted, type Post, type PurchaseRecord } from './chaos-records';

/** A client keeps re-sending one event for this long while the APIs fail (a restart of Temporal takes seconds, a worker's up to a minute). */
const EVENT_DEADLINE_MS = 180_000;
/** A late cancellation waits at most this long past the window for its run to complete. */
const LATE_CANCEL_WAIT_MS = 180_000;
const RUN_POLL_MS = 1_000;
/** Extra posts of one event after the first pair: this far apart. */
const REPOST_GAP_MS = 1_500;

export class LoadRunner {
  private done = 0;

  constructor(
    private readonly client: RetryingClient,
    private readonly triggerId: string,
  ) {}

  /** Purchases whose scenario has finished. */
  get finished(): number {
    return this.done;
  }

  /** Starts each planned purchase at its moment from `startedAt`; resolves once every scenario finished. */
  run(purchases: readonly PlannedPurchase[], startedAt: number): Promise<PurchaseRecord[]> {
    return Promise.all(purchases.map(async (plan) => {
      await sleep(Math.max(0, startedAt + plan.startMs - Date.now()));
      const record: PurchaseRecord = { plan, workflowId: workflowIdFor(this.triggerId, plan.purchase.id), purchasePosts: [], cancelPosts: [] };
      await this.play(record);
      this.done += 1;
      return record;
    }));
  }

  private async play(record: PurchaseRecord): Promise<void> {
    const { plan } = record;
    const purchase = () => this.postAll(plan.purchase, plan.extraPosts, record.purchasePosts);
    const cancel = () => this.postAll(plan.cancel!, plan.extraPosts, record.cancelPosts);
    switch (plan.kind) {
      case 'plain':
      case 'duplicate':
      case 'no_package':
        await purchase();
        return;
      case 'cancel_in_window':
        if (!(await purchase())) return;
        await sleep(plan.delayMs);
        await cancel();
        return;
      case 'cancel_first':
        // Sent whether or not the cancellation got through: a client does not wait forever.
        await cancel();
        await sleep(plan.delayMs);
        await purchase();
        return;
      case 'cancel_racing':
        await Promise.all([purchase(), cancel()]);
        return;
      case 'cancel_late':
        if (!(await purchase())) return;
        if (!(await this.runCompleted(record))) {
          record.lateCancelSkipped = true;
          return;
        }
        await cancel();
    }
  }

  /**
   * Posts the event, and `extra` more times: the first extra at the same
   * moment (round-robin puts it on the other API), the rest apart. Resolves
   * true when any post was accepted.
   */
  private async postAll(event: ChaosEvent, extra: number, into: Post[]): Promise<boolean> {
    const first = [this.post(event, into), ...(extra > 0 ? [this.post(event, into)] : [])];
    await Promise.all(first);
    for (let n = 1; n < extra; n += 1) {
      await sleep(REPOST_GAP_MS);
      await this.post(event, into);
    }
    return into.some(isAccepted);
  }

  private async post(event: ChaosEvent, into: Post[]): Promise<void> {
    const sentAt = Date.now();
    const outcome = await this.client.request('POST', '/v1/events', event, EVENT_DEADLINE_MS);
    into.push({ eventId: event.id, sentAt, answeredAt: outcome.answeredAt, status: outcome.answer?.status, attempts: outcome.attempts, ...(outcome.lastProblem ? { lastProblem: outcome.lastProblem } : {}) });
  }

  /** Polls the run until it reports completed (true), or the bound passes (false). */
  private async runCompleted(record: PurchaseRecord): Promise<boolean> {
    const deadline = Date.now() + LATE_CANCEL_WAIT_MS;
    while (Date.now() < deadline) {
      const outcome = await this.client.request<{ status?: string }>('GET', `/v1/runs/${encodeURIComponent(record.workflowId)}`, undefined, EVENT_DEADLINE_MS);
      if (outcome.answer?.status === 200 && outcome.answer.body.status === 'completed') {
        record.runSeenCompletedAt = Date.now();
        return true;
      }
      if (outcome.answer?.status === 200 && outcome.answer.body.status !== 'running') return false;
      await sleep(RUN_POLL_MS);
    }
    return false;
  }
}
