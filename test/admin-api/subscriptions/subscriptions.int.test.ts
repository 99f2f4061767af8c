import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { renewalKey } from '../../../engine/subscriptions/subscription-rules';
import { startTestApi, type TestApi } from '../../support/api';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;

const lazyTemporal = () => new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) });

beforeAll(async () => {
  store = await openTestStore('subscriptions');
  api = await startTestApi({ store: store.connection, temporal: lazyTemporal(), taskQueue: `test-${randomUUID()}` });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const DAY_MS = 86_400_000;
const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;
const plan = { name: 'Pro membership', price: { amount: 30, unit: 'CREDIT' }, periodDays: 30 };

/** A customer with `credits` in a CREDIT account (none when undefined). */
async function customer(credits?: number): Promise<string> {
  const ownerId = unique('agent');
  expect((await api.request('PUT', `/v1/customers/${ownerId}`, { name: 'Nora Agent', email: `${ownerId}@example.com` })).status).toBe(201);
  if (credits !== undefined) {
    expect((await api.request('POST', `/v1/accounts/${ownerId}/entries`, { unit: 'CREDIT', direction: 'credit', amount: credits, idempotencyKey: unique('fund'), createIfMissing: true })).status).toBe(201);
  }
  return ownerId;
}

async function subscribe(ownerId: string, periodEnd: Date, extra: Record<string, unknown> = {}): Promise<string> {
  const id = unique('sub');
  const response = await api.request('PUT', `/v1/subscriptions/${id}`, { ownerId, plan, currentPeriodEnd: periodEnd.toISOString(), autoRenew: true, ...extra });
  expect(response.status).toBe(201);
  return id;
}

const balanceOf = async (ownerId: string) => (await api.request('GET', `/v1/accounts/${ownerId}?unit=CREDIT`)).body.balance as number;
const renew = async (id: string, horizonDays = 0) => (await api.request('POST', `/v1/subscriptions/${id}/renew`, { horizonDays })).body;
const periodEndOf = async (id: string) => (await api.request('GET', `/v1/subscriptions/${id}`)).body.currentPeriodEnd as string;

describe('subscriptions', () => {
  it('are created, replaced, read and listed by owner', async () => {
    const ownerId = await customer();
    const end = new Date('2027-01-31T00:00:00.000Z');
    const created = await api.request('PUT', '/v1/subscriptions/sub-crud', { ownerId, plan, currentPeriodEnd: end.toISOString(), autoRenew: true });
    expect(created).toMatchObject({ status: 201, body: { id: 'sub-crud', ownerId, plan, currentPeriodEnd: end.toISOString(), autoRenew: true } });
    const replaced = await api.request('PUT', '/v1/subscriptions/sub-crud', { ownerId, plan: { ...plan, periodDays: 365 }, currentPeriodEnd: end.toISOString(), autoRenew: false });
    expect(replaced).toMatchObject({ status: 200, body: { plan: { periodDays: 365 }, autoRenew: false, createdAt: created.body.createdAt } });
    expect((await api.request('GET', `/v1/subscriptions?ownerId=${ownerId}`)).body.items.map((s: { id: string }) => s.id)).toEqual(['sub-crud']);
    expect((await api.request('GET', '/v1/subscriptions/nope')).status).toBe(404);
    expect((await api.request('GET', '/v1/subscriptions/nope/renewals')).status).toBe(404);
  });

  it.each([
    ['a period of 0 days', { plan: { ...plan, periodDays: 0 } }, 'period_days_invalid', 'plan.periodDays'],
    ['a period of 3,661 days', { plan: { ...plan, periodDays: 3661 } }, 'period_days_invalid', 'plan.periodDays'],
    ['a fractional period', { plan: { ...plan, periodDays: 1.5 } }, 'period_days_invalid', 'plan.periodDays'],
    ['a price of 0', { plan: { ...plan, price: { amount: 0, unit: 'CREDIT' } } }, 'price_invalid', 'plan.price.amount'],
    ['a unit that is no unit', { plan: { ...plan, price: { amount: 30, unit: 'credits' } } }, 'unit_invalid', 'plan.price.unit'],
    ['an owner with no customer profile', { ownerId: 'nobody_known' }, 'owner_unknown', 'ownerId'],
  ])('refuse %s with 422 naming the field, writing nothing', async (_case, extra, code, path) => {
    const ownerId = await customer();
    const response = await api.request('PUT', '/v1/subscriptions/sub-refused', { ownerId, plan, currentPeriodEnd: '2027-01-01T00:00:00Z', autoRenew: true, ...extra });
    expect(response).toMatchObject({ status: 422, body: { code, errors: [{ path }] } });
    expect((await api.request('GET', '/v1/subscriptions/sub-refused')).status).toBe(404);
  });

  it('accept periods of 1 and 3,660 days', async () => {
    const ownerId = await customer();
    for (const periodDays of [1, 3660]) {
      const response = await api.request('PUT', `/v1/subscriptions/${unique('sub')}`, { ownerId, plan: { ...plan, periodDays }, currentPeriodEnd: '2027-01-01T00:00:00Z', autoRenew: true });
      expect(response.status).toBe(201);
    }
  });
});

describe('renewing', () => {
  it('debits the price once for the period and extends it by the plan\'s period', async () => {
    const ownerId = await customer(100);
    const end = new Date(Date.now() - 60_000);
    const id = await subscribe(ownerId, end);
    const renewed = await renew(id);
    const expectedEnd = new Date(end.getTime() + 30 * DAY_MS).toISOString();
    expect(renewed).toMatchObject({ outcome: 'renewed', periodEnd: end.toISOString(), newPeriodEnd: expectedEnd, replayed: false });
    expect(await balanceOf(ownerId)).toBe(70);
    expect(await periodEndOf(id)).toBe(expectedEnd);
    // The next period ends in 30 days: not due now, so nothing more is debited.
    expect(await renew(id)).toMatchObject({ outcome: 'not_due', periodEnd: expectedEnd });
    expect(await balanceOf(ownerId)).toBe(70);
    const entries = (await api.request('GET', `/v1/accounts/${ownerId}/entries?unit=CREDIT`)).body.items as Array<Record<string, unknown>>;
    expect(entries).toEqual(expect.arrayContaining([expect.objectContaining({ direction: 'debit', amount: 30, idempotencyKey: renewalKey(id, end), source: { kind: 'subscription', subscriptionId: id, periodEnd: end.toISOString() } })]));
    const renewals = (await api.request('GET', `/v1/subscriptions/${id}/renewals`)).body.items;
    expect(renewals).toEqual([expect.objectContaining({ outcome: 'renewed', periodEnd: end.toISOString(), newPeriodEnd: expectedEnd, entryId: renewed.entryId, amount: 30, unit: 'CREDIT' })]);
  });

  it('renews a period ending within the horizon, and not one beyond it', async () => {
    const ownerId = await customer(100);
    const id = await subscribe(ownerId, new Date(Date.now() + 3 * DAY_MS));
    expect(await renew(id, 2)).toMatchObject({ outcome: 'not_due' });
    expect(await renew(id, 4)).toMatchObject({ outcome: 'renewed' });
    expect(await balanceOf(ownerId)).toBe(70);
  });

  it('leaves the subscription as it is when the balance does not cover the price, recording the refusal once per period', async () => {
    const ownerId = await customer(10);
    const end = new Date(Date.now() - 60_000);
    const id = await subscribe(ownerId, end);
    expect(await renew(id)).toMatchObject({ outcome: 'refused', code: 'insufficient_funds', firstThisPeriod: true });
    expect(await renew(id)).toMatchObject({ outcome: 'refused', code: 'insufficient_funds', firstThisPeriod: false });
    expect(await periodEndOf(id)).toBe(end.toISOString());
    expect(await balanceOf(ownerId)).toBe(10);
    expect((await api.request('GET', `/v1/subscriptions/${id}/renewals`)).body.items).toEqual([expect.objectContaining({ outcome: 'refused', code: 'insufficient_funds' })]);
    // Topped up, the same period renews.
    await api.request('POST', `/v1/accounts/${ownerId}/entries`, { unit: 'CREDIT', direction: 'credit', amount: 50, idempotencyKey: unique('topup') });
    expect(await renew(id)).toMatchObject({ outcome: 'renewed', periodEnd: end.toISOString() });
    expect(await balanceOf(ownerId)).toBe(30);
  });

  it('does nothing while autoRenew is off', async () => {
    const ownerId = await customer(100);
    const id = await subscribe(ownerId, new Date(Date.now() - 60_000), { autoRenew: false });
    expect(await renew(id)).toMatchObject({ outcome: 'auto_renew_off' });
    expect(await balanceOf(ownerId)).toBe(100);
  });

  it('after a crash between the debit and the extension, extends once without debiting again', async () => {
    const ownerId = await customer(100);
    const end = new Date(Date.now() - 60_000);
    const id = await subscribe(ownerId, end);
    // What a renewal that crashed after its debit leaves behind: the entry under the renewal's key, no extension.
    await api.api.ledger.post({ ownerId, unit: 'CREDIT', direction: 'debit', amount: 30, idempotencyKey: renewalKey(id, end), comment: `Renewal of ${plan.name}`, source: { kind: 'subscription', subscriptionId: id, periodEnd: end.toISOString() } });
    expect(await periodEndOf(id)).toBe(end.toISOString());
    expect(await renew(id)).toMatchObject({ outcome: 'renewed', replayed: true });
    expect(await balanceOf(ownerId)).toBe(70);
    expect(await periodEndOf(id)).toBe(new Date(end.getTime() + 30 * DAY_MS).toISOString());
  });

  it('renews a period once when several renewals race', async () => {
    const ownerId = await customer(100);
    const end = new Date(Date.now() - 60_000);
    const id = await subscribe(ownerId, end);
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => renew(id)));
    expect(outcomes.every((o) => o.outcome === 'renewed' || o.outcome === 'not_due')).toBe(true);
    expect(await balanceOf(ownerId)).toBe(70);
    expect(await periodEndOf(id)).toBe(new Date(end.getTime() + 30 * DAY_MS).toISOString());
    expect((await api.request('GET', `/v1/subscriptions/${id}/renewals`)).body.items).toHaveLength(1);
  });
});
