import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { startTestApi, type TestApi } from '../support/api';
import { mailsTo } from '../support/mailbox';
import { openTestStore } from '../support/store';
import { temporalAddress } from '../support/temporal';
import { purchaseEvent, topUpTrigger } from '../support/top-up';
import { TOP_UP_SCRIPT } from '../../engine/triggers/documented-top-up';

let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let client: Client;
let api: TestApi;

beforeAll(async () => {
  store = await openTestStore('authoring');
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection });
  api = await startTestApi({ store: store.connection, temporal: client, taskQueue: `test-${randomUUID()}` });
});

afterAll(async () => {
  await api?.close();
  await connection?.close();
  await store?.close();
});

describe('script test-runs', () => {
  const input = { event: purchaseEvent('account-top-up', 5000) };

  it('returns the documented script output and its logs', async () => {
    const response = await api.request('POST', '/v1/scripts/test', { code: `console.log('price', reservation.price_int);\n${TOP_UP_SCRIPT}`, input });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ ok: true, output: { amount_cents: 6000, vars: { DOLLARS: '$60' } } });
    expect(response.body.logs.join('\n')).toContain('price 5000');
  });

  it('reports a syntax error with the line and column in the admin code', async () => {
    const response = await api.request('POST', '/v1/scripts/test', { code: 'let a = 1;\nlet b = ;', input });
    expect(response.body).toMatchObject({ ok: false, error: { code: 'script_syntax', line: 2 } });
  });

  it('refuses limits above the server maximum, naming the field', async () => {
    const response = await api.request('POST', '/v1/scripts/test', { code: 'return 1', input, limits: { timeoutMs: api.config.SCRIPT_MAX_TIMEOUT_MS + 1 } });
    expect(response.status).toBe(422);
    expect(response.body.errors[0].path).toBe('limits.timeoutMs');
  });
});

describe('email templates', () => {
  const name = `receipt-${randomUUID().slice(0, 8)}`;

  it('are compiled at save: a syntax error is a 422 naming the part and line', async () => {
    const response = await api.request('POST', '/v1/templates', { name, subject: 'Receipt', text: 'Hello\n{{#if paid}}unclosed' });
    expect(response.status).toBe(422);
    expect(response.body.errors[0].path).toBe('text');
    expect(response.body.errors[0].message).toMatch(/line 2/i);
  });

  it('are created, previewed, used by triggers, and not deleted while in use', async () => {
    expect((await api.request('POST', '/v1/templates', { name, subject: 'Receipt for {{DOLLARS}}', text: 'Thanks {{reservation.user.name}}' })).status).toBe(201);
    const preview = await api.request('POST', `/v1/templates/${name}/preview`, { variables: { DOLLARS: '$60', reservation: { user: { name: 'Ada' } } } });
    expect(preview.body).toEqual({ subject: 'Receipt for $60', text: 'Thanks Ada' });
    const missing = await api.request('POST', `/v1/templates/${name}/preview`, { variables: {} });
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toContain('DOLLARS');

    const trigger = topUpTrigger(`res-${randomUUID()}`, 0);
    trigger.tasks[2] = { ...trigger.tasks[2], template: name };
    const created = await api.request('POST', '/v1/triggers', trigger);
    expect(created.status).toBe(201);
    expect((await api.request('DELETE', `/v1/templates/${name}`)).status).toBe(409);
    await api.request('DELETE', `/v1/triggers/${created.body.id}`);
    expect((await api.request('DELETE', `/v1/templates/${name}`)).status).toBe(204);
  });

  it('reserve the names of shipped templates and list them', async () => {
    expect((await api.request('POST', '/v1/templates', { name: 'account-credited', subject: 's', text: 't' })).status).toBe(409);
    const list = await api.request('GET', '/v1/templates');
    expect(list.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'account-credited', source: 'bundled' })]));
  });
});

describe('dry runs', () => {
  it('say what every task would do, and leave the store, the mailbox and Temporal untouched', async () => {
    const resource = `res-${randomUUID()}`;
    const trigger = await api.request('POST', '/v1/triggers', topUpTrigger(resource, 1800));
    const event = purchaseEvent(resource, 5000);

    const response = await api.request('POST', '/v1/triggers/dry-run', { event });
    expect(response.status).toBe(200);
    expect(response.body.matched).toHaveLength(1);
    const [compute, credit, notify] = response.body.matched[0].tasks;
    expect(compute).toMatchObject({ outcome: 'would_complete', output: { amount_cents: 6000 } });
    expect(credit).toMatchObject({ outcome: 'would_complete', posting: { ownerId: event.data.reservation.user.id, unit: 'USD', amount: 6000, accountExists: false, balanceBefore: 0, balanceAfter: 6000 } });
    expect(notify).toMatchObject({ outcome: 'would_complete', email: { to: event.data.reservation.user.email, subject: 'Your account was credited with $60' } });
    expect(response.body.matched[0]).toMatchObject({ triggerId: trigger.body.id, waitSeconds: 1800 });

    expect(await api.api.ledger.getAccount(event.data.reservation.user.id, 'USD')).toBeNull();
    expect((await api.request('GET', `/v1/events/${event.id}`)).status).toBe(404);
    expect(await mailsTo(event.data.reservation.user.email)).toHaveLength(0);
    const runs = await client.workflowService.countWorkflowExecutions({ namespace: 'default', query: `CreditflowTriggerId = '${trigger.body.id}'` });
    expect(Number(runs.count)).toBe(0);
  });

  it('show a debit the policy would refuse', async () => {
    const resource = `res-${randomUUID()}`;
    const trigger = topUpTrigger(resource, 0);
    trigger.tasks[1] = { ...trigger.tasks[1], action: 'debit' };
    await api.request('POST', '/v1/triggers', trigger);
    const response = await api.request('POST', '/v1/triggers/dry-run', { event: purchaseEvent(resource, 5000) });
    expect(response.body.matched[0].tasks.map((t: { outcome: string }) => t.outcome)).toEqual(['would_complete', 'would_fail', 'would_skip']);
    expect(response.body.matched[0].tasks[1].error.code).toBe('insufficient_funds');
  });
});

describe('versions in practice', () => {
  it('rollback makes an earlier definition current again, as a new version', async () => {
    const resource = `res-${randomUUID()}`;
    const created = await api.request('POST', '/v1/triggers', topUpTrigger(resource, 0));
    const id = created.body.id;
    await api.request('PUT', `/v1/triggers/${id}`, topUpTrigger(resource, 0, "return { amount_cents: 1, vars: { DOLLARS: '$0.01' } };"));
    const amountNow = async () => (await api.request('POST', `/v1/triggers/${id}/dry-run`, { event: purchaseEvent(resource, 5000) })).body.matched[0].tasks[1].posting.amount;
    expect(await amountNow()).toBe(1);

    const rolledBack = await api.request('POST', `/v1/triggers/${id}/rollback`, { version: 1 });
    expect(rolledBack.status).toBe(200);
    expect(rolledBack.body.version).toBe(3);
    expect(await amountNow()).toBe(6000);
    expect((await api.request('GET', `/v1/triggers/${id}/versions`)).body.items.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
  });

  it('a disabled trigger matches no new event', async () => {
    const resource = `res-${randomUUID()}`;
    const created = await api.request('POST', '/v1/triggers', topUpTrigger(resource, 0));
    const disabled = await api.request('POST', `/v1/triggers/${created.body.id}/disable`);
    expect(disabled.body).toMatchObject({ enabled: false, version: 2 });
    const accepted = await api.request('POST', '/v1/events', purchaseEvent(resource, 5000));
    expect(accepted.body.runs).toEqual([]);
    expect((await api.request('POST', `/v1/triggers/${created.body.id}/enable`)).body).toMatchObject({ enabled: true, version: 3 });
  });
});
