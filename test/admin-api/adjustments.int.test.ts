import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createLedger } from '../../engine/ledger';
import { startTestApi, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;

beforeAll(async () => {
  store = await openTestStore('adjustments');
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) }), taskQueue: `test-${randomUUID()}` });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const item = (ownerId: string, amount: number, idempotencyKey: string, extra: Record<string, unknown> = {}) => ({ ownerId, unit: 'CREDIT', direction: 'credit', amount, idempotencyKey, createIfMissing: true, ...extra });
const balanceOf = async (ownerId: string) => (await api.request('GET', `/v1/accounts/${ownerId}?unit=CREDIT`)).body?.balance;

it('post every item with the comment, report each, and replay them all on a retry', async () => {
  const body = { comment: 'Goodwill after the outage', items: [item('adj_a', 10, 'g-a'), item('adj_b', 20, 'g-b'), item('adj_a', 5, 'g-a2')] };
  const first = await api.request('POST', '/v1/adjustments', body);
  expect(first).toMatchObject({ status: 200, body: { posted: 3, replayed: 0, refused: 0 } });
  expect(first.body.items).toEqual([
    expect.objectContaining({ index: 0, status: 'posted', entry: expect.objectContaining({ amount: 10, comment: 'Goodwill after the outage', idempotencyKey: 'g-a', seq: 1 }) }),
    expect.objectContaining({ index: 1, status: 'posted' }),
    // One account's items are posted in item order.
    expect.objectContaining({ index: 2, status: 'posted', entry: expect.objectContaining({ seq: 2, balanceAfter: 15 }) }),
  ]);
  const retry = await api.request('POST', '/v1/adjustments', body);
  expect(retry.body).toMatchObject({ posted: 0, replayed: 3, refused: 0 });
  expect(await balanceOf('adj_a')).toBe(15);
  // A bulk item is the same posting as a single one under the same key.
  expect((await api.request('POST', '/v1/accounts/adj_b/entries', { unit: 'CREDIT', direction: 'credit', amount: 20, idempotencyKey: 'g-b', comment: 'Goodwill after the outage' })).status).toBe(200);
});

it('refuse only the items that break a rule, posting the independent others', async () => {
  const response = await api.request('POST', '/v1/adjustments', { comment: 'Mixed', items: [
    item('mixed_ok', 50, 'm-1'),
    item('mixed_poor', 100, 'm-2', { direction: 'debit' }),
    item('mixed_missing', 5, 'm-3', { createIfMissing: false }),
    item('mixed_ok', 7, 'g-a'),
  ] });
  expect(response.body).toMatchObject({ posted: 1, refused: 3 });
  expect(response.body.items.map((r: { status: string; error?: { code: string } }) => r.error?.code ?? r.status)).toEqual(['posted', 'insufficient_funds', 'account_not_found', 'idempotency_conflict']);
  expect(response.body.items[3].error.message).toContain('"g-a"');
  expect(await balanceOf('mixed_ok')).toBe(50);
  expect(await balanceOf('mixed_poor')).toBeUndefined();
});

it.each([
  ['no comment', { items: [item('x', 1, 'k')] }, 'comment'],
  ['an empty comment', { comment: ' ', items: [item('x', 1, 'k')] }, 'comment'],
  ['no items', { comment: 'c', items: [] }, 'items'],
  ['1,001 items', { comment: 'c', items: Array.from({ length: 1001 }, (_, i) => item(`many_${i}`, 1, `many-${i}`)) }, 'items'],
  ['a repeated idempotency key', { comment: 'c', items: [item('dup_a', 1, 'same'), item('dup_b', 1, 'other'), item('dup_c', 1, 'same')] }, 'items.2.idempotencyKey'],
  ['an amount over the limit of one posting', { comment: 'c', items: [item('lim_a', 1, 'lim-1'), item('lim_b', 1_000_000_000_001, 'lim-2')] }, 'items.1.amount'],
  ['a unit that is none', { comment: 'c', items: [item('unit_a', 1, 'unit-1', { unit: 'dollars' })] }, 'items.0.unit'],
])('refuse a request with %s as 422 naming the field, posting nothing', async (_case, body, path) => {
  const response = await api.request('POST', '/v1/adjustments', body);
  expect(response.status).toBe(422);
  expect(response.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  for (const owner of ['x', 'many_0', 'dup_a', 'dup_b', 'lim_a', 'unit_a']) expect(await balanceOf(owner)).toBeUndefined();
});

it('post 1,000 items in one request, and leave the ledger consistent', async () => {
  const items = Array.from({ length: 1000 }, (_, i) => item(`bulk_${i % 50}`, 1 + (i % 7), `bulk-${i}`));
  const started = Date.now();
  const response = await api.request('POST', '/v1/adjustments', { comment: 'Yearly bonus', items });
  console.info(`1,000 bulk adjustments over 50 accounts: ${Date.now() - started} ms`);
  expect(response.body).toMatchObject({ posted: 1000, refused: 0 });
  const expected = items.filter((_, i) => i % 50 === 3).reduce((sum, it) => sum + it.amount, 0);
  expect(await balanceOf('bulk_3')).toBe(expected);
  expect((await createLedger({ connection: store.connection }).verify()).broken).toEqual([]);
}, 300_000);
