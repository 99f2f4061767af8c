// `npm run demo -- subscriptions` (devstack/demo-subscriptions.ts) on the
// test stack: seed 003's flow of buying a package, subscribing, renewing,
// running out and being told.
import { randomUUID } from 'node:crypto';
import { apiClient } from '../../devstack/api-client';
import { adminApi } from '../../devstack/demo-seed';
import { playSubscriptions } from '../../devstack/demo-subscriptions';
import { TEST_ADMIN_KEY } from '../support/api';
import { waitForMails } from '../support/mailbox';
import { startExampleStack, type ExampleStack } from './example-stack';

let stack: ExampleStack;

beforeAll(async () => {
  stack = await startExampleStack('example_subscriptions_demo');
});

afterAll(async () => {
  await stack?.close();
});

it('buys 50 credits, renews once for 30, then cannot renew with 20 left and mails the notice', async () => {
  const outcome = await playSubscriptions(apiClient(stack.api.baseUrl, TEST_ADMIN_KEY), adminApi(stack.api.baseUrl, TEST_ADMIN_KEY), randomUUID().slice(0, 8));
  expect(outcome.purchase.status).toBe('completed');
  expect(outcome.afterPurchase).toBe(50);
  expect(outcome.renewal.status).toBe('completed');
  expect(outcome.afterRenewal).toBe(20);
  expect(outcome.runOut.status).toBe('completed');
  expect(outcome.afterRunOut).toBe(20);
  expect(outcome.renewals.map((item) => item.outcome)).toEqual(['renewed', 'refused']);
  expect(outcome.renewals[1]).toMatchObject({ code: 'insufficient_funds' });
  const mails = await waitForMails(outcome.email, 2, 30_000);
  expect(mails.map((mail) => mail.subject).sort()).toEqual(['Your Agent membership subscription could not be renewed', 'Your account was credited: 50 credits for $40']);
}, 120_000);
