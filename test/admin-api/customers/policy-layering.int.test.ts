import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { connectStore } from '../../../engine/store';
import { groupPolicyLayer } from '../../../engine/customers';
import { createLedger } from '../../../engine/ledger';
import { startTestApi, type TestApi } from '../../support/api';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;
let secondConnection: Awaited<ReturnType<typeof connectStore>>;
let second: TestApi;

const lazyTemporal = () => new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) });

beforeAll(async () => {
  store = await openTestStore('policy_layers');
  const taskQueue = `test-${randomUUID()}`;
  api = await startTestApi({ store: store.connection, temporal: lazyTemporal(), taskQueue, env: { LEDGER_POLICY_DEFAULTS: '{"USD":{"minBalance":-100}}' } });
  secondConnection = await connectStore(store.uri, { dbName: store.dbName });
  second = await startTestApi({ store: secondConnection, temporal: lazyTemporal(), taskQueue, env: { LEDGER_POLICY_DEFAULTS: '{"USD":{"minBalance":-100}}' } });
  await api.request('PUT', '/v1/groups/dealers', { name: 'Dealers', policy: { USD: { minBalance: -50_000, maxNegativeDays: 30 } } });
  await api.request('PUT', '/v1/groups/private', { name: 'Private sellers', policy: { USD: { minBalance: 0, minCredit: 2000, maxBalance: 100_000 } } });
}, 60_000);
afterAll(async () => {
  await second?.close();
  await secondConnection?.close();
  await api?.close();
  await store?.close();
});

const post = (ownerId: string, body: Record<string, unknown>, options?: { key?: string }) => api.request('POST', `/v1/accounts/${ownerId}/entries`, { unit: 'USD', createIfMissing: true, ...body }, options);

it('applies account override > group > unit default, and the account shows where each value came from', async () => {
  await api.request('PUT', '/v1/customers/dealer_1', { groupId: 'dealers' });
  expect((await post('dealer_1', { direction: 'debit', amount: 40_000, idempotencyKey: 'd1-1' })).status).toBe(201);
  expect(await post('dealer_1', { direction: 'debit', amount: 10_001, idempotencyKey: 'd1-2' })).toMatchObject({ status: 422, body: { code: 'insufficient_funds' } });
  expect((await api.request('GET', '/v1/accounts/dealer_1?unit=USD')).body).toMatchObject({
    balance: -40_000,
    policy: { minBalance: -50_000, maxNegativeDays: 30, maxBalance: null, minCredit: null },
    policySources: { minBalance: 'group', maxNegativeDays: 'group', maxBalance: 'default', minCredit: 'default' },
    policyGroupId: 'dealers',
  });
  const patched = await api.request('PATCH', '/v1/accounts/dealer_1?unit=USD', { minBalance: -45_000 });
  expect(patched.body).toMatchObject({ policy: { minBalance: -45_000 }, policySources: { minBalance: 'account' }, policyOverrides: { minBalance: -45_000 } });
  expect(await post('dealer_1', { direction: 'debit', amount: 5_001, idempotencyKey: 'd1-3' })).toMatchObject({ status: 422, body: { code: 'insufficient_funds' } });
  // An owner with no customer gets the unit default.
  expect((await api.request('GET', '/v1/accounts/dealer_1?unit=USD')).status).toBe(200);
  expect((await post('walk_in', { direction: 'debit', amount: 100, idempotencyKey: 'w-1' })).status).toBe(201);
  expect(await post('walk_in', { direction: 'debit', amount: 1, idempotencyKey: 'w-2' })).toMatchObject({ status: 422, body: { code: 'insufficient_funds' } });
});

it('refuses credits under minCredit (credit_too_small) and over maxBalance (balance_limit), except an admin\'s override', async () => {
  await api.request('PUT', '/v1/customers/seller_1', { groupId: 'private' });
  expect(await post('seller_1', { direction: 'credit', amount: 1999, idempotencyKey: 's1-1' })).toMatchObject({ status: 422, body: { code: 'credit_too_small', errors: [{ path: 'amount' }] } });
  expect((await post('seller_1', { direction: 'credit', amount: 2000, idempotencyKey: 's1-2' })).status).toBe(201);
  expect(await post('seller_1', { direction: 'credit', amount: 98_001, idempotencyKey: 's1-3' })).toMatchObject({ status: 422, body: { code: 'balance_limit' } });
  expect((await post('seller_1', { direction: 'credit', amount: 98_000, idempotencyKey: 's1-4' })).status).toBe(201);
  const override = await post('seller_1', { direction: 'credit', amount: 500, idempotencyKey: 's1-5', adminOverride: true });
  expect(override).toMatchObject({ status: 201, body: { balanceAfter: 100_500, source: { kind: 'api', adminOverride: true } } });
  // Not from a key without the admin scope.
  const writer = await api.request('POST', '/v1/api-keys', { name: 'writer', scopes: ['accounts:write'] });
  expect(await post('seller_1', { direction: 'credit', amount: 500, idempotencyKey: 's1-6', adminOverride: true }, { key: writer.body.secret })).toMatchObject({ status: 403, body: { code: 'admin_override_forbidden' } });
  // Debits keep their rules under an override.
  expect(await post('seller_1', { direction: 'debit', amount: 100_501, idempotencyKey: 's1-7', adminOverride: true })).toMatchObject({ status: 422, body: { code: 'insufficient_funds' } });
});

it('sets and resets the credit rules on one account, refusing a minCredit under 1 with nothing changed', async () => {
  await api.request('PUT', '/v1/customers/seller_2', { groupId: 'private' });
  expect((await post('seller_2', { direction: 'credit', amount: 2000, idempotencyKey: 's2-1' })).status).toBe(201);
  expect(await api.request('PATCH', '/v1/accounts/seller_2?unit=USD', { minCredit: -1 })).toMatchObject({ status: 422, body: { code: 'min_credit_invalid', errors: [{ path: 'minCredit' }] } });
  expect(await api.request('PATCH', '/v1/accounts/seller_2?unit=USD', { minCredit: 0 })).toMatchObject({ status: 422, body: { code: 'min_credit_invalid' } });
  expect((await api.request('GET', '/v1/accounts/seller_2?unit=USD')).body).toMatchObject({ policy: { minCredit: 2000 }, policySources: { minCredit: 'group' } });
  expect((await api.request('PATCH', '/v1/accounts/seller_2?unit=USD', { minCredit: 1, maxBalance: 3000 })).body).toMatchObject({ policy: { minCredit: 1, maxBalance: 3000 }, policySources: { minCredit: 'account', maxBalance: 'account' } });
  expect((await post('seller_2', { direction: 'credit', amount: 5, idempotencyKey: 's2-2' })).status).toBe(201);
  expect(await post('seller_2', { direction: 'credit', amount: 996, idempotencyKey: 's2-3' })).toMatchObject({ status: 422, body: { code: 'balance_limit' } });
  expect((await api.request('PATCH', '/v1/accounts/seller_2?unit=USD', { minCredit: null, maxBalance: null })).body).toMatchObject({ policy: { minCredit: 2000, maxBalance: 100_000 }, policySources: { minCredit: 'group', maxBalance: 'group' } });
});

it('applies a group change and a move between groups to the next posting in every API', async () => {
  await api.request('PUT', '/v1/customers/mover', { groupId: 'private' });
  expect(await second.request('POST', '/v1/accounts/mover/entries', { unit: 'USD', direction: 'debit', amount: 10, idempotencyKey: 'mv-1', createIfMissing: true })).toMatchObject({ status: 422, body: { code: 'insufficient_funds' } });
  await api.request('PUT', '/v1/customers/mover', { groupId: 'dealers' });
  expect((await second.request('POST', '/v1/accounts/mover/entries', { unit: 'USD', direction: 'debit', amount: 10, idempotencyKey: 'mv-2', createIfMissing: true })).status).toBe(201);
  await api.request('PUT', '/v1/groups/dealers', { name: 'Dealers', policy: { USD: { minBalance: -10, maxNegativeDays: 30 } } });
  expect(await second.request('POST', '/v1/accounts/mover/entries', { unit: 'USD', direction: 'debit', amount: 1, idempotencyKey: 'mv-3' })).toMatchObject({ status: 422, body: { code: 'insufficient_funds' } });
  await api.request('PUT', '/v1/groups/dealers', { name: 'Dealers', policy: { USD: { minBalance: -50_000, maxNegativeDays: 30 } } });
});

it('applies the same layers in dry runs, also to an account not opened yet', async () => {
  const trigger = await api.request('POST', '/v1/triggers', {
    name: 'Small bonus', on: { types: ['bonus.granted'] },
    tasks: [{ id: 'bonus', type: 'account', action: 'credit', amount: 500, owner: '{{data.ownerId}}', unit: 'USD', createIfMissing: true }],
  });
  expect(trigger.status).toBe(201);
  await api.request('PUT', '/v1/customers/fresh_seller', { groupId: 'private' });
  const simulated = await api.request('POST', `/v1/triggers/${trigger.body.id}/dry-run`, { event: { type: 'bonus.granted', data: { ownerId: 'fresh_seller' } } });
  expect(simulated.body.matched[0].tasks[0]).toMatchObject({ outcome: 'would_fail', error: { code: 'credit_too_small' } });
  const dealer = await api.request('POST', `/v1/triggers/${trigger.body.id}/dry-run`, { event: { type: 'bonus.granted', data: { ownerId: 'dealer_1' } } });
  expect(dealer.body.matched[0].tasks[0]).toMatchObject({ outcome: 'would_complete' });
});

it('reverses a transfer whose credit the receiver\'s group refuses, and the reversal lands despite the sender\'s minCredit', async () => {
  await api.request('PUT', '/v1/groups/capped', { name: 'Capped', policy: { USD: { maxBalance: 1000 } } });
  await api.request('PUT', '/v1/groups/picky', { name: 'Picky', policy: { USD: { minBalance: 0, minCredit: 5000 } } });
  await api.request('PUT', '/v1/customers/capped_receiver', { groupId: 'capped' });
  await api.request('PUT', '/v1/customers/picky_sender', { groupId: 'picky' });
  expect((await post('picky_sender', { direction: 'credit', amount: 6000, idempotencyKey: 'ps-seed' })).status).toBe(201);
  const ledger = createLedger({ connection: store.connection, policyLayer: groupPolicyLayer(store.connection) });
  const transfer = ledger.transfer({ transferId: 'xfer-capped-1', fromOwnerId: 'picky_sender', toOwnerId: 'capped_receiver', unit: 'USD', amount: 1500, createIfMissing: true, source: { kind: 'api', keyId: 'test' } });
  await expect(transfer).rejects.toMatchObject({ code: 'transfer_reversed', refusalCode: 'balance_limit' });
  expect((await api.request('GET', '/v1/accounts/picky_sender?unit=USD')).body.balance).toBe(6000);
  expect((await api.request('GET', '/v1/accounts/capped_receiver?unit=USD')).status).toBe(404);
});

it('keeps the ledger verifiably consistent under opening balances, adjustments and policy changes at once', async () => {
  await api.request('PUT', '/v1/groups/busy-group', { name: 'Busy', openingBalance: { USD: 5000 }, policy: { USD: { minBalance: -1000 } } });
  const owners = Array.from({ length: 10 }, (_, i) => `busy_${i}`);
  const apis = [api, second];
  const work: Array<Promise<unknown>> = [];
  for (const [i, owner] of owners.entries()) {
    work.push(apis[i % 2]!.request('PUT', `/v1/customers/${owner}`, { groupId: 'busy-group' }));
    work.push(apis[(i + 1) % 2]!.request('PUT', `/v1/customers/${owner}`, { groupId: 'busy-group', name: `Busy ${i}` }));
  }
  for (let round = 0; round < 4; round += 1) {
    work.push(apis[round % 2]!.request('POST', '/v1/adjustments', { comment: `round ${round}`, items: owners.map((owner, i) => ({ ownerId: owner, unit: 'USD', direction: (i + round) % 3 === 0 ? 'debit' : 'credit', amount: 700 + round, idempotencyKey: `busy-${round}-${owner}`, createIfMissing: true })) }));
  }
  work.push(api.request('PUT', '/v1/groups/busy-group', { name: 'Busy', openingBalance: { USD: 5000 }, policy: { USD: { minBalance: -3000, maxBalance: 9000 } } }));
  work.push(second.request('PATCH', '/v1/accounts/busy_0?unit=USD', { minBalance: 0, createIfMissing: true }));
  const responses = await Promise.all(work);
  expect(responses.map((r) => (r as { status: number }).status).every((status) => status < 500)).toBe(true);
  for (const owner of owners) {
    const entries = (await api.request('GET', `/v1/accounts/${owner}/entries?unit=USD&limit=50`)).body.items as Array<{ source: { kind: string } }>;
    expect(entries.filter((entry) => entry.source.kind === 'opening')).toHaveLength(1);
  }
  const report = await createLedger({ connection: store.connection }).verify();
  expect(report).toMatchObject({ broken: [], brokenTransfers: [] });
}, 120_000);
