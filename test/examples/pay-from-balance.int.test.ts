// examples/pay-from-balance applied through the CLI's apply code, against
// the real API and worker: a reservation of a resource flagged to pay from
// the account is debited from the user's balance, or, when the balance does
// not cover it, nothing is taken and the user is told by email.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mailsTo, waitForMails } from '../support/mailbox';
import { REPO_DIR, startExampleStack, type ExampleStack } from './example-stack';

let stack: ExampleStack;

beforeAll(async () => {
  stack = await startExampleStack('example_pay_from_balance');
  const [result] = await stack.apply('examples/pay-from-balance');
  expect(result).toMatchObject({ kind: 'trigger', name: 'pay-from-balance', action: 'created' });
});

afterAll(async () => {
  await stack?.close();
});

type Reservation = { id: string; price_int: number; currency: string; user: { id: string; email: string; name: string }; resource: { id: string; name: string; payFromAccount: boolean } };

/** The example's sample purchase, for a new user of its own and a fresh reservation. */
function purchase(file: string, priceInt: number) {
  const sample = JSON.parse(readFileSync(path.join(REPO_DIR, 'examples/pay-from-balance', file), 'utf8')) as { data: { reservation: Reservation } };
  const tag = randomUUID().slice(0, 8);
  const user = { id: `user_${tag}`, email: `pay-${tag}@example.com`, name: `User ${tag}` };
  return { ...sample, id: `evt_${tag}`, data: { reservation: { ...sample.data.reservation, id: `res_${tag}`, price_int: priceInt, user } } };
}

async function credit(ownerId: string, amount: number): Promise<void> {
  const response = await stack.api.request('POST', `/v1/accounts/${ownerId}/entries`, { unit: 'USD', direction: 'credit', amount, idempotencyKey: `fund-${ownerId}`, createIfMissing: true });
  expect(response.status).toBe(201);
}

async function debitsOf(ownerId: string) {
  const response = await stack.api.request('GET', `/v1/accounts/${ownerId}/entries?unit=USD`);
  expect(response.status).toBe(200);
  return (response.body.items as Array<{ direction: string; amount: number; source: { taskId?: string } }>).filter((entry) => entry.direction === 'debit');
}

describe('the pay-from-balance example', () => {
  it('debits exactly the price from a balance that covers it, and confirms by email', async () => {
    const event = purchase('purchase.event.json', 2500);
    const { user } = event.data.reservation;
    await credit(user.id, 6000);

    const [workflowId, ...others] = await stack.send(event);
    expect(others).toEqual([]);
    const run = await stack.run(workflowId!);
    expect(run.status).toBe('completed');
    expect(run.tasks.map((task: { id: string; status: string }) => `${task.id}:${task.status}`)).toEqual(['charge:completed', 'receipt:completed', 'paid:completed', 'declined:skipped']);
    expect(run.tasks[0].output).toMatchObject({ direction: 'debit', amount: 2500, unit: 'USD', balanceAfter: 3500 });

    expect((await stack.ledger.getAccount(user.id, 'USD'))?.balance).toBe(3500);
    expect(await debitsOf(user.id)).toEqual([expect.objectContaining({ amount: 2500, source: expect.objectContaining({ taskId: 'charge' }) })]);
    const [mail, ...more] = await waitForMails(user.email, 1);
    expect(more).toEqual([]);
    expect(mail!.subject).toBe('25.00 USD was paid from your account balance');
    expect(mail!.text).toContain('Your balance is now 35.00 USD.');
  });

  it('takes nothing from a balance that does not cover the price, and tells the user so', async () => {
    const event = purchase('purchase.event.json', 2500);
    const { user } = event.data.reservation;
    await credit(user.id, 1000);

    const [workflowId] = await stack.send(event);
    const run = await stack.run(workflowId!);
    expect(run.status).toBe('completed');
    expect(run.tasks.map((task: { id: string; status: string }) => `${task.id}:${task.status}`)).toEqual(['charge:failed', 'receipt:completed', 'paid:skipped', 'declined:completed']);
    expect(run.tasks[0].error).toMatchObject({ code: 'insufficient_funds' });

    expect((await stack.ledger.getAccount(user.id, 'USD'))?.balance).toBe(1000);
    expect(await debitsOf(user.id)).toEqual([]);
    const [mail, ...more] = await waitForMails(user.email, 1);
    expect(more).toEqual([]);
    expect(mail!.subject).toBe(`Your account balance does not cover ${event.data.reservation.resource.name}`);
    expect(mail!.text).toContain('does not cover 25.00 USD');
    expect(mail!.text).toContain('nothing was taken from it');
  });

  it('tells a user who has no account yet the same, and opens none', async () => {
    const event = purchase('purchase.event.json', 2500);
    const { user } = event.data.reservation;

    const [workflowId] = await stack.send(event);
    const run = await stack.run(workflowId!);
    expect(run.status).toBe('completed');
    expect(run.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'insufficient_funds' } });
    expect(await stack.ledger.getAccount(user.id, 'USD')).toBeNull();
    expect((await waitForMails(user.email, 1)).map((mail) => mail.subject)).toEqual([`Your account balance does not cover ${event.data.reservation.resource.name}`]);
  });

  it('starts no run for a resource that is not flagged to pay from the account', async () => {
    const event = purchase('not-flagged.event.json', 2500);
    const { user } = event.data.reservation;
    await credit(user.id, 6000);

    const accepted = await stack.api.request('POST', '/v1/events', event);
    expect(accepted.status).toBe(202);
    expect(accepted.body.runs).toEqual([]);
    expect((await stack.api.request('GET', `/v1/runs?eventId=${event.id}`)).body.items).toEqual([]);
    expect((await stack.ledger.getAccount(user.id, 'USD'))?.balance).toBe(6000);
    expect(await mailsTo(user.email)).toEqual([]);
  });

  it('shows in a dry run the debit with the balance before and after, and the email it would send', async () => {
    const event = purchase('purchase.event.json', 2500);
    const { user } = event.data.reservation;
    await credit(user.id, 6000);

    const response = await stack.api.request('POST', '/v1/triggers/dry-run', { event });
    expect(response.status).toBe(200);
    const tasks = response.body.matched[0].tasks;
    expect(tasks.map((task: { id: string; outcome: string }) => `${task.id}:${task.outcome}`)).toEqual(['charge:would_complete', 'receipt:would_complete', 'paid:would_complete', 'declined:would_skip']);
    expect(tasks[0].posting).toMatchObject({ direction: 'debit', amount: 2500, balanceBefore: 6000, balanceAfter: 3500 });
    expect(tasks[2].email).toMatchObject({ to: user.email, subject: '25.00 USD was paid from your account balance' });
    expect((await stack.ledger.getAccount(user.id, 'USD'))?.balance).toBe(6000);
  });
});
