import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createLedger } from '../../../engine/ledger';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../../../engine/ledger/limits';
import { workflowIdFor } from '../../../engine/events/ingest';
import { ledgerKeyOf } from '../../../tasks/ledger-key';
import { startTestApi, type TestApi } from '../../support/api';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;

beforeAll(async () => {
  store = await openTestStore('accounts_idempotency_namespace');
  // The Temporal connection is lazy and never used by these routes.
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) }), taskQueue: `test-${randomUUID()}` });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

/** The key a trigger run's account task posts under, derived as tasks/account.ts derives it. */
function runKeyOf(triggerId: string, eventId: string, taskId: string): string {
  return ledgerKeyOf(`${workflowIdFor(triggerId, eventId)}:${taskId}`, MAX_IDEMPOTENCY_KEY_LENGTH);
}

it('keeps a client that posts first with a run\'s exact key from taking the run\'s credit', async () => {
  const runKey = runKeyOf('trg_0123456789abcdef', 'evt_squat', 'credit');
  const squat = { unit: 'USD', direction: 'credit', amount: 5000, idempotencyKey: runKey, createIfMissing: true };
  const first = await api.request('POST', '/v1/accounts/victim/entries', squat);
  expect(first).toMatchObject({ status: 201, body: { seq: 1, idempotencyKey: runKey, source: { kind: 'api' } } });

  // The run posts its credit (and retries it, as Temporal may): one entry of its own, apart from the client's.
  const ledger = createLedger({ connection: store.connection });
  const runPosting = { ownerId: 'victim', unit: 'USD', direction: 'credit' as const, amount: 5000, idempotencyKey: runKey, createIfMissing: true, source: { kind: 'trigger' as const, triggerId: 'trg_0123456789abcdef', eventId: 'evt_squat', taskId: 'credit', workflowId: workflowIdFor('trg_0123456789abcdef', 'evt_squat') } };
  const run = await ledger.post(runPosting);
  expect(run).toMatchObject({ replayed: false, entry: { seq: 2, source: { kind: 'trigger' } } });
  expect(await ledger.post(runPosting)).toMatchObject({ replayed: true, entry: { id: run.entry.id } });

  // The client's own retry still replays its own entry.
  expect(await api.request('POST', '/v1/accounts/victim/entries', squat)).toEqual(expect.objectContaining({ status: 200, body: first.body }));

  const listing = await api.request('GET', '/v1/accounts/victim/entries?unit=USD');
  expect(listing).toMatchObject({ status: 200, body: { items: [
    { seq: 2, idempotencyKey: runKey, source: { kind: 'trigger' } },
    { seq: 1, idempotencyKey: runKey, source: { kind: 'api' } },
  ] } });
  expect(await api.request('GET', '/v1/accounts/victim?unit=USD')).toMatchObject({ body: { balance: 10_000 } });
});

it('keeps a client from writing a transfer\'s entry keys', async () => {
  const ledger = createLedger({ connection: store.connection });
  const transferId = runKeyOf('trg_0123456789abcdef', 'evt_transfer', 'move');
  await api.request('POST', '/v1/accounts/payer/entries', { unit: 'USD', direction: 'credit', amount: 1000, idempotencyKey: 'seed-payer', createIfMissing: true });
  const squat = await api.request('POST', '/v1/accounts/payee/entries', { unit: 'USD', direction: 'credit', amount: 400, idempotencyKey: `${transferId}:credit`, createIfMissing: true });
  expect(squat.status).toBe(201);
  const transfer = await ledger.transfer({ transferId, fromOwnerId: 'payer', toOwnerId: 'payee', unit: 'USD', amount: 400, createIfMissing: true, source: { kind: 'trigger', triggerId: 'trg_0123456789abcdef', eventId: 'evt_transfer', taskId: 'move', workflowId: workflowIdFor('trg_0123456789abcdef', 'evt_transfer') } });
  expect(transfer).toMatchObject({ replayed: false, fromBalanceAfter: 600, toBalanceAfter: 800 });
});

it('names the client\'s key, unprefixed, in a conflict', async () => {
  const posting = { unit: 'USD', direction: 'credit', amount: 100, idempotencyKey: 'adjust-7', createIfMissing: true };
  expect((await api.request('POST', '/v1/accounts/conflicted/entries', posting)).status).toBe(201);
  const conflict = await api.request('POST', '/v1/accounts/conflicted/entries', { ...posting, amount: 101 });
  expect(conflict).toMatchObject({ status: 409, body: { code: 'idempotency_conflict', errors: [{ path: 'idempotencyKey' }] } });
  expect(conflict.body.detail).toContain('"adjust-7"');
  expect(conflict.body.detail).not.toContain('api:');
});

it('takes client keys of up to 196 characters, the ledger\'s limit less the namespace', async () => {
  const posting = { unit: 'USD', direction: 'credit', amount: 1, createIfMissing: true };
  expect((await api.request('POST', '/v1/accounts/long_keys/entries', { ...posting, idempotencyKey: 'k'.repeat(196) })).status).toBe(201);
  expect(await api.request('POST', '/v1/accounts/long_keys/entries', { ...posting, idempotencyKey: 'k'.repeat(197) })).toMatchObject({ status: 422, body: { errors: [{ path: 'idempotencyKey' }] } });
});
