// examples/package-top-up applied through the CLI's apply code: seed 000's
// documented top-up without a script. The packages say what each price
// buys; the trigger credits the one the purchase matches, as it was when
// the purchase arrived, and emails the buyer.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { waitForMails } from '../support/mailbox';
import { REPO_DIR, startExampleStack, type ExampleStack } from './example-stack';

let stack: ExampleStack;
let triggerId: string;

beforeAll(async () => {
  stack = await startExampleStack('example_package_top_up');
  const results = await stack.apply('examples/package-top-up');
  expect(results.map((r) => `${r.kind} ${r.name} ${r.action}`)).toEqual(['package topup-100 created', 'package topup-50 created', 'trigger package-top-up created']);
  triggerId = results.at(-1)!.id!;
  // The example's 30-minute window, shortened so the runs close within the test.
  const { kind: _kind, ...definition } = parse(readFileSync(path.join(REPO_DIR, 'examples/package-top-up/trigger.yaml'), 'utf8')) as Record<string, unknown>;
  expect((await stack.api.request('PUT', `/v1/triggers/${triggerId}`, { ...definition, wait: { seconds: 2 } })).status).toBe(200);
});

afterAll(async () => {
  await stack?.close();
});

const purchase = (priceInt: number) => {
  const tag = randomUUID().slice(0, 8);
  const user = { id: `user_${tag}`, email: `buyer-${tag}@example.com`, name: 'Ada' };
  const event = { id: `evt_${tag}`, type: 'request.created', data: { reservation: { id: `res_${tag}`, price_int: priceInt, currency: 'USD', user, resource: { id: 'credit-package', name: 'Credit Packages' } } } };
  return { user, event };
};

const balanceOf = async (ownerId: string) => {
  const response = await stack.api.request('GET', `/v1/accounts/${ownerId}?unit=USD`);
  return response.status === 200 ? (response.body.balance as number) : null;
};

describe('the package-top-up example', () => {
  it('credits $150 for a $100 purchase and tells the buyer which package it was', async () => {
    const { user, event } = purchase(10000);
    const [workflowId] = await stack.send(event);
    const run = await stack.run(workflowId!);
    expect(run).toMatchObject({ status: 'completed', package: { status: 'matched', id: 'topup-100', version: 1 } });
    expect(run.tasks[0]).toMatchObject({ status: 'completed', output: { amount: 15000, package: { id: 'topup-100', version: 1 } } });
    expect(await balanceOf(user.id)).toBe(15000);
    const [mail] = await waitForMails(user.email, 1, 30_000);
    expect(mail).toMatchObject({ subject: 'Your account was credited: $150 for $100' });
  }, 60_000);

  it('credits what the package gave when the purchase arrived, though its credits change during the window', async () => {
    const { user, event } = purchase(5000);
    const accepted = await stack.api.request('POST', '/v1/events', event);
    expect(accepted.status).toBe(202);
    const { id: _id, version: _version, createdAt: _c, updatedAt: _u, createdBy: _b, ...current } = (await stack.api.request('GET', '/v1/packages/topup-50')).body;
    expect((await stack.api.request('PUT', '/v1/packages/topup-50', { ...current, credits: { amount: 7000, unit: 'USD' } })).body.version).toBe(2);
    const [workflowId] = (accepted.body.runs as Array<{ workflowId: string }>).map((r) => r.workflowId);
    const run = await waitClosed(workflowId!);
    expect(run.tasks[0]).toMatchObject({ status: 'completed', output: { amount: 6000, package: { id: 'topup-50', version: 1 } } });
    expect(await balanceOf(user.id)).toBe(6000);
    // Applying the example again restores its package as the next version.
    const results = await stack.apply('examples/package-top-up/topup-50.yaml');
    expect(results[0]).toMatchObject({ action: 'updated', fromVersion: 2, version: 3 });
  }, 60_000);

  it('credits nothing and sends nothing for a price no package matches', async () => {
    const { user, event } = purchase(7500);
    const [workflowId] = await stack.send(event);
    const run = await stack.run(workflowId!);
    expect(run).toMatchObject({ status: 'completed', package: { status: 'none' } });
    expect(run.tasks.map((task: { status: string }) => task.status)).toEqual(['skipped', 'skipped']);
    expect(await balanceOf(user.id)).toBeNull();
  }, 60_000);

  it('applies its packages again without new versions', async () => {
    const results = await stack.apply('examples/package-top-up/topup-100.yaml', 'examples/package-top-up/topup-50.yaml');
    expect(results.map((r) => r.action)).toEqual(['unchanged', 'unchanged']);
  });
});

async function waitClosed(workflowId: string) {
  for (;;) {
    const run = await stack.run(workflowId);
    if (run.status !== 'running') return run;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
