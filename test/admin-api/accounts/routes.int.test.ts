import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createLedger } from '../../../engine/ledger';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from '../../support/api';
import { openTestStore } from '../../support/store';

const ADMIN_KEY = TEST_ADMIN_KEY;
let READ_ONLY_KEY = '';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;

async function call(method: string, path: string, body?: unknown, key = ADMIN_KEY): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await api.request<Record<string, unknown>>(method, path, body, { key });
  return { status: response.status, body: response.body };
}

beforeAll(async () => {
  store = await openTestStore('accounts_api');
  // The Temporal connection is lazy and never used by these routes.
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) }), taskQueue: `test-${randomUUID()}` });
  const reader = await api.request('POST', '/v1/api-keys', { name: 'reader', scopes: ['accounts:read'] });
  READ_ONLY_KEY = reader.body.secret;
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const credit = { unit: 'USD', direction: 'credit', amount: 5000, idempotencyKey: 'api-credit-1', comment: 'goodwill', createIfMissing: true };

it('posts an admin adjustment with 201, replays it with 200, and refuses the key reused with 409', async () => {
  const first = await call('POST', '/v1/accounts/user_42/entries', credit);
  expect(first).toMatchObject({ status: 201, body: { seq: 1, direction: 'credit', amount: 5000, balanceAfter: 5000, comment: 'goodwill', source: { kind: 'api', keyId: 'env:ADMIN_API_KEY' } } });
  expect(await call('POST', '/v1/accounts/user_42/entries', credit)).toEqual({ status: 200, body: first.body });
  expect(await call('POST', '/v1/accounts/user_42/entries', { ...credit, amount: 5001 })).toMatchObject({ status: 409, body: { code: 'idempotency_conflict' } });
});

it('answers a debit the policy forbids with 422 insufficient_funds', async () => {
  const debit = { unit: 'USD', direction: 'debit', amount: 5001, idempotencyKey: 'api-debit-1' };
  expect(await call('POST', '/v1/accounts/user_42/entries', debit)).toMatchObject({ status: 422, body: { code: 'insufficient_funds' } });
});

it('opens an account on a posting only with createIfMissing', async () => {
  const { createIfMissing: _ignored, ...withoutCreate } = { ...credit, idempotencyKey: 'api-new-owner' };
  expect(await call('POST', '/v1/accounts/nobody/entries', withoutCreate)).toMatchObject({ status: 404, body: { code: 'account_not_found' } });
  expect(await call('GET', '/v1/accounts/nobody?unit=USD')).toMatchObject({ status: 404 });
});

it('names the failing field for a bad amount or unit', async () => {
  expect(await call('POST', '/v1/accounts/user_42/entries', { ...credit, idempotencyKey: 'api-bad', amount: 1.5 })).toMatchObject({ status: 422, body: { code: 'amount_must_be_positive_integer', errors: [{ path: 'amount' }] } });
  expect(await call('POST', '/v1/accounts/user_42/entries', { ...credit, idempotencyKey: 'api-bad', unit: 'dollars' })).toMatchObject({ status: 422, body: { code: 'unit_invalid' } });
  expect(await call('POST', '/v1/accounts/user_42/entries', { ...credit, idempotencyKey: 'api-bad', direction: 'sideways' })).toMatchObject({ status: 422, body: { errors: [{ path: 'direction' }] } });
});

it('shows the account, its entries newest first with a cursor, and lists accounts', async () => {
  await call('POST', '/v1/accounts/user_42/entries', { unit: 'USD', direction: 'debit', amount: 1200, idempotencyKey: 'api-debit-2' });
  expect(await call('GET', '/v1/accounts/user_42?unit=USD')).toMatchObject({ status: 200, body: { ownerId: 'user_42', unit: 'USD', balance: 3800, createdAt: expect.any(String), updatedAt: expect.any(String) } });
  const page = await call('GET', '/v1/accounts/user_42/entries?unit=USD&limit=1');
  expect(page).toMatchObject({ status: 200, body: { items: [{ seq: 2, balanceAfter: 3800 }], nextCursor: expect.any(String) } });
  const next = await call('GET', `/v1/accounts/user_42/entries?unit=USD&limit=1&cursor=${String(page.body.nextCursor)}`);
  expect(next).toMatchObject({ body: { items: [{ seq: 1 }], nextCursor: null } });
  expect(await call('GET', '/v1/accounts?ownerId=user_42')).toMatchObject({ status: 200, body: { items: [{ ownerId: 'user_42', balance: 3800 }] } });
});

it('sets the policy with PATCH, allowing debt down to the new minimum', async () => {
  expect(await call('PATCH', '/v1/accounts/user_42?unit=USD', { minBalance: -200, maxNegativeDays: 30 })).toMatchObject({ status: 200, body: { policy: { minBalance: -200, maxNegativeDays: 30 } } });
  expect(await call('POST', '/v1/accounts/user_42/entries', { unit: 'USD', direction: 'debit', amount: 4000, idempotencyKey: 'api-debit-3' })).toMatchObject({ status: 201, body: { balanceAfter: -200 } });
  expect(await call('PATCH', '/v1/accounts/user_42?unit=USD', { minBalance: 'lots' })).toMatchObject({ status: 422 });
});

it('needs accounts:write to post and accounts:read to read', async () => {
  expect((await call('GET', '/v1/accounts/user_42', undefined, READ_ONLY_KEY)).status).toBe(200);
  expect(await call('POST', '/v1/accounts/user_42/entries', { ...credit, idempotencyKey: 'api-reader' }, READ_ONLY_KEY)).toMatchObject({ status: 403 });
  expect((await call('GET', '/v1/accounts/user_42', undefined, 'wrong-key')).status).toBe(401);
});

it('shows the transferId, leg and counterparty of transfer entries, and nothing of the kind on plain ones', async () => {
  const ledger = createLedger({ connection: store.connection });
  await ledger.post({ ownerId: 'partner_master', unit: 'USD', direction: 'credit', amount: 1000, idempotencyKey: 'api-partner-seed', createIfMissing: true, source: { kind: 'api', keyId: 'test' } });
  await ledger.transfer({ transferId: 'api-transfer-1', fromOwnerId: 'partner_master', toOwnerId: 'user_77', unit: 'USD', amount: 600, createIfMissing: true, source: { kind: 'api', keyId: 'test' } });
  const sent = await call('GET', '/v1/accounts/partner_master/entries?unit=USD');
  expect(sent).toMatchObject({ status: 200, body: { items: [
    { seq: 2, direction: 'debit', amount: 600, idempotencyKey: 'api-transfer-1:debit', transferId: 'api-transfer-1', transferLeg: 'debit', counterparty: { ownerId: 'user_77', unit: 'USD' } },
    { seq: 1, direction: 'credit' },
  ] } });
  expect((sent.body.items as Array<Record<string, unknown>>)[1]).not.toHaveProperty('transferId');
  expect((sent.body.items as Array<Record<string, unknown>>)[1]).not.toHaveProperty('counterparty');
  expect(await call('GET', '/v1/accounts/user_77/entries?unit=USD')).toMatchObject({ status: 200, body: { items: [
    { seq: 1, direction: 'credit', amount: 600, balanceAfter: 600, transferId: 'api-transfer-1', transferLeg: 'credit', counterparty: { ownerId: 'partner_master', unit: 'USD' } },
  ] } });
});

it('describes every accounts route in the OpenAPI document', async () => {
  const document = (await (await fetch(`${api.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  expect(Object.keys(document.paths['/v1/accounts/{ownerId}/entries'] ?? {}).sort()).toEqual(['get', 'post']);
  expect(Object.keys(document.paths['/v1/accounts/{ownerId}'] ?? {}).sort()).toEqual(['get', 'patch']);
  expect(document.paths['/v1/accounts']).toHaveProperty('get');
});

it('documents the transfer fields of an entry in the OpenAPI document', async () => {
  const document = (await (await fetch(`${api.baseUrl}/openapi.json`)).json()) as { components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> } };
  const entry = document.components.schemas.LedgerEntry;
  expect(entry?.properties).toMatchObject({ transferId: { type: 'string' }, transferLeg: { enum: ['debit', 'credit', 'reversal'] }, counterparty: { type: 'object' } });
  expect(entry?.required ?? []).not.toContain('transferId');
});
