// examples/dealer-credit-terms applied through the CLI's apply code (seed
// 004): dealers may go $500 negative for 30 days; private sellers may not go
// negative; the minimum top-up of a private seller is $20, except what the
// administrator adds with an override.
import { groupPolicyLayer } from '../../engine/customers';
import { createLedger } from '../../engine/ledger';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_DIR, startExampleStack, type ExampleStack } from './example-stack';

let stack: ExampleStack;

beforeAll(async () => {
  stack = await startExampleStack('example_dealer_terms');
  const results = await stack.apply('examples/dealer-credit-terms');
  expect(results.map((r) => `${r.kind} ${r.name} ${r.action}`)).toEqual(['group dealers created', 'group private-sellers created', 'trigger listing-fee created']);
  await stack.api.request('PUT', '/v1/customers/dealer_17', { name: 'Dealer 17', groupId: 'dealers' });
  await stack.api.request('PUT', '/v1/customers/seller_5', { name: 'Seller 5', groupId: 'private-sellers' });
});

afterAll(async () => {
  await stack?.close();
});

const listing = (id: string, ownerId: string, feeCents: number) => ({ id, type: 'listing.published', data: { ownerId, listing: { id, fee_cents: feeCents } } });
const balanceOf = async (ownerId: string) => (await stack.api.request('GET', `/v1/accounts/${ownerId}?unit=USD`)).body;
const topUp = (ownerId: string, amount: number, key: string, extra: Record<string, unknown> = {}) => stack.api.request('POST', `/v1/accounts/${ownerId}/entries`, { unit: 'USD', direction: 'credit', amount, idempotencyKey: key, createIfMissing: true, ...extra });

describe('the dealer-credit-terms example', () => {
  it('charges a dealer into debt down to -$500, and no further', async () => {
    const sample = JSON.parse(readFileSync(path.join(REPO_DIR, 'examples/dealer-credit-terms/listing.event.json'), 'utf8'));
    const [first] = await stack.send(sample);
    expect(await stack.run(first!)).toMatchObject({ status: 'completed' });
    const [second] = await stack.send(listing('lst_2002', 'dealer_17', 20_000));
    expect(await stack.run(second!)).toMatchObject({ status: 'completed' });
    expect(await balanceOf('dealer_17')).toMatchObject({ balance: -50_000, policy: { minBalance: -50_000, maxNegativeDays: 30 }, policySources: { minBalance: 'group', maxNegativeDays: 'group' }, policyGroupId: 'dealers' });
    const [third] = await stack.send(listing('lst_2003', 'dealer_17', 1));
    expect(await stack.run(third!)).toMatchObject({ status: 'failed', tasks: [{ status: 'failed', error: { code: 'insufficient_funds' } }] });
  });

  it('refuses a dealer\'s charges once the balance has been negative over 30 days, until it is paid off', async () => {
    await topUp('dealer_17', 10_000, 'dealer-pay-part');
    const charge = { ownerId: 'dealer_17', unit: 'USD', direction: 'debit' as const, amount: 100, source: { kind: 'api' as const, keyId: 'test' } };
    // A ledger whose clock is 30 and 31 days on, reading the group layer as the worker does.
    const onDay = (days: number) => createLedger({ connection: stack.connection, policyLayer: groupPolicyLayer(stack.connection), clock: () => new Date(Date.now() + days * 86_400_000 - 60_000) });
    expect((await onDay(30).post({ ...charge, idempotencyKey: 'day-30' })).entry.balanceAfter).toBe(-40_100);
    await expect(onDay(31).post({ ...charge, idempotencyKey: 'day-31' })).rejects.toMatchObject({ code: 'negative_balance_expired' });
    // Paid off, the clock restarts: charges are accepted again.
    await topUp('dealer_17', 40_100, 'dealer-pay-all');
    expect((await onDay(31).post({ ...charge, idempotencyKey: 'day-31-after' })).entry.balanceAfter).toBe(-100);
  });

  it('never lets a private seller go negative, and needs top-ups of at least $20', async () => {
    const [refused] = await stack.send(listing('lst_3001', 'seller_5', 500));
    expect(await stack.run(refused!)).toMatchObject({ status: 'failed', tasks: [{ error: { code: 'insufficient_funds' } }] });
    expect(await topUp('seller_5', 1999, 'seller-small')).toMatchObject({ status: 422, body: { code: 'credit_too_small' } });
    expect((await topUp('seller_5', 2000, 'seller-min')).status).toBe(201);
    const [paid] = await stack.send(listing('lst_3002', 'seller_5', 500));
    expect(await stack.run(paid!)).toMatchObject({ status: 'completed' });
    expect(await stack.run((await stack.send(listing('lst_3003', 'seller_5', 1501)))[0]!)).toMatchObject({ status: 'failed' });
    expect((await balanceOf('seller_5')).balance).toBe(1500);
    // The administrator may add less than the minimum, with an override.
    expect(await topUp('seller_5', 500, 'seller-goodwill', { adminOverride: true, comment: 'Goodwill' })).toMatchObject({ status: 201, body: { balanceAfter: 2000 } });
  });
});
