import { expectationOf, judge, type ChaosFacts, type PurchaseFacts } from '../../devstack/chaos-invariants';
import type { PlannedPurchase, PurchaseKind } from '../../devstack/chaos-plan';
import type { Post, PurchaseRecord } from '../../devstack/chaos-records';

const WINDOW_MS = 15_000;
const T0 = 1_000_000;

function plan(kind: PurchaseKind, index = 1): PlannedPurchase {
  const data = { reservation: { id: `res_${index}` } };
  return {
    index, kind, startMs: 0, ownerId: 'chaos_user_1', email: 'user1@chaos.example', priceInt: kind === 'no_package' ? 7000 : 5000,
    expectedCreditCents: kind === 'no_package' ? 0 : 6000,
    purchase: { id: `evt_${index}_purchase`, type: 'request.created', data },
    ...(kind.startsWith('cancel_') ? { cancel: { id: `evt_${index}_cancel`, type: 'request.cancelled', data } } : {}),
    delayMs: 0, extraPosts: 0,
  };
}

/** One post as the client saw it; `unanswered` when every attempt failed until the client's deadline. */
function post(eventId: string, sentAt: number, answeredAt: number, status: number | 'unanswered' = 202): Post {
  return { eventId, sentAt, answeredAt, status: status === 'unanswered' ? undefined : status, attempts: 1 };
}

function record(kind: PurchaseKind, posts: { purchase?: Post[]; cancel?: Post[] } = {}, index = 1): PurchaseRecord {
  const planned = plan(kind, index);
  return {
    plan: planned, workflowId: `trg_x:${planned.purchase.id}`,
    purchasePosts: posts.purchase ?? [post(planned.purchase.id, T0, T0 + 50)],
    cancelPosts: posts.cancel ?? [],
  };
}

/** A purchase whose run completed, credited once and mailed once: what a plain purchase must end as. */
function completed(rec: PurchaseRecord, overrides: Partial<PurchaseFacts> = {}): PurchaseFacts {
  const creditable = rec.plan.expectedCreditCents > 0;
  return {
    record: rec,
    purchaseEvent: { status: 'dispatched', runs: [rec.workflowId] },
    ...(rec.cancelPosts.length > 0 ? { cancelEvent: { status: 'dispatched', runs: [] } } : {}),
    run: { status: 'completed' },
    credits: creditable ? [{ id: `USD:chaos_user_1:${rec.plan.index}`, amount: rec.plan.expectedCreditCents, direction: 'credit', workflowId: rec.workflowId }] : [],
    messageId: `msg-${rec.plan.index}`,
    mailCopies: creditable ? 1 : 0,
    ...overrides,
  };
}

function cancelled(rec: PurchaseRecord, overrides: Partial<PurchaseFacts> = {}): PurchaseFacts {
  return completed(rec, { run: { status: 'cancelled' }, credits: [], mailCopies: 0, ...overrides });
}

function facts(purchases: PurchaseFacts[], overrides: Partial<ChaosFacts> = {}): ChaosFacts {
  const mails = purchases.filter((p) => p.mailCopies > 0).flatMap((p) => Array.from({ length: p.mailCopies }, () => ({ messageId: p.messageId, recipients: [p.record.plan.email] })));
  const usdCredits = purchases.flatMap((p) => p.credits);
  return {
    windowMs: WINDOW_MS, purchases, openRuns: [], mails,
    loyalty: [{ ownerId: 'chaos_user_1', usdCredits, points: usdCredits.map((credit, i) => ({ id: `CREDIT:chaos_user_1:${i + 1}`, amount: 1, direction: 'credit', eventId: `bal:${credit.id}` })) }],
    firings: { total: 3, notCompleted: [] }, ledgerVerify: { clean: true, report: 'clean' }, mailDevKills: [],
    ...overrides,
  };
}

const codes = (f: ChaosFacts) => judge(f).violations.map((violation) => violation.code);

describe('expectationOf', () => {
  it('expects a cancellation accepted before its purchase was sent to win', () => {
    expect(expectationOf(record('cancel_first', { purchase: [post('p', T0, T0 + 10)], cancel: [post('c', T0 - 500, T0 - 100)] }), WINDOW_MS)).toBe('cancelled');
  });

  it('expects a cancellation accepted inside the window to win, and allows either end just past it', () => {
    const at = (acceptedAt: number) => record('cancel_in_window', { purchase: [post('p', T0, T0 + 10)], cancel: [post('c', acceptedAt - 10, acceptedAt)] });
    expect(expectationOf(at(T0 + WINDOW_MS - 1), WINDOW_MS)).toBe('cancelled');
    expect(expectationOf(at(T0 + WINDOW_MS), WINDOW_MS)).toBe('either');
  });

  it('counts the window from the first post of the purchase, the earliest the run can start', () => {
    const retried = record('cancel_racing', { purchase: [post('p', T0, T0 + 30_000)], cancel: [post('c', T0, T0 + 14_000)] });
    expect(expectationOf(retried, WINDOW_MS)).toBe('cancelled');
  });

  it('allows either end when the cancellation never got through', () => {
    expect(expectationOf(record('cancel_first', { purchase: [post('p', T0, T0 + 10)], cancel: [post('c', T0 - 900, T0 - 1, 'unanswered')] }), WINDOW_MS)).toBe('either');
  });

  it('expects nothing of a purchase the API never accepted', () => {
    expect(expectationOf(record('plain', { purchase: [post('p', T0, T0 + 10, 'unanswered')] }), WINDOW_MS)).toBe('unknown');
  });
});

describe('judge', () => {
  it('passes a run where every purchase ended as it should', () => {
    const purchases = [
      completed(record('plain', {}, 1)),
      completed(record('no_package', {}, 2)),
      cancelled(record('cancel_in_window', { cancel: [post('evt_3_cancel', T0 + 1000, T0 + 1100)] }, 3)),
    ];
    const verdict = judge(facts(purchases));
    expect(verdict.violations).toEqual([]);
    expect(verdict.counts).toMatchObject({ purchases: 3, cancelled: 1, withoutPackage: 1, creditedOnce: 1, emailedOnce: 1, double: 0, lost: 0, stuck: 0, wrong: 0, loyaltyExpected: 1, loyaltyOnce: 1 });
  });

  it('finds a purchase credited twice', () => {
    const rec = record('duplicate');
    const twice = completed(rec, { credits: [{ id: 'USD:chaos_user_1:1', amount: 6000, direction: 'credit', workflowId: rec.workflowId }, { id: 'USD:chaos_user_1:2', amount: 6000, direction: 'credit', workflowId: rec.workflowId }] });
    expect(codes(facts([twice]))).toContain('double_credit');
  });

  it('accepts copies of one Message-ID but not a second Message-ID for the same purchase', () => {
    const one = completed(record('plain'), { mailCopies: 2 });
    expect(codes(facts([one]))).toEqual([]);
    const f = facts([completed(record('plain'))]);
    expect(codes({ ...f, mails: [...f.mails, { messageId: 'msg-other', recipients: ['user1@chaos.example'] }] })).toEqual(expect.arrayContaining(['unknown_mail', 'double_email']));
  });

  it('finds an accepted cancellation that is not stored', () => {
    const rec = record('cancel_in_window', { cancel: [post('evt_1_cancel', T0 + 1000, T0 + 1100)] });
    expect(codes(facts([cancelled(rec, { cancelEvent: { status: 'missing', runs: [] } })]))).toEqual(['event_lost']);
  });

  it('finds a cancelled run that credited or mailed anyway', () => {
    const rec = record('cancel_in_window', { cancel: [post('evt_1_cancel', T0 + 1000, T0 + 1100)] });
    expect(codes(facts([cancelled(rec, { credits: [{ id: 'USD:chaos_user_1:1', amount: 6000, direction: 'credit', workflowId: rec.workflowId }] })]))).toContain('cancelled_but_credited');
    expect(codes(facts([cancelled(rec, { mailCopies: 1 })]))).toContain('cancelled_but_emailed');
  });

  it('finds a cancellation accepted in time that the run ignored', () => {
    const rec = record('cancel_first', { purchase: [post('evt_1_purchase', T0, T0 + 10)], cancel: [post('evt_1_cancel', T0 - 500, T0 - 100)] });
    expect(codes(facts([completed(rec)]))).toContain('cancellation_ignored');
  });

  it('accepts either end of a cancellation accepted after the window could have ended', () => {
    const rec = record('cancel_racing', { purchase: [post('evt_1_purchase', T0, T0 + 10)], cancel: [post('evt_1_cancel', T0, T0 + WINDOW_MS + 5_000)] });
    expect(codes(facts([completed(rec)]))).toEqual([]);
    expect(codes(facts([cancelled(rec)]))).toEqual([]);
  });

  it('finds an accepted event that is not stored, was not dispatched, or started no run', () => {
    const rec = record('plain');
    expect(codes(facts([completed(rec, { purchaseEvent: { status: 'missing', runs: [] } })]))).toContain('event_lost');
    expect(codes(facts([completed(rec, { purchaseEvent: { status: 'received', runs: [] } })]))).toContain('event_not_dispatched');
    expect(codes(facts([completed(rec, { run: { status: 'missing' }, credits: [], mailCopies: 0 })]))).toContain('run_missing');
  });

  it('finds a completed run whose credit or mail is missing', () => {
    const rec = record('plain');
    expect(codes(facts([completed(rec, { credits: [] })]))).toContain('credit_lost');
    expect(codes(facts([completed(rec, { mailCopies: 0 })]))).toContain('mail_lost');
  });

  it('blames MailDev, not the engine, for a mail accepted just before MailDev was killed', () => {
    const missing = completed(record('plain'), { mailCopies: 0, outboxSentAt: T0 });
    const verdict = judge(facts([missing], { mailDevKills: [T0 + 500] }));
    expect(verdict.violations).toEqual([]);
    expect(verdict.counts.lostByMailDev).toBe(1);
    expect(codes(facts([missing], { mailDevKills: [T0 + 10_000] }))).toContain('mail_lost');
  });

  it('finds runs left open, failed runs, and firings that did not complete', () => {
    const rec = record('plain');
    expect(codes(facts([completed(rec)], { openRuns: ['trg_y:evt'] }))).toEqual(['stuck']);
    expect(codes(facts([completed(rec, { run: { status: 'failed' }, credits: [], mailCopies: 0 })]))).toContain('run_failed');
    expect(codes(facts([completed(rec)], { firings: { total: 2, notCompleted: ['trg_h@1 (failed)'] } }))).toEqual(['firing_not_completed']);
    expect(codes(facts([completed(rec)], { firings: { total: 0, notCompleted: [] } }))).toEqual(['schedule_never_fired']);
  });

  it('finds a loyalty point lost or granted twice', () => {
    const f = facts([completed(record('plain'))]);
    const owner = f.loyalty[0]!;
    expect(codes({ ...f, loyalty: [{ ...owner, points: [] }] })).toEqual(['loyalty_lost']);
    expect(codes({ ...f, loyalty: [{ ...owner, points: [...owner.points, ...owner.points] }] })).toEqual(['loyalty_double']);
  });

  it('finds an event the API refused or never answered', () => {
    const rec = record('plain', { purchase: [post('evt_1_purchase', T0, T0 + 10), post('evt_1_purchase', T0, T0 + 10, 409), post('evt_1_purchase', T0, T0 + 10, 'unanswered')] });
    expect(codes(facts([completed(rec)]))).toEqual(['event_refused', 'event_unanswered']);
  });

  it('reports a broken ledger', () => {
    expect(codes(facts([completed(record('plain'))], { ledgerVerify: { clean: false, report: 'BROKEN' } }))).toEqual(['ledger_broken']);
  });
});
