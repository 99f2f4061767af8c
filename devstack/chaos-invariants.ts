// The chaos run's verdict: what must hold once everything settled, judged
// on facts gathered from the API, MailDev and ledger:verify. Pure, so each
// rule is tested on its own (test/devstack/chaos-invariants.test.ts).
//
// Per purchase the expected end is decided from what the client saw:
// - a cancellation accepted before its purchase was sent, or within the
//   window counted from the purchase's first send (the run's timer cannot
//   start earlier), must end the run cancelled: nothing credited or mailed;
// - no cancellation, or one sent after the run was seen completed: the run
//   completes, credits the package once and mails once;
// - a cancellation accepted later than the window's earliest end may or may
//   not win; either end is fine as long as it is whole (credited and mailed
//   once, or neither);
// - a purchase never accepted (the client gave up) may or may not exist.
import { isAccepted, type Post, type PurchaseRecord } from './chaos-records';

export type RunStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'missing';

export interface EventFacts {
  /** `missing` when GET /v1/events/{id} answered 404. */
  readonly status: 'missing' | 'received' | 'dispatched';
  readonly runs: readonly string[];
}

export interface EntryFacts {
  readonly id: string;
  readonly amount: number;
  readonly direction: string;
  readonly workflowId?: string;
  readonly eventId?: string;
}

export interface PurchaseFacts {
  readonly record: PurchaseRecord;
  readonly purchaseEvent: EventFacts;
  /** Present when the purchase has a cancellation. */
  readonly cancelEvent?: EventFacts;
  readonly run: { readonly status: RunStatus };
  /** The owner's USD entries posted by this purchase's run. */
  readonly credits: readonly EntryFacts[];
  /** The Message-ID the run's email carries (deterministic: its outbox key). */
  readonly messageId: string;
  /** Mails in MailDev with that Message-ID (copies of one message are fine). */
  readonly mailCopies: number;
  /** When the engine's outbox recorded the mail as accepted by the SMTP server; read only when MailDev lacks it. */
  readonly outboxSentAt?: number;
}

export interface MailFacts {
  /** Without angle brackets; empty when the message has none (a message cut short). */
  readonly messageId: string;
  readonly recipients: readonly string[];
}

export interface LoyaltyFacts {
  readonly ownerId: string;
  /** The owner's USD credit entries (each one's balance event earns one point). */
  readonly usdCredits: readonly EntryFacts[];
  /** The owner's CREDIT entries (the loyalty points). */
  readonly points: readonly EntryFacts[];
}

export interface ChaosFacts {
  readonly windowMs: number;
  readonly purchases: readonly PurchaseFacts[];
  /** Runs still open after settling (workflow ids). */
  readonly openRuns: readonly string[];
  readonly mails: readonly MailFacts[];
  readonly loyalty: readonly LoyaltyFacts[];
  /** The heartbeat schedule's firings: how many, and those not completed (id and status). */
  readonly firings: { readonly total: number; readonly notCompleted: readonly string[] };
  readonly ledgerVerify: { readonly clean: boolean; readonly report: string };
  /** When MailDev was killed (ms since the epoch). */
  readonly mailDevKills: readonly number[];
}

export const VIOLATION_CODES = [
  'double_credit', 'double_email', 'unknown_mail', 'loyalty_double',
  'event_lost', 'event_not_dispatched', 'run_missing', 'credit_lost', 'mail_lost', 'loyalty_lost', 'event_unanswered',
  'stuck',
  'cancelled_but_credited', 'cancelled_but_emailed', 'cancellation_ignored', 'cancelled_without_cancellation', 'credited_without_package', 'wrong_amount', 'run_failed', 'event_refused', 'loyalty_unexpected',
  'firing_not_completed', 'schedule_never_fired', 'ledger_broken',
] as const;
export type ViolationCode = (typeof VIOLATION_CODES)[number];

/** How the summary groups the codes. */
const DOUBLE: readonly ViolationCode[] = ['double_credit', 'double_email', 'unknown_mail', 'loyalty_double'];
const LOST: readonly ViolationCode[] = ['event_lost', 'event_not_dispatched', 'run_missing', 'credit_lost', 'mail_lost', 'loyalty_lost', 'event_unanswered'];

export interface Violation {
  readonly code: ViolationCode;
  /** The event, run, recipient or account it is about. */
  readonly subject: string;
  readonly detail: string;
}

export interface Verdict {
  readonly violations: readonly Violation[];
  readonly counts: {
    readonly purchases: number;
    readonly cancelled: number;
    readonly withoutPackage: number;
    readonly creditedOnce: number;
    readonly emailedOnce: number;
    readonly double: number;
    readonly lost: number;
    readonly stuck: number;
    readonly wrong: number;
    /** Mails MailDev lost itself: the engine's outbox has them as accepted just before MailDev was killed. */
    readonly lostByMailDev: number;
    readonly loyaltyExpected: number;
    readonly loyaltyOnce: number;
    readonly firings: number;
  };
}

export type Expectation = 'completed' | 'cancelled' | 'either' | 'unknown';

/** MailDev answers an SMTP transaction before its file is written: a kill this soon after can lose the message. */
const MAILDEV_WRITE_WINDOW_MS = 2_000;

/** What a purchase's run must end as, from what the client saw (see the opening comment). */
export function expectationOf(record: PurchaseRecord, windowMs: number): Expectation {
  if (!record.purchasePosts.some(isAccepted)) return 'unknown';
  const purchaseSentAt = Math.min(...record.purchasePosts.map((post) => post.sentAt));
  const cancelAcceptedAt = Math.min(...record.cancelPosts.filter(isAccepted).map((post) => post.answeredAt));
  switch (record.plan.kind) {
    case 'plain':
    case 'duplicate':
    case 'no_package':
      return 'completed';
    case 'cancel_late':
      // Sent only once the run was seen completed (or not at all).
      return 'completed';
    case 'cancel_first':
    case 'cancel_in_window':
    case 'cancel_racing':
      if (cancelAcceptedAt <= purchaseSentAt) return 'cancelled';
      if (cancelAcceptedAt < purchaseSentAt + windowMs) return 'cancelled';
      return 'either';
  }
}

export function judge(facts: ChaosFacts): Verdict {
  const violations: Violation[] = [];
  const add = (code: ViolationCode, subject: string, detail: string) => violations.push({ code, subject, detail });
  let lostByMailDev = 0;
  for (const purchase of facts.purchases) lostByMailDev += judgePurchase(purchase, facts, add);
  for (const workflowId of facts.openRuns) add('stuck', workflowId, 'still open after settling');
  judgeMails(facts, add);
  const loyalty = judgeLoyalty(facts.loyalty, add);
  if (facts.firings.total === 0) add('schedule_never_fired', 'heartbeat', 'the heartbeat schedule has no firing');
  for (const firing of facts.firings.notCompleted) add('firing_not_completed', firing, 'a firing that did not complete');
  if (!facts.ledgerVerify.clean) add('ledger_broken', 'ledger', facts.ledgerVerify.report);

  const completedCreditable = facts.purchases.filter((p) => p.run.status === 'completed' && p.record.plan.expectedCreditCents > 0);
  const inGroup = (group: readonly ViolationCode[]) => violations.filter((v) => group.includes(v.code)).length;
  return {
    violations,
    counts: {
      purchases: facts.purchases.length,
      cancelled: facts.purchases.filter((p) => p.run.status === 'cancelled').length,
      withoutPackage: facts.purchases.filter((p) => p.record.plan.expectedCreditCents === 0).length,
      creditedOnce: completedCreditable.filter((p) => p.credits.length === 1 && p.credits[0]!.amount === p.record.plan.expectedCreditCents).length,
      emailedOnce: completedCreditable.filter((p) => p.mailCopies > 0).length,
      double: inGroup(DOUBLE),
      lost: inGroup(LOST),
      stuck: inGroup(['stuck']),
      wrong: violations.length - inGroup(DOUBLE) - inGroup(LOST) - inGroup(['stuck', 'ledger_broken']),
      lostByMailDev,
      loyaltyExpected: loyalty.expected,
      loyaltyOnce: loyalty.once,
      firings: facts.firings.total,
    },
  };
}

type Add = (code: ViolationCode, subject: string, detail: string) => void;

/** Judges one purchase; returns 1 when its mail was lost by MailDev's own kill (not the engine's doing), else 0. */
function judgePurchase(purchase: PurchaseFacts, facts: ChaosFacts, add: Add): number {
  const { record, run, credits } = purchase;
  const { plan } = record;
  const id = plan.purchase.id;
  const expectation = expectationOf(record, facts.windowMs);
  const describe = `${plan.kind}, ${describePosts(record.purchasePosts)}${record.cancelPosts.length > 0 ? `, cancel ${describePosts(record.cancelPosts)}` : ''}`;

  for (const post of [...record.purchasePosts, ...record.cancelPosts]) {
    if (post.status === undefined) add('event_unanswered', post.eventId, `no answer within the client's deadline after ${post.attempts} attempts (last: ${post.lastProblem})`);
    else if (!isAccepted(post)) add('event_refused', post.eventId, `answered ${post.status}`);
  }
  if (record.purchasePosts.some(isAccepted)) {
    if (purchase.purchaseEvent.status === 'missing') add('event_lost', id, `accepted (${describe}), but the store has no such event`);
    else if (purchase.purchaseEvent.status !== 'dispatched') add('event_not_dispatched', id, `accepted, but the event is ${purchase.purchaseEvent.status}`);
    else if (!purchase.purchaseEvent.runs.includes(record.workflowId)) add('event_not_dispatched', id, `accepted and dispatched, but its runs do not list ${record.workflowId}`);
    if (run.status === 'missing') add('run_missing', record.workflowId, `accepted (${describe}), but Temporal has no run`);
  }
  if (record.cancelPosts.some(isAccepted)) {
    if (purchase.cancelEvent?.status === 'missing') add('event_lost', plan.cancel!.id, `accepted (${describe}), but the store has no such event`);
    else if (purchase.cancelEvent?.status !== 'dispatched') add('event_not_dispatched', plan.cancel!.id, `accepted, but the event is ${purchase.cancelEvent?.status ?? 'unknown'}`);
  }

  if (run.status === 'running' && !facts.openRuns.includes(record.workflowId)) add('stuck', record.workflowId, `the run of ${id} is still running`);
  if (run.status === 'failed' || run.status === 'terminated') add('run_failed', record.workflowId, `the run of ${id} ended ${run.status} (${describe})`);
  if (credits.length > 1) add('double_credit', id, `${credits.length} credits: ${credits.map((entry) => entry.id).join(', ')}`);

  if (run.status === 'cancelled') {
    if (credits.length > 0) add('cancelled_but_credited', id, `the run ended cancelled, yet ${credits.map((entry) => entry.id).join(', ')} credited it (${describe})`);
    if (purchase.mailCopies > 0) add('cancelled_but_emailed', id, `the run ended cancelled, yet its mail ${purchase.messageId} was sent (${describe})`);
    if (expectation === 'completed') add('cancelled_without_cancellation', id, `the run ended cancelled although ${record.cancelPosts.length === 0 ? 'no cancellation was sent' : 'its cancellation came after it completed'} (${describe})`);
  }
  if (run.status === 'completed' && expectation === 'cancelled') add('cancellation_ignored', id, `the run completed although its cancellation was accepted in time (${describe})`);

  let lostByMailDev = 0;
  if (run.status === 'completed' && plan.expectedCreditCents > 0) {
    if (credits.length === 0) add('credit_lost', id, `the run completed but posted no credit (${describe})`);
    else if (credits.some((entry) => entry.amount !== plan.expectedCreditCents)) add('wrong_amount', id, `credited ${credits.map((entry) => entry.amount).join(', ')}, expected ${plan.expectedCreditCents}`);
    if (purchase.mailCopies === 0) {
      if (mailDevLostIt(purchase.outboxSentAt, facts.mailDevKills)) lostByMailDev = 1;
      else add('mail_lost', id, `the run completed but MailDev has no mail ${purchase.messageId}${purchase.outboxSentAt ? ` (the outbox has it accepted at ${new Date(purchase.outboxSentAt).toISOString()})` : ' (nor has the outbox)'}`);
    }
  }
  if (run.status === 'completed' && plan.expectedCreditCents === 0 && (credits.length > 0 || purchase.mailCopies > 0)) {
    add('credited_without_package', id, `price ${plan.priceInt} matches no package, yet ${credits.length} credits and ${purchase.mailCopies} mails`);
  }
  return lostByMailDev;
}

/** True when MailDev was killed within its write window after the SMTP server accepted the message. */
function mailDevLostIt(sentAt: number | undefined, kills: readonly number[]): boolean {
  return sentAt !== undefined && kills.some((killedAt) => killedAt >= sentAt && killedAt - sentAt <= MAILDEV_WRITE_WINDOW_MS);
}

/** Every mail is one of a purchase's, and no recipient has more distinct Message-IDs than completed purchases. */
function judgeMails(facts: ChaosFacts, add: Add): void {
  const known = new Map(facts.purchases.map((purchase) => [purchase.messageId, purchase]));
  const distinctByRecipient = new Map<string, Set<string>>();
  for (const mail of facts.mails) {
    if (!known.has(mail.messageId)) add('unknown_mail', mail.recipients.join(', ') || '(no recipient)', `a mail with Message-ID ${mail.messageId || '(none)'} that no purchase's run sends`);
    for (const recipient of mail.recipients) {
      const set = distinctByRecipient.get(recipient) ?? new Set<string>();
      set.add(mail.messageId);
      distinctByRecipient.set(recipient, set);
    }
  }
  const expectedByRecipient = new Map<string, number>();
  for (const purchase of facts.purchases) {
    if (purchase.run.status !== 'completed' || purchase.record.plan.expectedCreditCents === 0) continue;
    expectedByRecipient.set(purchase.record.plan.email, (expectedByRecipient.get(purchase.record.plan.email) ?? 0) + 1);
  }
  for (const [recipient, ids] of distinctByRecipient) {
    const expected = expectedByRecipient.get(recipient) ?? 0;
    if (ids.size > expected) add('double_email', recipient, `${ids.size} distinct Message-IDs for ${expected} completed purchases`);
  }
}

/** Each USD credit's balance event earns exactly one loyalty point, and no point comes from anything else. */
function judgeLoyalty(loyalty: readonly LoyaltyFacts[], add: Add): { expected: number; once: number } {
  let expected = 0;
  let once = 0;
  for (const owner of loyalty) {
    const pointsByEvent = new Map<string, number>();
    for (const point of owner.points) pointsByEvent.set(point.eventId ?? '', (pointsByEvent.get(point.eventId ?? '') ?? 0) + 1);
    const credited = new Set<string>();
    for (const credit of owner.usdCredits) {
      const eventId = `bal:${credit.id}`;
      credited.add(eventId);
      expected += 1;
      const points = pointsByEvent.get(eventId) ?? 0;
      if (points === 1) once += 1;
      else if (points === 0) add('loyalty_lost', eventId, `the credit ${credit.id} of ${owner.ownerId} earned no loyalty point`);
      else add('loyalty_double', eventId, `the credit ${credit.id} of ${owner.ownerId} earned ${points} loyalty points`);
    }
    for (const [eventId, count] of pointsByEvent) {
      if (!credited.has(eventId)) add('loyalty_unexpected', eventId, `${count} loyalty points of ${owner.ownerId} from an event that is no USD credit`);
    }
  }
  return { expected, once };
}

function describePosts(posts: readonly Post[]): string {
  if (posts.length === 0) return 'never sent';
  return `${posts.length} post${posts.length > 1 ? 's' : ''} answered ${posts.map((post) => post.status ?? 'nothing').join('/')} after ${posts.map((post) => post.attempts).join('/')} attempts`;
}
