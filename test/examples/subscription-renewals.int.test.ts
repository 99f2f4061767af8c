// examples/subscription-renewals applied through the CLI's apply code: the
// renewal sweep seed 003 describes. A firing renews what the balance covers,
// emails an expiry notice to the owner it does not cover, and emails the
// admin the report.
import { randomUUID } from 'node:crypto';
import { outboxKeysOf, sentMailTo, waitForMails } from '../support/mailbox';
import { startExampleStack, type ExampleStack } from './example-stack';

let stack: ExampleStack;
let triggerId: string;

beforeAll(async () => {
  stack = await startExampleStack('example_subscription_renewals');
  const results = await stack.apply('examples/subscription-renewals');
  expect(results.map((r) => `${r.kind} ${r.name} ${r.action}`)).toEqual(['trigger subscription-renewals created']);
  triggerId = results[0]!.id!;
});

afterAll(async () => {
  await stack?.close();
});

const DAY_MS = 86_400_000;
const plan = { name: 'Pro membership', price: { amount: 30, unit: 'CREDIT' }, periodDays: 30 };

async function subscriber(credits: number, periodEnd: Date, autoRenew = true) {
  const tag = randomUUID().slice(0, 8);
  const ownerId = `agent_${tag}`;
  const email = `agent-${tag}@example.com`;
  await stack.api.request('PUT', `/v1/customers/${ownerId}`, { name: 'Agent', email });
  await stack.api.request('POST', `/v1/accounts/${ownerId}/entries`, { unit: 'CREDIT', direction: 'credit', amount: credits, idempotencyKey: `fund-${tag}`, createIfMissing: true });
  const id = `sub_${tag}`;
  expect((await stack.api.request('PUT', `/v1/subscriptions/${id}`, { ownerId, plan, currentPeriodEnd: periodEnd.toISOString(), autoRenew })).status).toBe(201);
  return { ownerId, email, id };
}

async function fireAndSettle(): Promise<Record<string, unknown> & { firingId: string }> {
  const fired = await stack.api.request('POST', `/v1/triggers/${triggerId}/fire`, {});
  expect(fired.status).toBe(202);
  const firingId = fired.body.firingId as string;
  const workflowId = `${triggerId}:${firingId}`;
  for (;;) {
    const response = await stack.api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
    if (response.status === 200 && response.body.status !== 'running') return { ...response.body, firingId };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The admin's report that names `text` (the admin mailbox keeps reports of earlier test runs). */
async function reportNaming(text: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = (await waitForMails('billing-admin@example.com', Number.MAX_SAFE_INTEGER, 0)).find((mail) => mail.text?.includes(text));
    if (found || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The firing summary, as the API shows it. */
const firingOf = async (firingId: string) => {
  const response = await stack.api.request('GET', `/v1/triggers/${triggerId}/firings/${encodeURIComponent(firingId)}`);
  expect(response.status).toBe(200);
  return response.body as Record<string, unknown>;
};

const balanceOf = async (ownerId: string) => (await stack.api.request('GET', `/v1/accounts/${ownerId}?unit=CREDIT`)).body.balance as number;

describe('the subscription-renewals example', () => {
  it('is a scheduled trigger listed among the triggers', async () => {
    const found = (await stack.api.request('GET', '/v1/triggers?key=subscription-renewals')).body.items;
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ id: triggerId, enabled: true, on: { schedule: { cron: '0 6 * * *', timezone: 'UTC' } } });
  });

  it('renews what the balance covers, tells the owner it does not cover, reports to the admin, and renews nothing twice', async () => {
    const soon = new Date(Date.now() + DAY_MS / 2);
    const rich = await subscriber(100, soon);
    const poor = await subscriber(10, soon);
    const later = await subscriber(100, new Date(Date.now() + 10 * DAY_MS));
    const off = await subscriber(100, soon, false);

    const run = await fireAndSettle();
    expect(run.status).toBe('completed');
    const report = (run.tasks as Array<{ output: Record<string, unknown> }>)[0]!.output;
    expect(report).toMatchObject({ failed: 0 });
    expect(report.refusals).toEqual(expect.arrayContaining([expect.objectContaining({ subscriptionId: poor.id, code: 'insufficient_funds' })]));
    // The firing summary carries the same counts as the run's task output (the lists stay in the run and the admin's email).
    const counts = (output: Record<string, unknown>) => ({ considered: output.considered, due: output.due, renewed: output.renewed, refused: output.refused, failed: output.failed, notified: output.notified, alreadyNotified: output.alreadyNotified });
    const firing = await firingOf(run.firingId);
    expect(firing).toMatchObject({ status: 'completed', matched: 1, started: 1, report: { taskId: 'renew', type: 'subscription_renewals', ...counts(report), finishedAt: expect.any(String) } });
    expect(report).toMatchObject({ renewed: expect.any(Number), notified: expect.any(Number), alreadyNotified: expect.any(Number) });
    expect(report.renewed as number).toBeGreaterThanOrEqual(1);
    expect(report.notified as number).toBeGreaterThanOrEqual(1);
    expect(firing.report).not.toHaveProperty('refusals');

    expect(await balanceOf(rich.ownerId)).toBe(70);
    expect(await balanceOf(poor.ownerId)).toBe(10);
    expect(await balanceOf(later.ownerId)).toBe(100);
    expect(await balanceOf(off.ownerId)).toBe(100);
    expect((await stack.api.request('GET', `/v1/subscriptions/${rich.id}`)).body.currentPeriodEnd).toBe(new Date(soon.getTime() + 30 * DAY_MS).toISOString());
    expect((await stack.api.request('GET', `/v1/subscriptions/${poor.id}`)).body.currentPeriodEnd).toBe(soon.toISOString());
    expect((await stack.api.request('GET', `/v1/subscriptions/${rich.id}/renewals`)).body.items).toEqual([expect.objectContaining({ outcome: 'renewed' })]);
    expect((await stack.api.request('GET', `/v1/subscriptions/${poor.id}/renewals`)).body.items).toEqual([expect.objectContaining({ outcome: 'refused', code: 'insufficient_funds' })]);

    const [notice] = await waitForMails(poor.email, 1, 30_000);
    expect(notice).toMatchObject({ subject: 'Your Pro membership subscription could not be renewed' });
    // The firing's run has closed, so the owner it renewed was sent nothing.
    const toRich = await sentMailTo(stack.connection, rich.email);
    expect(toRich.recorded).toEqual([]);
    expect(toRich.captured.map((mail) => mail.subject)).toEqual([]);
    expect(await reportNaming(`${poor.id} (${poor.ownerId})`)).toMatchObject({ subject: expect.stringMatching(/^Subscription renewals: \d+ renewed, \d+ not covered, 0 failed$/) });

    // A second firing: the renewed period is not due again, and the owner not covered is not mailed again.
    const again = await fireAndSettle();
    expect(again.status).toBe('completed');
    // Its summary: the owner not covered is refused again, and counted as notified before, not as a notice sent.
    const againOutput = (again.tasks as Array<{ output: Record<string, unknown> }>)[0]!.output;
    expect((againOutput.refusals as Array<{ subscriptionId: string }>).map((r) => r.subscriptionId)).toContain(poor.id);
    expect(againOutput.alreadyNotified as number).toBeGreaterThanOrEqual(1);
    expect((await firingOf(again.firingId)).report).toMatchObject({ ...counts(againOutput) });
    expect(await balanceOf(rich.ownerId)).toBe(70);
    const toPoor = await sentMailTo(stack.connection, poor.email);
    expect(toPoor.recorded).toHaveLength(1);
    expect(outboxKeysOf(toPoor.captured)).toEqual(toPoor.recorded.map((record) => record._id));
  }, 120_000);
});
