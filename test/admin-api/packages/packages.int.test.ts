import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { startTestApi, type TestApi } from '../../support/api';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;

const lazyTemporal = () => new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) });

beforeAll(async () => {
  store = await openTestStore('packages');
  api = await startTestApi({ store: store.connection, temporal: lazyTemporal(), taskQueue: `test-${randomUUID()}` });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const hundred = { name: '$100 buys $150', price: { amount: 10000, currency: 'USD' }, credits: { amount: 15000, unit: 'USD' }, match: { 'data.reservation.price_int': 10000 } };

describe('packages', () => {
  it('are created as version 1, and each change is a new version while the old ones stay readable', async () => {
    const created = await api.request('PUT', '/v1/packages/topup-100', hundred);
    expect(created).toMatchObject({ status: 201, body: { id: 'topup-100', version: 1, name: '$100 buys $150', price: { amount: 10000, currency: 'USD' }, credits: { amount: 15000, unit: 'USD' }, match: { 'data.reservation.price_int': 10000 }, active: true } });
    const edited = await api.request('PUT', '/v1/packages/topup-100', { ...hundred, credits: { amount: 16000, unit: 'USD' } });
    expect(edited).toMatchObject({ status: 200, body: { version: 2, credits: { amount: 16000 }, createdAt: created.body.createdAt } });
    expect((await api.request('GET', '/v1/packages/topup-100')).body).toMatchObject({ version: 2, credits: { amount: 16000 } });
    const versions = (await api.request('GET', '/v1/packages/topup-100/versions')).body.items as Array<{ version: number; credits: { amount: number } }>;
    expect(versions.map((v) => [v.version, v.credits.amount])).toEqual([[2, 16000], [1, 15000]]);
  });

  it('keep their version when the same definition is PUT again', async () => {
    await api.request('PUT', '/v1/packages/same', hundred);
    const again = await api.request('PUT', '/v1/packages/same', { ...hundred, active: true });
    expect(again).toMatchObject({ status: 200, body: { version: 1 } });
  });

  it('are listed by id at their current version, and filtered by active', async () => {
    await api.request('PUT', '/v1/packages/list-a', { ...hundred, name: 'A' });
    await api.request('PUT', '/v1/packages/list-b', { ...hundred, name: 'B', active: false });
    const all = (await api.request('GET', '/v1/packages?limit=200')).body.items as Array<{ id: string }>;
    expect(all.map((p) => p.id)).toEqual(expect.arrayContaining(['list-a', 'list-b']));
    const inactive = (await api.request('GET', '/v1/packages?active=false')).body.items as Array<{ id: string }>;
    expect(inactive.map((p) => p.id)).toEqual(['list-b']);
    const first = await api.request('GET', '/v1/packages?limit=1');
    expect(first.body.items).toHaveLength(1);
    const second = await api.request('GET', `/v1/packages?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body.items[0].id > first.body.items[0].id).toBe(true);
  });

  it('with overlapping match filters can both be saved', async () => {
    await api.request('PUT', '/v1/packages/overlap-1', { ...hundred, match: { type: 'overlap.test' } });
    expect((await api.request('PUT', '/v1/packages/overlap-2', { ...hundred, match: { type: 'overlap.test' } })).status).toBe(201);
  });

  it('answer 404 for an unknown id', async () => {
    expect((await api.request('GET', '/v1/packages/nope')).status).toBe(404);
    expect((await api.request('GET', '/v1/packages/nope/versions')).status).toBe(404);
  });

  it.each([
    ['zero credits', { credits: { amount: 0, unit: 'USD' } }, 'credits_must_be_positive', 'credits.amount'],
    ['negative credits', { credits: { amount: -5, unit: 'USD' } }, 'credits_must_be_positive', 'credits.amount'],
    ['fractional credits', { credits: { amount: 1.5, unit: 'CREDIT' } }, 'credits_must_be_positive', 'credits.amount'],
    ['a price in an unknown currency', { price: { amount: 5000, currency: 'XYZ' } }, 'currency_unknown', 'price.currency'],
    ['a negative price', { price: { amount: -1, currency: 'USD' } }, 'price_invalid', 'price.amount'],
    ['credits in a unit that is no unit', { credits: { amount: 10, unit: 'dollars' } }, 'unit_invalid', 'credits.unit'],
    ['a match filter with an unknown operator', { match: { 'data.x': { $nope: 1 } } }, 'match_invalid', 'match'],
  ])('refuse %s with 422 naming the field, writing nothing', async (_case, extra, code, path) => {
    const response = await api.request('PUT', '/v1/packages/refused', { ...hundred, ...extra });
    expect(response).toMatchObject({ status: 422, body: { code, errors: [{ path }] } });
    expect((await api.request('GET', '/v1/packages/refused')).status).toBe(404);
  });

  it('at the bounds: 1 credit and a free price are accepted', async () => {
    const response = await api.request('PUT', '/v1/packages/bounds', { ...hundred, price: { amount: 0, currency: 'EUR' }, credits: { amount: 1, unit: 'CREDIT' } });
    expect(response).toMatchObject({ status: 201, body: { price: { amount: 0, currency: 'EUR' }, credits: { amount: 1, unit: 'CREDIT' } } });
  });

  it('refuse a malformed id and an unknown field with 422', async () => {
    expect((await api.request('PUT', '/v1/packages/-bad', hundred)).status).toBe(422);
    expect((await api.request('PUT', '/v1/packages/extra', { ...hundred, colour: 'red' })).status).toBe(422);
  });
});

describe('the currency switch (POST /v1/packages/reprice)', () => {
  it('gives every package not in the unit a new version priced in whole credits, and changes nothing when run again', async () => {
    const basic = { ...hundred, match: { type: 'reprice.test' } };
    await api.request('PUT', '/v1/packages/rp-cents', { ...basic, price: { amount: 50, currency: 'USD' } });
    await api.request('PUT', '/v1/packages/rp-half', { ...basic, price: { amount: 4950, currency: 'USD' } });
    await api.request('PUT', '/v1/packages/rp-below-half', { ...basic, price: { amount: 4949, currency: 'USD' } });
    await api.request('PUT', '/v1/packages/rp-free', { ...basic, price: { amount: 0, currency: 'USD' } });
    const switched = await api.request('POST', '/v1/packages/reprice', { unit: 'CREDIT' });
    expect(switched.status).toBe(200);
    const byId = new Map((switched.body.repriced as Array<{ id: string; after: { amount: number } }>).map((item) => [item.id, item]));
    expect(byId.get('rp-cents')).toMatchObject({ fromVersion: 1, version: 2, before: { amount: 50, currency: 'USD' }, after: { amount: 1, currency: 'CREDIT' } });
    expect(byId.get('rp-half')!.after.amount).toBe(50);
    expect(byId.get('rp-below-half')!.after.amount).toBe(49);
    expect(byId.get('rp-free')!.after.amount).toBe(0);
    expect((await api.request('GET', '/v1/packages/rp-half')).body).toMatchObject({ version: 2, price: { amount: 50, currency: 'CREDIT' }, credits: hundred.credits });
    expect((await api.request('GET', '/v1/packages/rp-half/versions')).body.items[1]).toMatchObject({ version: 1, price: { amount: 4950, currency: 'USD' } });

    const again = await api.request('POST', '/v1/packages/reprice', { unit: 'CREDIT' });
    expect(again.body.repriced).toEqual([]);
    expect(again.body.unchanged).toEqual(expect.arrayContaining(['rp-cents', 'rp-half', 'rp-below-half', 'rp-free']));
  });

  it.each([
    ['an unknown unit', { unit: 'XYZ' }, 'unit'],
    ['a zero rate', { unit: 'CREDIT', rate: '0' }, 'rate'],
    ['a rate that is no decimal', { unit: 'CREDIT', rate: '1e3' }, 'rate'],
  ])('refuses %s with 422 naming the field', async (_case, body, path) => {
    const response = await api.request('POST', '/v1/packages/reprice', body);
    expect(response).toMatchObject({ status: 422, body: { errors: [{ path }] } });
  });
});
