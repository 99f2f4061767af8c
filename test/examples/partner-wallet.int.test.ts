// examples/partner-wallet applied through the CLI's apply code, against the
// real API and a worker that may call 127.0.0.1: a partner's top-up request
// moves the amount from its master wallet to the customer's account, and a
// webhook signed with the trigger's secret tells the partner's receiver
// (the demo's, on 127.0.0.1), named by the request's callbackUrl.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PARTNER_MASTER_ID, PARTNER_WALLET_KEY, partnerTopUpEvent, signatureProblem, WebhookReceiver } from '../../devstack/demo-seed';
import { REPO_DIR, startExampleStack, type ExampleStack } from './example-stack';

let stack: ExampleStack;
let receiver: WebhookReceiver;
let triggerId: string;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  stack = await startExampleStack('example_partner_wallet');
  const [result] = await stack.apply('examples/partner-wallet');
  expect(result).toMatchObject({ kind: 'trigger', name: PARTNER_WALLET_KEY, action: 'created' });
  triggerId = result!.id!;
});

afterAll(async () => {
  await stack?.close();
  await receiver?.stop();
});

interface Entry { id: string; direction: string; amount: number; balanceAfter: number; transferId?: string; counterparty?: { ownerId: string } }

async function entriesOf(ownerId: string): Promise<Entry[]> {
  const response = await stack.api.request('GET', `/v1/accounts/${ownerId}/entries?unit=USD`);
  expect(response.status).toBe(200);
  return response.body.items;
}

describe('the partner-wallet example', () => {
  it('is what its sample event and the demo send', () => {
    const sample = JSON.parse(readFileSync(path.join(REPO_DIR, 'examples/partner-wallet/topup.event.json'), 'utf8'));
    expect(partnerTopUpEvent({ eventId: sample.id, topupId: sample.data.topup.id, customer: sample.data.customer, amountCents: sample.data.topup.amount_cents, callbackUrl: sample.data.callbackUrl })).toEqual(sample);
  });

  it('moves the top-up from the master wallet to the customer, and tells the partner in a signed webhook', async () => {
    // Apply does not show the secret a create answered once; rotating gives the receiver one.
    const rotated = await stack.api.request('POST', `/v1/triggers/${triggerId}/webhook-secret/rotate`);
    expect(rotated.status).toBe(200);
    const secret: string = rotated.body.webhookSecret;
    const funded = await stack.api.request('POST', `/v1/accounts/${PARTNER_MASTER_ID}/entries`, { unit: 'USD', direction: 'credit', amount: 10_000, idempotencyKey: 'fund-master', createIfMissing: true });
    expect(funded.status).toBe(201);

    const tag = randomUUID().slice(0, 8);
    const customer = { id: `cust_${tag}`, name: 'Grace' };
    const event = partnerTopUpEvent({ eventId: `evt_${tag}`, topupId: `top_${tag}`, customer, amountCents: 2500, callbackUrl: receiver.url(`/hooks/topups/${tag}`) });
    const [workflowId, ...others] = await stack.send(event);
    expect(others).toEqual([]);
    const run = await stack.run(workflowId!);
    expect(run.status).toBe('completed');
    expect(run.tasks.map((task: { id: string; status: string }) => `${task.id}:${task.status}`)).toEqual(['pay:completed', 'report:completed']);
    const transfer = run.tasks[0].output;
    expect(transfer).toMatchObject({ fromOwnerId: PARTNER_MASTER_ID, toOwnerId: customer.id, unit: 'USD', amount: 2500, fromBalanceAfter: 7500, toBalanceAfter: 2500 });

    const [debit] = await entriesOf(PARTNER_MASTER_ID);
    const customerEntries = await entriesOf(customer.id);
    expect(customerEntries).toHaveLength(1);
    const [credit] = customerEntries;
    expect(debit).toMatchObject({ direction: 'debit', amount: 2500, balanceAfter: 7500, transferId: transfer.transferId, counterparty: { ownerId: customer.id } });
    expect(credit).toMatchObject({ direction: 'credit', amount: 2500, balanceAfter: 2500, transferId: transfer.transferId, counterparty: { ownerId: PARTNER_MASTER_ID } });
    expect([debit!.id, credit!.id]).toEqual([transfer.debitEntryId, transfer.creditEntryId]);

    const calls = receiver.received.filter((request) => request.path === `/hooks/topups/${tag}`);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call!.method).toBe('POST');
    expect(call!.headers['idempotency-key']).toBe(`${workflowId}:report`);
    expect(signatureProblem(call!, secret)).toBeNull();
    expect(signatureProblem(call!, 'whsec_not_the_secret')).toBe('signature_mismatch');
    expect(JSON.parse(call!.rawBody.toString('utf8'))).toEqual({
      type: 'topup.completed', topupId: `top_${tag}`, customerId: customer.id, amountCents: 2500, unit: 'USD',
      customerBalanceAfter: 2500, masterBalanceAfter: 7500,
    });
    expect(run.tasks[1].output).toEqual({ status: 200, body: { received: true } });
  });

  it('moves nothing and calls no one when the master wallet cannot cover the top-up', async () => {
    const tag = randomUUID().slice(0, 8);
    const customer = { id: `cust_${tag}`, name: 'Hal' };
    const before = (await stack.ledger.getAccount(PARTNER_MASTER_ID, 'USD'))!.balance;
    const event = partnerTopUpEvent({ eventId: `evt_${tag}`, topupId: `top_${tag}`, customer, amountCents: before + 1, callbackUrl: receiver.url(`/hooks/topups/${tag}`) });
    const [workflowId] = await stack.send(event);
    const run = await stack.run(workflowId!);
    expect(run.status).toBe('failed');
    expect(run.tasks[0]).toMatchObject({ id: 'pay', status: 'failed', error: { code: 'insufficient_funds' } });
    expect(run.tasks[1]).toMatchObject({ id: 'report', status: 'skipped' });
    expect((await stack.ledger.getAccount(PARTNER_MASTER_ID, 'USD'))!.balance).toBe(before);
    expect(await stack.ledger.getAccount(customer.id, 'USD')).toBeNull();
    expect(receiver.received.filter((request) => request.path === `/hooks/topups/${tag}`)).toEqual([]);
  });
});

describe('the partner-wallet example in a dry run', () => {
  it('shows the transfer with both balances and the request the webhook would send, moving and sending nothing', async () => {
    const sample = JSON.parse(readFileSync(path.join(REPO_DIR, 'examples/partner-wallet/topup.event.json'), 'utf8'));
    const funded = await stack.api.request('POST', `/v1/accounts/${PARTNER_MASTER_ID}/entries`, { unit: 'USD', direction: 'credit', amount: 10_000, idempotencyKey: 'fund-master-dry-run', createIfMissing: true });
    expect(funded.status).toBe(201);
    const master: number = funded.body.balanceAfter;
    const response = await stack.api.request('POST', '/v1/triggers/dry-run', { event: sample });
    expect(response.status).toBe(200);
    const [matched, ...others] = response.body.matched;
    expect(others).toEqual([]);
    expect(matched.triggerKey).toBe(PARTNER_WALLET_KEY);
    expect(matched.tasks[0]).toMatchObject({ id: 'pay', outcome: 'would_complete', transfer: { fromOwnerId: PARTNER_MASTER_ID, toOwnerId: 'cust_17', amount: 2500, fromBalanceBefore: master, fromBalanceAfter: master - 2500, toBalanceAfter: 2500 } });
    expect(matched.tasks[1]).toMatchObject({
      id: 'report', outcome: 'would_complete',
      webhook: { method: 'POST', url: 'https://partner.example.com/hooks/topups', body: { topupId: 'top_example_1', customerId: 'cust_17', amountCents: 2500, customerBalanceAfter: 2500, masterBalanceAfter: master - 2500 } },
    });
    expect((await stack.ledger.getAccount(PARTNER_MASTER_ID, 'USD'))!.balance).toBe(master);
    expect(await stack.ledger.getAccount('cust_17', 'USD')).toBeNull();
  });
});
